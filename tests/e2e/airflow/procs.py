"""What the real-Airflow tests know about processes, read from /proc without the agent's rules:
every process of one deployment (by its marker), a TaskInstance's processes (by the E2E_TI mark
the DAGs put on everything a task starts, plus the ancestors that run the task), evidence lines."""
import os
from dataclasses import dataclass, field

# Long-lived processes that run many TaskInstances: never part of one. Everything else between a
# marked process and its service is the task runner (supervisor, task process, --raw runner).
# `airflow supervisor: <uuid>` is the title Airflow 3.3's run_workload() gives the Celery pool
# process that supervises a task in-process (it keeps it after the task).
WORKER_TITLES = ("LocalExecutor", "ForkPoolWorker", "[celeryd:", "airflow scheduler",
                 "airflow celery worker", "celery worker", "airflow supervisor:")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    pgid: int
    sid: int
    start: int  # clock ticks since boot: (pid, start) never names two processes
    state: str
    cmdline: str
    ctx: tuple = field(default=())  # names of the AIRFLOW_CTX_* variables in its environment
    e2e_ti: str = ""  # the DAG's own mark: "<task_id>/<map_index>/<try_number>"
    run_id: str = ""  # AIRFLOW_CTX_DAG_RUN_ID, when present

    @property
    def key(self):
        return (self.pid, self.start)

    def is_worker(self):
        return any(t in self.cmdline for t in WORKER_TITLES)

    def describe(self):
        return (f"pid={self.pid} ppid={self.ppid} pgid={self.pgid} sid={self.sid} "
                f"ctx=[{','.join(self.ctx)}] e2e_ti={self.e2e_ti or '-'} {self.cmdline[:200]}")


def _read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


def read(pid):
    stat = _read(f"/proc/{pid}/stat")
    raw_env = _read(f"/proc/{pid}/environ", "rb")
    raw_cmd = _read(f"/proc/{pid}/cmdline", "rb")
    if stat is None or raw_env is None or raw_cmd is None:
        return None, None
    fields = stat.rsplit(")", 1)[1].split()
    env = {}
    for item in raw_env.split(b"\0"):
        name, _, value = item.partition(b"=")
        env[name.decode(errors="replace")] = value.decode(errors="replace")
    proc = Proc(pid=int(pid), ppid=int(fields[1]), pgid=int(fields[2]), sid=int(fields[3]),
                start=int(fields[19]), state=fields[0],
                cmdline=raw_cmd.replace(b"\0", b" ").decode(errors="replace").strip(),
                ctx=tuple(sorted(n for n in env if n.startswith("AIRFLOW_CTX_"))),
                e2e_ti=env.get("E2E_TI", ""), run_id=env.get("AIRFLOW_CTX_DAG_RUN_ID", ""))
    return proc, env


def snapshot(marker, roots=()):
    """Every live process of one deployment, {pid: Proc}: those whose environment carries the
    marker, and the descendants of `roots` (the services the test started). Both are needed:
    setproctitle overwrites a process's environ area, so Airflow's titled processes have no readable
    environment, and orphans have no parent chain to the services."""
    table, marked = {}, set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        proc, env = read(entry)
        if proc and proc.state != "Z":
            table[proc.pid] = proc
            if marker in env:
                marked.add(proc.pid)
    out = {}
    for pid, proc in table.items():
        p = proc
        while p and p.pid not in marked and p.pid not in roots:
            p = table.get(p.ppid)
        if p:
            out[pid] = proc
    return out


def alive(proc):
    now, _ = read(proc.pid)
    return now is not None and now.start == proc.start and now.state != "Z"


def task_processes(table, run_id, e2e_ti, services):
    """A TaskInstance attempt's processes: those the task started (its mark) and their ancestors up
    to the first long-lived worker or service (`services`: the pids the test started). `e2e_ti` may
    be a prefix ("mapped/1/")."""
    marked = {p.pid for p in table.values()
              if p.run_id == run_id and p.e2e_ti.startswith(e2e_ti)}
    members = set(marked)
    for pid in marked:
        parent = table.get(table[pid].ppid)
        while parent and not parent.is_worker() and parent.pid not in services:
            members.add(parent.pid)
            parent = table.get(parent.ppid)
    return {pid: table[pid] for pid in members}
