"""Shared pieces of the end-to-end tests and the demo: the stand-in Airflow API, real task-runner
trees started through the stand-in `airflow` CLI, and the agent binary. Everything started here is
tracked and stopped by `close()`; trees carry a unique marker in their environment so that cleanup
only ever signals processes this harness started."""
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_AIRFLOW = os.path.join(HERE, "fake_airflow", "fake_airflow.py")
FAKE_CLI = os.path.join(HERE, "task_tree", "airflow")
# Processes a started tree always has: the --local process, the runner, two sleeps (one in its own
# session), the double-forked daemon and the TERM-ignoring loop.
TREE_SIZE = 6


def wait_for(predicate, timeout, step=0.05):
    """The predicate's first truthy result within `timeout` seconds, else its last result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(step)
    return predicate()


def vm_rss_kib(pid):
    for line in read_text(f"/proc/{pid}/status").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def stretched(seconds):
    """A deadline on the agent's behaviour, stretched by how overloaded the machine is (shared
    2-core CI hosts reach a load of 20): the bound is on the agent, not on the host's scheduler."""
    overload = os.getloadavg()[0] / (os.cpu_count() or 1)
    return seconds * max(1.0, overload)


def require(condition, why):
    """Skips the calling test or class when `condition` is false; under CI=true, where every test
    must run, fails it instead."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        raise AssertionError(f"required under CI: {why}")
    raise unittest.SkipTest(why)


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def process_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def marked_pids(marker):
    """Live (non-zombie) processes whose environment carries `marker`: only ever ours."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                found = f"{marker}=".encode() in f.read()
        except OSError:
            continue
        if found and process_state(entry) not in (None, "Z"):
            pids.append(int(entry))
    return pids


def lasting_pids(marker, settle=1.2):
    """Marked pids alive across `settle` seconds: a tree's lasting members, not the processes it
    starts and ends by itself (the SIGTERM-ignorer's one-second sleeps, a double fork's middle
    process), whose count at any instant says nothing about a kill."""
    first = set(marked_pids(marker))
    time.sleep(settle)
    return first & set(marked_pids(marker))


def http(method, url, body=None, timeout=5):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as reply:
        return reply.status, reply.read().decode()


