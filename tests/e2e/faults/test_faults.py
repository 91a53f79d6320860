"""Fault suite, host mode (issue 10): the built agent against real processes and the stand-in
Airflow API on loopback, while something goes wrong (a pid reused between decision and kill, the
agent SIGKILLed mid-reap, a fork bomb, an unkillable member, a TaskInstance cleared and restarted
between polls, an API that flaps, crawls, floods or expires its token). Each case asserts that no
process outside what was decided is signalled and that nothing decided is lost.

Processes are observed directly (alive, dead, which signals a bystander caught); log lines and
metrics only count what the agent did. Deadlines bound behaviour, they are not speed goals. The
pids cgroup (v1 or v2, whichever the host has) is created under a unique name and removed at
cleanup, like the FUSE mount that holds the unkillable member."""
import os
import re
import secrets
import signal
import sys
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from cgroups import ControllerCgroup  # noqa: E402
from harness import (Harness, marked_pids, process_state, read_text, require,  # noqa: E402
                     stretched, wait_for)
from held_read import HeldRead  # noqa: E402
from pidns import PidNamespace  # noqa: E402

AGENT = os.path.join(os.environ.get("REAPER_BINARY_DIR", "build"), "bin", "airflow-reaper")
POLL = 0.5
RUN_ID = "scheduled__2026-11-25T00:00:00+00:00"


def alive(pid):
    return process_state(pid) not in (None, "Z")


def ctx(ti):
    return {"AIRFLOW_CTX_DAG_ID": ti["dag_id"], "AIRFLOW_CTX_TASK_ID": ti["task_id"],
            "AIRFLOW_CTX_DAG_RUN_ID": ti["run_id"],
            "AIRFLOW_CTX_TRY_NUMBER": str(ti["try_number"])}


def title(ti):
    """The command line Airflow 2 gives an attempt's root."""
    return f"airflow tasks run {ti['dag_id']} {ti['task_id']} {ti['run_id']} --local"


def metric(url, name, labels=""):
    text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
    found = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def pending_signals(pid):
    """The numbers of the signals pending for the process (its thread's and its group's)."""
    fields = dict(line.split(":\t", 1) for line in read_text(f"/proc/{pid}/status").splitlines()
                  if ":\t" in line)
    mask = int(fields.get("SigPnd", "0"), 16) | int(fields.get("ShdPnd", "0"), 16)
    return {n for n in range(1, 65) if mask & (1 << (n - 1))}


class FaultTest(unittest.TestCase):
    auth = "none"

    def setUp(self):
        self.dag = "faults_" + secrets.token_hex(4)
        self.h = Harness(AGENT)
        self.addCleanup(self.h.close)
        self.addCleanup(lambda: self.h.keep_logs(self.id().split(".")[-2]))
        self.h.start_airflow(api="v2", auth=self.auth, extra_args=self.airflow_args())

    def airflow_args(self):
        return ()

    def ti(self, task, try_number=1):
        return {"dag_id": self.dag, "task_id": task, "run_id": RUN_ID, "map_index": -1,
                "try_number": try_number}

    def script_tree(self, ti, script, env=None, state="running"):
        """An attempt's root titled as Airflow titles it, running bash `script` (see
        Harness.start_titled); with `state`, the TI's state is set first."""
        if state:
            self.h.set_ti(ti, state)
        return self.h.start_titled(title(ti), script, env)

    def log(self):
        return self.h.agent_output()

    def wait_decision(self, ti, action, timeout=10, log=None):
        pattern = (rf'decision ti="?{re.escape(ti["dag_id"])}/{re.escape(ti["task_id"])}/'
                   rf'.*action={action}')
        read = log or self.log
        self.assertTrue(wait_for(lambda: re.search(pattern, read()), stretched(timeout)),
                        f"no {action} decision for {ti['task_id']}\n{read()[-4000:]}")

    def reaped_lines(self, text, ti):
        return re.findall(rf'reaped ti="?{re.escape(ti["dag_id"])}/{re.escape(ti["task_id"])}/'
                          rf'.*outcome=(\w+)', text)


