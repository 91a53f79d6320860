#!/usr/bin/python3
"""Benchmark of the agent in kubernetes mode: Kubernetes API requests per minute on a node with 100
pods, over a minute in which nothing changes and then over a minute with 20 reaps. The stand-in
kube-apiserver serves 100 pods on the agent's node: 96 plain pods (Pod objects only) and 4 Celery
pods with 5 Airflow 3 TIs each, simulated as the kubernetes-mode e2e suite does (kubelet-style
cgroups under a unique prefix, real processes in real PID namespaces). Over the second minute the
20 TIs flip to `failed` at an even pace. The requests counted by the apiserver (GET /_fake/stats)
and by the agent itself (/metrics) between each minute's start and end are printed. Asserts
nothing. Needs root; the e2e fixtures clean up everything they started, even on error."""
import argparse
import collections
import os
import re
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.join(os.path.dirname(HERE), "e2e")
sys.path[:0] = [os.path.join(E2E, "kube"), os.path.join(E2E, "fake_kube"), E2E]
from agent_bench import Agent, CLIENT_TIMEOUT, free_port, load, report_warnings  # noqa: E402
from harness import wait_for  # noqa: E402
from kube_case import KubeNodeTest, start_fake_kube  # noqa: E402
from pods import container_id  # noqa: E402
from test_kube_mode import ti  # noqa: E402

POLL, GRACE = 2.0, 1.0
PODS, CELERY_PODS, TIS_PER_POD = 100, 4, 5
MINUTE = 60.0
REAP_GIVE_UP = 10.0  # seconds after the minute a flipped tree still alive counts as not reaped
# Printed even when none was made in the minute.
EXPECTED = [("list", "pods"), ("watch", "pods"), ("create", "events"), ("patch", "events"),
            ("create", "taskrunnertrees"), ("patch", "taskrunnertrees"),
            ("patch", "taskrunnertrees/status"), ("list", "taskrunnertrees"),
            ("create", "nodereapreports"), ("patch", "nodereapreports/status")]


class KubeAgent(Agent):
    """The agent in kubernetes mode on the fixture's node, with a status server on a known port."""

    def __init__(self, fixture):
        self.port = free_port()
        config = fixture.write_config(poll=f"{POLL:g}s", grace=f"{GRACE:g}s")
        with open(config) as f:
            text = f.read().replace("bindAddress: 127.0.0.1:0",
                                    f"bindAddress: 127.0.0.1:{self.port}")
        with open(config, "w") as f:
            f.write(text.replace("timeout: 1s", f"timeout: {CLIENT_TIMEOUT}"))
        self.harness = fixture.h
        self.proc = fixture.h.start_agent(config, "--mode", "kubernetes")

    def kube_requests_by_code(self):
        return {re.search(r'"(\d+)"', name).group(1): value
                for name, value in self.metrics().items()
                if name.startswith("airflow_reaper_kube_requests_total{")}


def resource_of(path):
    """'pods', 'events', 'taskrunnertrees/status', ... of an API path; the path itself otherwise."""
    parts = path.strip("/").split("/")
    rest = parts[2:] if parts[0] == "api" else parts[3:] if parts[0] == "apis" else []
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    if not rest:
        return path
    return rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")


def apiserver_counts(fixture):
    """{(verb, resource): {code: count}} of every request the stand-in apiserver has answered."""
    counts = collections.defaultdict(collections.Counter)
    for row in fixture.kube.must("GET", "/_fake/stats")["requests"]:
        if not row["path"].startswith("/_fake/"):
            counts[(row["verb"], resource_of(row["path"]))][row["code"]] += row["count"]
    return counts


def setup_node(fixture):
    """The 4 Celery pods and their 20 running TIs, then the plain pods: returns [(pod, n, ti)]."""
    trees = []
    for p in range(CELERY_PODS):
        name = f"celery-{p}"
        tis = [ti(f"task_{p}_{n}") for n in range(1, TIS_PER_POD + 1)]
        fixture.celery_pod(name, tis)
        trees += [(name, n, t) for n, t in enumerate(tis, 1)]
    for p in range(PODS - CELERY_PODS):
        fixture.create_pod(f"plain-{p:02d}", {"app": container_id()}, labels={"app": "web"})
    return trees


def tree_alive(fixture, pod, n):
    return bool(fixture.node.pids_with_role(f"{pod}/pool-{n}/task"))


def sample(fixture, agent):
    return (time.monotonic(), apiserver_counts(fixture), agent.kube_requests_by_code(),
            agent.cpu_seconds())


def measure(fixture, agent, trees):
    """Flips one TI every MINUTE/len(trees) seconds; returns the samples at the minute's ends and
    the trees still alive at its end."""
    first = sample(fixture, agent)
    pace = MINUTE / len(trees)
    for i, (_, _, t) in enumerate(trees):
        time.sleep(max(0.0, first[0] + i * pace - time.monotonic()))
        fixture.set_ti(t, "failed")
    time.sleep(max(0.0, first[0] + MINUTE - time.monotonic()))
    last = sample(fixture, agent)
    alive = [(pod, n) for pod, n, _ in trees if tree_alive(fixture, pod, n)]
    return first, last, alive


