"""Renders the plain-manifest install in k8s/ from the chart's defaults.

`manifests.py --write` regenerates k8s/*.yaml; the tests call render() and compare, so k8s/ cannot
drift from the chart. The CRDs in k8s/crds/ are the source; the chart's crds/ are copies of them.
"""

import os
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_env  # noqa: E402

NAMESPACE = "airflow-reaper"
RELEASE = "airflow-reaper"
HEADER = ("# Generated from charts/airflow-reaper (default values, release and namespace {ns}) by\n"
          "# tests/integration/deploy/manifests.py --write. Do not edit; a test keeps it in sync.\n"
          "# Install: kubectl apply -f k8s/crds/ && kubectl apply -f k8s/\n").format(ns=NAMESPACE)

# Which file of k8s/ each kind goes to; files are applied in name order (namespace first).
FILES = {
    "Namespace": "00-namespace.yaml",
    "ServiceAccount": "10-rbac.yaml",
    "ClusterRole": "10-rbac.yaml",
    "ClusterRoleBinding": "10-rbac.yaml",
    "ConfigMap": "20-configmap.yaml",
    "DaemonSet": "30-daemonset.yaml",
    "Service": "40-service.yaml",
}


def _plain(obj):
    """Drops what only makes sense under Helm: its manager and chart labels."""
    for meta in (obj["metadata"], obj.get("spec", {}).get("template", {}).get("metadata", {})):
        labels = meta.get("labels", {})
        labels.pop("helm.sh/chart", None)
        if "app.kubernetes.io/managed-by" in labels:
            labels["app.kubernetes.io/managed-by"] = "kubectl"
    return obj


def render():
    """Returns {file name: text} for k8s/."""
    out = deploy_env.helm("template", RELEASE, deploy_env.CHART, "--namespace", NAMESPACE,
                          "--skip-tests").stdout
    labels = {"app.kubernetes.io/name": "airflow-reaper", "app.kubernetes.io/instance": RELEASE}
    namespace = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": NAMESPACE, "labels": labels}}
    files = {}
    for obj in [namespace] + [d for d in yaml.safe_load_all(out) if d]:
        name = FILES.get(obj["kind"])
        if name is None:
            raise AssertionError(f"no k8s/ file for kind {obj['kind']}")
        files.setdefault(name, []).append(_plain(obj))
    return {name: HEADER + yaml.safe_dump_all(objs, sort_keys=False, width=100)
            for name, objs in files.items()}


def main():
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: REAPER_SOURCE_DIR=<repo> manifests.py --write")
    for name, text in render().items():
        with open(os.path.join(deploy_env.K8S, name), "w") as f:
            f.write(text)
        print("wrote", os.path.join("k8s", name))


if __name__ == "__main__":
    main()
