"""End to end, host mode: the built agent against the stand-in Airflow API on loopback and real
task-runner trees. Timings are generous bounds on behaviour (a tree must be dead within
pollInterval + gracePeriod + 1 s), not performance assertions."""
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import TREE_SIZE, Harness, lasting_pids, marked_pids, wait_for  # noqa: E402

AGENT = os.path.join(os.environ.get("REAPER_BINARY_DIR", "build"), "bin", "airflow-reaper")
POLL, GRACE = 0.5, 1.0
DEADLINE = POLL + GRACE + 1.0


def ti(dag, task, try_number=1, map_index=-1):
    return {"dag_id": dag, "task_id": task, "run_id": "scheduled__2026-11-25T00:00:00+00:00",
            "map_index": map_index, "try_number": try_number}


class HostModeTest(unittest.TestCase):
    api, auth = "v2", "jwt"

    def setUp(self):
        # A host-mode agent sees every process on the machine: a dag id of this test's own keeps
        # its verdicts off other suites' trees (theirs are unknown to this API, so kept).
        self.dag = "etl_" + secrets.token_hex(4)
        self.h = Harness(AGENT)
        self.addCleanup(self.h.close)
        self.h.start_airflow(api=self.api, auth=self.auth)

    def start(self, task, state="running", try_number=1, **kw):
        t = ti(self.dag, task, try_number, **kw)
        self.h.set_ti(t, state)
        return t, self.h.start_tree(t)

    def assert_reaped_after_flip(self, flip, marker):
        flipped = time.monotonic()
        flip()
        self.assertTrue(wait_for(lambda: not marked_pids(marker), DEADLINE),
                        f"still alive: {marked_pids(marker)}\n{self.h.agent_output()}")
        return time.monotonic() - flipped

    def test_failed_ti_tree_dies_whole_and_neighbour_lives(self):
        victim, victim_marker = self.start("extract")
        _, neighbour_marker = self.start("load")
        before = lasting_pids(victim_marker)
        self.h.start_agent(self.h.write_config())
        time.sleep(3 * POLL)
        self.assertLessEqual(before, set(marked_pids(victim_marker)), self.h.agent_output())
        self.assert_reaped_after_flip(lambda: self.h.set_ti(victim, "failed"), victim_marker)
        time.sleep(3 * POLL)
        self.assertGreaterEqual(len(marked_pids(neighbour_marker)), TREE_SIZE)
        self.assertEqual(self.h.stop_agent(), 0)
        log = self.h.agent_output()
        self.assertIn("outcome=killed", log)
        self.assertRegex(log, rf"decision ti={self.dag}/extract/.* action=kill reason=\"state=failed\"")

    def test_superseded_try_dies(self):
        old, old_marker = self.start("transform", try_number=1)
        self.h.start_agent(self.h.write_config())
        time.sleep(3 * POLL)
        self.assertTrue(marked_pids(old_marker))
        self.assert_reaped_after_flip(lambda: self.h.set_ti(old, "running", try_number=2),
                                      old_marker)
        self.assertIn("superseded by try 2", self.h.agent_output())

    def test_api_failures_never_kill(self):
        victim, marker = self.start("extract")
        self.h.start_agent(self.h.write_config())
        time.sleep(3 * POLL)
        alive = lasting_pids(marker)
        for mode in ("500", "503", "timeout", "garbage", "401", "422"):
            with self.subTest(mode=mode):
                self.h.fault(mode)
                self.h.set_ti(victim, "failed")
                time.sleep(POLL + GRACE + 1.5 if mode == "timeout" else 4 * POLL)
                self.assertLessEqual(alive, set(marked_pids(marker)),
                                     f"killed during fault {mode}\n{self.h.agent_output()}")
                # State back first: a poll between the two would see the fault gone and "failed".
                self.h.set_ti(victim, "running")
                self.h.fault("none")
                time.sleep(2 * POLL)
        # The same flip without a fault does kill: the checks above could have failed.
        self.assert_reaped_after_flip(lambda: self.h.set_ti(victim, "failed"), marker)

    def test_missing_task_instance_is_kept_by_default(self):
        t, marker = self.start("extract")
        self.h.start_agent(self.h.write_config())
        time.sleep(3 * POLL)
        self.h.control("DELETE", "/_fake/ti", t)
        time.sleep(4 * POLL + GRACE)
        self.assertGreaterEqual(len(marked_pids(marker)), TREE_SIZE, self.h.agent_output())

    def test_dry_run_never_signals(self):
        victim, marker = self.start("extract", state="failed")
        self.h.start_agent(self.h.write_config(), "--dry-run")
        time.sleep(4 * POLL + GRACE)
        self.assertGreaterEqual(len(marked_pids(marker)), TREE_SIZE)
        self.assertIn("outcome=dry_run", self.h.agent_output())

    def test_idle_node_with_a_pinned_api_version_becomes_ready(self):
        # Nothing to ask about (an empty process table) and no version to detect: the start-up
        # probe alone must reach Airflow.
        empty_proc = os.path.join(self.h.tmp, "empty-proc")
        os.mkdir(empty_proc)
        config = self.h.write_config(api_version=self.api, extra=f"procRoot: {empty_proc}\n")
        self.h.start_agent(config)
        url = self.h.agent_url()

        def readyz():
            try:
                return urllib.request.urlopen(url + "/readyz", timeout=2).status
            except urllib.error.HTTPError as e:
                return e.code
            except OSError:
                return None

        self.assertTrue(wait_for(lambda: readyz() == 200, 20), self.h.agent_output())
        self.assertIn(f"GET /api/{self.api}/version", json.dumps(self.h.stats()))
        self.assertEqual(self.h.stop_agent(), 0)

    def test_scan_json_matches_the_contract(self):
        _, marker = self.start("extract", map_index=3)
        out = self.h.scan(self.h.write_config())
        self.assertEqual(out.returncode, 0, out.stderr)
        doc = json.loads(out.stdout)
        trees = [t for t in doc["trees"] if t["ti"] and t["ti"]["dag_id"] == self.dag]
        # The root's tree, and the double-forked daemon's: reparented to init, it has no root
        # ancestor and is carried by its environment, which tells no map index.
        self.assertEqual(len(trees), 2, out.stdout)
        rooted = next(t for t in trees if t["ti"]["map_index"] == 3)
        self.assertEqual(rooted["ti"], {"dag_id": self.dag, "task_id": "extract",
                                        "run_id": "scheduled__2026-11-25T00:00:00+00:00",
                                        "map_index": 3, "try_number": 1})
        for tree in trees:
            self.assertIsNone(tree["pod"])
            self.assertEqual(tree["action"], "keep", tree)
            for p in tree["processes"]:
                self.assertEqual(set(p) >= {"pid", "ppid", "pgid", "sid", "cmdline", "orphan"},
                                 True)
        self.assertEqual(rooted["state"], "running")
        pids = {p["pid"] for t in trees for p in t["processes"]}
        self.assertTrue(set(marked_pids(marker)) <= pids)
        carried = next(t for t in trees if t is not rooted)
        self.assertTrue(all(p["orphan"] for p in carried["processes"]), "the double fork")