def idle_minute(fixture, agent):
    """The samples at the ends of a minute in which nothing changes."""
    first = sample(fixture, agent)
    time.sleep(MINUTE)
    return first, sample(fixture, agent)


def print_requests(title, first, last, agent):
    """The requests between two samples, per minute, as the apiserver and the agent counted them,
    and the agent's CPU and memory."""
    elapsed = last[0] - first[0]
    per_minute = MINUTE / elapsed
    rows = []
    for key in set(last[1]) | set(EXPECTED):
        codes = last[1].get(key, {})
        delta = {c: n - first[1].get(key, {}).get(c, 0) for c, n in codes.items()}
        delta = {c: n for c, n in delta.items() if n}
        if delta or key in EXPECTED:
            rows.append((key, delta))
    total = sum(sum(d.values()) for _, d in rows)
    print(f"{title}, over {elapsed:.1f} s; {load()}")
    print(f"  apiserver: {total} requests = {total * per_minute:.1f} per minute")
    print("    per min  verb    resource                  codes")
    for (verb, resource), delta in sorted(rows, key=lambda r: (r[0][1], r[0][0])):
        codes = " ".join(f"{c}:{n}" for c, n in sorted(delta.items())) or "-"
        print(f"    {sum(delta.values()) * per_minute:7.1f}  {verb:6s}  {resource:24s}  {codes}")
    agent_codes = {c: n - first[2].get(c, 0) for c, n in last[2].items()}
    agent_total = sum(agent_codes.values())
    print(f"  the agent's airflow_reaper_kube_requests_total: {agent_total:.0f} = "
          f"{agent_total * per_minute:.1f} per minute (" +
          (", ".join(f"{c}: {n:.0f}" for c, n in sorted(agent_codes.items()) if n) or "none") +
          "; code 0: transport error)")
    hwm = agent.memory_mib().get("VmHWM", 0)
    cpu = 100 * (last[3] - first[3]) / elapsed
    print(f"  agent: VmHWM {hwm:.1f} MiB, {cpu:.2f} % of one core over the minute")


def print_reaps(alive_at_end, alive_later, trees, phases, reasons, agent):
    print(f"  trees reaped: {len(trees) - len(alive_at_end)}/{len(trees)} by the minute's end, "
          f"{len(trees) - len(alive_later)}/{len(trees)} within {REAP_GIVE_UP:g} s after; "
          f"TaskRunnerTree phases then: " +
          ", ".join(f"{p}: {n}" for p, n in sorted(phases.items())))
    reaps = len(re.findall(" reaped ti=", agent.harness.agent_output()))
    print(f"  reaps logged by the agent: {reaps}; Events by reason: " +
          ", ".join(f"{r}: {n}" for r, n in sorted(reasons.items())))


class BenchNode(KubeNodeTest):
    """The benchmark's node, set up and cleaned up by run() rather than a test runner."""

    def runTest(self):
        pass


def run(agent_binary):
    fixture = BenchNode()
    try:
        fixture.kube, fixture.token_file = start_fake_kube(fixture.addCleanup)
        fixture.setUp()
        fixture.h.agent_binary = agent_binary
        trees = setup_node(fixture)
        agent = KubeAgent(fixture)
        fixture.wait_registered(*(t for _, _, t in trees))
        time.sleep(2 * POLL)  # past the registration burst
        node = (f"kubernetes mode, {PODS} pods on the node ({CELERY_PODS} Celery pods x "
                f"{TIS_PER_POD} TIs), pollInterval {POLL:g}s, gracePeriod {GRACE:g}s")
        print_requests(f"{node}, nothing changing", *idle_minute(fixture, agent), agent)
        first, last, alive_at_end = measure(fixture, agent, trees)
        wait_for(lambda: not any(tree_alive(fixture, p, n) for p, n in alive_at_end),
                 REAP_GIVE_UP, step=0.2)
        alive_later = [(p, n) for p, n in alive_at_end if tree_alive(fixture, p, n)]
        phases = collections.Counter(t.get("status", {}).get("phase", "none")
                                     for t in fixture.trees())
        events = fixture.items(f"/apis/events.k8s.io/v1/namespaces/{fixture.ns}/events")
        reasons = collections.Counter(e["reason"] for e in events)
        print_requests(f"{node}, {len(trees)} TIs flipped to failed at an even pace", first, last,
                       agent)
        print_reaps(alive_at_end, alive_later, trees, phases, reasons, agent)
        report_warnings(fixture.h)
    finally:
        fixture.doCleanups()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agent", required=True, help="the airflow-reaper binary")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("kube_bench needs root: cgroups and PID namespaces")
    # Make termination unwind through the fixtures' cleanup.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run(args.agent)


if __name__ == "__main__":
    main()
