// ProcessTracker on the real /proc: what changes between two polls of real processes (a retitle in
// place, an exec, an exit, a reused pid) is seen by the next poll. Every process is this test's
// own.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "os/proc_stat.h"
#include "os/procfs_reader.h"
#include "proc/parsers.h"
#include "proc/snapshot.h"
#include "support/test_support.h"

namespace reaper::os {
namespace {

// An exec closes close-on-exec pipes before the kernel has laid out the new image's arguments and
// environment, which /proc shows empty until then: waits (up to a second) for the environment.
bool execLaidOut(pid_t pid) {
  for (int tries = 0; tries < 1000; ++tries) {
    std::ifstream environ("/proc/" + std::to_string(pid) + "/environ");
    if (environ.get() != std::ifstream::traits_type::eof()) return true;
    ::usleep(1000);
  }
  return false;
}

// Waits (up to a second) for the process to sleep (state S in its stat).
bool asleep(pid_t pid) {
  for (int tries = 0; tries < 1000; ++tries) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    const std::string text((std::istreambuf_iterator<char>(stat)),
                           std::istreambuf_iterator<char>());
    const size_t close = text.rfind(')');
    if (close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'S')
      return true;
    ::usleep(1000);
  }
  return false;
}

// Waits (up to a second) for the process's environment to hold `variable` (NAME=value).
bool environHas(pid_t pid, const std::string& variable) {
  for (int tries = 0; tries < 1000; ++tries) {
    std::ifstream environ("/proc/" + std::to_string(pid) + "/environ");
    for (std::string entry; std::getline(environ, entry, '\0');) {
      if (entry == variable) return true;
    }
    ::usleep(1000);
  }
  return false;
}

// A forked copy of this test that does what it is told, one step per byte on its pipe, and
// acknowledges each step. Killed and reaped on destruction.
class Child {
 public:
  // What the child does after a step: sleeps until the next, or runs on (polls its pipe without
  // sleeping). Polled while it runs, a process that woke since the last poll has a CPU clock that
  // does not show it yet: the kernel counts a run when the CPU's scheduler tick comes or the
  // process leaves the CPU.
  enum class AfterStep { Sleep, RunOn };

  explicit Child(std::function<void(int step)> onStep, AfterStep after = AfterStep::Sleep) {
    int toChild[2], toParent[2];
    if (::pipe2(toChild, O_CLOEXEC) != 0 || ::pipe2(toParent, O_CLOEXEC) != 0) return;
    if (after == AfterStep::RunOn) pinApart();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (pinned_) ::sched_setaffinity(0, sizeof childCpus_, &childCpus_);
      ::close(toChild[1]);
      ::close(toParent[0]);
      acknowledge_ = toParent[1];
      char step;
      for (bool stepped = false;
           (!stepped || after == AfterStep::Sleep || spinUntilReadable(toChild[0])) &&
           ::read(toChild[0], &step, 1) == 1;
           stepped = true) {
        onStep(step);
        acknowledge();
      }
      ::_exit(0);
    }
    ::close(toChild[0]);
    ::close(toParent[1]);
    command_ = toChild[1];
    acks_ = toParent[0];
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(command_);
    ::close(acks_);
    if (pinned_) ::sched_setaffinity(0, sizeof allowed_, &allowed_);
  }
  pid_t pid() const { return pid_; }
  // Runs step `n` in the child; true once the child acknowledged it (or exec'd: end of file).
  bool run(char n) {
    if (::write(command_, &n, 1) != 1) return false;
    char ack;
    return ::read(acks_, &ack, 1) >= 0;
  }

 private:
  // Parent and child on CPUs of their own while there are two: a parent woken on the child's CPU
  // has the child's run counted at once (the wake-up's preemption check). Undone on destruction.
  void pinApart() {
    if (::sched_getaffinity(0, sizeof allowed_, &allowed_) != 0 || CPU_COUNT(&allowed_) < 2) return;
    cpu_set_t parent;
    CPU_ZERO(&parent);
    childCpus_ = allowed_;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (!CPU_ISSET(cpu, &allowed_)) continue;
      CPU_SET(cpu, &parent);
      CPU_CLR(cpu, &childCpus_);
      break;
    }
    pinned_ = ::sched_setaffinity(0, sizeof parent, &parent) == 0;
  }
  static bool spinUntilReadable(int fd) {
    pollfd ready{fd, POLLIN, 0};
    while (::poll(&ready, 1, 0) == 0) {
    }
    return true;
  }
  static void acknowledge() {
    char ack = 1;
    (void)!::write(acknowledge_, &ack, 1);
  }
  static inline int acknowledge_ = -1;
  bool pinned_ = false;
  cpu_set_t allowed_{};
  cpu_set_t childCpus_{};
  pid_t pid_ = -1;
  int command_ = -1;
  int acks_ = -1;
};

