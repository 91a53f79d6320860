"""Generates charts/airflow-reaper/README.md (what `helm show readme` prints) from values.yaml.

A `# -- text` comment (continued by the `#` lines after it) documents the key on the next line; the
default is that key's value in values.yaml. `chart_readme.py --write` rewrites the README; the chart
tests call render() and compare, and check that every value is documented.
"""

import json
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_env  # noqa: E402

VALUES = os.path.join(deploy_env.CHART, "values.yaml")
README = os.path.join(deploy_env.CHART, "README.md")
KEY = re.compile(r"^( *)([A-Za-z0-9_.-]+):")

INTRO = """\
# airflow-reaper Helm chart

<!-- Generated from values.yaml by tests/integration/deploy/chart_readme.py --write. -->

{description}

Version {version}, agent {app_version}. The project's README explains how the agent decides,
the alerts' runbooks, troubleshooting ("why was this killed, why was that not"), upgrades and
uninstalling: {home}

## Install

From a checkout of the repository:

```sh
helm install airflow-reaper charts/airflow-reaper -n airflow-reaper --create-namespace \\
  --set config.airflow.baseUrl=http://airflow-api-server.airflow.svc:8080
helm test -n airflow-reaper airflow-reaper
```

The chart installs the TaskRunnerTree and NodeReapReport CRDs from `crds/` on the first install
only: Helm never upgrades or deletes CRDs. Before upgrading, apply the new chart's CRDs:

```sh
kubectl apply --server-side -f charts/airflow-reaper/crds/
helm upgrade airflow-reaper charts/airflow-reaper -n airflow-reaper -f my-values.yaml
```

## Values

`values.schema.json` rejects unknown keys and wrong types.

| Key | Default | Description |
|---|---|---|
"""


def documented_keys(text):
    """[(dotted path, description)] in file order, from `# --` comments above keys."""
    docs, stack, pending = [], [], None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            pending = [stripped[4:].strip()]
            continue
        if stripped.startswith("#"):
            if pending is not None:
                pending.append(stripped[1:].strip())
            continue
        match = KEY.match(line)
        if not match:
            continue
        depth = len(match.group(1)) // 2
        stack[depth:] = [match.group(2)]
        if pending is not None:
            docs.append((".".join(stack), " ".join(pending)))
        pending = None
    return docs


def lookup(values, path):
    for part in path.split("."):
        values = values[part]
    return values


def undocumented(values, documented, prefix=""):
    """Paths of values that neither they nor an ancestor document."""
    missing = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if path in documented:
            continue
        if isinstance(value, dict) and value:
            missing += undocumented(value, documented, path + ".")
        else:
            missing.append(path)
    return missing


def cell(text):
    return text.replace("|", "\\|")


def render():
    with open(VALUES) as f:
        text = f.read()
    values = yaml.safe_load(text)
    with open(os.path.join(deploy_env.CHART, "Chart.yaml")) as f:
        chart = yaml.safe_load(f)
    out = INTRO.format(description=chart["description"], version=chart["version"],
                       app_version=chart["appVersion"], home=chart["home"])
    for path, description in documented_keys(text):
        default = json.dumps(lookup(values, path), separators=(", ", ": "))
        out += f"| `{path}` | `{cell(default)}` | {cell(description)} |\n"
    return out


def main():
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: REAPER_SOURCE_DIR=<repo> chart_readme.py --write")
    with open(README, "w") as f:
        f.write(render())
    print("wrote", os.path.relpath(README, deploy_env.REPO))


if __name__ == "__main__":
    main()
