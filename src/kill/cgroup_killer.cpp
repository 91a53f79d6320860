#include "kill/cgroup_killer.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>

#include "core/log.h"

namespace reaper::kill {
namespace {

// Thaws the cgroup when the kill leaves scope, whichever way it leaves.
class ThawGuard {
 public:
  ThawGuard(os::CgroupFs& cgroups, std::string dir) : cgroups_(cgroups), dir_(std::move(dir)) {}
  ~ThawGuard() {
    if (auto thawed = cgroups_.setFrozen(dir_, false); !thawed.ok()) {
      core::Logger("kill").warn("thaw failed",
                                {{"cgroup", dir_}, {"error", thawed.error().message}});
    }
  }
  ThawGuard(const ThawGuard&) = delete;
  ThawGuard& operator=(const ThawGuard&) = delete;

 private:
  os::CgroupFs& cgroups_;
  std::string dir_;
};

// Rounds of signalling newcomers in a frozen (or, failing the freeze, live) cgroup.
constexpr int kMaxMembershipRounds = 50;

bool contains(const std::vector<core::Pid>& pids, core::Pid pid) {
  return std::find(pids.begin(), pids.end(), pid) != pids.end();
}

}  // namespace

CgroupKiller::CgroupKiller(os::CgroupFs& cgroups, os::Signaller& signaller, core::Clock& clock,
                           KillOptions options)
    : cgroups_(cgroups), signaller_(signaller), clock_(clock), options_(options) {
  if (options_.selfPid <= 0) options_.selfPid = ::getpid();
}

KillReport CgroupKiller::kill(const std::string& cgroupDir) {
  const auto start = clock_.now();
  KillReport report;
  const auto before = cgroups_.procs(cgroupDir);
  if (std::any_of(before.begin(), before.end(), [this](core::Pid pid) { return forbidden(pid); })) {
    report.error =
        core::makeError("cgroup " + cgroupDir + " holds pid 1 or the agent itself", EPERM);
    core::Logger("kill").error("refusing cgroup kill",
                               {{"cgroup", cgroupDir}, {"reason", "init_or_self"}});
    return report;
  }
  std::vector<core::Pid> left;
  if (auto signalled = signalAll(cgroupDir, before.size()); signalled.ok()) {
    report.signalled = *signalled;
    report.escalated = true;
    left = waitUntilEmpty(cgroupDir);
  } else {
    report.error = signalled.error();
    left = cgroups_.procs(cgroupDir);
  }
  report.survivors = identify(left);
  report.killed = report.signalled - std::min(report.signalled, report.survivors.size());
  report.took = std::chrono::duration_cast<core::Duration>(clock_.now() - start);
  core::Logger("kill").info("cgroup kill done", {{"cgroup", cgroupDir},
                                                 {"signalled", report.signalled},
                                                 {"survivors", report.survivors.size()},
                                                 {"took_ms", report.took.count()}});
  return report;
}

core::Result<size_t> CgroupKiller::signalAll(const std::string& cgroupDir, size_t listed) {
  auto killed = cgroups_.killAll(cgroupDir);
  if (killed.ok()) {
    core::Logger("kill").info("cgroup.kill",
                              {{"cgroup", cgroupDir}, {"pids", listed}, {"sig", "KILL"}});
    return listed;
  }
  if (killed.error().code == ENOTSUP) return freezeAndSignal(cgroupDir);
  core::Logger("kill").warn("cgroup kill failed",
                            {{"cgroup", cgroupDir}, {"error", killed.error().message}});
  return killed.error();
}

size_t CgroupKiller::freezeAndSignal(const std::string& cgroupDir) {
  // Frozen members cannot fork a newcomer between reading cgroup.procs and signalling. Without the
  // freeze (it failed) the rounds below still catch newcomers, only less surely.
  ThawGuard thaw(cgroups_, cgroupDir);
  if (auto frozen = cgroups_.setFrozen(cgroupDir, true); !frozen.ok()) {
    core::Logger("kill").warn("freeze failed",
                              {{"cgroup", cgroupDir}, {"error", frozen.error().message}});
  }
  std::map<core::Pid, std::unique_ptr<os::ProcessHandle>> held;
  size_t signalled = 0;
  for (int round = 0; round < kMaxMembershipRounds; ++round) {
    const size_t fresh = signalNewcomers(cgroupDir, held);
    if (fresh == 0) break;
    signalled += fresh;
  }
  return signalled;
}

// Opens pidfds for pids not seen before, then keeps only those still listed in cgroup.procs after
// opening: a pidfd opened to a recycled pid then refers to a process that is in this cgroup.
size_t CgroupKiller::signalNewcomers(
    const std::string& cgroupDir, std::map<core::Pid, std::unique_ptr<os::ProcessHandle>>& held) {
  std::vector<core::Pid> opened;
  for (const core::Pid pid : cgroups_.procs(cgroupDir)) {
    if (held.contains(pid) || forbidden(pid)) continue;
    if (auto handle = signaller_.openCurrent(pid); handle.ok()) {
      held.emplace(pid, std::move(*handle));
      opened.push_back(pid);
    }
  }
  const auto confirmed = cgroups_.procs(cgroupDir);
  size_t signalled = 0;
  for (const core::Pid pid : opened) {
    if (!contains(confirmed, pid)) {
      held.erase(pid);
      continue;
    }
    if (auto sent = signaller_.signal(*held.at(pid), SIGKILL); sent.ok()) {
      core::Logger("kill").info("signalled",
                                {{"pid", pid}, {"sig", "KILL"}, {"cgroup", cgroupDir}});
      ++signalled;
    }
  }
  return signalled;
}

bool CgroupKiller::forbidden(core::Pid pid) const { return pid <= 1 || pid == options_.selfPid; }

std::vector<core::Pid> CgroupKiller::waitUntilEmpty(const std::string& cgroupDir) {
  const auto deadline = clock_.now() + options_.killWait;
  auto left = cgroups_.procs(cgroupDir);
  while (!left.empty() && clock_.now() < deadline) {
    clock_.sleepFor(options_.pollStep);
    left = cgroups_.procs(cgroupDir);
  }
  return left;
}

std::vector<core::ProcessIdentity> CgroupKiller::identify(const std::vector<core::Pid>& pids) {
  std::vector<core::ProcessIdentity> identities;
  for (const core::Pid pid : pids) {
    auto handle = signaller_.openCurrent(pid);
    identities.push_back(handle.ok() ? (*handle)->identity() : core::ProcessIdentity{pid, 0});
    if (handle.ok()) {
      core::Logger("kill").warn(
          "survived SIGKILL",
          {{"pid", pid}, {"state", std::string(1, signaller_.state(**handle))}});
    }
  }
  return identities;
}

CgroupKill::CgroupKill(CgroupKiller& killer, std::vector<std::string> dirs)
    : killer_(killer), dirs_(std::move(dirs)) {}

bool CgroupKill::step(const std::vector<ForkedProcess>&) {
  if (done_) return true;
  for (const auto& dir : dirs_) {
    KillReport part = killer_.kill(dir);
    report_.signalled += part.signalled;
    report_.killed += part.killed;
    report_.escalated = report_.escalated || part.escalated;
    report_.took += part.took;
    report_.survivors.insert(report_.survivors.end(), part.survivors.begin(), part.survivors.end());
    if (part.error && !report_.error) report_.error = part.error;
  }
  done_ = true;
  return true;
}

}  // namespace reaper::kill
