// Scan cost per process: starts N idle processes (a quarter of them carrying AIRFLOW_CTX_*, as
// trees of four per TaskInstance), then times one discovery pass, snapshot capture plus tree
// identity, over the real /proc. Prints numbers; asserts nothing about them.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "os/procfs_reader.h"
#include "proc/snapshot.h"
#include "proc/tree.h"

extern char** environ;

namespace reaper::bench {
namespace {

constexpr double kGoalMicros = 10.0;
constexpr int kProcessesPerTree = 4;
// One process in four carries a TaskInstance's context, as a tree of four: every sixteenth process
// starts a tree.
constexpr size_t kTreeEvery = 4 * kProcessesPerTree;

// An environment prepared before fork: the child only calls async-signal-safe functions.
class Environment {
 public:
  explicit Environment(std::vector<std::string> extra) : strings_(std::move(extra)) {
    for (char** e = environ; *e != nullptr; ++e) strings_.emplace_back(*e);
    for (auto& s : strings_) pointers_.push_back(s.data());
    pointers_.push_back(nullptr);
  }
  char* const* get() { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

Environment contextOfTree(size_t tree) {
  return Environment({"AIRFLOW_CTX_DAG_ID=bench",
                      "AIRFLOW_CTX_TASK_ID=task_" + std::to_string(tree),
                      "AIRFLOW_CTX_DAG_RUN_ID=scheduled__2026-01-01T00:00:00+00:00",
                      "AIRFLOW_CTX_TRY_NUMBER=1", "AIRFLOW_CTX_MAP_INDEX=-1"});
}

// In a forked child: only async-signal-safe calls. It dies with the benchmark (PR_SET_PDEATHSIG
// survives exec), even if the benchmark never unwinds. With a tree it execs `idle_tree` under the
// tree's context and hands it the readiness pipe; otherwise it idles as a copy of the benchmark.
[[noreturn]] void childMain(pid_t parent, const char* idleTree, char* const* env, int readyFd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  if (env == nullptr) {
    ::close(readyFd);
    for (;;) ::pause();
  }
  ::fcntl(readyFd, F_SETFD, 0);
  char extra[16], fd[16];
  std::snprintf(extra, sizeof extra, "%d", kProcessesPerTree - 1);
  std::snprintf(fd, sizeof fd, "%d", readyFd);
  char* argv[] = {const_cast<char*>(idleTree), extra, fd, nullptr};
  ::execve(idleTree, argv, env);
  ::_exit(127);
}

// Every process this benchmark started, children and the trees' grandchildren. The benchmark is
// their subreaper, so on destruction (whatever happened) it kills its children, whose trees die
// with them, and reaps everything that was reparented to it.
class Children {
 public:
  explicit Children(std::string idleTree) : idleTree_(std::move(idleTree)) {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  }
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;
  ~Children() {
    for (pid_t pid : pids_) ::kill(pid, SIGKILL);
    while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
    }
  }

  size_t processes() const { return processes_; }
  size_t carriers() const { return carriers_; }

  // One idle process, or a tree of kProcessesPerTree carrying a TaskInstance's context. Returns
  // once they all exist.
  bool spawn(bool tree) {
    std::optional<Environment> env;
    if (tree) env.emplace(contextOfTree(trees_));
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) return false;
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) childMain(parent, idleTree_.c_str(), env ? env->get() : nullptr, ready[1]);
    ::close(ready[1]);
    if (pid > 0) pids_.push_back(pid);
    char byte;
    while (tree && pid > 0 && ::read(ready[0], &byte, 1) < 0 && errno == EINTR) {
    }
    ::close(ready[0]);
    if (pid < 0) return false;
    const size_t started = tree ? kProcessesPerTree : 1;
    processes_ += started;
    if (tree) {
      carriers_ += started;
      ++trees_;
    }
    return true;
  }

