#!/usr/bin/python3
"""End to end, kubernetes mode: the built agent against the stand-in kube-apiserver and Airflow API
on loopback, with simulated pods that are real (kubelet-style cgroups under a unique prefix of the
cgroup2 mount, real processes in real PID namespaces). Reports are read back with the real kubectl.
Needs root (cgroups, PID namespaces). Timings are generous bounds on behaviour (a tree must be dead
within pollInterval + gracePeriod + 1 s, stretched by the load average on an overloaded machine),
not performance assertions. The apiserver outage of the
watch-fault test lasts DOWN_SECONDS (20 s) rather than a minute to keep the suite short."""
import json
import os
import re
import secrets
import sys
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fake_kube"))
from harness import read_text, require, stretched, vm_rss_kib, wait_for  # noqa: E402
from kube_case import REPORT_WAIT, KubeNodeTest, start_fake_kube  # noqa: E402
from pods import CGROUP2, RUN_ID, container_id, ctx_env, sigterm_caught  # noqa: E402
from test_fake_apiserver import KUBECTL  # noqa: E402

POLL, GRACE = 0.5, 1.0
DEADLINE = POLL + GRACE + 1.0
HANG_GUARD = 30

DOWN_SECONDS = 20
RSS_BOUND_KIB = 64 * 1024


# A dag id of this run's own: a host-mode agent of another test running on the same machine sees
# every process, and must never find one of its own TIs here (nor this suite one of its).
DAG_ID = "kube_e2e_" + secrets.token_hex(4)


def ti(task, try_number=1, map_index=-1):
    return {"dag_id": DAG_ID, "task_id": task, "run_id": RUN_ID, "map_index": map_index,
            "try_number": try_number, "id": str(uuid.uuid4())}


