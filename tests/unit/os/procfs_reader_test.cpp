// ProcfsReader and discovery on the real /proc, with real processes this test starts (and kills).
#include "os/procfs_reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <thread>

#include "proc/snapshot.h"
#include "proc/tree.h"
#include "support/test_support.h"

namespace reaper::os {
namespace {

// Processes started by this test, held by pidfd so cleanup never signals a reused pid.
class Spawned {
 public:
  ~Spawned() {
    for (int fd : pidfds_) {
      syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0);
      ::close(fd);
    }
    for (pid_t pid : children_) ::waitpid(pid, nullptr, 0);
  }
  void hold(pid_t pid, bool ourChild) {
    int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (fd >= 0) pidfds_.push_back(fd);
    if (ourChild) children_.push_back(pid);
  }

 private:
  std::vector<int> pidfds_;
  std::vector<pid_t> children_;
};

std::vector<std::string> contextEnv(const std::string& runId) {
  return {"PATH=/usr/bin:/bin", "AIRFLOW_CTX_DAG_ID=reaper_test_dag", "AIRFLOW_CTX_TASK_ID=t",
          "AIRFLOW_CTX_DAG_RUN_ID=" + runId, "AIRFLOW_CTX_TRY_NUMBER=1"};
}

std::vector<char*> cStrings(std::vector<std::string>& items) {
  std::vector<char*> out;
  for (auto& s : items) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Forks and execs; returns once the exec happened (the close-on-exec pipe reached EOF), so /proc
// already shows the new command line and environment. `stdoutFd` receives the child's stdout.
pid_t spawn(std::vector<std::string> argv, std::vector<std::string> env, bool newSession,
            int stdoutFd = -1) {
  int sync[2];
  if (::pipe2(sync, O_CLOEXEC) != 0) return -1;
  auto args = cStrings(argv);
  auto envp = cStrings(env);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (newSession) ::setsid();
    if (stdoutFd >= 0) ::dup2(stdoutFd, STDOUT_FILENO);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(sync[1]);
  char byte;
  while (::read(sync[0], &byte, 1) > 0) {
  }
  ::close(sync[0]);
  return pid;
}

std::string runId(const std::string& what) { return what + "_" + std::to_string(::getpid()); }

TEST(ProcfsReader, ListsAndReadsItself) {
  ProcfsReader reader("/proc/");
  auto pids = reader.listPids();
  EXPECT_NE(std::find(pids.begin(), pids.end(), ::getpid()), pids.end());
  auto stat = reader.read(::getpid(), "stat", 4096);
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  auto parsed = proc::parseStat(stat.value());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->pid, ::getpid());
  EXPECT_EQ(parsed->ppid, ::getppid());
  EXPECT_TRUE(reader.readRoot("uptime").ok());
}

TEST(ProcfsReader, BoundsWhatItReads) {
  ProcfsReader reader("/proc");
  auto environ = reader.read(::getpid(), "environ", 10);
  ASSERT_TRUE(environ.ok());
  EXPECT_LE(environ->size(), 10u);
  auto big = reader.read(::getpid(), "status", 1 << 20);
  ASSERT_TRUE(big.ok());
  EXPECT_TRUE(proc::parseStatus(big.value()).ok());
}

// A child forked by another thread than the main one is that thread's child: the kill follows it.
TEST(ProcfsReader, ChildrenOfEveryThread) {
  Spawned spawned;
  const pid_t fromMain = spawn({"/bin/sleep", "30"}, {}, false);
  std::promise<pid_t> forked;
  std::promise<void> checked;
  // The thread lives on until the check: a thread that exits hands its children to another.
  std::thread thread([&] {
    forked.set_value(spawn({"/bin/sleep", "30"}, {}, false));
    checked.get_future().wait();
  });
  const pid_t fromThread = forked.get_future().get();
  spawned.hold(fromMain, true);
  spawned.hold(fromThread, true);
  ProcfsReader reader("/proc");
  const auto children = reader.children(::getpid());
  checked.set_value();
  thread.join();
  EXPECT_NE(std::find(children.begin(), children.end(), fromMain), children.end());
  EXPECT_NE(std::find(children.begin(), children.end(), fromThread), children.end());
  EXPECT_TRUE(reader.children(fromMain).empty());
  EXPECT_TRUE(reader.children(0x3ffffff).empty());
}

TEST(ProcfsReader, ToldWhetherTheKernelListsChildren) {
  const auto root =
      std::filesystem::temp_directory_path() / ("reaper-children-" + std::to_string(::getpid()));
  std::filesystem::create_directories(root / "1" / "task" / "1");
  EXPECT_FALSE(ProcfsReader(root.string()).listsChildren());
  std::ofstream(root / "1" / "task" / "1" / "children") << "";
  EXPECT_TRUE(ProcfsReader(root.string()).listsChildren());
  std::filesystem::remove_all(root);
}

TEST(ProcfsReader, MissingProcessIsAnError) {
  ProcfsReader reader("/proc");
  auto result = reader.read(0x3ffffff, "stat", 4096);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ENOENT);
  EXPECT_TRUE(ProcfsReader("/nonexistent-proc-root").listPids().empty());
}

