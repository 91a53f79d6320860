#!/usr/bin/python3
"""End to end, host mode, least privilege: with every capability dropped but KILL, SYS_PTRACE and
DAC_READ_SEARCH (what the chart grants), the agent still reads and reaps a task tree that another
uid owns. Needs root: to start the tree as `nobody` and to drop the capabilities with setpriv."""
import os
import pwd
import secrets
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import (TREE_SIZE, Harness, marked_pids, read_text, require, stretched,
                     wait_for)  # noqa: E402

AGENT = os.path.join(os.environ.get("REAPER_BINARY_DIR", "build"), "bin", "airflow-reaper")
POLL, GRACE = 0.5, 1.0
DEADLINE = POLL + GRACE + 1.0
CAPS = ["kill", "sys_ptrace", "dac_read_search"]
CAP_BITS = {"kill": 5, "dac_read_search": 2, "sys_ptrace": 19}  # linux/capability.h
KEEP = "-all," + ",".join("+" + cap for cap in CAPS)
SETPRIV = ["setpriv", f"--inh-caps={KEEP}", f"--bounding-set={KEEP}", "--"]


def cap_mask(pid, field):
    for line in read_text(f"/proc/{pid}/status").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1], 16)
    return None


class CapabilityTest(unittest.TestCase):
    def setUp(self):
        require(os.geteuid() == 0, "needs root: a tree of another uid, capabilities to drop")
        self.dag = "caps_" + secrets.token_hex(4)
        self.h = Harness(AGENT)
        self.addCleanup(self.h.close)
        self.h.start_airflow()

    def test_reaps_a_tree_of_another_uid_with_only_kill_ptrace_and_dac_read_search(self):
        nobody = pwd.getpwnam("nobody").pw_uid
        victim = {"dag_id": self.dag, "task_id": "extract", "run_id": "manual__2026-11-29",
                  "map_index": -1, "try_number": 1}
        self.h.set_ti(victim, "running")
        marker = self.h.start_tree(victim, user="nobody")
        self.assertTrue(all(os.stat(f"/proc/{pid}").st_uid == nobody for pid in marked_pids(marker)))

        agent = self.h.start_agent(self.h.write_config(), launcher=SETPRIV)
        wanted = sum(1 << CAP_BITS[cap] for cap in CAPS)
        self.assertTrue(wait_for(lambda: cap_mask(agent.pid, "CapEff") == wanted, 10),
                        f"CapEff {cap_mask(agent.pid, 'CapEff'):x}, wanted {wanted:x}")
        self.assertEqual(cap_mask(agent.pid, "CapBnd"), wanted)

        time.sleep(3 * POLL)  # running: kept
        self.assertGreaterEqual(len(marked_pids(marker)), TREE_SIZE, self.h.agent_output())
        self.h.set_ti(victim, "failed")
        self.assertTrue(wait_for(lambda: not marked_pids(marker), stretched(DEADLINE)),
                        f"still alive: {marked_pids(marker)}\n{self.h.agent_output()}")
        self.assertEqual(self.h.stop_agent(), 0)
        log = self.h.agent_output()
        self.assertIn("outcome=killed", log)
        self.assertRegex(log, rf"decision ti={self.dag}/extract/.* action=kill")


if __name__ == "__main__":
    unittest.main(verbosity=2)
