"""agent/Containerfile, checked statically (no container engine here): stages, packages, entry."""

import json
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_env  # noqa: E402

CONTAINERFILE = os.path.join(deploy_env.REPO, "agent", "Containerfile")
INSTALL_DEPS = os.path.join(deploy_env.REPO, "agent", "setup", "install-deps.sh")


def instructions():
    """[(INSTRUCTION, argument text)] with continuation lines joined and comments dropped."""
    with open(CONTAINERFILE) as f:
        text = f.read()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def stages():
    """{stage name: [(INSTRUCTION, args)]}, in order, FROM included."""
    out = {}
    current = None
    for keyword, rest in instructions():
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", rest, re.I)
            current = match.group(2) if match else f"stage{len(out)}"
            out[current] = []
        out[current].append((keyword, rest))
    return out


def apt_packages(stage):
    packages = []
    for keyword, rest in stage:
        if keyword == "RUN":
            for command in re.findall(r"apt-get install ([^&]*)", rest):
                packages += [w for w in command.split() if not w.startswith("-")]
    return packages


class ContainerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stages = stages()
        cls.build, cls.runtime = cls.stages["build"], cls.stages["runtime"]

    def test_two_stages_on_debian_12(self):
        self.assertEqual(list(self.stages), ["build", "runtime"])
        self.assertRegex(self.build[0][1], r"^docker\.io/library/debian:bookworm\s")
        self.assertRegex(self.runtime[0][1], r"^docker\.io/library/debian:bookworm-slim\s")

    def test_build_stage_installs_the_projects_dev_packages_and_builds_without_tests(self):
        with open(INSTALL_DEPS) as f:
            wanted = set(re.findall(r"\b(lib[\w.+-]+-dev|prometheus-cpp-dev)\b", f.read()))
        wanted -= {"libgtest-dev", "libgmock-dev"}  # tests are not built in the image
        self.assertTrue(wanted)
        self.assertLessEqual(wanted, set(apt_packages(self.build)))
        run = " ".join(rest for keyword, rest in self.build if keyword == "RUN")
        self.assertIn("-DREAPER_BUILD_TESTS=OFF", run)
        self.assertIn("--target airflow-reaper", run)

    def test_copied_sources_exist(self):
        for keyword, rest in self.build:
            if keyword == "COPY":
                source = rest.split()[0]
                self.assertTrue(os.path.exists(os.path.join(deploy_env.REPO, source)), source)

    def test_runtime_stage_has_runtime_libraries_only(self):
        packages = apt_packages(self.runtime)
        for wanted in ["libcpprest2.10", "libyaml-cpp0.7", "libspdlog1.10",
                       "libprometheus-cpp-core1.0", "libprometheus-cpp-pull1.0", "ca-certificates"]:
            self.assertIn(wanted, packages)
        for package in packages:
            self.assertFalse(package.endswith("-dev") or package in ("build-essential", "cmake"),
                             package)
        self.assertIn(("COPY", "--from=build /airflow-reaper /usr/local/bin/airflow-reaper"),
                      self.runtime)

    def test_every_package_exists_in_debians_index(self):
        apt_cache = shutil.which("apt-cache")
        if apt_cache is None:
            self.fail("apt-cache is missing: this test runs on Debian 12")
        packages = apt_packages(self.build) + apt_packages(self.runtime)
        # One call: apt-cache loads its whole cache each time it starts.
        result = subprocess.run([apt_cache, "show", "--no-all-versions", *packages],
                                capture_output=True, text=True)
        found = set(re.findall(r"^Package: (\S+)$", result.stdout, re.M))
        self.assertEqual(set(packages) - found, set(), result.stderr.strip())

    def test_runtime_is_non_root_and_starts_the_agent_without_a_shell(self):
        (user,) = [rest for keyword, rest in self.runtime if keyword == "USER"]
        self.assertNotIn(user.split(":")[0], ("0", "root"))
        (entrypoint,) = [rest for keyword, rest in self.runtime if keyword == "ENTRYPOINT"]
        (cmd,) = [rest for keyword, rest in self.runtime if keyword == "CMD"]
        self.assertEqual(json.loads(entrypoint), ["/usr/local/bin/airflow-reaper"])
        self.assertEqual(json.loads(cmd), ["run", "--config", "/etc/airflow-reaper/config.yaml"])
        self.assertIn(("EXPOSE", "9464"), self.runtime)


if __name__ == "__main__":
    unittest.main(verbosity=2)