class PidReuseTest(FaultTest):
    """A member exits between the scan that decided its tree's kill and the kill, and a process
    that is none of the tree's gets its pid: the kill must not touch it. The agent runs in a PID
    namespace of the test's own, where ns_last_pid hands the freed pid to the newcomer; the
    TaskInstance list request is held so that the pid changes hands between decision and kill."""

    def test_a_process_that_took_a_members_pid_is_never_signalled(self):
        require(os.geteuid() == 0, "needs root: PID namespaces")
        ns = PidNamespace(self.h)
        self.addCleanup(ns.close)
        t = self.ti("reuse")
        self.h.set_ti(t, "running")
        pid_file = os.path.join(self.h.tmp, "pids")
        marker = self.h.new_marker()
        env = dict(os.environ, PIDS=pid_file, **{marker: "1"})
        script = os.path.join(self.h.tmp, "root.sh")
        with open(script, "w") as f:
            f.write('echo $$ >> "$PIDS"\nsleep 3600 & echo $! >> "$PIDS"\n'
                    'sleep 3600 & echo $! >> "$PIDS"\nwait\n')
        ns.spawn(["bash", "-c", f'exec -a "{title(t)}" bash < {script}'], env=env)
        root, victim, other = self.h.pids_from(pid_file, 3)
        log_path = os.path.join(self.h.tmp, "agent.log")
        config = self.h.write_config(grace="1s", timeout="10s")
        ns.spawn([AGENT, "run", "--config", config, "--log-level", "debug"], log=log_path)
        log = lambda: read_text(log_path)  # noqa: E731
        self.wait_decision(t, "keep", log=log)

        # The next list request is held 5 s: its discovery listed the victim; its answer (read
        # when the hold ends) says failed.
        self.h.control("POST", "/_fake/fault", {"mode": "slow", "seconds": 5, "count": 1})
        self.assertTrue(wait_for(lambda: self.h.stats()["held"] == 1, 5), log())
        self.h.set_ti(t, "failed")
        ns.kill(victim, signal.SIGKILL)
        self.assertTrue(wait_for(lambda: not ns.alive(victim), 5))
        newcomer = ns.spawn_at(victim, ["sleep", "3600"], env=dict(os.environ, **{marker: "1"}))
        self.assertEqual(self.h.stats()["held"], 1, "the newcomer came after the decision")

        self.assertTrue(wait_for(lambda: not ns.alive(root) and not ns.alive(other),
                                 stretched(10)), log())
        time.sleep(1 + 4 * POLL)  # past the grace period, SIGKILL included
        self.assertTrue(ns.alive(newcomer), f"the newcomer with the reused pid died\n{log()}")
        self.assertNotRegex(log(), rf"kill signalled .*pid={victim} ")
        self.assertRegex(log(), rf"not signalled .*pid={victim} .*pid reused")
        self.assertEqual(self.reaped_lines(log(), t), ["killed"], log())


class RestartMidReapTest(FaultTest):
    """The agent is SIGKILLed while a kill waits out its grace period (a member ignores SIGTERM),
    and started again: the new agent finishes the tree, and the reap is reported once."""

    def test_a_restarted_agent_finishes_the_tree_and_reports_it_once(self):
        t = self.ti("restart")
        # The operator's children carry its AIRFLOW_CTX_*, as real ones do: the SIGTERM-ignoring
        # one outlives the root and is found again by its environment.
        script = ('echo $$ >> "$PIDS"\n'
                  '( trap "" TERM; exec sleep 3600 ) & echo $! >> "$PIDS"\n'
                  'sleep 3600 & echo $! >> "$PIDS"\nwait\n')
        marker, pid_file = self.script_tree(t, script, env=ctx(t))
        root, stubborn, plain = self.h.pids_from(pid_file, 3)
        first = self.h.start_agent(self.h.write_config(grace="5s"))
        first_log = self.h.agent_log.name
        self.wait_decision(t, "keep")
        self.h.set_ti(t, "failed")
        self.assertTrue(wait_for(lambda: re.search(rf"signalled .*pid={stubborn} .*sig=TERM",
                                                   self.log()), stretched(5)), self.log())
        first.kill()  # SIGKILL, mid-grace: the stubborn member still lives
        first.wait()
        self.assertTrue(alive(stubborn))
        first_text = read_text(first_log)
        self.h.agent_log.close()
        self.assertEqual(self.reaped_lines(first_text, t), [], first_text)

        self.h.start_agent(self.h.write_config(grace="1s"))
        self.assertTrue(wait_for(lambda: not marked_pids(marker), stretched(10)),
                        f"left: {marked_pids(marker)}\n{self.log()}")
        time.sleep(4 * POLL)
        both = first_text + self.log()
        self.assertEqual(self.reaped_lines(both, t), ["killed"], both)


