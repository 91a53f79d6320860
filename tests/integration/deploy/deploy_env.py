"""Locations shared by the deployment tests: the repository, the specs and the kube tools."""

import glob
import os
import re
import shutil
import subprocess
import sys

REPO = os.environ.get("REAPER_SOURCE_DIR") or sys.exit("REAPER_SOURCE_DIR is not set")
SPECS = os.path.normpath(os.path.join(REPO, "..", "shared", "specs"))
# Specs the shared folder lacks, vendored next to the tests (specs/SOURCES.md says from where).
LOCAL_SPECS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "specs")
CHART = os.path.join(REPO, "charts", "airflow-reaper")
K8S = os.path.join(REPO, "k8s")
TOOLS_BIN = os.path.join(REPO, ".tools", "bin")


def tool(name):
    """Path of helm or kubectl from tests/tools/install-kube-tools.sh; exits if it is missing."""
    path = os.path.join(TOOLS_BIN, name)
    if not os.access(path, os.X_OK):
        sys.exit(f"FAIL: {path} is missing: run `bash tests/tools/install-kube-tools.sh` "
                 "(make test does)")
    return path


def helm(*args, check=True):
    """Runs the real helm, never against a cluster; returns the CompletedProcess (text)."""
    env = dict(os.environ, KUBECONFIG=os.devnull,
               HELM_CACHE_HOME="/tmp/airflow-reaper-helm/cache",
               HELM_CONFIG_HOME="/tmp/airflow-reaper-helm/config",
               HELM_DATA_HOME="/tmp/airflow-reaper-helm/data")
    result = subprocess.run([tool("helm"), *args], capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


def promtool(*args, stdin=None):
    """Runs Debian's promtool (package prometheus, from agent/setup/install-deps.sh)."""
    path = shutil.which("promtool") or "/usr/bin/promtool"
    if not os.access(path, os.X_OK):
        sys.exit("FAIL: promtool is missing: run agent/setup/install-deps.sh (Debian's prometheus)")
    return subprocess.run([path, *args], input=stdin, capture_output=True, text=True)


def exported_metrics():
    """Metric family names the agent registers: every "airflow_reaper_*" string literal in src/."""
    names = set()
    for path in glob.glob(os.path.join(REPO, "src", "**", "*.cpp"), recursive=True):
        with open(path) as f:
            names |= set(re.findall(r'"(airflow_reaper_[a-z0-9_]+)"', f.read()))
    return names


def require_specs():
    if not os.path.isdir(os.path.join(SPECS, "kubernetes")):
        sys.exit(f"FAIL: Kubernetes OpenAPI specs not found at {SPECS}/kubernetes")
    return SPECS

