"""agent/Containerfile: read statically, then built for real with podman (agent/setup/build-image.sh,
offline: the Debian base comes from mmdebstrap) and run with the host's /proc mounted read-only, as
the DaemonSet runs it, calling `airflow-reaper scan` against the stand-in Airflow on loopback."""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_env  # noqa: E402

sys.path.insert(0, os.path.join(deploy_env.REPO, "tests", "e2e"))
from harness import Harness, marked_pids, read_text  # noqa: E402

CONTAINERFILE = os.path.join(deploy_env.REPO, "agent", "Containerfile")
BUILD_IMAGE = os.path.join(deploy_env.REPO, "agent", "setup", "build-image.sh")
INSTALL_DEPS = os.path.join(deploy_env.REPO, "agent", "setup", "install-deps.sh")
PODMAN_CONF = os.path.join(deploy_env.REPO, "agent", "setup", "containers.conf")
VERSION = os.environ.get("REAPER_VERSION") or sys.exit("REAPER_VERSION is not set (CMake sets it)")
TAG = "localhost/airflow-reaper:ctest"
OCI = "org.opencontainers.image."


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
    """{stage name: [(INSTRUCTION, args)]}, in order, FROM included; "" holds what precedes them."""
    out = {"": []}
    current = ""
    for keyword, rest in instructions():
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", rest, re.I)
            current = match.group(2) if match else f"stage{len(out)}"
            out[current] = []
        out[current].append((keyword, rest))
    return out


def build_packages():
    with open(CONTAINERFILE) as f:
        return re.search(r'^ARG BUILD_PACKAGES="([^"]*)"$', f.read(), re.M).group(1).split()