class ForkBombTest(FaultTest):
    """Members fork as fast as they can while they are killed (forkers that ignore SIGTERM refill
    the slots of children that die of it): every member dies, and neither the launcher that
    started the tree nor its other child (a bystander that records every signal it gets) is
    signalled. In a PID namespace with a small pid_max (where the kernel has one per namespace)
    pids are reused within the grace period, so a newcomer may hold a pid that the deciding scan
    listed for another process. A pids cgroup keeps the bomb bounded."""

    def test_a_fork_bomb_dies_whole_and_nothing_outside_is_signalled(self):
        require(os.geteuid() == 0, "needs root: PID namespaces and a pids cgroup")
        pids_cgroup = ControllerCgroup(self, "pids")
        pids_cgroup.write("pids.max", 600)
        ns = PidNamespace(self.h)
        self.addCleanup(ns.close)
        try:
            ns.sysctl("kernel/pid_max", int(os.environ.get("FAULTS_PID_MAX", 1000)))
        except RuntimeError as e:  # kernels before 6.14 have one pid_max for all namespaces
            print(f"pid_max stays the host's: {e}", file=sys.stderr)
        t = self.ti("bomb")
        self.h.set_ti(t, "running")
        files = {name: os.path.join(self.h.tmp, name) for name in
                 ("launcher.sh", "root.sh", "forker.sh", "ids", "caught")}
        scripts = {
            # No member: untitled, no context. Its children: the attempt's root and a bystander.
            "launcher.sh": f'echo $$ > {pids_cgroup.path}/cgroup.procs\necho $$ > {files["ids"]}\n'
                           f'( exec -a "{title(t)}" bash < {files["root.sh"]} ) &\n'
                           f'{sys.executable} -c "$BYSTANDER" & echo $! >> {files["ids"]}\n'
                           'wait\n',
            "root.sh": f'bash {files["forker.sh"]} & bash {files["forker.sh"]} & wait\n',
            "forker.sh": "trap '' TERM\n"
                         "while :; do ( trap - TERM; exec sleep 3600 ) & ( : ) & done\n",
        }
        for name, text in scripts.items():
            with open(files[name], "w") as f:
                f.write(text)
        bystander = (f"import signal, time\nfor s in (1, 2, 15, 18):\n"
                     f"    signal.signal(s, lambda n, f: open({files['caught']!r}, 'a')"
                     f".write(f'{{n}}\\n'))\nwhile True: time.sleep(3600)\n")
        marker = self.h.new_marker()
        env = dict(os.environ, BYSTANDER=bystander, **{marker: "1"})
        ns.spawn(["bash", files["launcher.sh"]], env=env)
        self.assertTrue(wait_for(lambda: len(pids_cgroup.pids()) >= 300, 20),
                        f"{len(pids_cgroup.pids())} processes")
        launcher, bystander_pid = self.h.pids_from(files["ids"], 2)
        log_path = os.path.join(self.h.tmp, "agent.log")
        ns.spawn([AGENT, "run", "--config", self.h.write_config(grace="2s")], log=log_path)
        log = lambda: read_text(log_path)  # noqa: E731
        self.wait_decision(t, "keep", log=log)

        self.h.set_ti(t, "failed")
        self.assertTrue(wait_for(lambda: len(pids_cgroup.pids()) == 2, stretched(60), step=0.5),
                        f"left: {self.describe(pids_cgroup.pids())}\n{log()[-3000:]}")
        time.sleep(4 * POLL)
        self.assertTrue(ns.alive(launcher) and ns.alive(bystander_pid), log()[-3000:])
        self.assertEqual(len(pids_cgroup.pids()), 2)
        self.assertEqual(read_text(files["caught"]), "", "the bystander was signalled")
        print(f"\n{len(re.findall('reaped ti=', log()))} reaps, "
              f"{len(re.findall('signalled ', log()))} signal lines", file=sys.stderr)


    @staticmethod
    def describe(pids):
        """pid, namespace pid, ppid, state and command line of each process."""
        lines = []
        for pid in pids:
            status = read_text(f"/proc/{pid}/status")
            fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
            cmdline = read_text(f"/proc/{pid}/cmdline").replace("\0", " ")
            lines.append(f"{pid} ns={fields.get('NSpid', '?').split()[-1]} "
                         f"ppid={fields.get('PPid')} {fields.get('State')} {cmdline[:80]}")
        return "\n".join(lines)