class Harness:
    def __init__(self, agent_binary):
        self.agent_binary = agent_binary
        self.tmp = tempfile.mkdtemp(prefix="airflow-reaper-e2e-")
        self.processes = []
        self.markers = []
        self.port = None

    # --- the stand-in Airflow API
    def start_airflow(self, api="v2", auth="jwt", username="admin", password="s3cret-pw",
                      extra_args=()):
        port_file = os.path.join(self.tmp, f"airflow-port-{len(self.processes)}")
        self.password_file = os.path.join(self.tmp, "password")
        with open(self.password_file, "w") as f:
            f.write(password + "\n")
        self.auth = auth
        self.username = username
        self._start([sys.executable, FAKE_AIRFLOW, "--port", "0", "--port-file", port_file,
                     "--api", api, "--auth", auth, "--username", username, "--password", password,
                     *extra_args],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for(lambda: read_text(port_file).strip(), 10):
            raise RuntimeError("stand-in Airflow API did not start")
        self.port = int(read_text(port_file))
        return self.port

    def control(self, method, path, body=None):
        return http(method, f"http://127.0.0.1:{self.port}{path}", body)

    def set_ti(self, ti, state, try_number=None):
        body = dict(ti, state=state)
        if try_number is not None:
            body["try_number"] = try_number
        self.control("PUT", "/_fake/ti", body)

    def fault(self, mode):
        self.control("POST", "/_fake/fault", {"mode": mode})

    def stats(self):
        return json.loads(self.control("GET", "/_fake/stats")[1])

    # --- real task-runner trees
    def new_marker(self):
        """An environment variable that marks processes as this harness's (cleanup kills them)."""
        marker = "REAPER_E2E_" + secrets.token_hex(6)
        self.markers.append(marker)
        return marker

    def start_titled(self, title, script, env=None):
        """A real process titled `title` (its whole command line), running bash `script` in a
        session of its own, with $PIDS naming a file for it to write pids to (read them back with
        pids_from). Marked: close() kills what is left. Returns (marker, pid file)."""
        marker = self.new_marker()
        pid_file = os.path.join(self.tmp, f"pids-{marker}")
        script_file = os.path.join(self.tmp, f"script-{marker}.sh")
        with open(script_file, "w") as f:
            f.write(script)
        full_env = dict(os.environ, PIDS=pid_file, **{marker: "1"}, **(env or {}))
        self._start(["bash", "-c", f'exec -a "{title}" bash < "{script_file}"'], env=full_env,
                    start_new_session=True)
        return marker, pid_file

    @staticmethod
    def pids_from(pid_file, count, timeout=10):
        """The first `count` or more pids written to `pid_file`, once there."""
        if not wait_for(lambda: len(read_text(pid_file).split()) >= count, timeout):
            raise AssertionError(f"fewer than {count} pids in {pid_file}: {read_text(pid_file)}")
        return [int(p) for p in read_text(pid_file).split()]

    def start_tree(self, ti, min_processes=TREE_SIZE, extra_env=None, user=None):
        """Starts a tree as this process's user, or as `user` (needs root) from a copy of the CLI
        that user can read wherever the checkout is."""
        marker = self.new_marker()
        env = dict(os.environ, FAKE_AIRFLOW_TRY_NUMBER=str(ti["try_number"]), **{marker: "1"},
                   **(extra_env or {}))
        cli, cwd = FAKE_CLI, None
        if user is not None:
            cli, cwd = self._world_readable_cli(), "/"
        args = [cli, "tasks", "run", ti["dag_id"], ti["task_id"], ti["run_id"], "--local"]
        if ti.get("map_index", -1) >= 0:
            args += ["--map-index", str(ti["map_index"])]
        self._start(args, env=env, start_new_session=True, user=user, cwd=cwd)
        if not wait_for(lambda: len(marked_pids(marker)) >= min_processes, 10):
            raise RuntimeError(f"task tree did not start: {marked_pids(marker)}")
        return marker

    def _world_readable_cli(self):
        shared = os.path.join(self.tmp, "shared")
        if not os.path.isdir(shared):
            os.mkdir(shared)
            shutil.copy(FAKE_CLI, shared)
            os.chmod(self.tmp, 0o711)  # others may pass through to it, not list the rest
        return os.path.join(shared, os.path.basename(FAKE_CLI))

    # --- the agent
    def write_config(self, extra="", poll="500ms", grace="1s", startup_grace="0s",
                     api_version="auto", timeout="1s"):
        auth = {"none": "type: none", "jwt": "type: jwt", "basic": "type: basic"}[self.auth]
        if self.auth != "none":
            auth += f"\n    username: {self.username}\n    passwordFile: {self.password_file}"
        path = os.path.join(self.tmp, f"config-{secrets.token_hex(3)}.yaml")
        with open(path, "w") as f:
            f.write(f"mode: host\npollInterval: {poll}\nstartupGrace: {startup_grace}\n"
                    f"airflow:\n  baseUrl: http://127.0.0.1:{self.port}\n"
                    f"  apiVersion: {api_version}\n  timeout: {timeout}\n  auth:\n    {auth}\n"
                    f"kill:\n  gracePeriod: {grace}\n"
                    f"server:\n  bindAddress: 127.0.0.1:0\n{extra}")
        return path

    def scan(self, config, output="json"):
        out = subprocess.run([self.agent_binary, "scan", "--config", config, "--output", output],
                             capture_output=True, text=True, timeout=60)
        return out

    def start_agent(self, config, *flags, launcher=()):
        """Starts `airflow-reaper run`, through `launcher` (e.g. setpriv and its options) if given."""
        self.agent_log = open(os.path.join(self.tmp, f"agent-{len(self.processes)}.log"), "w+")
        self.agent = self._start([*launcher, self.agent_binary, "run", "--config", config, *flags],
                                 stderr=self.agent_log, stdout=self.agent_log)
        return self.agent

    def agent_url(self, timeout=10):
        """http://host:port of the running agent's status server, from its start-up log line."""
        found = []
        wait_for(lambda: found.extend(re.findall(r"serving address=(http://[^ /]+)",
                                                 self.agent_output())) or found, timeout)
        if not found:
            raise RuntimeError(f"agent is not serving:\n{self.agent_output()}")
        return found[0]

    def stop_agent(self):
        self.agent.send_signal(signal.SIGTERM)
        return self.agent.wait(timeout=15)

    def agent_output(self):
        self.agent_log.flush()
        with open(self.agent_log.name) as f:
            return f.read()

    def keep_logs(self, prefix):
        """With FAULTS_LOG_DIR (or E2E_LOG_DIR) set, copies the agents' logs there as
        `prefix`-<name>, for diagnosis after the temporary directory is gone."""
        where = os.environ.get("E2E_LOG_DIR") or os.environ.get("FAULTS_LOG_DIR")
        if not where:
            return
        os.makedirs(where, exist_ok=True)
        for name in os.listdir(self.tmp):
            if name.endswith(".log"):
                shutil.copy(os.path.join(self.tmp, name), os.path.join(where, f"{prefix}-{name}"))

    # --- lifecycle
    def _start(self, args, **kwargs):
        proc = subprocess.Popen(args, **kwargs)
        self.processes.append(proc)
        return proc

    def close(self):
        if hasattr(self, "agent_log"):
            self.agent_log.close()
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for marker in self.markers:
            for pid in marked_pids(marker):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.tmp, ignore_errors=True)
