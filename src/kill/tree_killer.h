#pragma once
// Kills a process tree member by member: SIGTERM + SIGCONT, a grace period, then SIGKILL; every
// signal through the member's own pidfd, never to a process group or session (those may hold
// non-members, e.g. the Celery worker that shares its group with an Airflow 3 task process).
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "core/types.h"
#include "os/signaller.h"

namespace reaper::kill {

struct KillOptions {
  core::Duration gracePeriod{10000};
  core::Duration pollStep{50};
  // How long to wait for SIGKILLed processes to go before reporting them as survivors.
  core::Duration killWait{2000};
  int maxMembershipRounds = 50;
  core::Pid selfPid = 0;  // 0: this process
};

struct KillReport {
  size_t signalled = 0;
  size_t killed = 0;
  std::vector<core::ProcessIdentity> survivors;
  bool escalated = false;
  core::Duration took{0};
  std::optional<core::Error> error;  // the kill was refused or could not be carried out
};

// Who is in the tree right now; called repeatedly while killing (members fork while they die).
using MembershipSource = std::function<std::vector<core::ProcessIdentity>()>;

class TreeKiller {
 public:
  TreeKiller(os::Signaller& signaller, core::Clock& clock, KillOptions options);

  // SIGTERM + SIGCONT every member, re-reading membership until a round finds nobody new; members
  // once seen stay targets even when they no longer appear; waits up to gracePeriod; then SIGKILLs
  // the rest and any newcomers (again until a round finds nobody new). Members alive after killWait
  // are reported as survivors, not retried. Never signals pid <= 1 or selfPid.
  KillReport kill(const MembershipSource& members);

 private:
  struct Target {
    std::unique_ptr<os::ProcessHandle> handle;
    bool exited = false;
  };
  struct Sweep {
    std::map<core::ProcessIdentity, Target> targets;
    std::set<core::ProcessIdentity> passed;  // refused or gone before a handle was open
  };

  size_t sweep(const MembershipSource& members, Sweep& state, bool final);
  bool admit(const core::ProcessIdentity& member, Sweep& state);
  void signalTarget(Target& target, int sig);
  size_t refreshExited(Sweep& state);
  void waitForExit(Sweep& state, core::SteadyTime deadline);
  KillReport summarize(Sweep& state, core::SteadyTime start, bool escalated);

  os::Signaller& signaller_;
  core::Clock& clock_;
  KillOptions options_;
};

}  // namespace reaper::kill
