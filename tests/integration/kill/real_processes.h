#pragma once
// Real process trees for the kill integration tests. Every process a test starts carries a marker
// variable unique to the test; membership is found by scanning /proc for it, and clean-up only ever
// signals processes carrying one of the test's markers or sitting in the test's own cgroups.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/types.h"

extern char** environ;

namespace reaper::kill::testing {

inline constexpr char kMarkerVar[] = "REAPER_KILL_TEST_MARKER";

struct RealProcess {
  core::ProcessIdentity identity;
  core::Pid ppid = 0;
  core::Pid sid = 0;
  char state = '?';
  std::vector<std::string> nsPids;  // NSpid: host pid first, innermost last
  uint64_t ignoredSignals = 0;      // SigIgn mask
};

inline std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::string uniqueName(const std::string& what) {
  std::random_device random;
  return what + "-" + std::to_string(::getpid()) + "-" + std::to_string(random() % 1000000);
}

inline std::optional<RealProcess> readProcess(core::Pid pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  const std::string stat = readFile(dir + "/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 2));
  RealProcess process;
  process.identity.pid = pid;
  std::string skip;
  core::Pid pgrp = 0;
  fields >> process.state >> process.ppid >> pgrp >> process.sid;
  for (int field = 7; field < 22; ++field) fields >> skip;
  fields >> process.identity.startTicks;
  if (!fields) return std::nullopt;
  std::istringstream status(readFile(dir + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("NSpid:")) {
      std::istringstream ids(line.substr(6));
      for (std::string id; ids >> id;) process.nsPids.push_back(id);
    } else if (line.starts_with("SigIgn:")) {
      process.ignoredSignals = std::stoull(line.substr(7), nullptr, 16);
    }
  }
  return process;
}

// Live (not zombie) processes whose environment holds `marker` exactly.
inline std::vector<RealProcess> processesMarked(const std::string& marker) {
  const std::string entry = std::string(kMarkerVar) + "=" + marker;
  std::vector<RealProcess> found;
  DIR* proc = ::opendir("/proc");
  while (dirent* item = ::readdir(proc)) {
    const core::Pid pid = std::atoi(item->d_name);
    if (pid <= 0) continue;
    const std::string environ = readFile("/proc/" + std::to_string(pid) + "/environ");
    bool marked = false;
    for (size_t start = 0; start < environ.size() && !marked;) {
      const size_t end = std::min(environ.find('\0', start), environ.size());
      marked = environ.compare(start, end - start, entry) == 0;
      start = end + 1;
    }
    if (!marked) continue;
    if (auto process = readProcess(pid); process && process->state != 'Z')
      found.push_back(*process);
  }
  ::closedir(proc);
  return found;
}

inline std::vector<core::ProcessIdentity> identities(const std::vector<RealProcess>& processes) {
  std::vector<core::ProcessIdentity> ids;
  for (const auto& process : processes) ids.push_back(process.identity);
  return ids;
}

// True while exactly that process runs (same pid and start time, not a zombie).
inline bool running(const core::ProcessIdentity& id) {
  const auto process = readProcess(id.pid);
  return process && process->identity == id && process->state != 'Z';
}

// Starts `/bin/sh -c script` with the marker set; with `cgroupDir` the child first joins that
// cgroup so that it and all its descendants live there.
inline core::Pid spawnMarked(const std::string& script, const std::string& marker,
                             const std::string& cgroupDir = "") {
  std::vector<std::string> env;
  for (char** var = environ; *var != nullptr; ++var) env.emplace_back(*var);
  env.push_back(std::string(kMarkerVar) + "=" + marker);
  std::vector<char*> envp;
  for (auto& var : env) envp.push_back(var.data());
  envp.push_back(nullptr);
  const std::string procs = cgroupDir.empty() ? "" : cgroupDir + "/cgroup.procs";
  const core::Pid pid = ::fork();
  if (pid == 0) {
    if (!procs.empty()) {
      const int fd = ::open(procs.c_str(), O_WRONLY);
      if (fd < 0 || ::write(fd, "0", 1) != 1) ::_exit(126);
      ::close(fd);
    }
    const char* argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
    ::execve("/bin/sh", const_cast<char**>(argv), envp.data());
    ::_exit(127);
  }
  return pid;
}

// Polls until `ready` holds; setup only (never a timed assertion about the code under test).
inline bool eventually(const std::function<bool()>& ready, int seconds = 20) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// SIGKILL through a pidfd, and only if the process still carries one of our markers.
inline void killIfMarked(core::Pid pid, const std::vector<std::string>& markers) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return;
  const std::string environ = readFile("/proc/" + std::to_string(pid) + "/environ");
  for (const auto& marker : markers) {
    if (environ.find(std::string(kMarkerVar) + "=" + marker) != std::string::npos) {
      ::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0);
      break;
    }
  }
  ::close(fd);
}

