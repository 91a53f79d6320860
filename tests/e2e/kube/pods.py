"""Simulated pods that are real, for the kubernetes-mode end-to-end tests: kubelet-style cgroup
directories (systemd or cgroupfs driver) under a unique prefix of the cgroup2 mount, real processes
in real PID namespaces moved into their container's cgroup, and the Pod objects that the stand-in
apiserver serves for them (matching uid, nodeName and container IDs).

Every process started here carries the node's marker in its environment and sits in a cgroup below
the prefix (or is tracked by its Popen): `close()` kills only those, and removes the prefix."""
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

from harness import marked_pids, read_text, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "scripts")
# The cgroup2 mount: the unified hierarchy of a hybrid host, else the whole of /sys/fs/cgroup.
CGROUP2 = ("/sys/fs/cgroup/unified" if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs")
           else "/sys/fs/cgroup")
RUN_ID = "scheduled__2026-11-25T00:00:00+00:00"


def environ_of(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def sigterm_caught(pid):
    """Whether the process has a SIGTERM handler (bit 15 of SigCgt): a bash trap is installed."""
    for line in read_text(f"/proc/{pid}/status").splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def container_id():
    return secrets.token_hex(32)


class SimulatedNode:
    def __init__(self, name):
        self.name = name
        self.marker = "REAPER_E2E_KUBE_" + secrets.token_hex(6)
        self.prefix = os.path.join(CGROUP2, f"airflow-reaper-e2e-{os.getpid()}-"
                                            f"{secrets.token_hex(4)}")
        os.mkdir(self.prefix)
        self.dir = tempfile.mkdtemp(prefix="airflow-reaper-e2e-kube-")
        self.signals = os.path.join(self.dir, "signals")
        open(self.signals, "w").close()
        self.processes = []
        # unshare complains on stderr when its child is killed at cleanup: keep that out of the way.
        self.stderr = open(os.path.join(self.dir, "unshare.log"), "w")

    # --- kubelet-style cgroup directories
    def pod_cgroup(self, driver, uid, qos="burstable"):
        if driver == "systemd":
            slice_uid = uid.replace("-", "_")
            return os.path.join(self.prefix, "kubepods.slice", f"kubepods-{qos}.slice",
                                f"kubepods-{qos}-pod{slice_uid}.slice")
        return os.path.join(self.prefix, "kubepods", qos, f"pod{uid}")

    def container_cgroup(self, driver, uid, cid):
        name = f"cri-containerd-{cid}.scope" if driver == "systemd" else cid
        path = os.path.join(self.pod_cgroup(driver, uid), name)
        os.makedirs(path, exist_ok=True)
        return path

    # --- processes
    def start_container(self, cgroup, script, role, title, env=None):
        """pid 1 of a new PID namespace, in `cgroup`, titled `title`, running scripts/`script`."""
        full_env = dict(os.environ, **(env or {}), **{self.marker: "1"}, E2E_ROLE=role,
                        E2E_DIR=self.dir, E2E_SCRIPTS=SCRIPTS, E2E_SIGNALS=self.signals,
                        E2E_HOST=self.name, E2E_CGROUP=cgroup, E2E_TITLE=title,
                        E2E_SCRIPT=os.path.join(SCRIPTS, script))
        join_and_run = ('echo 0 > "$E2E_CGROUP/cgroup.procs" && '
                        'exec -a "$E2E_TITLE" bash < "$E2E_SCRIPT"')
        proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "bash", "-c",
                                 join_and_run], env=full_env, start_new_session=True,
                                stdin=subprocess.DEVNULL, stderr=self.stderr)
        self.processes.append(proc)
        return proc

    def start_sandbox(self, driver, uid):
        cid = container_id()
        cgroup = self.container_cgroup(driver, uid, cid)
        self.start_pause(cgroup)
        return cid

    def start_pause(self, cgroup):
        env = dict(os.environ, **{self.marker: "1"}, E2E_ROLE="pause", E2E_CGROUP=cgroup)
        proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "bash", "-c",
                                 'echo 0 > "$E2E_CGROUP/cgroup.procs" && '
                                 'exec -a /pause sleep 100000'], env=env, start_new_session=True,
                                stdin=subprocess.DEVNULL, stderr=self.stderr)
        self.processes.append(proc)

    def start_outsider(self, ti):
        """A process in no pod carrying the AIRFLOW_CTX_* environment of `ti`."""
        env = dict(os.environ, **{self.marker: "1"}, **ctx_env(ti), E2E_ROLE="outsider")
        proc = subprocess.Popen(["bash", os.path.join(SCRIPTS, "outsider.sh")], env=env,
                                start_new_session=True, stdin=subprocess.DEVNULL)
        self.processes.append(proc)
        return proc

    def roles(self):
        """{pid: E2E_ROLE} of every live process this node started."""
        return {pid: environ_of(pid).get("E2E_ROLE", "") for pid in marked_pids(self.marker)}

    def pids_with_role(self, prefix):
        return sorted(p for p, r in self.roles().items() if r == prefix or
                      r.startswith(prefix + "/"))

    def lasting_pids_with_role(self, prefix):
        """As pids_with_role, without the TERM ignorers' short-lived `sleep 1` children."""
        return [p for p in self.pids_with_role(prefix)
                if read_text(f"/proc/{p}/cmdline") != "sleep\0" + "1\0"]

    def signalled_roles(self):
        return [line for line in read_text(self.signals).splitlines() if line]

    # --- cleanup
    def close(self):
        for path in self.cgroup_dirs():
            try:
                with open(os.path.join(path, "cgroup.kill"), "w") as f:
                    f.write("1")
            except OSError:
                pass
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for pid in marked_pids(self.marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for path in self.cgroup_dirs():
            wait_for(lambda: not read_text(os.path.join(path, "cgroup.procs")).strip(), 10)
            try:
                os.rmdir(path)
            except OSError:
                pass
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def cgroup_dirs(self):
        """Every directory below (and including) the prefix, deepest first."""
        found = []
        for root, _, _ in os.walk(self.prefix):
            found.append(root)
        return sorted(found, key=lambda p: p.count("/"), reverse=True)


def ctx_env(ti):
    return {"AIRFLOW_CTX_DAG_ID": ti["dag_id"], "AIRFLOW_CTX_TASK_ID": ti["task_id"],
            "AIRFLOW_CTX_DAG_RUN_ID": ti["run_id"], "AIRFLOW_CTX_TRY_NUMBER": str(ti["try_number"])}


def pod_object(name, namespace, node, containers, labels=None, annotations=None):
    """A Running Pod with the given {container name: container id}."""
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    statuses = [{"name": n, "containerID": f"containerd://{cid}", "ready": True,
                 "restartCount": 0, "image": "apache/airflow:3.0.2",
                 "imageID": "docker.io/apache/airflow@sha256:" + "0" * 64, "started": True,
                 "state": {"running": {"startedAt": started}}} for n, cid in containers.items()]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {},
                         "annotations": annotations or {}},
            "spec": {"nodeName": node, "containers": [{"name": n, "image": "apache/airflow:3.0.2"}
                                                      for n in containers]},
            "status": {"phase": "Running", "containerStatuses": statuses}}