def podman(*args, check=True, timeout=600):
    env = dict(os.environ, CONTAINERS_CONF=PODMAN_CONF)
    result = subprocess.run(["podman", *args], capture_output=True, text=True, env=env,
                            timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


class ContainerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stages = stages()
        cls.build, cls.runtime = cls.stages["build"], cls.stages["runtime"]

    def test_build_on_a_base_pinned_by_the_builder_and_run_from_scratch(self):
        self.assertEqual(list(self.stages), ["", "build", "runtime"])
        self.assertEqual(self.stages[""], [("ARG", "BUILD_BASE")], "no unpinned default base")
        self.assertEqual(self.build[0], ("FROM", "${BUILD_BASE} AS build"))
        self.assertEqual(self.runtime[0], ("FROM", "scratch AS runtime"))
        out = subprocess.run(["bash", BUILD_IMAGE], capture_output=True, text=True,
                             env=dict(os.environ, BUILD_BASE="docker.io/library/debian:bookworm"))
        self.assertEqual(out.returncode, 1)
        self.assertIn("BUILD_BASE must be pinned by digest", out.stderr)

    def test_build_stage_has_the_projects_dev_packages_and_builds_without_tests(self):
        with open(INSTALL_DEPS) as f:
            wanted = set(re.findall(r"\b(lib[\w.+-]+-dev|prometheus-cpp-dev)\b", f.read()))
        # Neither tests nor fuzz targets (libFuzzer's runtime is in libclang-rt) are built in the image.
        wanted -= {"libgtest-dev", "libgmock-dev", "libclang-rt-14-dev"}
        self.assertTrue(wanted)
        self.assertLessEqual(wanted, set(build_packages()))
        run = " ".join(rest for keyword, rest in self.build if keyword == "RUN")
        self.assertIn("-DREAPER_BUILD_TESTS=OFF", run)
        self.assertIn("--target airflow-reaper", run)
        self.assertIn('"airflow-reaper ${VERSION}"', run, "the binary's version is CMake's")

    def test_copied_sources_exist_and_the_context_sends_them(self):
        with open(os.path.join(deploy_env.REPO, ".containerignore")) as f:
            allowed = {line[1:].rstrip("/") for line in f.read().split() if line.startswith("!")}
        for keyword, rest in self.build:
            if keyword == "COPY":
                source = rest.split()[0].rstrip("/")
                self.assertTrue(os.path.exists(os.path.join(deploy_env.REPO, source)), source)
                self.assertIn(source, allowed)

    def test_every_package_exists_in_debians_index(self):
        apt_cache = shutil.which("apt-cache")
        if apt_cache is None:
            self.fail("apt-cache is missing: this test runs on Debian 12")
        packages = build_packages()
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
        self.assertEqual([r for k, r in self.runtime if k == "COPY"], ["--from=build /rootfs/ /"])


class ImageTest(unittest.TestCase):
    """The image, built for real. podman's failure to run here fails the test with its error."""

    @classmethod
    def setUpClass(cls):
        if shutil.which("podman") is None:
            raise AssertionError("podman is missing: agent/setup/install-deps.sh installs it")
        info = podman("info", check=False)
        if info.returncode != 0:
            raise AssertionError(f"podman cannot run here:\n{info.stderr}")
        built = subprocess.run(["bash", BUILD_IMAGE, TAG], capture_output=True, text=True,
                               timeout=3000)
        if built.returncode != 0:
            raise AssertionError(f"build-image.sh failed:\n{built.stderr[-6000:]}")
        (cls.inspect,) = json.loads(podman("image", "inspect", TAG).stdout)
        cls.tmp = tempfile.mkdtemp(prefix="airflow-reaper-image-")
        container = podman("create", TAG).stdout.strip()
        try:
            export = os.path.join(cls.tmp, "rootfs.tar")
            podman("export", "-o", export, container)
        finally:
            podman("rm", container, check=False)
        with tarfile.open(export) as tar:
            cls.members = {m.name.lstrip("./"): m for m in tar.getmembers()}
            tar.extract("usr/local/bin/airflow-reaper", cls.tmp)

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "tmp"):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_oci_labels_carry_cmakes_version(self):
        labels = self.inspect["Config"]["Labels"]
        self.assertEqual(labels[OCI + "version"], VERSION)
        self.assertRegex(labels[OCI + "revision"], r"^([0-9a-f]{40}|unknown)$")
        for key in ("title", "description", "source", "licenses"):
            self.assertTrue(labels.get(OCI + key), key)

    def test_runtime_root_holds_the_binary_its_libraries_and_ca_bundle_only(self):
        files = {name for name, m in self.members.items() if m.isfile()}
        binary = os.path.join(self.tmp, "usr", "local", "bin", "airflow-reaper")
        ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
        linked = {os.path.basename(path) for path in re.findall(r"(/\S+) \(0x", ldd)}
        libraries = {name for name in files if re.search(r"\.so(\.|$)", name)}
        self.assertEqual({os.path.basename(name) for name in libraries}, linked)
        self.assertEqual(files - libraries, {"usr/local/bin/airflow-reaper",
                                             "etc/ssl/certs/ca-certificates.crt"})
        self.assertFalse(any("civetweb" in name for name in files))
        for absent in ("bin/sh", "usr/bin/sh", "bin/bash", "usr/bin/apt-get", "var/lib/dpkg"):
            self.assertNotIn(absent, self.members)

    def test_scan_inside_reads_the_hosts_proc_and_asks_airflow(self):
        h = Harness(os.path.join(os.environ.get("REAPER_BINARY_DIR", ""), "bin", "airflow-reaper"))
        try:
            h.start_airflow()
            dag = f"image_{os.getpid()}"
            ti = {"dag_id": dag, "task_id": "extract",
                  "run_id": "scheduled__2026-11-25T00:00:00+00:00", "map_index": -1,
                  "try_number": 1}
            h.set_ti(ti, "running")
            marker = h.start_tree(ti)
            config = h.write_config(extra="hostRoot: /host\n")
            # As the DaemonSet: host PID namespace, /proc and the cgroup tree read-only under /host,
            # uid 0 with only the capabilities the chart grants, read-only root.
            out = podman("run", "--rm", "--network", "host", "--pid", "host",
                         "-v", "/proc:/host/proc:ro", "-v", "/sys/fs/cgroup:/host/sys/fs/cgroup:ro",
                         "-v", f"{h.tmp}:{h.tmp}:ro", "--user", "0:0", "--cap-drop", "all",
                         "--cap-add", "KILL,SYS_PTRACE,DAC_READ_SEARCH", "--read-only",
                         "--security-opt", "no-new-privileges",
                         TAG, "scan", "--config", config, "--output", "json", check=False,
                         timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            trees = [t for t in json.loads(out.stdout)["trees"]
                     if t["ti"] and t["ti"]["dag_id"] == dag]
            # The root's tree, plus a tree of its own for each orphan that carries the TI in its
            # environment (reparented to init: no root ancestor); every one of them running and kept.
            self.assertTrue(trees, out.stdout)
            self.assertEqual({(t["state"], t["action"]) for t in trees}, {("running", "keep")})
            rooted = [t for t in trees if not t["processes"][0]["orphan"]]
            self.assertEqual(len(rooted), 1, out.stdout)
            # The TERM ignorer's `sleep 1` children come and go between the scan and this read.
            lasting = {p for p in marked_pids(marker)
                       if read_text(f"/proc/{p}/cmdline") != "sleep\0" "1\0"}
            self.assertLessEqual(lasting, {p["pid"] for t in trees for p in t["processes"]})
        finally:
            h.close()

    def test_version_inside(self):
        out = podman("run", "--rm", TAG, "--version")
        self.assertEqual(out.stdout, f"airflow-reaper {VERSION}\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
