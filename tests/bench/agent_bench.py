#!/usr/bin/python3
"""Benchmarks of the running agent in host mode against the stand-in Airflow API (v2) and real task
trees: its footprint and API requests per poll while it tracks 500 TaskInstances (2000 processes),
and the state-change-to-tree-dead latency over 50 reaps. Prints numbers beside their goals; asserts
none. Everything it starts is tracked by the e2e harness and killed on exit, trees by their
marker."""
import argparse
import json
import math
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
from harness import Harness, marked_pids, process_state, wait_for  # noqa: E402

TREE_STARTER = os.path.join(HERE, "tree_starter.py")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024

FOOTPRINT_TIS, FOOTPRINT_TREE_SIZE, FOOTPRINT_POLL, FOOTPRINT_SECONDS = 500, 4, 2.0, 20.0
FOOTPRINT_DAGS = 10
LATENCY_TREES, LATENCY_POLL, LATENCY_GRACE, LATENCY_SPREAD = 50, 1.0, 1.0, 15.0
CLIENT_TIMEOUT = "5s"
LATENCY_GIVE_UP = 15.0  # seconds after its flip a tree counts as not reaped


def verdict(met):
    return "met" if met else "MISSED"


def load():
    return "load average %.1f %.1f %.1f on %d cores" % (*os.getloadavg(), os.cpu_count())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    """The agent under test, started by the harness with a status server on a known port."""

    def __init__(self, harness, poll, grace):
        self.port = free_port()
        config = harness.write_config(poll=poll, grace=grace)
        with open(config) as f:
            text = f.read().replace("bindAddress: 127.0.0.1:0",
                                    f"bindAddress: 127.0.0.1:{self.port}")
        # The e2e tests' short client timeout, back to the contract's default.
        text = text.replace("timeout: 1s", f"timeout: {CLIENT_TIMEOUT}")
        with open(config, "w") as f:
            f.write(text)
        self.proc = harness.start_agent(config)
        self.harness = harness

    def metrics(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return {}
        values = {}
        for line in text.splitlines():
            match = re.match(r'^(airflow_reaper_[a-z_]+(?:\{code="\d+"\})?)(?:\{\})? ([0-9.e+-]+)$',
                             line)
            if match:
                values[match.group(1)] = float(match.group(2))
        return values

    def requests_by_code(self):
        """The agent's own count of API requests by HTTP code; 0 is a transport error or timeout."""
        return {re.search(r'"(\d+)"', name).group(1): value
                for name, value in self.metrics().items()
                if name.startswith("airflow_reaper_airflow_requests_total{")}

    def polls(self):
        return int(self.metrics().get("airflow_reaper_scan_duration_seconds_count", 0))

    def tracking(self, trees, processes):
        m = self.metrics()
        return (m.get("airflow_reaper_tracked_trees", 0) >= trees
                and m.get("airflow_reaper_tracked_processes", 0) >= processes)

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime

    def memory_mib(self):
        values = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0]) / 1024
        return values


def ti(dag, task, run):
    return {"dag_id": dag, "task_id": task, "run_id": run, "map_index": -1, "try_number": 1}


def after_poll(harness, agent, quiet=0.7, timeout=10):
    """Returns once a poll's burst of API requests has ended: no request for `quiet` seconds and no
    poll started meanwhile, so a sample taken now sits between two polls."""
    start = harness.stats()["total"]
    if not wait_for(lambda: harness.stats()["total"] != start, timeout, step=0.02):
        raise RuntimeError("the agent made no API request within %ss" % timeout)
    last, polls, since = harness.stats()["total"], agent.polls(), time.monotonic()
    while time.monotonic() - since < quiet:
        time.sleep(0.05)
        now = harness.stats()["total"]
        if now != last:
            last, since = now, time.monotonic()
    if agent.polls() != polls:
        after_poll(harness, agent, quiet, timeout)


def sample(harness, agent):
    stats = harness.stats()
    return {"t": time.monotonic(), "requests": stats["total"], "by_route": stats["requests"],
            "polls": agent.polls(), "cpu": agent.cpu_seconds(), "agent": agent.requests_by_code()}


def route_delta(first, last):
    """Requests between two samples by route and status, e.g. {"POST /auth/token 201": 1}."""
    delta = {}
    for route, codes in last["by_route"].items():
        for code, count in codes.items():
            diff = count - first["by_route"].get(route, {}).get(code, 0)
            if diff:
                delta[f"{route} {code}"] = diff
    return delta