// Field `n` (1-based, as in proc(5)) of this process's stat.
unsigned long selfStatField(int n) {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= n; ++i) rest >> field;
  return std::stoul(field);
}

// What py-setproctitle 1.3.8 does on Linux (checked against it): the title overwrites argv in
// place, running on into the environment strings after it when longer, NUL-padded (the first
// title clears the whole area), and its first 15 bytes become comm. arg_start and arg_end stay put.
struct TitleArea {
  char* start;
  size_t room;
};

// Read once: a fork has the same area, and a retitle that reads its own stat has its run counted
// by that read (the kernel counts the reader's own pending run).
const TitleArea& titleArea() {
  static const TitleArea area{reinterpret_cast<char*>(selfStatField(48)),  // arg_start
                              selfStatField(51) - selfStatField(48)};      // through env_end
  return area;
}

void setProcTitle(const char* title) {
  const TitleArea& area = titleArea();
  static size_t last = area.room;  // the first title clears the whole area
  const size_t length = std::min(std::strlen(title), area.room - 1);
  std::memcpy(area.start, title, length);
  std::memset(area.start + length, 0, std::max(last, length + 1) - length);
  last = length + 1;
  ::prctl(PR_SET_NAME, title);
}

proc::ProcessSnapshot poll(proc::ProcessTracker& tracker) { return tracker.capture(); }

// What the tracker relies on, on this kernel: each run of a process moves the switch count its
// kept schedstat shows (a run charged no CPU time too), and the kept file fails once the process
// is gone, before its pid can be reused.
TEST(ProcessTracker, KeptSchedstatCountsEveryRunUntilTheProcessIsGone) {
  auto child = std::make_unique<Child>([](int) {});
  ASSERT_GT(child->pid(), 0);
  ProcfsReader reader("/proc");
  auto dir = reader.openProcess(child->pid());
  ASSERT_TRUE(dir.ok());
  auto kept = (*dir)->keep("schedstat");
  ASSERT_TRUE(kept.ok());
  char text[kSchedstatMaxBytes];
  auto counts = [&]() -> std::optional<RunCounts> {
    auto read = (*kept)->readFromStart(text);
    return read ? parseSchedstat(std::string_view(text, *read)) : std::nullopt;
  };
  const auto before = counts();
  ASSERT_TRUE(before);
  ASSERT_TRUE(asleep(child->pid()));
  for (int step = 0; step < 20; ++step) {
    // Only once the child blocks in its read: a step written before would find it still running.
    ASSERT_TRUE(child->run(0));
    ASSERT_TRUE(asleep(child->pid()));
  }
  const auto after = counts();
  ASSERT_TRUE(after);
  EXPECT_GE(after->switches - before->switches, 20u)
      << "each step wakes the child from a blocking read";
  child.reset();  // killed and reaped
  auto gone = (*kept)->readFromStart(text);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ESRCH);
}

TEST(ProcessTracker, RetitleInPlaceIsSeenByTheNextPoll) {
  const char* titles[] = {"airflow worker -- LocalExecutor: idle",
                          "airflow worker -- LocalExecutor: 0193a5e0-1111-7000-8000-00000000000a",
                          "airflow worker -- LocalExecutor: 0193a5e0-2222-7000-8000-00000000000b"};
  Child child([&](int step) { setProcTitle(titles[step]); });
  ASSERT_GT(child.pid(), 0);
  ProcfsReader reader("/proc");
  proc::ProcessTracker tracker(reader);
  (void)poll(tracker);
  for (int step = 0; step < 3; ++step) {
    ASSERT_TRUE(child.run(static_cast<char>(step)));
    auto snapshot = poll(tracker);
    const proc::Process* p = snapshot.find(child.pid());
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->commandLine.words(), std::vector<std::string>{titles[step]});
    EXPECT_EQ(p->comm, "airflow worker ") << "comm alone cannot tell these titles apart";
  }
}

