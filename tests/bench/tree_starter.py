#!/usr/bin/python3
"""Starts many light task-runner trees at once for the benchmarks. Per TaskInstance (one JSON object
a line on stdin) it execs `idle_tree 3` under that TaskInstance's AIRFLOW_CTX_* environment: a root
and three forked children, four context carriers, at the cost of one exec (execs are what is slow).
An empty object starts the same tree naming no TaskInstance.
Prints "ready" once every tree is complete, then stays as their parent until killed. Whoever started
it cleans up by the marker variable it passes in the environment."""
import json
import os
import signal
import sys

EXTRA_CHILDREN = 3


def start_tree(idle_tree, ti):
    """Forks the tree's root; returns the read end of a pipe that ends when the tree is complete."""
    read_end, write_end = os.pipe()
    if os.fork():
        os.close(write_end)
        return read_end
    os.close(read_end)
    os.set_inheritable(write_end, True)
    if ti:  # an empty object: an idle tree naming no TaskInstance
        os.environ.update({
            "AIRFLOW_CTX_DAG_ID": ti["dag_id"],
            "AIRFLOW_CTX_TASK_ID": ti["task_id"],
            "AIRFLOW_CTX_DAG_RUN_ID": ti["run_id"],
            "AIRFLOW_CTX_TRY_NUMBER": str(ti["try_number"]),
            "AIRFLOW_CTX_MAP_INDEX": str(ti.get("map_index", -1)),
        })
    os.execv(idle_tree, [idle_tree, str(EXTRA_CHILDREN), str(write_end)])


def main():
    idle_tree = sys.argv[1]
    pending = [start_tree(idle_tree, json.loads(line)) for line in sys.stdin if line.strip()]
    for fd in pending:
        while os.read(fd, 1):
            pass
        os.close(fd)
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