def start_light_trees(harness, idle_tree, tis):
    marker = "REAPER_BENCH_" + secrets.token_hex(6)
    harness.markers.append(marker)
    starter = harness._start([sys.executable, TREE_STARTER, idle_tree],
                             env=dict(os.environ, **{marker: "1"}), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
    starter.stdin.write("".join(json.dumps(t) + "\n" for t in tis))
    starter.stdin.close()
    if starter.stdout.readline().strip() != "ready":
        raise RuntimeError("tree starter failed")
    started = len(marked_pids(marker)) - 1  # the starter carries the marker too
    if started < len(tis) * FOOTPRINT_TREE_SIZE:
        raise RuntimeError(f"only {started} tree processes started")
    return marker


def footprint(agent_binary, idle_tree):
    h = Harness(agent_binary)
    try:
        h.start_airflow(api="v2", auth="jwt")
        per_dag = FOOTPRINT_TIS // FOOTPRINT_DAGS
        tis = [ti(f"bench_dag_{d}", f"task_{t:03d}", f"scheduled__2026-01-{d + 1:02d}T00:00:00")
               for d in range(FOOTPRINT_DAGS) for t in range(per_dag)]
        for t in tis:
            h.set_ti(t, "running")
        marker = start_light_trees(h, idle_tree, tis)
        processes = len(tis) * FOOTPRINT_TREE_SIZE
        agent = Agent(h, poll=f"{FOOTPRINT_POLL:g}s", grace="1s")
        if not wait_for(lambda: agent.tracking(len(tis), processes), 60, step=0.5):
            raise RuntimeError(f"agent did not track the trees: {agent.metrics()}\n"
                               f"{h.agent_output()[-2000:]}")
        after_poll(h, agent)  # the first polls also detect the API and fetch a token
        first = sample(h, agent)
        time.sleep(FOOTPRINT_SECONDS - 1)
        after_poll(h, agent)
        last = sample(h, agent)
        memory = agent.memory_mib()
        alive = len(marked_pids(marker)) - 1  # the starter carries the marker too
        report_footprint(first, last, memory, len(tis), processes, alive, agent)
        report_warnings(h)
    finally:
        h.close()


def report_footprint(first, last, memory, tis, processes, alive, agent):
    polls = last["polls"] - first["polls"]
    elapsed = last["t"] - first["t"]
    cpu = last["cpu"] - first["cpu"]
    requests = last["requests"] - first["requests"]
    scan = agent.metrics()
    scan_ms = 1000 * scan.get("airflow_reaper_scan_duration_seconds_sum", 0) / max(
        1, scan.get("airflow_reaper_scan_duration_seconds_count", 1))
    print(f"agent with {tis} TIs / {processes} processes, pollInterval {FOOTPRINT_POLL:g}s, "
          f"client timeout {CLIENT_TIMEOUT}: "
          f"{polls} polls measured over {elapsed:.1f} s "
          f"(cadence says {elapsed / FOOTPRINT_POLL:.1f}); "
          f"{alive} tracked processes still alive; mean in-agent scan {scan_ms:.1f} ms; {load()}")
    rss, hwm = memory.get("VmRSS", 0), memory.get("VmHWM", 0)
    print(f"  memory: VmRSS {rss:.1f} MiB, VmHWM {hwm:.1f} MiB (goal < 20 MiB): "
          f"{verdict(hwm < 20)}")
    percent = 100 * cpu / elapsed
    print(f"  cpu: {cpu / max(polls, 1) * 1000:.1f} ms per poll, {percent:.2f} % of one core "
          f"(goal < 1 %): {verdict(percent < 1)}")
    per_poll = requests / max(polls, 1)
    goal = math.ceil(tis / 100)
    print(f"  api: {requests} requests in {polls} polls = {per_poll:.2f} per poll "
          f"(goal <= ceil({tis}/100) = {goal}): {verdict(per_poll <= goal)}")
    for route, count in sorted(route_delta(first, last).items()):
        print(f"    {count:4d}  {route}")
    codes = {code: n - first["agent"].get(code, 0) for code, n in last["agent"].items()}
    print("    as the agent counted them (code 0: transport error or timeout, then retried): " +
          (", ".join(f"{code}: {n:.0f}" for code, n in sorted(codes.items()) if n) or "none"))


def report_warnings(harness):
    warnings = [line for line in harness.agent_output().splitlines()
                if re.search(r"\bwarn(ing)?\b", line, re.IGNORECASE)]
    if warnings:
        print(f"  agent logged {len(warnings)} warnings, the last: {warnings[-1][:300]}")


class Liveness:
    """Which live processes carry which marker, kept current cheaply: only new pids are read."""

    def __init__(self, markers):
        self.markers = [m.encode() + b"=" for m in markers]
        self.seen = set()
        self.members = [set() for _ in markers]

    def refresh(self):
        pids = {int(e) for e in os.listdir("/proc") if e.isdigit()}
        gone = self.seen - pids
        self.seen -= gone
        for members in self.members:
            members -= gone
        for pid in pids - self.seen:
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    env = f.read()
            except OSError:
                continue
            self.seen.add(pid)
            for i, marker in enumerate(self.markers):
                if marker in env:
                    self.members[i].add(pid)

    def alive(self, index):
        return any(process_state(pid) not in (None, "Z") for pid in self.members[index])


def latency(agent_binary):
    h = Harness(agent_binary)
    try:
        h.start_airflow(api="v2", auth="jwt")
        tis = [ti("bench_latency", f"task_{i:02d}", "scheduled__2026-02-01T00:00:00+00:00")
               for i in range(LATENCY_TREES)]
        markers = []
        for t in tis:
            h.set_ti(t, "running")
            markers.append(h.start_tree(t))
        agent = Agent(h, poll=f"{LATENCY_POLL:g}s", grace=f"{LATENCY_GRACE:g}s")
        if not wait_for(lambda: agent.tracking(len(tis), 0), 60, step=0.5):
            raise RuntimeError(f"agent did not track the trees\n{h.agent_output()[-2000:]}")
        rng = random.Random(4)
        flips = sorted((rng.uniform(0, LATENCY_SPREAD), i) for i in range(len(tis)))
        report_latency(measure_reaps(h, tis, markers, flips))
        m = agent.metrics()
        reaps = m.get("airflow_reaper_reap_duration_seconds_count", 0)
        mean = m.get("airflow_reaper_reap_duration_seconds_sum", 0) / max(reaps, 1)
        print(f"  the agent's own reap duration (decision to tree dead, grace included): mean "
              f"{mean:.2f} s over {reaps:.0f} reaps; {load()}")
        report_warnings(h)
    finally:
        h.close()


def measure_reaps(h, tis, markers, flips):
    live = Liveness(markers)
    start = time.monotonic()
    flipped, latencies, pending = {}, {}, list(flips)
    while len(latencies) < len(tis):
        now = time.monotonic()
        while pending and now - start >= pending[0][0]:
            _, i = pending.pop(0)
            flipped[i] = time.monotonic()
            h.set_ti(tis[i], "failed")
        live.refresh()
        now = time.monotonic()
        for i, at in flipped.items():
            if i in latencies:
                continue
            if not live.alive(i):
                latencies[i] = now - at
            elif now - at > LATENCY_GIVE_UP:
                latencies[i] = math.inf
        time.sleep(0.01)
    return list(latencies.values())


def report_latency(latencies):
    reaped = sorted(x for x in latencies if math.isfinite(x))
    missing = len(latencies) - len(reaped)
    goal = LATENCY_POLL + LATENCY_GRACE + 0.5
    if not reaped:
        print(f"reap latency: no tree was reaped within {LATENCY_GIVE_UP:g} s: MISSED")
        return

    def pct(p):
        return reaped[min(len(reaped) - 1, math.ceil(p / 100 * len(reaped)) - 1)]

    p99 = pct(99) if not missing else math.inf
    print(f"reap latency over {len(latencies)} reaps (pollInterval {LATENCY_POLL:g}s, gracePeriod "
          f"{LATENCY_GRACE:g}s, a SIGTERM-ignoring member in each tree): min {reaped[0]:.2f} s, "
          f"p50 {pct(50):.2f} s, p90 {pct(90):.2f} s, p99 {p99:.2f} s, max {reaped[-1]:.2f} s, "
          f"mean {statistics.mean(reaped):.2f} s; {missing} not reaped within "
          f"{LATENCY_GIVE_UP:g} s (goal p99 < {goal:g} s): {verdict(p99 < goal)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agent", required=True, help="the airflow-reaper binary")
    parser.add_argument("--idle-tree", required=True, help="the idle_tree helper binary")
    args = parser.parse_args()
    # Make termination unwind through the harness cleanup.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    footprint(args.agent, args.idle_tree)
    latency(args.agent)


if __name__ == "__main__":
    main()