class KubeModeTest(KubeNodeTest):
    @classmethod
    def setUpClass(cls):
        require(os.geteuid() == 0, "needs root: cgroups and PID namespaces")
        if not os.access(KUBECTL, os.X_OK):
            raise RuntimeError(f"kubectl not found at {KUBECTL}: run tests/tools/install-kube-tools.sh")
        cls.kube, cls.token_file = start_fake_kube(cls.addClassCleanup)

    def cgroup_of_role(self, role):
        """The cgroup2 directory of the first process of `role`."""
        pid = self.node.pids_with_role(role)[0]
        lines = read_text(f"/proc/{pid}/cgroup").splitlines()
        return CGROUP2 + next(line[len("0::"):] for line in lines if line.startswith("0::"))

    # --- reading back what the agent reported, with the real kubectl
    def kubectl_json(self, *args):
        result = self.kube.kubectl(*args, "-o", "json", check=False)
        return json.loads(result.stdout) if result.returncode == 0 else {"items": []}

    def wait_kubectl(self, predicate, *args):
        found = []

        def check():
            items = self.kubectl_json(*args)["items"]
            found[:] = [i for i in items if predicate(i)]
            return bool(found)
        self.assertTrue(wait_for(check, REPORT_WAIT, step=0.5),
                        f"kubectl {' '.join(args)}: nothing matched in "
                        f"{self.kubectl_json(*args)['items']}{self.diagnostics()}")
        return found[0]

    def wait_event(self, pod, reasons):
        return self.wait_kubectl(
            lambda e: e["regarding"]["name"] == pod and e["reason"] in reasons,
            "get", "events.events.k8s.io", "-n", self.ns)

    def wait_tree_phase(self, task, phase):
        return self.wait_kubectl(
            lambda t: t["metadata"]["namespace"] == self.ns and t["spec"]["taskId"] == task and
            t.get("status", {}).get("phase") == phase, "get", "taskrunnertrees", "-A")

    def wait_report_result(self, task, outcome="killed"):
        def matches(report):
            return report["metadata"]["name"] == self.node_name and any(
                r["taskInstance"]["taskId"] == task and r["pod"].startswith(self.ns + "/") and
                r["outcome"] == outcome for r in report.get("status", {}).get("results", []))
        return self.wait_kubectl(matches, "get", "nodereapreports")

    def assert_dies(self, role_prefix, condition=None):
        """Every process of `role_prefix` (or `condition`) is gone within the deadline."""
        condition = condition or (lambda: not self.node.pids_with_role(role_prefix))
        started = time.monotonic()
        self.assertTrue(wait_for(condition, HANG_GUARD), f"{role_prefix} still alive"
                                                         f"{self.diagnostics()}")
        took, deadline = time.monotonic() - started, stretched(DEADLINE)
        print(f"\n{role_prefix} gone after {took:.2f} s (deadline {deadline:.1f} s)",
              file=sys.stderr)
        self.assertLessEqual(took, deadline, f"{role_prefix} died late{self.diagnostics()}")

    # --- the tests
    def test_celery_pod_only_the_failed_tree_dies(self):
        tis = [ti("extract"), ti("transform"), ti("load")]
        self.celery_pod("celery-a", tis)
        self.start_agent()
        self.wait_registered(*tis)
        victim = self.node.pids_with_role("celery-a/pool-1/task")
        bystanders = set(self.node.lasting_pids_with_role("celery-a")) - set(victim)
        self.assertGreaterEqual(len(victim), 8)
        celery = [p for p in bystanders if read_text(f"/proc/{p}/cmdline").startswith("[celeryd:")]
        self.assertEqual(len(celery), 4, "the Celery main and three pool processes")
        self.assertTrue(all(sigterm_caught(p) for p in celery), "their SIGTERM traps are set")

        self.set_ti(tis[0], "failed")
        self.assert_dies("celery-a/pool-1/task")
        time.sleep(3 * POLL)
        self.assertEqual(bystanders - set(self.node.pids_with_role("celery-a")), set(),
                         f"bystanders died{self.diagnostics()}")
        signalled = self.node.signalled_roles()
        self.assertTrue(signalled, "the victim's SIGTERM handlers never ran: no SIGTERM first")
        self.assertEqual([r for r in signalled if not r.startswith("celery-a/pool-1/task")], [],
                         f"SIGTERM reached non-members{self.diagnostics()}")

        event = self.wait_event("celery-a", {"OrphansReaped"})
        self.assertEqual((event["type"], event["action"], event["reportingController"]),
                         ("Warning", "Kill", "airflowreaper.io/agent"))
        self.assertIn(f"{DAG_ID}/extract", event["note"])
        self.assertIn("because state=failed (TaskInstance state failed)", event["note"])
        self.assertIn("Orphans or escapees (", event["note"])
        tree = self.wait_tree_phase("extract", "Reaped")
        self.assertEqual(tree["spec"]["podName"], "celery-a")
        self.assertEqual(tree["status"]["taskInstanceState"], "failed")
        self.wait_report_result("extract")
        phases = {t["spec"]["taskId"]: t["status"]["phase"] for t in self.trees()}
        self.assertEqual((phases["transform"], phases["load"]), ("Running", "Running"))

    def test_kubernetes_executor_pod_container_cgroup_emptied_sandbox_stays(self):
        t = ti("train")
        self.set_ti(t, "running")
        cid = container_id()
        annotations = {"dag_id": DAG_ID, "task_id": t["task_id"], "run_id": t["run_id"],
                       "try_number": "1", "map_index": "-1"}
        uid = self.create_pod("etl-train-abc123", {"base": cid}, annotations=annotations,
                              labels={"kubernetes_executor": "True", "airflow-worker": "7",
                                      "dag_id": DAG_ID, "task_id": "train"})
        self.node.start_sandbox("cgroupfs", uid)
        cgroup = self.node.container_cgroup("cgroupfs", uid, cid)
        self.node.start_container(cgroup, "executor_main.sh", "executor",
                                  "/usr/local/bin/python -m "
                                  "airflow.sdk.execution_time.execute_workload", env=ctx_env(t))
        self.assertTrue(wait_for(lambda: len(self.node.pids_with_role("executor")) >= 5, 15))
        sandbox = self.node.pids_with_role("pause")
        self.assertTrue(sandbox)
        self.start_agent()
        self.wait_registered(t)

        self.set_ti(t, "failed")
        procs = os.path.join(cgroup, "cgroup.procs")
        self.assert_dies(f"container cgroup {cgroup}", lambda: not read_text(procs).strip())
        self.assertEqual(self.node.pids_with_role("executor"), [])
        time.sleep(3 * POLL)
        self.assertEqual(self.node.pids_with_role("pause"), sandbox, "the sandbox was killed")
        self.wait_event("etl-train-abc123", {"TaskTreeReaped", "OrphansReaped"})
        self.wait_tree_phase("train", "Reaped")

    def test_dry_run_raises_an_event_and_signals_nothing(self):
        t = ti("extract")
        self.celery_pod("celery-dry", [t])
        self.start_agent("--dry-run")
        self.wait_registered(t)
        members = self.node.lasting_pids_with_role("celery-dry/pool-1/task")
        self.set_ti(t, "failed")
        event = self.wait_event("celery-dry", {"DryRunWouldReap"})
        self.assertEqual((event["type"], event["action"]), ("Warning", "DryRun"), "it has orphans")
        self.assertTrue(event["note"].startswith("Dry run: would kill "), event["note"])
        self.assertIn("because state=failed", event["note"])
        time.sleep(2 * POLL + GRACE)
        self.assertEqual(set(members) - set(self.node.pids_with_role("celery-dry")), set(),
                         f"a dry run killed{self.diagnostics()}")
        self.assertEqual(self.node.signalled_roles(), [], "a dry run signalled")

    def test_process_outside_every_pod_is_never_touched(self):
        t = ti("extract")
        self.celery_pod("celery-b", [t])
        outsider = self.node.start_outsider(t)
        self.assertTrue(wait_for(lambda: len(self.node.pids_with_role("outsider")) >= 3, 10))
        outside = self.node.pids_with_role("outsider")
        self.start_agent()
        self.wait_registered(t)
        self.set_ti(t, "failed")
        self.assert_dies("celery-b/pool-1/task")  # the same TI in the pod is reaped...
        time.sleep(3 * POLL + GRACE)
        self.assertEqual(self.node.pids_with_role("outsider"), outside,  # ...but not outside it
                         f"outsider touched{self.diagnostics()}")
        self.assertIsNone(outsider.poll())

    def test_a_process_in_another_pod_never_lends_its_identity(self):
        """Issue 8, wrong kill 2: a child that sits in pod B but descends from pod A's carrier of
        a mapped TaskInstance (map index unknown) exports map index 7, whose TI has succeeded.
        Parent links never cross pods: pod A's carrier keeps its unknown map index, and the
        candidate rule keeps it while map index 3 runs; the child is pod B's own leftover."""
        running, done = ti("shard", map_index=3), ti("shard", map_index=7)
        self.set_ti(running, "running")
        self.set_ti(done, "success")
        self.celery_pod("celery-b", [ti("load")])  # pod B, whose cgroup receives the child
        cid_a = container_id()
        uid_a = self.create_pod("crosser-a", {"helper": cid_a})
        self.node.start_sandbox("systemd", uid_a)
        self.node.start_container(self.node.container_cgroup("systemd", uid_a, cid_a),
                                  "crosser.sh", "crosser", "python /opt/airflow/dags/shard.py",
                                  env=dict(ctx_env(running), E2E_CHILD_MAP_INDEX="7"))
        self.assertTrue(wait_for(lambda: self.node.pids_with_role("crosser/child"), 10))
        [child] = self.node.pids_with_role("crosser/child")
        with open(os.path.join(self.cgroup_of_role("celery-b/pool-1"), "cgroup.procs"), "w") as f:
            f.write(str(child))
        carrier = [p for p in self.node.pids_with_role("crosser") if p != child]

        self.start_agent()
        self.wait_registered(ti("load"))
        self.assert_dies("crosser/child")  # pod B's leftover of map index 7, which succeeded
        time.sleep(3 * POLL + GRACE)
        self.assertEqual([p for p in self.node.pids_with_role("crosser") if p != child], carrier,
                         f"pod A's carrier was killed{self.diagnostics()}")
        self.assertEqual(self.node.signalled_roles(), [],
                         f"something other than the child was signalled{self.diagnostics()}")
        log = self.h.agent_output()
        carrier_line = re.escape(f"decision ti={DAG_ID}/shard/{RUN_ID}/-1/1 pod={self.ns}/crosser-a ")
        self.assertRegex(log, carrier_line + r'.*action=keep reason="map index unknown; candidate '
                              r'map index 3 running or starting"', self.diagnostics())

    def test_watch_faults_recover_and_lose_no_result(self):
        agent = self.start_agent()
        time.sleep(4 * POLL)
        rss_before = vm_rss_kib(agent.pid)
        for n, (mode, body) in enumerate([("drop_watch", {"count": 2}), ("410", {"count": 2}),
                                          ("500", {"count": 5})]):
            with self.subTest(fault=mode):
                self.kube.must("POST", "/_fake/fault", dict(body, mode=mode))
                time.sleep(2 * POLL)
                name, t = f"after-{n}", ti(f"task{n}")
                self.celery_pod(name, [t])
                self.wait_registered(t)
                self.set_ti(t, "failed")
                self.assert_dies(f"{name}/pool-1/task")
                self.wait_event(name, {"OrphansReaped"})

        t = ti("during-down")
        self.celery_pod("before-down", [t])
        self.wait_registered(t)
        down_until = time.monotonic() + DOWN_SECONDS
        self.kube.must("POST", "/_fake/fault", {"mode": "down", "seconds": DOWN_SECONDS})
        self.set_ti(t, "failed")
        self.assert_dies("before-down/pool-1/task")  # Airflow answers: the reap needs no apiserver
        time.sleep(max(0.0, down_until - time.monotonic()))
        self.wait_event("before-down", {"OrphansReaped"})  # queued while down, sent after
        self.wait_report_result("during-down")
        self.wait_tree_phase("during-down", "Reaped")

        t = ti("after-down")
        self.celery_pod("after-down", [t])
        self.wait_registered(t)
        self.set_ti(t, "failed")
        self.assert_dies("after-down/pool-1/task")
        self.wait_event("after-down", {"OrphansReaped"})
        rss_after = vm_rss_kib(agent.pid)
        print(f"\nagent VmRSS: {rss_before} KiB before the faults, {rss_after} KiB after",
              file=sys.stderr)
        self.assertLess(rss_after, RSS_BOUND_KIB)
        self.assertIsNone(agent.poll(), "the agent exited")


if __name__ == "__main__":
    unittest.main(verbosity=2)