class UnkillableMemberTest(FaultTest):
    """A member the kernel will not let die (a read on a FUSE mount whose server never answers:
    once signalled it waits in state D with SIGKILL pending until the server answers or goes away,
    as on a hung FUSE or NFS mount; see held_read.py) is reported as a failed kill once, and not
    retried: the kill-failure metric and the KILL signals sent to it stay at one, though the
    survivor, its root gone, is found again as a tree of its own."""

    def test_a_member_in_d_state_is_a_failed_kill_and_is_not_retried(self):
        held = HeldRead(self)
        t = self.ti("dstate")
        script = ('echo $$ >> "$PIDS"\ncat "$HELD" > /dev/null & echo $! >> "$PIDS"\n'
                  'sleep 3600 & echo $! >> "$PIDS"\nwait\n')
        _, pid_file = self.script_tree(t, script, env=dict(ctx(t), HELD=held.path))
        root, stuck, plain = self.h.pids_from(pid_file, 3)
        self.assertTrue(held.wait_held(stuck, 10), f"no read of {stuck} reached the server")
        self.h.start_agent(self.h.write_config(grace="1s"))
        url = self.h.agent_url()
        self.wait_decision(t, "keep")

        self.h.set_ti(t, "failed")
        self.assertTrue(wait_for(lambda: not alive(root) and not alive(plain), stretched(5)),
                        self.log())
        failed = 'airflow_reaper_reaps_total{outcome="failed"}'
        self.assertTrue(wait_for(lambda: metric(url, failed) >= 1, stretched(10)), self.log())
        self.assertEqual(process_state(stuck), "D")
        self.assertIn(signal.SIGKILL, pending_signals(stuck))
        self.assertIn(f"survived SIGKILL ti=", self.log())
        kills = rf"signalled .*pid={stuck} .*sig=KILL"
        time.sleep(6 * POLL)
        settled = (metric(url, failed), len(re.findall(kills, self.log())))
        print(f"\nfailed reaps {settled[0]:.0f}, SIGKILLs to the unkillable member {settled[1]}",
              file=sys.stderr)
        time.sleep(10 * POLL)
        self.assertEqual((metric(url, failed), len(re.findall(kills, self.log()))), settled,
                         f"retried\n{self.log()[-3000:]}")
        # Once: found again as a tree of its own once its root is gone, it is the same survivor.
        self.assertEqual(settled, (1, 1))
        held.release()  # the read fails, and the pending SIGKILL takes the member
        self.assertTrue(wait_for(lambda: not alive(stuck), 5))


class ClearedBetweenPollsTest(FaultTest):
    """Between two polls a TaskInstance goes running -> failed -> running again (cleared and
    restarted as try 2): the old attempt dies, the new one is never killed. The agent is stopped
    (SIGSTOP) across the change, so it can never see the failed state in between. With and without
    AIRFLOW_CTX_* (then the try rule tells the attempts apart by the try's queued time)."""

    def test_the_restarted_attempt_is_never_killed(self):
        with_ctx, no_ctx = self.ti("with_ctx"), self.ti("no_ctx")
        old = {}
        for t, env in ((with_ctx, ctx(with_ctx)), (no_ctx, {})):
            old[t["task_id"]] = self.start_attempt(t, env)
        agent = self.h.start_agent(self.h.write_config(grace="1s"))
        for t in (with_ctx, no_ctx):
            self.wait_decision(t, "keep")
        # The try rule needs the old root to predate the new try's queue time by the skew (5 s).
        time.sleep(max(0.0, 5.5 - (time.monotonic() - self.started)))

        agent.send_signal(signal.SIGSTOP)
        try:
            new = {}
            for t, env in ((with_ctx, ctx(dict(with_ctx, try_number=2))), (no_ctx, {})):
                self.h.set_ti(t, "failed")
                self.h.set_ti(t, "running", try_number=2)
                new[t["task_id"]] = self.start_attempt(dict(t, try_number=2), env, state=None)
        finally:
            agent.send_signal(signal.SIGCONT)
        for task, pids in old.items():
            self.assertTrue(wait_for(lambda: not any(map(alive, pids)), stretched(6)),
                            f"old attempt of {task} lives\n{self.log()}")
        time.sleep(1 + 6 * POLL)
        for task, pids in new.items():
            self.assertEqual([p for p in pids if not alive(p)], [],
                             f"the restarted attempt of {task} lost processes\n{self.log()}")
        self.assertNotRegex(self.log(), r"action=kill .*state=failed")

    def start_attempt(self, t, env, state="running"):
        if not hasattr(self, "started"):
            self.started = time.monotonic()
        _, pid_file = self.script_tree(t, 'echo $$ >> "$PIDS"\nsleep 3600 & echo $! >> "$PIDS"\n'
                                          'wait\n', env=env, state=state)
        return self.h.pids_from(pid_file, 2)


