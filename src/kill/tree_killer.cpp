#include "kill/tree_killer.h"

#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "core/log.h"

namespace reaper::kill {
namespace {

const char* signalName(int sig) {
  switch (sig) {
    case SIGTERM:
      return "TERM";
    case SIGCONT:
      return "CONT";
    case SIGKILL:
      return "KILL";
    case SIGSTOP:
      return "STOP";
    default:
      return "other";
  }
}

}  // namespace

TreeKill::TreeKill(std::string label, std::vector<core::ProcessIdentity> members,
                   os::Signaller& signaller, core::Clock& clock, KillOptions options)
    : label_(std::move(label)),
      decided_(std::move(members)),
      signaller_(signaller),
      clock_(clock),
      options_(options) {
  if (options_.selfPid <= 0) options_.selfPid = ::getpid();
}

bool TreeKill::step(const std::vector<ForkedProcess>& forked) {
  if (phase_ == Phase::Done) return true;
  if (phase_ == Phase::Starting) start();
  const size_t adopted = adopt(forked);
  // Stopped targets cannot fork: once a step finds nobody new since the stop, nobody is missed.
  if (phase_ == Phase::Stopping && adopted == 0) escalate();
  if (phase_ == Phase::Terminating && clock_.now() >= deadline_) stop();
  const bool allGone = refreshExited() == 0;
  if (allGone || (phase_ == Phase::Killing && clock_.now() >= deadline_)) finish();
  return phase_ == Phase::Done;
}

std::vector<core::Pid> TreeKill::parents() const {
  std::vector<core::Pid> alive;
  for (const auto& [identity, target] : targets_) {
    if (!target.exited) alive.push_back(identity.pid);
  }
  return alive;
}

void TreeKill::start() {
  started_ = clock_.now();
  deadline_ = started_ + options_.gracePeriod;
  phase_ = Phase::Terminating;
  for (const auto& member : decided_) {
    if (admit(member)) signalFresh(targets_.at(member));
  }
}

// Newcomers whose parent is a target, until a pass finds none (grandchildren follow children).
size_t TreeKill::adopt(const std::vector<ForkedProcess>& forked) {
  size_t adopted = 0;
  for (bool grew = true; grew && !capped_;) {
    grew = false;
    for (const auto& process : forked) {
      if (!adoptable(process) || !admit(process.id)) continue;
      signalFresh(targets_.at(process.id));
      grew = true;
      ++adopted;
    }
  }
  return adopted;
}

// The parent is a target that started no later than the process and still holds its pid (alive,
// or a zombie not yet reaped): that pid then cannot have been reused since the process's parent
// was read.
bool TreeKill::adoptable(const ForkedProcess& process) {
  if (targets_.contains(process.id) || passed_.contains(process.id)) return false;
  const auto parent = targetByPid_.find(process.ppid);
  if (parent == targetByPid_.end() || parent->second.startTicks > process.id.startTicks)
    return false;
  Target& target = targets_.at(parent->second);
  if (!target.exited) target.exited = signaller_.exited(*target.handle);
  if (target.exited && signaller_.state(*target.handle) != 'Z') return false;
  if (targets_.size() >= options_.maxTargets) {
    capped_ = true;
    core::Logger("kill").warn("not following forks any more",
                              {{"ti", label_}, {"targets", targets_.size()}});
    return false;
  }
  return true;
}

// Opens a handle to exactly this process (pid and start time); false for refused, vanished or
// reused pids. A refused one fails the kill: it may live on.
bool TreeKill::admit(const core::ProcessIdentity& process) {
  if (process.pid <= 1 || process.pid == options_.selfPid) {
    refuse(process, process.pid <= 1 ? "init" : "self");
    return false;
  }
  auto handle = signaller_.open(process);
  if (!handle.ok()) {
    const int code = handle.error().code;
    if (code == ESRCH || code == ENOENT) {
      core::Logger("kill").debug(
          "not signalled",
          {{"ti", label_}, {"pid", process.pid}, {"reason", handle.error().message}});
      passed_.insert(process);
    } else {
      refuse(process, handle.error().message);
    }
    return false;
  }
  targets_.emplace(process, Target{std::move(*handle)});
  targetByPid_[process.pid] = process;
  return true;
}

void TreeKill::refuse(const core::ProcessIdentity& process, const std::string& reason) {
  core::Logger("kill").warn("refusing to signal",
                            {{"ti", label_}, {"pid", process.pid}, {"reason", reason}});
  passed_.insert(process);
  if (!report_.error)
    report_.error =
        core::makeError("pid " + std::to_string(process.pid) + " not signalled: " + reason);
}

// A new target gets what the others already got: SIGTERM + SIGCONT, SIGSTOP, or SIGKILL.
void TreeKill::signalFresh(Target& target) {
  if (phase_ == Phase::Stopping) return signal(target, SIGSTOP);
  if (phase_ == Phase::Killing) return signal(target, SIGKILL);
  signal(target, SIGTERM);
  signal(target, SIGCONT);
}

void TreeKill::signal(Target& target, int sig) {
  const auto pid = target.handle->identity().pid;
  if (auto sent = signaller_.signal(*target.handle, sig); !sent.ok()) {
    core::Logger("kill").warn(
        "signal failed",
        {{"ti", label_}, {"pid", pid}, {"sig", signalName(sig)}, {"error", sent.error().message}});
    return;
  }
  if (sig == SIGTERM || sig == SIGKILL)
    core::Logger("kill").info("signalled",
                              {{"ti", label_}, {"pid", pid}, {"sig", signalName(sig)}});
}

size_t TreeKill::refreshExited() {
  size_t alive = 0;
  for (auto& [identity, target] : targets_) {
    if (!target.exited) target.exited = signaller_.exited(*target.handle);
    if (!target.exited) ++alive;
  }
  return alive;
}

// The grace period is over: SIGSTOP what is left, so that what it forked before can be found
// and nothing forks any more before the SIGKILL.
void TreeKill::stop() {
  if (refreshExited() == 0) return;  // all gone: finish() follows
  phase_ = Phase::Stopping;
  report_.escalated = true;
  for (auto& [identity, target] : targets_) {
    if (!target.exited) signal(target, SIGSTOP);
  }
}

void TreeKill::escalate() {
  phase_ = Phase::Killing;
  deadline_ = clock_.now() + options_.killWait;
  for (auto& [identity, target] : targets_) {
    if (!target.exited) target.exited = signaller_.exited(*target.handle);
    if (!target.exited) signal(target, SIGKILL);
  }
}

void TreeKill::finish() {
  phase_ = Phase::Done;
  report_.signalled = targets_.size();
  for (auto& [identity, target] : targets_) {
    if (target.exited) continue;
    report_.survivors.push_back(identity);
    core::Logger("kill").warn("survived SIGKILL",
                              {{"ti", label_},
                               {"pid", identity.pid},
                               {"state", std::string(1, signaller_.state(*target.handle))}});
  }
  report_.killed = report_.signalled - report_.survivors.size();
  report_.took = std::chrono::duration_cast<core::Duration>(clock_.now() - started_);
  core::Logger("kill").info("tree kill done", {{"ti", label_},
                                               {"signalled", report_.signalled},
                                               {"killed", report_.killed},
                                               {"survivors", report_.survivors.size()},
                                               {"escalated", report_.escalated},
                                               {"took_ms", report_.took.count()}});
}

}  // namespace reaper::kill
