#pragma once
// Carries out a kill decision: a process tree member by member, or whole container cgroups.
#include "kill/cgroup_killer.h"
#include "kill/tree_killer.h"
#include "loop/target.h"

namespace reaper::loop {

class Reaper {
 public:
  virtual ~Reaper() = default;
  // Kills `target` and reports what happened; blocks for up to the grace period.
  virtual kill::KillReport reap(const Target& target) = 0;
};

class KillingReaper final : public Reaper {
 public:
  // `cgroups` may be null where no target owns whole cgroups (host mode).
  KillingReaper(TargetSource& source, kill::TreeKiller& trees, kill::CgroupKiller* cgroups)
      : source_(source), trees_(trees), cgroups_(cgroups) {}

  kill::KillReport reap(const Target& target) override;

 private:
  kill::KillReport reapCgroups(const Target& target);

  TargetSource& source_;
  kill::TreeKiller& trees_;
  kill::CgroupKiller* cgroups_;
};

}  // namespace reaper::loop
