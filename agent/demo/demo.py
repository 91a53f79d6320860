#!/usr/bin/python3
"""`make demo`: airflow-reaper in host mode reaping a real task-runner tree on loopback.

Starts the stand-in Airflow API (Airflow 3 REST v2 with JWT auth), a real task-runner tree whose
operator left a setsid escapee, a double-forked daemon and a SIGTERM ignorer behind, and the agent.
Then it marks the TaskInstance `failed`, as a scheduler reset or a REST PATCH would, and shows the
agent reaping the whole tree. Everything it starts is cleaned up on exit.
"""
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from harness import Harness, marked_pids, wait_for  # noqa: E402

TI = {"dag_id": "demo_etl", "task_id": "extract", "run_id": "manual__2026-11-25", "map_index": -1,
      "try_number": 1}
POLL, GRACE = 1, 3


def say(text):
    print(f"\n=== {text}", flush=True)


def demo(h):
    say("a stand-in Airflow 3 API (REST v2, JWT auth) on loopback")
    h.start_airflow(api="v2", auth="jwt")
    h.set_ti(TI, "running")
    say("a task-runner tree: airflow tasks run demo_etl extract manual__2026-11-25 --local")
    marker = h.start_tree(TI)
    config = h.write_config(poll=f"{POLL}s", grace=f"{GRACE}s", startup_grace="5s")
    say("airflow-reaper scan: one discovery, one API poll, no kills")
    print(h.scan(config, output="table").stdout)

    say("airflow-reaper run --mode host")
    h.start_agent(config)
    time.sleep(2 * POLL + 0.5)
    print(f"the tree has {len(marked_pids(marker))} live processes: {sorted(marked_pids(marker))}")
    say("the TaskInstance is marked failed from outside")
    flipped = time.monotonic()
    h.set_ti(TI, "failed")
    reaped = wait_for(lambda: not marked_pids(marker), POLL + GRACE + 3)
    took = time.monotonic() - flipped
    code = h.stop_agent()

    say("what the agent logged")
    print(h.agent_output().rstrip())
    say("result")
    print(f"whole tree dead: {reaped}, {took:.1f}s after the state change "
          f"(poll {POLL}s + grace {GRACE}s); agent exit code on SIGTERM: {code}")
    return 0 if reaped and code == 0 else 1


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/bin/airflow-reaper")
    h = Harness(os.path.abspath(binary))
    try:
        return demo(h)
    finally:
        h.close()


if __name__ == "__main__":
    sys.exit(main())
