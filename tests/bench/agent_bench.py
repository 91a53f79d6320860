#!/usr/bin/python3
"""Benchmarks of the running agent in host mode against the stand-in Airflow API (v2) and real task
trees, printed side by side: at 1,000, 2,000, 5,000 and 10,000 processes (a quarter of them TaskInstances'
trees of four) the agent's CPU per poll and per process beside the floor (every /proc/PID/stat read
once, by `scan_bench --floor`), its syscalls per poll (strace -c over a few polls), RSS and Airflow
requests per poll; then the state-change-to-tree-dead latency over 50 reaps among 2,000 processes.
CPU is user+sys time from /proc, not wall time: the machine may be shared. Prints numbers beside
their goals; asserts none. Everything it starts is tracked by the e2e harness and killed on exit,
trees by their marker."""
import argparse
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
from harness import Harness, marked_pids, process_state, read_text, wait_for  # noqa: E402

TREE_STARTER = os.path.join(HERE, "tree_starter.py")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024

FOOTPRINT_PROCESSES = (1000, 2000, 5000, 10000)
# Beside the all-Airflow rows: the node of issue 11's measurement, 200 task trees among ~2,000
# processes (the rest idle processes that name no TaskInstance).
ISSUE_MIX_PROCESSES, ISSUE_MIX_TREES = 2000, 200
FOOTPRINT_TREE_SIZE, FOOTPRINT_POLL, FOOTPRINT_SECONDS = 4, 2.0, 20.0
FOOTPRINT_DAGS, FOOTPRINT_RUNS = 10, 5  # run ids and task ids shared between DAGs, as in life
STRACE_POLLS = 3
LATENCY_TREES, LATENCY_POLL, LATENCY_GRACE, LATENCY_SPREAD = 50, 1.0, 1.0, 15.0
LATENCY_BACKGROUND = 2000  # processes of running TaskInstances around the reaped trees
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


