"""What the kubernetes-mode suites (e2e_kube_mode, fault_kube) and kube_bench share: the stand-in
kube-apiserver with the agent's CRDs, and a test on a simulated node of its own (a namespace, real
pods in kubelet-style cgroups, the stand-in Airflow API and the agent's kubernetes-mode config).
Needs root (cgroups, PID namespaces); everything is removed by the test's cleanups."""
import os
import secrets
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fake_kube"))
from harness import Harness, read_text, require, wait_for  # noqa: E402
from pods import CGROUP2, SimulatedNode, container_id, pod_object  # noqa: E402
from test_fake_apiserver import CRDS, TOKEN, FakeKube  # noqa: E402

AGENT = os.path.join(os.environ.get("REAPER_BINARY_DIR", "build"), "bin", "airflow-reaper")
CR = "/apis/airflowreaper.io/v1alpha1"
REPORT_WAIT = 30  # the NodeReapReport is written at most every 10 s; Events and trees sooner


def start_fake_kube(add_cleanup):
    """The stand-in apiserver (with the CRDs, bookmarks every second) and a file holding the token
    it accepts; stopped by a cleanup registered with `add_cleanup`."""
    kube = FakeKube(["--crd-dir", CRDS, "--bookmark-interval", "1"])
    add_cleanup(kube.stop)
    token_file = kube.path("token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    return kube, token_file


class KubeNodeTest(unittest.TestCase):
    """A kubernetes-mode test on a node and namespace of its own. `kube` and `token_file` (from
    start_fake_kube) are set before setUp, per class or per test."""

    prefix = "e2e"  # of the namespace and node names, then a random suffix

    def setUp(self):
        require(os.geteuid() == 0, "needs root: cgroups and PID namespaces")
        suffix = secrets.token_hex(4)
        self.ns, self.node_name = f"{self.prefix}-{suffix}", f"{self.prefix}-node-{suffix}"
        self.kube.must("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": self.ns}})
        self.node = SimulatedNode(self.node_name)
        self.addCleanup(self.node.close)
        self.h = Harness(AGENT)
        self.addCleanup(self.h.close)
        self.h.start_airflow(api="v2", auth="none")

    # --- the agent
    def write_config(self, **config):
        """The agent's config for this node and the stand-in apiserver; `config` as
        Harness.write_config takes it."""
        k = self.kube
        extra = (f"nodeName: {self.node_name}\ncgroupRoot: {CGROUP2}\n"
                 f"kubernetes:\n  apiServer: https://127.0.0.1:{k.port}\n"
                 f"  tokenFile: {self.token_file}\n  caFile: {k.path('ca.crt')}\n")
        return self.h.write_config(extra=extra, **config)

    def start_agent(self, *flags, **config):
        return self.h.start_agent(self.write_config(**config), "--mode", "kubernetes", *flags)

    def diagnostics(self):
        unshare = read_text(os.path.join(self.node.dir, "unshare.log"))[-2000:]
        if not hasattr(self.h, "agent_log"):
            return f"\nagent not started\nunshare: {unshare}\nroles: {self.node.roles()}"
        return (f"\nagent exit code: {self.h.agent.poll()}\nagent log:\n"
                f"{self.h.agent_output()[-6000:]}\nroles: {self.node.roles()}")

    # --- pods
    def set_ti(self, t, state):
        self.h.set_ti(t, state)

    def create_pod(self, name, containers, **kw):
        obj = pod_object(name, self.ns, self.node_name, containers, **kw)
        return self.kube.must("POST", "/_fake/objects", obj)["metadata"]["uid"]

    def celery_pod(self, name, tis):
        """A Celery worker pod (systemd cgroup driver) running one Airflow 3 TI per pool process;
        returns its uid once every tree has started."""
        for t in tis:
            self.set_ti(t, "running")
        cid = container_id()
        uid = self.create_pod(name, {"worker": cid}, labels={"component": "worker"})
        self.node.start_sandbox("systemd", uid)
        tis_file = os.path.join(self.node.dir, f"{name}.tis")
        with open(tis_file, "w") as f:
            f.writelines(f"{t['id']} {t['dag_id']} {t['task_id']} {t['run_id']} "
                         f"{t['try_number']}\n" for t in tis)
        self.node.start_container(self.node.container_cgroup("systemd", uid, cid),
                                  "celery_main.sh", name,
                                  f"[celeryd: w@{self.node_name}:MainProcess] -active- "
                                  "(celery worker)", env={"E2E_TIS": tis_file})
        for n in range(1, len(tis) + 1):
            # venv python, its sleep, dbt, the escapee, the daemon and the TERM ignorer
            self.assertTrue(wait_for(
                lambda: len(self.node.pids_with_role(f"{name}/pool-{n}/task/venv")) >= 6, 15),
                f"tree {n} of {name} did not start{self.diagnostics()}")
        return uid

    # --- reading back what the agent reported, through the stand-in's API
    def items(self, path):
        """The items of a list; none while the apiserver does not answer (an injected fault)."""
        try:
            status, body = self.kube.request("GET", path)
        except OSError:
            return []
        return body["items"] if status == 200 else []

    def trees(self):
        """The namespace's TaskRunnerTrees."""
        return self.items(f"{CR}/namespaces/{self.ns}/taskrunnertrees")

    def wait_registered(self, *tis):
        tasks = {t["task_id"] for t in tis}
        ok = wait_for(lambda: tasks <= {tr["spec"]["taskId"] for tr in self.trees()},
                      REPORT_WAIT, step=0.2)
        self.assertTrue(ok, f"trees not registered: {self.trees()}{self.diagnostics()}")
