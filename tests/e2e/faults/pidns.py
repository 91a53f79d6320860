#!/usr/bin/python3
"""A PID namespace of a test's own: `PidNamespace` starts this file as the namespace's init under
`unshare --pid --fork --mount-proc --kill-child` and drives it with one JSON command per line.
Inside, pids are the namespace's (an agent started there reads the namespace's /proc), so a test
can choose which pid a new process gets (ns_last_pid) and lower pid_max without touching the host.
When the test's handle dies, unshare kills the init and the kernel every process in the namespace.

Commands (one JSON object per line on stdin, one reply per line on stdout):
  {"op": "spawn", "argv": [...], "env": {...}, "log": PATH?}  -> {"pid": P}  (own session)
  {"op": "spawn_at", "pid": P, "argv": [...], "env": {...}}  -> {"pid": P} or {"error": ...}
  {"op": "kill", "pid": P, "sig": N}                          -> {}
  {"op": "states", "pids": [...]}                              -> {"states": {P: "S"|null}}
  {"op": "sysctl", "name": "kernel/pid_max", "value": V}       -> {} or {"error": ...}
"""
import json
import os
import select
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def state_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
    return None if state in ("Z", "X") else state


def exec_child(argv, env, log):
    os.setsid()
    fd = os.open(log or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    try:
        os.execvpe(argv[0], argv, env)
    finally:
        os._exit(127)


def spawn(cmd):
    pid = os.fork()
    if pid == 0:
        exec_child(cmd["argv"], cmd["env"], cmd.get("log"))
    return {"pid": pid}


def spawn_at(cmd):
    """Forks until the child gets `pid` (free by then): the kernel hands out ns_last_pid + 1 unless
    another fork of the namespace came between."""
    wanted = cmd["pid"]
    for _ in range(2000):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(wanted - 1))
        pid = os.fork()
        if pid == 0:
            if os.getpid() == wanted:
                exec_child(cmd["argv"], cmd["env"], cmd.get("log"))
            os._exit(0)
        if pid == wanted:
            return {"pid": pid}
        os.waitpid(pid, 0)
    return {"error": f"pid {wanted} not obtained"}


def handle(cmd):
    op = cmd["op"]
    if op == "spawn":
        return spawn(cmd)
    if op == "spawn_at":
        return spawn_at(cmd)
    if op == "kill":
        try:
            os.kill(cmd["pid"], cmd["sig"])
        except ProcessLookupError:
            pass
        return {}
    if op == "states":
        return {"states": {str(p): state_of(p) for p in cmd["pids"]}}
    if op == "sysctl":
        try:
            with open(f"/proc/sys/{cmd['name']}", "w") as f:
                f.write(str(cmd["value"]))
        except OSError as e:
            return {"error": str(e)}
        return {}
    return {"error": f"unknown op {op}"}


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve():
    """The namespace's init: answers commands and reaps every orphan the namespace hands it."""
    buffered = b""
    while True:
        ready, _, _ = select.select([0], [], [], 0.05)
        reap()
        if not ready:
            continue
        chunk = os.read(0, 65536)
        if not chunk:
            return  # the test is gone: returning ends the namespace
        buffered += chunk
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            try:
                reply = handle(json.loads(line))
            except Exception as e:  # a bad command must not end the namespace
                reply = {"error": repr(e)}
            os.write(1, json.dumps(reply).encode() + b"\n")


class PidNamespace:
    """The test side: started through `harness._start`, so the harness's cleanup ends it if
    `close()` (the init sees its input end and returns) did not."""

    def __init__(self, harness):
        self.proc = harness._start(
            ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", sys.executable,
             os.path.abspath(__file__)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def close(self):
        self.proc.stdin.close()
        self.proc.stdout.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def call(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the PID namespace's init is gone")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    def spawn(self, argv, env=None, log=None):
        return self.call(op="spawn", argv=argv, env=env or dict(os.environ), log=log)["pid"]

    def spawn_at(self, pid, argv, env=None):
        return self.call(op="spawn_at", pid=pid, argv=argv, env=env or dict(os.environ))["pid"]

    def kill(self, pid, sig):
        self.call(op="kill", pid=pid, sig=sig)

    def alive(self, pid):
        return self.call(op="states", pids=[pid])["states"][str(pid)] is not None

    def sysctl(self, name, value):
        self.call(op="sysctl", name=name, value=value)


if __name__ == "__main__":
    serve()