 private:
  std::string idleTree_;
  std::vector<pid_t> pids_;
  size_t processes_ = 0;
  size_t carriers_ = 0;
  size_t trees_ = 0;
};

struct Pass {
  double wallSeconds = 0;
  double cpuSeconds = 0;
  size_t processes = 0;
  size_t trees = 0;
};

double cpuNow() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Times `work`, which returns how many processes it covered and how many trees it found.
template <typename Work>
Pass timed(Work work) {
  const auto wallStart = std::chrono::steady_clock::now();
  const double cpuStart = cpuNow();
  Pass pass = work();
  pass.cpuSeconds = cpuNow() - cpuStart;
  pass.wallSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
  return pass;
}

Pass discover(os::ProcFs& fs) {
  return timed([&fs] {
    const auto snapshot = proc::ProcessSnapshot::capture(fs);
    const auto trees = proc::identifyTrees(snapshot, proc::IdentityOptions{::getpid(), {}});
    return Pass{0, 0, snapshot.processes().size(), trees.size()};
  });
}

// The kernel's share: open, read and close the files a scan reads, parsing nothing.
Pass rawReads(os::ProcFs& fs) {
  return timed([&fs] {
    static char buffer[64 * 1024];
    const auto pids = fs.listPids();
    for (core::Pid pid : pids) {
      for (const char* file : {"stat", "status", "cmdline", "environ", "cgroup"}) {
        const std::string path = "/proc/" + std::to_string(pid) + "/" + file;
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        while (::read(fd, buffer, sizeof buffer) > 0) {
        }
        ::close(fd);
      }
    }
    return Pass{0, 0, pids.size(), 0};
  });
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

struct PerProcess {
  double wall = 0;
  double cpu = 0;
  Pass last;
};

// Median microseconds per process over `repetitions` passes, after one pass that warms the dentry
// and inode caches the way a long-running agent has them.
template <typename Run>
PerProcess medianPerProcess(Run run, int repetitions) {
  run();
  std::vector<double> wall, cpu;
  PerProcess result;
  for (int i = 0; i < repetitions; ++i) {
    result.last = run();
    const auto n = static_cast<double>(result.last.processes);
    wall.push_back(result.last.wallSeconds * 1e6 / n);
    cpu.push_back(result.last.cpuSeconds * 1e6 / n);
  }
  result.wall = median(wall);
  result.cpu = median(cpu);
  return result;
}

// How busy the machine was: wall times mean little on a machine shared with other work.
std::string loadAverage() {
  double load[3] = {0, 0, 0};
  if (::getloadavg(load, 3) != 3) return "unknown";
  char text[64];
  std::snprintf(text, sizeof text, "%.1f %.1f %.1f on %ld cores", load[0], load[1], load[2],
                ::sysconf(_SC_NPROCESSORS_ONLN));
  return text;
}

void measure(const Children& children, int repetitions) {
  os::ProcfsReader fs("/proc");
  const PerProcess scan = medianPerProcess([&fs] { return discover(fs); }, repetitions);
  const PerProcess floor = medianPerProcess([&fs] { return rawReads(fs); }, repetitions);
  std::printf(
      "scan N=%zu: %zu processes scanned (%zu with AIRFLOW_CTX_*), %zu trees, %d reps: median "
      "%.2f us/process wall (%.2f us cpu; %.1f ms per scan) goal < %.0f us: %s\n"
      "  kernel floor (open+read+close of the same 5 files, no parsing): %.2f us/process wall "
      "(%.2f us cpu)\n"
      "  load average %s\n",
      children.processes(), scan.last.processes, children.carriers(), scan.last.trees, repetitions,
      scan.wall, scan.cpu, scan.wall * static_cast<double>(scan.last.processes) / 1000.0,
      kGoalMicros, scan.wall < kGoalMicros ? "met" : "MISSED", floor.wall, floor.cpu,
      loadAverage().c_str());
  std::fflush(stdout);
}

int run(const std::string& idleTree) {
  const struct {
    size_t processes;
    int repetitions;
  } kSteps[] = {{1000, 9}, {5000, 5}};
  Children children(idleTree);
  for (const auto& step : kSteps) {
    while (children.processes() < step.processes) {
      if (!children.spawn(children.processes() % kTreeEvery == 0)) {
        std::fprintf(stderr, "scan_bench: could not start more than %zu processes: %s\n",
                     children.processes(), std::strerror(errno));
        return 1;
      }
    }
    measure(children, step.repetitions);
  }
  return 0;
}

}  // namespace
}  // namespace reaper::bench

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: scan_bench PATH_TO_IDLE_TREE\n");
    return 2;
  }
  try {
    return reaper::bench::run(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scan_bench: %s\n", e.what());
    return 1;
  }
}