// The child slept through the first poll, then wakes, retitles and runs on through the next.
TEST(ProcessTracker, RetitleByAProcessStillRunningIsSeenByTheNextPoll) {
  const char* title = "airflow worker -- LocalExecutor: 0193a5e0-1111-7000-8000-00000000000a";
  (void)titleArea();
  Child child([&](int) { setProcTitle(title); }, Child::AfterStep::RunOn);
  ASSERT_GT(child.pid(), 0);
  ProcfsReader reader("/proc");
  proc::ProcessTracker tracker(reader);
  (void)poll(tracker);
  ASSERT_TRUE(child.run(0));
  auto snapshot = poll(tracker);
  const proc::Process* p = snapshot.find(child.pid());
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->commandLine.words(), std::vector<std::string>{title});
}

// The new program runs on (a shell's busy loop) when polled: nothing of it has been counted yet.
TEST(ProcessTracker, ExecIsSeenWithItsNewEnvironment) {
  Child child([](int) {
    char* argv[] = {const_cast<char*>("/bin/sh"), const_cast<char*>("-c"),
                    const_cast<char*>("while :; do :; done"), nullptr};
    char* env[] = {const_cast<char*>("AIRFLOW_CTX_DAG_ID=reaper_test_dag"),
                   const_cast<char*>("AIRFLOW_CTX_TASK_ID=exec"),
                   const_cast<char*>("AIRFLOW_CTX_DAG_RUN_ID=r"), nullptr};
    ::execve(argv[0], argv, env);
  });
  ASSERT_GT(child.pid(), 0);
  ProcfsReader reader("/proc");
  proc::ProcessTracker tracker(reader);
  auto before = poll(tracker);
  ASSERT_NE(before.find(child.pid()), nullptr);
  EXPECT_FALSE(before.find(child.pid())->context);
  ASSERT_TRUE(child.run(0));  // end of file on the acknowledgements: the exec closed them
  ASSERT_TRUE(execLaidOut(child.pid()));
  auto after = poll(tracker);
  const proc::Process* p = after.find(child.pid());
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->commandLine.words(),
            (std::vector<std::string>{"/bin/sh", "-c", "while :; do :; done"}));
  ASSERT_TRUE(p->context);
  EXPECT_EQ(p->context->taskId, "exec");
}

// An exec that keeps every argv byte (a program re-executing itself under a new environment): only
// the image tells. The shell re-executes itself with the same three arguments once a line comes.
TEST(ProcessTracker, ExecKeepingTheCommandLineIsSeenWithItsNewEnvironment) {
  int line[2];
  ASSERT_EQ(::pipe2(line, O_CLOEXEC), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(line[0], STDIN_FILENO);
    char* argv[] = {const_cast<char*>("/bin/sh"), const_cast<char*>("-c"),
                    const_cast<char*>("eval \"$S\""), nullptr};
    char* env[] = {const_cast<char*>("AIRFLOW_CTX_DAG_ID=reaper_test_dag"),
                   const_cast<char*>("AIRFLOW_CTX_DAG_RUN_ID=r"),
                   const_cast<char*>("AIRFLOW_CTX_TASK_ID=first"),
                   const_cast<char*>("S=if [ \"$AIRFLOW_CTX_TASK_ID\" = first ]; then read x; "
                                     "AIRFLOW_CTX_TASK_ID=second exec /bin/sh -c 'eval \"$S\"'; "
                                     "fi; while :; do sleep 1; done"),
                   nullptr};
    ::execve(argv[0], argv, env);
    ::_exit(127);
  }
  ::close(line[0]);
  struct Reaped {
    pid_t pid;
    ~Reaped() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reaped{pid};
  ASSERT_TRUE(execLaidOut(pid));
  ProcfsReader reader("/proc");
  proc::ProcessTracker tracker(reader);
  auto before = poll(tracker);
  ASSERT_NE(before.find(pid), nullptr);
  ASSERT_TRUE(before.find(pid)->context);
  ASSERT_EQ(before.find(pid)->context->taskId, "first");
  const std::vector<std::string> words = before.find(pid)->commandLine.words();
  ASSERT_EQ(::write(line[1], "\n", 1), 1);
  ::close(line[1]);
  ASSERT_TRUE(environHas(pid, "AIRFLOW_CTX_TASK_ID=second"));
  auto after = poll(tracker);
  const proc::Process* p = after.find(pid);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->commandLine.words(), words);
  ASSERT_TRUE(p->context);
  EXPECT_EQ(p->context->taskId, "second");
}

