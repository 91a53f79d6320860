"""The chart's values.schema.json and the agent's own validation, held equal.

A value helm accepts but the agent rejects crash-loops every agent of the DaemonSet; a value the
agent would take but helm refuses is a needless limit. So for every configuration key the chart
passes through to the agent, each probe value gets two verdicts that must agree: helm's (the real
helm validating the schema) and the agent's (its parser and validation, run by config_check on the
config.yaml the chart rendered for that value). The probes come from the schema itself: each
integer bound and its neighbours, each enum value and one more, and a table per kind of pattern.
A key of a kind this test has no probes for fails it: extend the table, do not skip the key.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_env  # noqa: E402

CONFIG_CHECK = os.environ.get("REAPER_CONFIG_CHECK") or sys.exit("REAPER_CONFIG_CHECK is not set")

# Values the chart turns into files or fixes itself: they never reach the agent as written.
CHART_ONLY = {"airflow.auth", "airflow.caConfigMap", "airflow.caKey"}

# Each probe costs a helm run or two: a few per rule, not every spelling.
DURATIONS = ["0s", "1ms", "1m30s", "0s1ms", "2", "1d", ""]
URLS = ["https://airflow.example:8443/base/", "http://[::1]:8080", "http://a_b.svc/x?y#z",
        "http://[::1", "http://[::1]x", "http://", "ftp://airflow", "http://air flow",
        "http://admin:pw@airflow", "http://airflow:0", "http://airflow:65535", "http://airflow:65536"]
NAMESPACES = [["team-a"], ["Airflow"], ["team.a"], ["a" * 63], ["a" * 64], ["airflow", "airflow"],
              "airflow"]


def leaves(schema, path=""):
    for key, sub in schema.get("properties", {}).items():
        dotted = f"{path}.{key}" if path else key
        if dotted in CHART_ONLY:
            continue
        if sub.get("type") == "object":
            yield from leaves(sub, dotted)
        else:
            yield dotted, sub


def probes(path, leaf):
    kind = leaf.get("type")
    if "enum" in leaf:
        return leaf["enum"] + ["bogus"]
    if kind == "boolean":
        return [True, False, "yes"]
    if kind == "integer":
        bounds = [b for b in (leaf.get("minimum"), leaf.get("maximum")) if b is not None]
        return sorted({v for b in bounds for v in (b - 1, b, b + 1)})
    if kind == "string" and "ms|s|m|h" in leaf.get("pattern", ""):
        return DURATIONS
    if kind == "string" and leaf.get("pattern", "").startswith("^https?://"):
        return URLS
    if kind == "array" and path == "kubernetes.namespaces":
        return NAMESPACES
    raise AssertionError(f"config.{path}: no probes for {json.dumps(leaf)}; extend this test")


def render(path, value, schema=True):
    args = ["template", "reaper", deploy_env.CHART, "--namespace", "ops",
            "--set-json", f"config.{path}={json.dumps(value)}"]
    if not schema:
        args.append("--skip-schema-validation")
    return deploy_env.helm(*args, check=False)


def rendered_config(out):
    for doc in yaml.safe_load_all(out):
        if doc and doc.get("kind") == "ConfigMap":
            return doc["data"]["config.yaml"]
    raise AssertionError("no ConfigMap rendered")


def agent_verdict(config_text):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(config_text)
        f.flush()
        out = subprocess.run([CONFIG_CHECK, f.name], capture_output=True, text=True)
    if out.returncode not in (0, 2):
        raise AssertionError(f"config_check failed: {out.stderr}")
    return out.returncode == 0, out.stdout.strip()


class ConfigParityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(deploy_env.CHART, "values.schema.json")) as f:
            cls.config_schema = json.load(f)["properties"]["config"]

    def test_the_chart_defaults_are_accepted_by_the_agent(self):
        out = render("dryRun", False)
        self.assertEqual(out.returncode, 0, out.stderr)
        accepted, why = agent_verdict(rendered_config(out.stdout))
        self.assertTrue(accepted, why)

    def test_helm_and_the_agent_agree_on_every_probe(self):
        checked = 0
        for path, leaf in leaves(self.config_schema):
            for value in probes(path, leaf):
                with self.subTest(key=path, value=value):
                    by_helm = render(path, value)
                    helm_accepts = by_helm.returncode == 0
                    out = by_helm if helm_accepts else render(path, value, schema=False)
                    self.assertEqual(out.returncode, 0, out.stderr)
                    agent_accepts, why = agent_verdict(rendered_config(out.stdout))
                    self.assertEqual(
                        helm_accepts, agent_accepts,
                        f"helm {'accepts' if helm_accepts else 'rejects'} config.{path}="
                        f"{json.dumps(value)} but the agent "
                        f"{'accepts it' if agent_accepts else 'says: ' + why}\n{by_helm.stderr}")
                    checked += 1
        self.assertGreater(checked, 50)


if __name__ == "__main__":
    unittest.main(verbosity=2)