inline void reapChildren() {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

// Orphans of the trees a test starts are reparented to the test process (a subreaper) instead of
// the machine's init, so the test can reap them and nothing it starts outlives it.
class MarkedTrees {
 public:
  MarkedTrees() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
  ~MarkedTrees() {
    for (int pass = 0; pass < 50; ++pass) {
      bool any = false;
      for (const auto& marker : markers_) {
        for (const auto& process : processesMarked(marker)) {
          killIfMarked(process.identity.pid, markers_);
          any = true;
        }
      }
      reapChildren();
      if (!any) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  MarkedTrees(const MarkedTrees&) = delete;
  MarkedTrees& operator=(const MarkedTrees&) = delete;

  std::string newMarker(const std::string& what) {
    markers_.push_back(uniqueName(what));
    return markers_.back();
  }

 private:
  std::vector<std::string> markers_;
};

// A cgroup directory tree under a unique test prefix, emptied (our processes killed, stragglers
// moved to the hierarchy root) and removed on destruction, also when the test fails.
class TestCgroup {
 public:
  explicit TestCgroup(std::string hierarchy)
      : hierarchy_(std::move(hierarchy)),
        base_(hierarchy_ + "/" + uniqueName("airflow-reaper-test")) {
    created_ = ::mkdir(base_.c_str(), 0755) == 0;
  }
  ~TestCgroup() {
    for (auto it = children_.rbegin(); it != children_.rend(); ++it) empty(*it);
    for (auto it = children_.rbegin(); it != children_.rend(); ++it) ::rmdir(it->c_str());
    if (created_) ::rmdir(base_.c_str());
  }
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;

  bool created() const { return created_; }
  std::string child(const std::string& name) {
    const std::string dir = base_ + "/" + name;
    if (::mkdir(dir.c_str(), 0755) == 0) children_.push_back(dir);
    return dir;
  }

 private:
  static std::vector<core::Pid> pidsIn(const std::string& dir) {
    std::istringstream in(readFile(dir + "/cgroup.procs"));
    std::vector<core::Pid> pids;
    for (core::Pid pid = 0; in >> pid;) pids.push_back(pid);
    return pids;
  }
  static void killIfStillIn(core::Pid pid, const std::string& dir) {
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) return;
    const auto pids = pidsIn(dir);
    if (std::find(pids.begin(), pids.end(), pid) != pids.end()) {
      ::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0);
    }
    ::close(fd);
  }
  void empty(const std::string& dir) {
    std::ofstream(dir + "/cgroup.freeze") << "0";
    std::ofstream(dir + "/freezer.state") << "THAWED";
    // Everything in this cgroup was started by the test: it joined before exec.
    eventually(
        [&] {
          for (const core::Pid pid : pidsIn(dir)) killIfStillIn(pid, dir);
          reapChildren();
          return pidsIn(dir).empty();
        },
        5);
    for (const core::Pid pid : pidsIn(dir)) std::ofstream(hierarchy_ + "/cgroup.procs") << pid;
  }

  std::string hierarchy_;
  std::string base_;
  bool created_ = false;
  std::vector<std::string> children_;
};

}  // namespace reaper::kill::testing