TEST(ProcessTracker, ExitIsSeenAsZombieThenGone) {
  Child child([](int) { ::_exit(0); });
  ASSERT_GT(child.pid(), 0);
  ProcfsReader reader("/proc");
  proc::ProcessTracker tracker(reader);
  ASSERT_NE(poll(tracker).find(child.pid()), nullptr);
  ASSERT_TRUE(child.run(0));
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, child.pid(), &info, WEXITED | WNOWAIT), 0);
  auto zombie = poll(tracker);
  ASSERT_NE(zombie.find(child.pid()), nullptr);
  EXPECT_TRUE(zombie.find(child.pid())->zombie());
  EXPECT_TRUE(zombie.find(child.pid())->commandLine.words().empty());
  ::waitpid(child.pid(), nullptr, 0);
  EXPECT_EQ(poll(tracker).find(child.pid()), nullptr);
}

// Runs `body` as pid 1 of a new PID namespace with its own /proc, where pids can be chosen through
// ns_last_pid; returns its exit status (0: passed), or -1 when namespaces cannot be made here.
int inNewPidNamespace(const std::function<int()>& body) {
  pid_t outer = ::fork();
  if (outer < 0) return -1;
  if (outer == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) ::_exit(100);
    pid_t init = ::fork();
    if (init == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(101);
      if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
        ::_exit(102);
      ::_exit(body());
    }
    int status = 0;
    ::waitpid(init, &status, 0);
    ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 103);
  }
  int status = 0;
  ::waitpid(outer, &status, 0);
  if (!WIFEXITED(status)) return 104;
  return WEXITSTATUS(status) >= 100 && WEXITSTATUS(status) <= 102 ? -1 : WEXITSTATUS(status);
}

// In the namespace: forks `/bin/sleep 300` under `env` as the next pid; returns once it exec'd.
pid_t startSleep(char** env) {
  int sync[2];
  if (::pipe2(sync, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    char* argv[] = {const_cast<char*>("/bin/sleep"), const_cast<char*>("300"), nullptr};
    ::execve(argv[0], argv, env);
    ::_exit(127);
  }
  ::close(sync[1]);
  char byte;
  while (::read(sync[0], &byte, 1) > 0) {
  }
  ::close(sync[0]);
  return execLaidOut(pid) ? pid : -1;
}

TEST(ProcessTracker, ReusedPidIsReadAsANewProcess) {
  REAPER_REQUIRE_ROOT();
  const int status = inNewPidNamespace([] {
    ProcfsReader reader("/proc");
    proc::ProcessTracker tracker(reader);
    char* plain[] = {const_cast<char*>("PATH=/bin"), nullptr};
    const pid_t first = startSleep(plain);
    const auto before = tracker.capture();
    if (first <= 1 || before.find(first) == nullptr || before.find(first)->context) return 1;
    ::kill(first, SIGKILL);
    ::waitpid(first, nullptr, 0);
    // The same pid, the same command line, maybe even the same start tick: only the environment
    // tells the new process apart.
    std::ofstream("/proc/sys/kernel/ns_last_pid") << first - 1;
    char* context[] = {const_cast<char*>("AIRFLOW_CTX_DAG_ID=d"),
                       const_cast<char*>("AIRFLOW_CTX_TASK_ID=reused"),
                       const_cast<char*>("AIRFLOW_CTX_DAG_RUN_ID=r"), nullptr};
    const pid_t second = startSleep(context);
    if (second != first) return 2;
    const auto after = tracker.capture();
    const proc::Process* p = after.find(second);
    if (p == nullptr || !p->context || p->context->taskId != "reused") return 3;
    ::kill(second, SIGKILL);
    ::waitpid(second, nullptr, 0);
    return 0;
  });
  REAPER_REQUIRE(status != -1, "cannot create a PID and mount namespace here");
  EXPECT_EQ(status, 0) << "1: first process not seen; 2: pid not reused; 3: reuse not seen";
}

// One reader shared by threads (the loop and the reap workers): every read is of the pid asked.
TEST(ProcfsReader, SharedByThreadsEachReadIsOfThePidAsked) {
  ProcfsReader reader("/proc");
  std::vector<pid_t> pids = {::getpid(), ::getppid(), 1};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const pid_t pid = pids[static_cast<size_t>(i + t) % pids.size()];
        auto text = reader.read(pid, "stat", 4096);
        auto stat = text ? proc::parseStat(*text) : core::Result<proc::StatFields>(text.error());
        if (!stat || stat->pid != pid) ++wrong;
        if (t == 0 && i % 100 == 0 && reader.listPids().empty()) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace reaper::os