TEST(ProcfsReader, CpuTimeIsNotTrustedWhereACpuMayRunWithoutTicks) {
  EXPECT_FALSE(cpusMayRunWithoutTicks("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet\n"));
  EXPECT_FALSE(cpusMayRunWithoutTicks("nohz=off isolcpus=domain,2-3"));
  EXPECT_TRUE(cpusMayRunWithoutTicks("ro nohz_full=2-7 rcu_nocbs=2-7\n"));
  EXPECT_TRUE(cpusMayRunWithoutTicks("ro isolcpus=nohz,domain,2-3"));
  EXPECT_FALSE(cpusMayRunWithoutTicks("ro -- nohz_full=1")) << "after --: arguments for init";
  EXPECT_FALSE(cpusMayRunWithoutTicks("ro mynohz_full=1"));
}

TEST(ProcfsReader, CountsTheRunsOfItsOwnPidNamespaceUnlessTicksMayStop) {
  std::ifstream in("/proc/cmdline");
  const std::string kernelCommandLine((std::istreambuf_iterator<char>(in)),
                                      std::istreambuf_iterator<char>());
  ProcfsReader reader("/proc");
  EXPECT_EQ(reader.countsRuns(), !cpusMayRunWithoutTicks(kernelCommandLine));
  EXPECT_EQ(reader.cpuTime(::getpid()).has_value(), reader.countsRuns());
  EXPECT_FALSE(ProcfsReader("/nonexistent-proc-root").countsRuns());
}

TEST(ProcfsDiscovery, SetsidChildWithContextIsFound) {
  Spawned spawned;
  std::string run = runId("setsid");
  pid_t pid = spawn({"/bin/sleep", "300"}, contextEnv(run), true);
  ASSERT_GT(pid, 0);
  spawned.hold(pid, true);

  ProcfsReader reader("/proc");
  auto snapshot = proc::ProcessSnapshot::capture(reader);
  const proc::Process* p = snapshot.find(pid);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->sid, pid);
  EXPECT_EQ(p->pgid, pid);
  EXPECT_EQ(p->ppid, ::getpid());
  EXPECT_EQ(p->commandLine.words(), (std::vector<std::string>{"/bin/sleep", "300"}));
  ASSERT_TRUE(p->context);
  EXPECT_EQ(p->context->toKey().toString(), "reaper_test_dag/t/" + run + "/-1/1");
  EXPECT_FALSE(p->cgroups.empty());

  auto trees = proc::identifyTrees(snapshot, {::getpid(), {}});
  auto it = std::find_if(trees.begin(), trees.end(),
                         [&](const proc::TaskTree& t) { return t.key && t.key->runId == run; });
  ASSERT_NE(it, trees.end());
  ASSERT_EQ(it->members.size(), 1u);
  EXPECT_EQ(it->root.pid, pid);
  EXPECT_TRUE(it->members[0].orphan) << "its parent (this test) is not a member";
}

TEST(ProcfsDiscovery, ZombieIsListedDead) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ASSERT_GT(pid, 0);
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, pid, &info, WEXITED | WNOWAIT), 0);  // exited, not yet reaped
  ProcfsReader reader("/proc");
  auto snapshot = proc::ProcessSnapshot::capture(reader);
  const proc::Process* p = snapshot.find(pid);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->zombie());
  EXPECT_TRUE(p->commandLine.words().empty());
  ::waitpid(pid, nullptr, 0);
}

TEST(ProcfsDiscovery, KernelThreadsAreRecognised) {
  ProcfsReader reader("/proc");
  auto snapshot = proc::ProcessSnapshot::capture(reader);
  const proc::Process* kthreadd = snapshot.find(2);
  REAPER_REQUIRE(kthreadd != nullptr && kthreadd->comm == "kthreadd",
                 "needs the host PID namespace (kthreadd as pid 2)");
  EXPECT_TRUE(kthreadd->kernelThread);
  EXPECT_TRUE(kthreadd->commandLine.words().empty());
}

