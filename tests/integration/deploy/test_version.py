"""One version, written once: CMake's project(VERSION). The binary is built with it
(src/core/version.h.in); the chart, the plain manifests and the image (agent/setup/build-image.sh
passes it as a build argument) must say the same, so a release bump that misses one fails here."""

import glob
import os
import re
import subprocess
import sys
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_env  # noqa: E402

VERSION = os.environ.get("REAPER_VERSION") or sys.exit("REAPER_VERSION is not set (CMake sets it)")
AGENT = os.path.join(os.environ.get("REAPER_BINARY_DIR", ""), "bin", "airflow-reaper")


class VersionTest(unittest.TestCase):
    def test_binary_reports_cmakes_version(self):
        for args in (["version"], ["--version"]):
            out = subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=30)
            self.assertEqual((out.returncode, out.stdout), (0, f"airflow-reaper {VERSION}\n"))

    def test_chart_version_and_app_version(self):
        with open(os.path.join(deploy_env.CHART, "Chart.yaml")) as f:
            chart = yaml.safe_load(f)
        self.assertEqual(str(chart["appVersion"]), VERSION)
        self.assertEqual(str(chart["version"]), VERSION)

    def test_plain_manifests_label_and_image(self):
        for path in sorted(glob.glob(os.path.join(deploy_env.K8S, "*.yaml"))):
            with open(path) as f:
                text = f.read()
            for found in re.findall(r"app\.kubernetes\.io/version:\s*\"?([^\s\"]+)", text):
                self.assertEqual(found, VERSION, path)
            for image in re.findall(r"image:\s*\"?(\S+?/airflow-reaper):([^\s\"]+)", text):
                self.assertEqual(image[1], VERSION, path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
