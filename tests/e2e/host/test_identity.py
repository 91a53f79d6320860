"""End to end, host mode, on real processes: a kill reaches only what was decided, identity is per
attempt and never borrowed, and the candidate rule lets mapped tasks be reaped (issue 8).

Each test starts real process trees titled as Airflow titles them, a stand-in Airflow API, and the
built agent; it asserts on processes (alive, dead), never only on log lines. Deadlines are bounds
on behaviour (pollInterval + gracePeriod + slack), not performance assertions."""
import os
import re
import secrets
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import Harness, marked_pids, process_state, wait_for  # noqa: E402

AGENT = os.path.join(os.environ.get("REAPER_BINARY_DIR", "build"), "bin", "airflow-reaper")
POLL = 0.5
RUN_ID = "scheduled__2026-11-25T00:00:00+00:00"


def alive(pid):
    return process_state(pid) not in (None, "Z")


def ctx(dag, task, try_number):
    return {"AIRFLOW_CTX_DAG_ID": dag, "AIRFLOW_CTX_TASK_ID": task,
            "AIRFLOW_CTX_DAG_RUN_ID": RUN_ID, "AIRFLOW_CTX_TRY_NUMBER": str(try_number)}


class IdentityTest(unittest.TestCase):
    def setUp(self):
        self.dag = "ident_" + secrets.token_hex(4)
        self.h = Harness(AGENT)
        self.addCleanup(self.h.close)
        self.h.start_airflow(api="v2", auth="jwt")

    def ti(self, task, try_number=1, map_index=-1, **extra):
        return dict({"dag_id": self.dag, "task_id": task, "run_id": RUN_ID,
                     "map_index": map_index, "try_number": try_number}, **extra)

    def start_agent(self, grace="1s", extra=""):
        self.h.start_agent(self.h.write_config(poll="500ms", grace=grace, extra=extra))

    def test_retry_started_while_the_old_try_is_killed_is_never_signalled(self):
        # Airflow 2 trees whose operators export no AIRFLOW_CTX_*: neither tells its try.
        t = self.ti("load")
        self.h.set_ti(t, "running")
        no_context = {"FAKE_AIRFLOW_NO_CONTEXT": "1"}
        old_pids = os.path.join(self.h.tmp, "old-pids")
        self.h.start_tree(t, min_processes=2,
                          extra_env=dict(no_context, FAKE_AIRFLOW_PID_FILE=old_pids))
        old_root, old_runner = self.h.pids_from(old_pids, 2)
        self.start_agent(grace="6s")
        time.sleep(4 * POLL)
        self.assertTrue(alive(old_root), self.h.agent_output())

        self.h.set_ti(t, "failed")  # the old try's TERM-ignoring child holds its kill open
        self.assertTrue(wait_for(lambda: "reap ti=" in self.h.agent_output(), 4 * POLL))
        self.h.set_ti(t, "running", try_number=2)  # the retry is queued now, on this worker
        new_pids = os.path.join(self.h.tmp, "new-pids")
        new_marker = self.h.start_tree(t, min_processes=2,
                                       extra_env=dict(no_context, FAKE_AIRFLOW_PID_FILE=new_pids))
        new_root, new_runner = self.h.pids_from(new_pids, 2)
        new_members = set(marked_pids(new_marker))

        self.assertTrue(wait_for(lambda: not alive(old_root) and not alive(old_runner), 10),
                        self.h.agent_output())
        time.sleep(6 + 3 * POLL)  # past the old kill's grace, SIGKILL included
        # The agent logs every signal it sends. (Liveness alone misleads: the TERM-ignoring loop's
        # `sleep 1` children come and go, and one listed before its exec looks long-lived.)
        signalled = {int(pid) for pid in re.findall(r"kill signalled .* pid=(\d+)",
                                                    self.h.agent_output())}
        self.assertEqual(signalled & (new_members | set(marked_pids(new_marker))), set(),
                         f"the retry was signalled\n{self.h.agent_output()}")
        self.assertTrue(alive(new_root) and alive(new_runner))
        self.assertRegex(self.h.agent_output(),
                         rf"decision ti={self.dag}/load/.* root={new_root} .*action=keep")

    def test_inherited_environment_never_overrides_the_title(self):
        running = self.ti("load", id="0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
        finished = self.ti("vacuum")
        self.h.set_ti(running, "running")
        self.h.set_ti(finished, "success")
        task_script = (
            'echo $$ >> "$PIDS"\n'
            'sleep 3600 & echo $! >> "$PIDS"\n'  # forked before execute: the stale environment
            f'( export AIRFLOW_CTX_DAG_ID={self.dag} AIRFLOW_CTX_TASK_ID=load '
            'AIRFLOW_CTX_TRY_NUMBER=1; exec sleep 3600 ) & echo $! >> "$PIDS"\n'
            'wait\n')
        pool_script = (  # the pool lives on after its task, blocked without forking
            'echo $$ >> "$PIDS"\nmkfifo "$PIDS.fifo"\n'
            f'( exec -a "airflow worker -- {running["id"]}" bash <<\'EOF\'\n{task_script}EOF\n) &\n'
            'exec 9<>"$PIDS.fifo"\nread -r -u 9 _\n')
        _, pid_file = self.h.start_titled("[celeryd: celery@e2e:ForkPoolWorker-1]", pool_script,
                                  env=ctx(self.dag, "vacuum", 1))
        pool, task, stale, fresh = self.h.pids_from(pid_file, 4)
        self.start_agent()
        time.sleep(6 * POLL)
        for pid in (pool, task, stale, fresh):
            self.assertTrue(alive(pid), f"pid {pid} killed\n{self.h.agent_output()}")

        self.h.set_ti(running, "failed")
        self.assertTrue(wait_for(lambda: not any(map(alive, (task, stale, fresh))), 4.5),
                        self.h.agent_output())
        self.assertTrue(alive(pool), "the pool process is the worker's own")

    def test_mapped_task_orphans_are_reaped_once_every_candidate_left_running(self):
        indexes = [self.ti("fan", map_index=i, id=f"0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5{i}")
                   for i in range(3)]
        for t in indexes:
            self.h.set_ti(t, "running")
        # Map index 1's task process with its operator's child; and an orphan of the task that
        # tells no map index (AIRFLOW_CTX_* never carry one), reparented to init.
        _, root_pids = self.h.start_titled(f"airflow worker -- {indexes[1]['id']}",
                                   'echo $$ >> "$PIDS"\n'
                                   '( exec sleep 3600 ) & echo $! >> "$PIDS"\nwait\n',
                                   env=ctx(self.dag, "fan", 1))
        task1, child1 = self.h.pids_from(root_pids, 2)
        _, orphan_pids = self.h.start_titled("orphan-launcher",
                                     '( setsid sleep 3600 & echo $! >> "$PIDS" ) &\nwait\n',
                                     env=ctx(self.dag, "fan", 1))
        orphan, = self.h.pids_from(orphan_pids, 1)
        self.start_agent()
        time.sleep(4 * POLL)

        self.h.set_ti(indexes[1], "failed")  # only map index 1's own tree dies
        self.assertTrue(wait_for(lambda: not alive(task1) and not alive(child1), 4.5),
                        self.h.agent_output())
        time.sleep(2 * POLL)
        self.assertTrue(alive(orphan), "map indexes 0 and 2 still run: the orphan may be theirs")

        self.h.set_ti(indexes[0], "success")
        self.h.set_ti(indexes[2], "success")
        self.assertTrue(wait_for(lambda: not alive(orphan), 4.5), self.h.agent_output())
        self.assertIn("every candidate map index (0, 1, 2) has left running",
                      self.h.agent_output())

    def test_kill_never_reaches_processes_it_did_not_decide(self):
        victim = self.ti("extract")
        self.h.set_ti(victim, "running")
        self.h.start_tree(victim)
        # The same TaskInstance named by a process of a try the API has not reached: unknown,
        # never killed, though it shares the victim's session and key.
        _, pid_file = self.h.start_titled("bystander", 'echo $$ >> "$PIDS"\nexec sleep 3600\n',
                                  env=ctx(self.dag, "extract", 5))
        bystander, = self.h.pids_from(pid_file, 1)
        self.start_agent(grace="2s")
        time.sleep(4 * POLL)
        self.h.set_ti(victim, "failed")
        time.sleep(POLL + 2 + 2.5)
        self.assertTrue(alive(bystander), self.h.agent_output())
        self.assertRegex(self.h.agent_output(), r"decision .*action=unknown.*older than")


class ManyTreesTest(unittest.TestCase):
    """300 trees failing at once, grace 4 s, poll 1 s: every member dead within poll + grace + 3 s
    (a thread per kill used to send SIGKILL up to 37 s late)."""
    TREES, GRACE, POLL = 300, 4.0, 1.0

    def test_every_member_of_300_failing_trees_dies_in_time(self):
        h = Harness(AGENT)
        self.addCleanup(h.close)
        h.start_airflow(api="v2", auth="none")
        dag = "many_" + secrets.token_hex(4)
        marker = h.new_marker()
        tis = [{"dag_id": dag, "task_id": f"t{i}", "run_id": RUN_ID, "map_index": -1,
                "try_number": 1} for i in range(self.TREES)]
        for t in tis:
            h.set_ti(t, "running")
        for t in tis:
            # A task root titled as Airflow 2 titles it, and a child that ignores SIGTERM.
            script = "( trap '' TERM; exec sleep 3600 ) &\nwait\n"
            title = f"airflow tasks run {dag} {t['task_id']} {RUN_ID} --local"
            h._start(["bash", "-c", f'exec -a "{title}" bash'], stdin=subprocess.PIPE,
                     env=dict(os.environ, **{marker: "1"}),
                     start_new_session=True).stdin.write(script.encode())
        for proc in h.processes[1:]:
            proc.stdin.close()
        self.assertTrue(wait_for(lambda: len(marked_pids(marker)) >= 2 * self.TREES, 30))
        h.start_agent(h.write_config(poll="1s", grace="4s"))
        time.sleep(3 * self.POLL)
        flipped = time.monotonic()
        for t in tis:
            h.set_ti(t, "failed")
        deadline = self.POLL + self.GRACE + 3
        self.assertTrue(wait_for(lambda: not marked_pids(marker), deadline, step=0.2),
                        f"{len(marked_pids(marker))} left after {deadline} s")
        print(f"300 trees dead {time.monotonic() - flipped:.1f} s after the flip", flush=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
