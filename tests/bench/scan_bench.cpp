// Scan cost per process: starts N idle processes (a quarter of them carrying AIRFLOW_CTX_*, as
// trees of four per TaskInstance), then measures the CPU time per process, side by side, of the
// floor (every /proc/PID/stat read once), a full read of every process (what each poll cost before
// discovery kept state) and the agent's tracked poll, over the real /proc. Prints numbers;
// asserts nothing about them. `--floor` prints the floor of the node as it is.
#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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

double cpuNow() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// One pass of some work over the node: how many processes it covered.
struct Pass {
  double cpuSeconds = 0;
  size_t processes = 0;
  size_t trees = 0;
};

template <typename Work>
Pass timed(Work work) {
  const double start = cpuNow();
  Pass pass = work();
  pass.cpuSeconds = cpuNow() - start;
  return pass;
}

// The floor: /proc/PID/stat of every process read once (open, one read, close), parsing nothing.
Pass statFloor() {
  return timed([] {
    static char buffer[4096];
    char path[300];
    size_t processes = 0;
    DIR* dir = ::opendir("/proc");
    while (const dirent* entry = dir ? ::readdir(dir) : nullptr) {
      if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
      std::snprintf(path, sizeof path, "/proc/%s/stat", entry->d_name);
      const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      (void)!::read(fd, buffer, sizeof buffer);
      ::close(fd);
      ++processes;
    }
    if (dir) ::closedir(dir);
    return Pass{0, processes, 0};
  });
}

// What every poll cost before discovery kept state: every process read in full.
Pass fullRead(os::ProcFs& fs) {
  return timed([&fs] {
    const auto snapshot = proc::ProcessSnapshot::capture(fs, {.cgroups = false});
    const auto trees = proc::identifyTrees(snapshot, proc::IdentityOptions{::getpid(), {}});
    return Pass{0, snapshot.processes().size(), trees.size()};
  });
}

// A poll of the agent's discovery in host mode: the tracker's capture plus tree identity.
Pass trackedPoll(proc::ProcessTracker& tracker, bool trees) {
  return timed([&tracker, trees] {
    const auto snapshot = tracker.capture();
    size_t found = 0;
    if (trees) found = proc::identifyTrees(snapshot, {::getpid(), {}}).size();
    return Pass{0, snapshot.processes().size(), found};
  });
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

struct PerProcess {
  double cpu = 0;  // median microseconds of CPU per process
  Pass last;
};

// Median CPU microseconds per process over `repetitions` passes, after one pass that warms the
// dentry and inode caches (and the tracker) the way a long-running agent has them.
template <typename Run>
PerProcess medianPerProcess(Run run, int repetitions) {
  run();
  std::vector<double> cpu;
  PerProcess result;
  for (int i = 0; i < repetitions; ++i) {
    result.last = run();
    cpu.push_back(result.last.cpuSeconds * 1e6 / static_cast<double>(result.last.processes));
  }
  result.cpu = median(cpu);
  return result;
}

// How busy the machine was: CPU times inflate too on a machine shared with other work.
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
  proc::ProcessTracker tracker(fs, {.cgroups = false});
  const PerProcess floor = medianPerProcess(statFloor, repetitions);
  const PerProcess full = medianPerProcess([&fs] { return fullRead(fs); }, repetitions);
  const PerProcess poll = medianPerProcess([&] { return trackedPoll(tracker, true); }, repetitions);
  const PerProcess capture =
      medianPerProcess([&] { return trackedPoll(tracker, false); }, repetitions);
  const double n = static_cast<double>(poll.last.processes);
  std::printf(
      "scan N=%zu: %zu processes (%zu with AIRFLOW_CTX_*), %zu trees; CPU us per process, median "
      "of %d; load average %s\n"
      "  floor, stat of every process once     %6.2f us  (%5.1f ms per pass)\n"
      "  full read of every process + trees     %6.2f us  (%5.1f ms; %.1fx the floor)\n"
      "  tracked poll + trees (the agent's)     %6.2f us  (%5.1f ms; %.2fx the floor) goal < "
      "%.0f us: %s\n"
      "  tracked poll, discovery alone          %6.2f us  (%5.1f ms)\n",
      children.processes(), poll.last.processes, children.carriers(), poll.last.trees, repetitions,
      loadAverage().c_str(), floor.cpu, floor.cpu * n / 1000, full.cpu, full.cpu * n / 1000,
      full.cpu / floor.cpu, poll.cpu, poll.cpu * n / 1000, poll.cpu / floor.cpu, kGoalMicros,
      poll.cpu < kGoalMicros ? "met" : "MISSED", capture.cpu, capture.cpu * n / 1000);
  std::fflush(stdout);
}

// `scan_bench --floor`: the floor on the node as it is, for the agent benchmark.
int floorOnly() {
  const PerProcess floor = medianPerProcess(statFloor, 5);
  std::printf("floor_us_per_process %.3f processes %zu\n", floor.cpu, floor.last.processes);
  return 0;
}

int run(const std::string& idleTree) {
  const struct {
    size_t processes;
    int repetitions;
  } kSteps[] = {{1000, 9}, {5000, 5}, {10000, 5}};
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
    std::fprintf(stderr, "usage: scan_bench PATH_TO_IDLE_TREE | --floor\n");
    return 2;
  }
  try {
    if (std::string(argv[1]) == "--floor") return reaper::bench::floorOnly();
    return reaper::bench::run(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scan_bench: %s\n", e.what());
    return 1;
  }
}
