"""Fault suite, kubernetes mode (issue 10), each case asserting that every reap is reported once
(Events, TaskRunnerTrees, NodeReapReport results), none lost, none doubled:
- the kube-apiserver is gone for two minutes (the stand-in is stopped with SIGSTOP: connections
  are accepted by the kernel and never answered, the hardest kind of outage for a client).
  Airflow still answers, so trees are reaped meanwhile; their reports are delivered once the
  apiserver is back, the agent's memory stays bounded while it waits, and a pod created
  afterwards is reaped and reported.
- the agent is SIGKILLed while a kill waits out its grace period and started again: the new
  agent finishes the tree, and the node's report keeps what the first agent reported.

Simulated pods are real processes in real cgroups and PID namespaces (tests/e2e/kube/pods.py).
Needs root. The outage is real time (OUTAGE_SECONDS): the agent's own intervals (its watch's
backoff cap of 30 s, its report interval of 10 s) are fixed, not configuration, so they cannot be
scaled down with it."""
import os
import re
import signal
import sys
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.dirname(HERE)
sys.path.insert(0, E2E)
sys.path.insert(0, os.path.join(E2E, "kube"))
from harness import vm_rss_kib, wait_for  # noqa: E402
from kube_case import CR, KubeNodeTest, start_fake_kube  # noqa: E402
from pods import RUN_ID  # noqa: E402

OUTAGE_SECONDS = float(os.environ.get("FAULTS_OUTAGE_SECONDS", 120))  # shorter only to diagnose
DELIVERY_WAIT = 60  # after the outage: the watch's backoff (30 s cap) and the report interval
RSS_BOUND_KIB = 64 * 1024


