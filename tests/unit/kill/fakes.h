#pragma once
// Stateful fakes for the kill module: a process table shared by a fake signaller (pidfd semantics:
// a handle keeps referring to the process it was opened to) and a fake cgroupfs, and a clock that
// only moves when someone sleeps.
#include <cerrno>
#include <csignal>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "os/cgroup_fs.h"
#include "os/signaller.h"
#include "support/fake_clock.h"

namespace reaper::kill::testing {

using FakeClock = reaper::test::FakeClock;

struct FakeProcess {
  uint64_t startTicks = 0;
  bool alive = true;
  bool ignoresTerm = false;
  bool uninterruptible = false;  // D state: survives even SIGKILL
  std::string cgroup;
};

inline FakeProcess ignoringTerm() {
  FakeProcess process;
  process.ignoresTerm = true;
  return process;
}

inline FakeProcess stuckInD() {
  FakeProcess process = ignoringTerm();
  process.uninterruptible = true;
  return process;
}

inline FakeProcess inCgroup(std::string dir) {
  FakeProcess process;
  process.cgroup = std::move(dir);
  return process;
}

struct SentSignal {
  core::ProcessIdentity target;
  int sig;
  core::Duration at;
  auto operator<=>(const SentSignal&) const = default;
};

class FakeWorld {
 public:
  explicit FakeWorld(FakeClock& clock) : clock_(clock) {}

  core::ProcessIdentity spawn(core::Pid pid, uint64_t start, FakeProcess process = {}) {
    process.startTicks = start;
    table_[pid] = process;
    return {pid, start};
  }
  FakeProcess* find(const core::ProcessIdentity& id) {
    auto it = table_.find(id.pid);
    return it != table_.end() && it->second.startTicks == id.startTicks ? &it->second : nullptr;
  }
  FakeProcess* byPid(core::Pid pid) {
    auto it = table_.find(pid);
    return it != table_.end() ? &it->second : nullptr;
  }
  bool alive(const core::ProcessIdentity& id) {
    auto* process = find(id);
    return process != nullptr && process->alive;
  }
  void deliver(const core::ProcessIdentity& id, int sig) {
    sent_.push_back({id, sig, clock_.elapsed()});
    auto* process = find(id);
    if (process == nullptr) return;
    if ((sig == SIGTERM && !process->ignoresTerm) ||
        (sig == SIGKILL && !process->uninterruptible)) {
      process->alive = false;
    }
  }
  std::vector<int> signalsTo(const core::ProcessIdentity& id) const {
    std::vector<int> sigs;
    for (const auto& sent : sent_) {
      if (sent.target == id) sigs.push_back(sent.sig);
    }
    return sigs;
  }
  std::vector<core::Pid> inCgroup(const std::string& dir) const {
    std::vector<core::Pid> pids;
    for (const auto& [pid, process] : table_) {
      if (process.alive && process.cgroup == dir) pids.push_back(pid);
    }
    return pids;
  }
  const std::vector<SentSignal>& sent() const { return sent_; }

 private:
  FakeClock& clock_;
  std::map<core::Pid, FakeProcess> table_;
  std::vector<SentSignal> sent_;
};

class FakeHandle final : public os::ProcessHandle {
 public:
  explicit FakeHandle(core::ProcessIdentity id) : id_(id) {}
  core::ProcessIdentity identity() const override { return id_; }

 private:
  core::ProcessIdentity id_;
};

class FakeSignaller final : public os::Signaller {
 public:
  explicit FakeSignaller(FakeWorld& world) : world_(world) {}

  core::Result<std::unique_ptr<os::ProcessHandle>> open(const core::ProcessIdentity& id) override {
    ++opens;
    if (refused.contains(id.pid)) return core::makeError("not opened: refused here", EPERM);
    if (!world_.alive(id)) return core::makeError("gone or reused", ESRCH);
    return std::unique_ptr<os::ProcessHandle>(new FakeHandle(id));
  }
  core::Result<std::unique_ptr<os::ProcessHandle>> openCurrent(core::Pid pid) override {
    if (onOpenCurrent) onOpenCurrent(pid);
    auto* process = world_.byPid(pid);
    if (process == nullptr || !process->alive) return core::makeError("gone", ESRCH);
    return std::unique_ptr<os::ProcessHandle>(new FakeHandle({pid, process->startTicks}));
  }
  // Like pidfd_send_signal: a dead or reaped target is ESRCH, which counts as success.
  core::Status signal(os::ProcessHandle& handle, int sig) override {
    if (onSignal) onSignal(handle.identity(), sig);
    world_.deliver(handle.identity(), sig);
    return core::Ok{};
  }
  bool exited(os::ProcessHandle& handle) override { return !world_.alive(handle.identity()); }
  char state(os::ProcessHandle& handle) override {
    auto* process = world_.find(handle.identity());
    if (process == nullptr || !process->alive) return 'X';
    return process->uninterruptible ? 'D' : 'S';
  }

  int opens = 0;
  std::set<core::Pid> refused;  // open() fails for these pids with EPERM, alive or not
  std::function<void(core::Pid)> onOpenCurrent;
  std::function<void(const core::ProcessIdentity&, int)> onSignal;

 private:
  FakeWorld& world_;
};

class FakeCgroupFs final : public os::CgroupFs {
 public:
  explicit FakeCgroupFs(FakeWorld& world) : world_(world) {}

  std::vector<core::Pid> procs(const std::string& dir) override {
    ++reads;
    if (beforeRead) beforeRead(reads);
    return world_.inCgroup(dir);
  }
  core::Status killAll(const std::string& dir) override {
    events.push_back("kill");
    if (killError != 0) return core::makeError("cgroup.kill", killError);
    for (core::Pid pid : world_.inCgroup(dir)) {
      auto* process = world_.byPid(pid);
      if (!process->uninterruptible) process->alive = false;
    }
    return core::Ok{};
  }
  core::Status setFrozen(const std::string& dir, bool frozen) override {
    events.push_back(frozen ? "freeze" : "thaw");
    if (frozen && failFreeze) return core::makeError("freeze timed out", ETIMEDOUT);
    frozen_ = frozen;
    return core::Ok{};
  }
  bool frozen() const { return frozen_; }

  int killError = 0;  // errno killAll fails with; ENOTSUP: no cgroup.kill
  bool failFreeze = false;
  int reads = 0;
  std::function<void(int)> beforeRead;  // called with the read count before each cgroup.procs read
  std::vector<std::string> events;

 private:
  FakeWorld& world_;
  bool frozen_ = false;
};

}  // namespace reaper::kill::testing