// A stand-in `airflow tasks run ... --local` (a Python script named airflow) that starts a child
// with AIRFLOW_CTX_* set, a setsid escapee and a double-forked daemon, then prints their pids.
constexpr const char* kFakeAirflow = R"(
import os, subprocess, sys, time
env = dict(os.environ, AIRFLOW_CTX_DAG_ID=sys.argv[3], AIRFLOW_CTX_TASK_ID=sys.argv[4],
           AIRFLOW_CTX_DAG_RUN_ID=sys.argv[5], AIRFLOW_CTX_TRY_NUMBER="1")
child = subprocess.Popen(["/bin/sleep", "300"], env=env)
escapee = subprocess.Popen(["/bin/sleep", "301"], env=env, start_new_session=True)
r, w = os.pipe()
middle = os.fork()
if middle == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(w, b"%d\n" % os.getpid())
        os.execve("/bin/sleep", ["/bin/sleep", "302"], env)
    os._exit(0)
os.close(w)
os.waitpid(middle, 0)
daemon = int(os.read(r, 64).split()[0])
while os.read(r, 64):
    pass  # EOF: the daemon has exec'd
print(child.pid, escapee.pid, daemon, flush=True)
time.sleep(300)
)";

TEST(ProcfsDiscovery, RealTaskRunnerTreeWithEscapeeAndDaemon) {
  auto dir = std::filesystem::temp_directory_path() / ("reaper-proc-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto script = dir / "airflow";
  {
    std::ofstream out(script);
    out << "#!" << test::python() << "\n" << kFakeAirflow;
  }
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);

  Spawned spawned;
  std::string run = runId("tree");
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  pid_t root = spawn({script.string(), "tasks", "run", "reaper_test_dag", "t", run, "--local"},
                     {"PATH=/usr/bin:/bin"}, false, out[1]);
  ::close(out[1]);
  ASSERT_GT(root, 0);
  spawned.hold(root, true);
  FILE* lines = ::fdopen(out[0], "r");
  pid_t child = 0, escapee = 0, daemon = 0;
  int read = std::fscanf(lines, "%d %d %d", &child, &escapee, &daemon);
  std::fclose(lines);
  ASSERT_EQ(read, 3);
  spawned.hold(child, false);
  spawned.hold(escapee, false);
  spawned.hold(daemon, false);
  std::filesystem::remove_all(dir);

  ProcfsReader reader("/proc");
  auto snapshot = proc::ProcessSnapshot::capture(reader);
  auto trees = proc::identifyTrees(snapshot, {::getpid(), {}});
  auto it = std::find_if(trees.begin(), trees.end(),
                         [&](const proc::TaskTree& t) { return t.key && t.key->runId == run; });
  ASSERT_NE(it, trees.end());
  const proc::TaskTree& tree = *it;
  EXPECT_EQ(tree.key->toString(), "reaper_test_dag/t/" + run + "/-1/1");
  EXPECT_EQ(tree.root.pid, root);
  EXPECT_FALSE(tree.ambiguous) << tree.ambiguity;
  std::map<pid_t, proc::TreeMember> members;
  for (const auto& m : tree.members) members.emplace(m.id.pid, m);
  // The daemon, reparented to init, has no root ancestor: its environment carries it, as a tree
  // of its own (identity is never borrowed from a live root).
  ASSERT_EQ(members.size(), 3u);
  ASSERT_TRUE(members.count(child) && members.count(escapee));
  EXPECT_FALSE(members[child].orphan);
  EXPECT_FALSE(members[child].escapee);
  EXPECT_TRUE(members[escapee].escapee);
  EXPECT_FALSE(members[escapee].orphan);
  auto carried = std::find_if(trees.begin(), trees.end(), [&](const proc::TaskTree& t) {
    return t.origin == proc::Origin::Environment && t.key && t.key->runId == run;
  });
  ASSERT_NE(carried, trees.end());
  ASSERT_EQ(carried->members.size(), 1u);
  EXPECT_EQ(carried->members[0].id.pid, daemon);
  EXPECT_TRUE(carried->members[0].orphan);
  EXPECT_EQ(std::count_if(trees.begin(), trees.end(),
                          [&](const proc::TaskTree& t) { return t.key && t.key->runId == run; }),
            2);
}

}  // namespace
}  // namespace reaper::os