class AirflowFaultsTest(FaultTest):
    """The Airflow API flaps, crawls, floods and expires its token (every token lives 4 s, and all
    are revoked at once). No tree is killed on an answer that did not come (a bystander attempt
    stays `running` and a victim turns `failed` only while the API cannot say so), and reaping
    resumes once it answers again."""
    auth = "jwt"

    def airflow_args(self):
        return ("--hang-seconds", "2", "--token-ttl", "4")

    def start_pair(self, name):
        victim, keeper = self.ti(f"{name}_victim"), self.ti(f"{name}_keeper")
        trees = {}
        for t in (victim, keeper):
            _, pid_file = self.script_tree(t, 'echo $$ >> "$PIDS"\nsleep 3600 & '
                                              'echo $! >> "$PIDS"\nwait\n', env=ctx(t))
            trees[t["task_id"]] = self.h.pids_from(pid_file, 2)
        return victim, keeper, trees[victim["task_id"]], trees[keeper["task_id"]]

    def fault(self, mode, **extra):
        self.h.control("POST", "/_fake/fault", dict(extra, mode=mode))

    def settle(self):
        """Until no request a slow fault took is held (its answer would read the TIs as they are
        when it ends: a fresh answer) and a poll passed."""
        self.assertTrue(wait_for(lambda: self.h.stats()["held"] == 0, 10))
        time.sleep(2 * POLL)

    def test_no_kill_without_a_fresh_answer_and_reaping_resumes(self):
        pairs = {name: self.start_pair(name) for name in ("flap", "slow", "huge", "jwt")}
        agent = self.h.start_agent(self.h.write_config(grace="1s", timeout="5s"))
        url = self.h.agent_url()
        for victim, keeper, _, _ in pairs.values():
            self.wait_decision(victim, "keep")
            self.wait_decision(keeper, "keep")

        def check(name, during, recover, hold=4 * POLL):
            victim, keeper, victim_pids, keeper_pids = pairs[name]
            with self.subTest(fault=name):
                during()
                self.settle()
                self.h.set_ti(victim, "failed")
                try:
                    # Without a hold the fault withholds nothing: the next answer is fresh.
                    if hold:
                        time.sleep(hold)
                        self.assertTrue(all(map(alive, victim_pids)),
                                        f"killed without an answer during {name}\n"
                                        f"{self.log()[-3000:]}")
                finally:
                    recover()
                self.assertTrue(wait_for(lambda: not any(map(alive, victim_pids)), stretched(8)),
                                f"not reaped after {name}\n{self.log()[-3000:]}")
                self.assertTrue(all(map(alive, keeper_pids)), f"{name}: the keeper died")

        # Flapping: every other request fails. Replies that come are fresh, and say failed.
        victim, keeper, victim_pids, keeper_pids = pairs["flap"]
        self.fault("flap")
        time.sleep(4 * POLL)
        self.h.set_ti(victim, "failed")
        self.assertTrue(wait_for(lambda: not any(map(alive, victim_pids)), stretched(8)),
                        self.log())
        self.assertTrue(all(map(alive, keeper_pids)))
        self.fault("none")

        # Slow: every reply takes 6 s, past the 5 s timeout; then 1.5 s, well within it (a loaded
        # machine stretches a reply).
        check("slow", lambda: self.fault("slow", seconds=6),
              lambda: self.fault("slow", seconds=1.5), hold=12)
        self.fault("none")
        self.settle()
        # Huge: a 2 GiB reply is cut at the cap, never parsed, and the agent stays small.
        check("huge", lambda: self.fault("huge"), lambda: self.fault("none"), hold=6 * POLL)
        rss = int(re.search(r"VmHWM:\s+(\d+)", read_text(f"/proc/{agent.pid}/status")).group(1))
        self.assertLess(rss, 128 * 1024, "peak RSS in KiB after the huge replies")
        # Expired token: every token issued so far is rejected; the agent gets a new one.
        issued = self.h.stats()["token_issues"]
        check("jwt", lambda: self.h.control("POST", "/_fake/revoke"), lambda: None, hold=0)
        self.assertGreater(self.h.stats()["token_issues"], issued)
        last_poll = metric(url, "airflow_reaper_last_successful_poll_timestamp_seconds")
        self.assertGreaterEqual(last_poll, time.time() - 10)
        for victim, keeper, _, keeper_pids in pairs.values():
            self.assertTrue(all(map(alive, keeper_pids)), f"{keeper['task_id']} died")
            self.assertTrue(wait_for(lambda: self.reaped_lines(self.log(), victim), stretched(5)))
            self.assertEqual(self.reaped_lines(self.log(), victim), ["killed"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