class KubeFaultsTest(KubeNodeTest):
    prefix = "outage"

    def setUp(self):
        # An apiserver of each test's own: the outage stops it.
        self.kube, self.token_file = start_fake_kube(self.addCleanup)
        # A stopped stand-in would hold its own cleanup up: it is resumed first.
        self.addCleanup(lambda: self.kube.proc.poll() is None and
                        self.kube.proc.send_signal(signal.SIGCONT))
        super().setUp()
        self.addCleanup(lambda: self.h.keep_logs(self.id().split(".")[-1]))
        self.dag = "outage_" + self.ns.split("-")[-1]

    def ti(self, task):
        return {"dag_id": self.dag, "task_id": task, "run_id": RUN_ID, "map_index": -1,
                "try_number": 1, "id": str(uuid.uuid4())}

    def phase(self, task):
        for tree in self.trees():
            if tree["spec"]["taskId"] == task:
                return tree.get("status", {}).get("phase")
        return None

    def events(self, pod):
        return [e for e in self.items(f"/apis/events.k8s.io/v1/namespaces/{self.ns}/events")
                if e["regarding"]["name"] == pod]

    def report_results(self, task):
        for report in self.items(f"{CR}/nodereapreports"):
            if report["metadata"]["name"] == self.node_name:
                return [r for r in report.get("status", {}).get("results", [])
                        if r["taskInstance"]["taskId"] == task]
        return []

    def logged(self, event, pod, text=None):
        return len(re.findall(rf" {event} ti=\S+ pod={self.ns}/{pod} ",
                              self.h.agent_output() if text is None else text))

    def reaps(self, pod, earlier=""):
        """How many reaps the agent (and an `earlier` one, by its log) logged for the pod's trees,
        once none is in flight (a pod's attempt may be several trees: the root's and those its
        escapees and daemons carry)."""
        def settled():
            done = self.logged("reaped", pod)
            return self.logged("reap", pod) == done and done + self.logged("reaped", pod, earlier)
        self.assertTrue(wait_for(settled, 40), self.h.agent_output()[-3000:])
        return self.logged("reaped", pod) + self.logged("reaped", pod, earlier)

    @staticmethod
    def counted(events):
        return sum(e["series"]["count"] if e.get("series") else 1 for e in events)

    def summary(self):
        for report in self.items(f"{CR}/nodereapreports"):
            if report["metadata"]["name"] == self.node_name:
                return report.get("status", {}).get("summary", {})
        return {}

    def assert_delivered(self, pod, task, timeout, earlier=""):
        """Every reap of the pod reached the apiserver once: the attempt's TaskRunnerTree is
        Reaped, and there are as many Events (counting a series' repeats) and NodeReapReport
        results as reaps (this agent's, and an `earlier` one's by its log)."""
        reaps = self.reaps(pod, earlier)
        self.assertGreater(reaps, 0)
        counted = self.counted
        delivered = wait_for(lambda: self.phase(task) == "Reaped" and
                             counted(self.events(pod)) >= reaps and
                             len(self.report_results(task)) >= reaps, timeout, step=0.5)
        self.assertTrue(delivered, f"{task}: phase {self.phase(task)}, {reaps} reaps, events "
                                   f"{self.events(pod)}, results {self.report_results(task)}\n"
                                   f"{self.h.agent_output()[-3000:]}")
        self.assertEqual(counted(self.events(pod)), reaps, self.events(pod))
        self.assertEqual({e["reason"] for e in self.events(pod)}, {"OrphansReaped"})
        self.assertEqual([r["outcome"] for r in self.report_results(task)], ["killed"] * reaps)

    def test_two_minutes_without_the_apiserver_lose_no_report(self):
        before = [self.ti("before")]
        self.celery_pod("pod-before", before)
        agent = self.start_agent()
        self.assertTrue(wait_for(lambda: self.phase("before") == "Running", 30, step=0.5),
                        self.h.agent_output()[-3000:])
        during = [self.ti(f"during{n}") for n in range(2)]
        for n, t in enumerate(during):
            self.celery_pod(f"pod-during{n}", [t])
        self.assertTrue(wait_for(lambda: all(self.phase(t["task_id"]) == "Running"
                                             for t in during), 30, step=0.5))
        rss_before = vm_rss_kib(agent.pid)

        self.kube.proc.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            self.h.set_ti(before[0], "failed")
            self.assertTrue(wait_for(lambda: not self.node.pids_with_role("pod-before/pool-1/task"),
                                     15), "reaped while the apiserver is away: Airflow answers")
            for t in during:
                self.h.set_ti(t, "failed")
            rss = []
            while time.monotonic() - stopped < OUTAGE_SECONDS:
                rss.append(vm_rss_kib(agent.pid))
                time.sleep(5)
            for n in range(2):
                self.assertEqual(self.node.pids_with_role(f"pod-during{n}/pool-1/task"), [])
        finally:
            self.kube.proc.send_signal(signal.SIGCONT)
        print(f"\nagent VmRSS: {rss_before} KiB before, at most {max(rss)} KiB during the "
              f"{OUTAGE_SECONDS} s outage, {rss[-1]} KiB at its end", file=sys.stderr)
        self.assertLess(max(rss), RSS_BOUND_KIB)
        self.assertIsNone(agent.poll(), "the agent exited")

        resumed = time.monotonic()
        self.assert_delivered("pod-before", "before", DELIVERY_WAIT)
        for n, t in enumerate(during):
            self.assert_delivered(f"pod-during{n}", t["task_id"], DELIVERY_WAIT)
        print(f"delivered {time.monotonic() - resumed:.1f} s after the apiserver came back",
              file=sys.stderr)

        after = self.ti("after")  # the pod watch is back: a new pod is seen, reaped, reported
        self.celery_pod("pod-after", [after])
        self.assertTrue(wait_for(lambda: self.phase("after") == "Running", DELIVERY_WAIT,
                                 step=0.5), self.h.agent_output()[-3000:])
        self.h.set_ti(after, "failed")
        self.assertTrue(wait_for(lambda: not self.node.pids_with_role("pod-after/pool-1/task"),
                                 15))
        self.assert_delivered("pod-after", "after", 30)

    def test_a_restarted_agent_finishes_the_tree_and_the_report_keeps_every_reap(self):
        first_ti, second_ti = self.ti("first"), self.ti("second")
        self.celery_pod("pod-first", [first_ti])
        self.celery_pod("pod-second", [second_ti])
        self.start_agent(grace="20s")
        self.assertTrue(wait_for(lambda: self.phase("second") == "Running", 30, step=0.5),
                        self.h.agent_output()[-3000:])
        self.h.set_ti(first_ti, "failed")
        self.assert_delivered("pod-first", "first", 60)

        # The second attempt is one reap: its task process (and the rest) die at SIGTERM, a
        # member that ignores SIGTERM holds the kill in its grace period.
        self.h.set_ti(second_ti, "failed")
        task = "pod-second/pool-1/task"
        self.assertTrue(wait_for(lambda: self.logged("reap", "pod-second") > 0 and
                                 task not in self.node.roles().values(), 30, step=0.5),
                        self.h.agent_output()[-3000:])
        self.assertTrue(self.node.pids_with_role(task), "the kill is over")
        self.assertEqual(self.logged("reaped", "pod-second"), 0, "the kill is over")
        first_log = self.h.agent_output()
        self.h.agent.kill()  # SIGKILL, mid-grace
        self.h.agent.wait()
        self.h.agent_log.close()

        self.start_agent()
        self.assertTrue(wait_for(lambda: not self.node.pids_with_role("pod-second/pool-1/task"),
                                 15), self.h.agent_output()[-3000:])
        self.assert_delivered("pod-second", "second", 60, earlier=first_log)
        self.assertEqual(len(self.report_results("first")), self.logged("reaped", "pod-first",
                                                                          first_log),
                         "the restarted agent's report lost the first agent's results")
        total = self.reaps("pod-first", first_log) + self.reaps("pod-second", first_log)
        self.assertTrue(wait_for(lambda: self.summary().get("reapedTrees") == total, 30,
                                 step=0.5), f"{self.summary()}, {total} reaps")


if __name__ == "__main__":
    unittest.main(verbosity=2)
