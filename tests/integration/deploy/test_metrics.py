"""`promtool check metrics` on a live /metrics of the built agent; the names the chart relies on.

The agent runs in host mode with dryRun on, against the stand-in Airflow API on loopback, which
knows no TaskInstance: whatever trees it finds on this machine it keeps, and it signals nothing.
"""

import os
import re
import sys
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "e2e"))
import deploy_env  # noqa: E402
import harness  # noqa: E402

BINARY_DIR = os.environ.get("REAPER_BINARY_DIR") or sys.exit("REAPER_BINARY_DIR is not set")
AGENT = os.path.join(BINARY_DIR, "bin", "airflow-reaper")
SERVING = re.compile(r"serving address=http://127\.0\.0\.1:(\d+)/")


class LiveMetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(AGENT, os.X_OK):
            sys.exit(f"FAIL: {AGENT} is missing: build first (make build)")
        cls.h = harness.Harness(AGENT)
        try:
            cls.h.start_airflow(auth="none")
            cls.h.start_agent(cls.h.write_config(extra="dryRun: true\n"), "--log-format", "text")
            port = None

            def serving():
                nonlocal port
                found = SERVING.search(cls.h.agent_output())
                port = found and int(found.group(1))
                return port is not None
            if not harness.wait_for(serving, 30):
                raise RuntimeError("agent did not serve:\n" + cls.h.agent_output())
            cls.url = f"http://127.0.0.1:{port}/metrics"
            # Wait for the first poll, so the Airflow request families have samples.
            counted = "airflow_reaper_airflow_requests_total{"
            if not harness.wait_for(lambda: counted in cls.fetch(), 30):
                raise RuntimeError("no Airflow request counted:\n" + cls.h.agent_output())
            cls.text = cls.fetch()
        except BaseException:
            cls.h.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.h.close()

    @classmethod
    def fetch(cls):
        with urllib.request.urlopen(cls.url, timeout=5) as reply:
            return reply.read().decode()

    def test_promtool_check_metrics_passes(self):
        result = deploy_env.promtool("check", "metrics", stdin=self.text)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr + self.text)

    def test_the_source_parse_finds_every_served_family(self):
        # Labelled families nothing incremented yet (Kubernetes requests in host mode) are not
        # served, so the check runs this way round: the source parse misses nothing served.
        served = set(re.findall(r"^# TYPE (\S+) ", self.text, re.M))
        self.assertIn("airflow_reaper_reaps_total", served)
        self.assertLessEqual(served, deploy_env.exported_metrics())


if __name__ == "__main__":
    unittest.main(verbosity=2)