class AirflowTwoBasicAuthTest(HostModeTest):
    api, auth = "v1", "basic"


class CommandLineTest(unittest.TestCase):
    def run_agent(self, *args, config=None):
        with tempfile.TemporaryDirectory(prefix="airflow-reaper-cli-") as tmp:
            if config is not None:
                path = os.path.join(tmp, "config.yaml")
                with open(path, "w") as f:
                    f.write(config)
                args = args + ("--config", path)
            return subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=30)

    def test_version(self):
        for args in (["version"], ["--version"]):
            out = self.run_agent(*args)
            self.assertEqual(out.returncode, 0)
            self.assertRegex(out.stdout, r"^airflow-reaper \d+\.\d+\.\d+\n$")

    def test_help_exits_0_and_prints_the_usage_once(self):
        for args in (["help"], ["--help"], ["-h"], ["scan", "--help"]):
            out = self.run_agent(*args)
            self.assertEqual((out.returncode, out.stderr), (0, ""), args)
            self.assertEqual(out.stdout.count("usage:"), 1, args)
            self.assertIn("airflow-reaper scan", out.stdout)

    def test_bad_usage_prints_the_usage_once(self):
        out = self.run_agent("--bogus")
        self.assertEqual(out.returncode, 2)
        self.assertEqual(out.stderr.count("usage:"), 1, out.stderr)

    def test_config_errors_exit_2_naming_the_key(self):
        cases = {
            "mode: host\n": "airflow.baseUrl",
            "airflow: {baseUrl: http://x}\npollInterval: soon\n": "pollInterval",
            "airflow: {baseUrl: http://x}\nkill: {gracePeriod: [1]}\n": "kill.gracePeriod",
            "airflow: {baseUrl: http://x}\nnoSuchKey: 1\n": "noSuchKey",
            "airflow: {baseUrl: http://x}\ndryRun: maybe\n": "dryRun",
            "airflow: {baseUrl: http://x}\npollInterval: ~\n": "pollInterval: has no value",
            "airflow: {baseUrl: http://x}\ndryRun: true\ndryRun: false\n": "dryRun: duplicate key",
            "airflow: {baseUrl: 'http://[::1'}\n": "airflow.baseUrl: 'http://[::1' has an unclosed",
            "mode: host\nairflow: {baseUrl: http://x}\nprocRoot: /nonexistent\n":
                "procRoot: '/nonexistent' cannot be listed",
        }
        for text, key in cases.items():
            with self.subTest(key=key):
                out = self.run_agent("run", config=text)
                self.assertEqual(out.returncode, 2, out.stderr)
                self.assertIn(key, out.stderr)

    def test_bad_flag_exits_2(self):
        out = self.run_agent("run", "--mode", "cluster")
        self.assertEqual(out.returncode, 2)
        self.assertIn("--mode", out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