def start_light_trees(harness, idle_tree, tis, idle=0):
    """A tree of FOOTPRINT_TREE_SIZE per TaskInstance, and `idle` more that name none."""
    marker = "REAPER_BENCH_" + secrets.token_hex(6)
    harness.markers.append(marker)
    starter = harness._start([sys.executable, TREE_STARTER, idle_tree],
                             env=dict(os.environ, **{marker: "1"}), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
    starter.stdin.write("".join(json.dumps(t) + "\n" for t in tis + [{}] * idle))
    starter.stdin.close()
    if starter.stdout.readline().strip() != "ready":
        raise RuntimeError("tree starter failed")
    started = len(marked_pids(marker)) - 1  # the starter carries the marker too
    if started < (len(tis) + idle) * FOOTPRINT_TREE_SIZE:
        raise RuntimeError(f"only {started} tree processes started")
    return marker


def node_processes():
    return sum(1 for entry in os.listdir("/proc") if entry.isdigit())


def stat_floor(scan_bench):
    """CPU microseconds per process to read every /proc/PID/stat once, on the node as it is."""
    out = subprocess.run([scan_bench, "--floor"], capture_output=True, text=True,
                         timeout=300).stdout
    match = re.search(r"floor_us_per_process ([0-9.]+)", out)
    return float(match.group(1)) if match else math.nan


def parse_strace_summary(text):
    """(total calls, [(calls, name)] most frequent first) from `strace -c` output."""
    total, rows = 0, []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5 or not re.match(r"^[0-9.]+$", fields[0]):
            continue
        calls, name = int(fields[3]), fields[-1]
        if name == "total":
            total = calls
        else:
            rows.append((calls, name))
    return total, sorted(rows, reverse=True)


def syscalls_per_poll(harness, agent):
    """strace -c -f attached to the agent between two polls, for STRACE_POLLS polls: syscalls
    per poll (every thread: discovery, HTTP, metrics) and the most frequent ones. None without
    strace."""
    if not shutil.which("strace"):
        return None
    out = os.path.join(harness.tmp, "strace.txt")
    after_poll(harness, agent)
    start = agent.polls()
    tracer = subprocess.Popen(["strace", "-c", "-f", "-o", out, "-p", str(agent.proc.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: agent.polls() >= start + STRACE_POLLS, 30 * STRACE_POLLS, step=0.2)
        after_poll(harness, agent)
        polls = agent.polls() - start
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)
    total, rows = parse_strace_summary(read_text(out))
    return {"per_poll": total / max(polls, 1),
            "top": [(calls / max(polls, 1), name) for calls, name in rows[:6]]}


def footprint(agent_binary, idle_tree, scan_bench, processes, trees=None):
    """`trees` TaskInstance trees (default: every process in one) among `processes`."""
    h = Harness(agent_binary)
    try:
        h.start_airflow(api="v2", auth="jwt")
        count = trees or processes // FOOTPRINT_TREE_SIZE
        per_dag = math.ceil(count / FOOTPRINT_DAGS)
        tis = [ti(f"bench_dag_{i // per_dag}", f"task_{i % per_dag // FOOTPRINT_RUNS:04d}",
                  f"scheduled__2026-01-{i % FOOTPRINT_RUNS + 1:02d}T00:00:00")
               for i in range(count)]
        for t in tis:
            h.set_ti(t, "running")
        idle = (processes - count * FOOTPRINT_TREE_SIZE) // FOOTPRINT_TREE_SIZE
        marker = start_light_trees(h, idle_tree, tis, idle)
        agent = Agent(h, poll=f"{FOOTPRINT_POLL:g}s", grace="1s")
        if not wait_for(lambda: agent.tracking(len(tis), count * FOOTPRINT_TREE_SIZE), 180,
                        step=0.5):
            raise RuntimeError(f"agent did not track the trees: {agent.metrics()}\n"
                               f"{h.agent_output()[-2000:]}")
        after_poll(h, agent)  # the first polls also detect the API and fetch a token
        first = sample(h, agent)
        time.sleep(FOOTPRINT_SECONDS - 1)
        after_poll(h, agent)
        last = sample(h, agent)
        result = {"tis": len(tis), "processes": processes, "on_node": node_processes(),
                  "memory": agent.memory_mib(), "first": first, "last": last,
                  "alive": len(marked_pids(marker)) - 1,  # the starter carries the marker too
                  "floor": stat_floor(scan_bench), "syscalls": syscalls_per_poll(h, agent),
                  "load": load()}
        report_warnings(h)
        return result
    finally:
        h.close()


def report_footprints(results):
    print(f"agent in host mode, pollInterval {FOOTPRINT_POLL:g}s, client timeout "
          f"{CLIENT_TIMEOUT}, {FOOTPRINT_SECONDS:g} s measured at each size; CPU is the agent's "
          f"user+sys time (every thread) per poll; the floor is every /proc/PID/stat read once")
    print(f"{'processes':>9} {'cpu/poll':>9} {'us/proc':>8} {'floor':>7} {'ratio':>6} "
          f"{'% core':>7} {'syscalls/poll':>13} {'RSS / HWM MiB':>14} {'API req/poll':>13}")
    for r in results:
        first, last = r["first"], r["last"]
        polls = max(last["polls"] - first["polls"], 1)
        elapsed = last["t"] - first["t"]
        cpu = last["cpu"] - first["cpu"]
        per_poll = cpu / polls
        per_process = per_poll * 1e6 / r["on_node"]
        requests = (last["requests"] - first["requests"]) / polls
        calls = r["syscalls"]["per_poll"] if r["syscalls"] else math.nan
        memory = r["memory"]
        print(f"{r['on_node']:>9,} {per_poll * 1000:>6.1f} ms {per_process:>8.2f} "
              f"{r['floor']:>7.2f} {per_process / r['floor']:>6.2f} "
              f"{100 * cpu / elapsed:>6.2f}% {calls:>13,.0f} "
              f"{memory.get('VmRSS', 0):>6.1f} / {memory.get('VmHWM', 0):>5.1f} "
              f"{requests:>6.2f} (<={math.ceil(r['tis'] / 100)})")
    for r in results:
        first, last = r["first"], r["last"]
        polls = last["polls"] - first["polls"]
        top = ", ".join(f"{name} {calls:,.0f}" for calls, name in (r["syscalls"] or {}).get(
            "top", []))
        print(f"  {r['on_node']:,} processes: {polls} polls over {last['t'] - first['t']:.1f} s; "
              f"{r['alive']:,} tracked processes alive; {r['load']}")
        print(f"    syscalls per poll, most frequent: {top or 'strace not installed'}")
        for route, count in sorted(route_delta(first, last).items()):
            print(f"    {count:5d}  {route}")
    goal = next((r for r in results if r["processes"] == 2000), None)
    if goal:
        elapsed = goal["last"]["t"] - goal["first"]["t"]
        percent = 100 * (goal["last"]["cpu"] - goal["first"]["cpu"]) / elapsed
        hwm = goal["memory"].get("VmHWM", 0)
        print(f"  at 2,000 processes: {percent:.2f} % of one core (goal <= 1 %, aim 0.5 %): "
              f"{verdict(percent <= 1)}; VmHWM {hwm:.1f} MiB (goal <= 20 MiB): "
              f"{verdict(hwm <= 20)}")
    if len(results) < 2:
        return
    hwm = max(r["memory"].get("VmHWM", 0) for r in results)
    per = [(r["last"]["cpu"] - r["first"]["cpu"]) /
           max(r["last"]["polls"] - r["first"]["polls"], 1) / r["on_node"] for r in results]
    print(f"  linear: CPU per process at {results[-1]['on_node']:,} processes is "
          f"{per[-1] / per[0]:.2f}x that at {results[0]['on_node']:,}; highest VmHWM "
          f"{hwm:.1f} MiB")


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


def latency(agent_binary, idle_tree):
    h = Harness(agent_binary)
    try:
        h.start_airflow(api="v2", auth="jwt")
        background = [ti("bench_background", f"task_{i:04d}", "scheduled__2026-02-01T00:00:00")
                      for i in range(LATENCY_BACKGROUND // FOOTPRINT_TREE_SIZE)]
        for t in background:
            h.set_ti(t, "running")
        start_light_trees(h, idle_tree, background)
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
        print(f"  among {node_processes():,} processes; the agent's own reap duration (decision "
              f"to tree dead, grace included): mean {mean:.2f} s over {reaps:.0f} reaps; {load()}")
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
    parser.add_argument("--scan-bench", required=True, help="the scan_bench binary (the floor)")
    parser.add_argument("--processes", type=int, nargs="*", default=FOOTPRINT_PROCESSES,
                        help="node sizes to measure the footprint at")
    args = parser.parse_args()
    # Make termination unwind through the harness cleanup.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"machine: {os.cpu_count()} cores, kernel {os.uname().release}; {load()}", flush=True)
    results = [footprint(args.agent, args.idle_tree, args.scan_bench, n) for n in args.processes]
    report_footprints(results)
    mix = footprint(args.agent, args.idle_tree, args.scan_bench, ISSUE_MIX_PROCESSES,
                    ISSUE_MIX_TREES)
    print(f"issue 11's node: {ISSUE_MIX_TREES} task trees of {FOOTPRINT_TREE_SIZE} among "
          f"{ISSUE_MIX_PROCESSES:,} processes (the rest idle, naming no TaskInstance)")
    report_footprints([mix])
    latency(args.agent, args.idle_tree)


if __name__ == "__main__":
    main()
