#pragma once
// Turns a kill decision into a kill job: a process tree member by member, or whole container
// cgroups.
#include <memory>

#include "kill/cgroup_killer.h"
#include "kill/tree_killer.h"
#include "loop/target.h"

namespace reaper::loop {

class Reaper {
 public:
  virtual ~Reaper() = default;
  // The kill of exactly the members `target` names (and what they fork while dying).
  virtual std::unique_ptr<kill::KillJob> start(const Target& target) = 0;
};

class KillingReaper final : public Reaper {
 public:
  // `cgroups` may be null where no target owns whole cgroups (host mode). The signaller is used
  // from the kill worker's thread only.
  KillingReaper(os::Signaller& signaller, core::Clock& clock, kill::KillOptions options,
                kill::CgroupKiller* cgroups)
      : signaller_(signaller), clock_(clock), options_(options), cgroups_(cgroups) {}

  std::unique_ptr<kill::KillJob> start(const Target& target) override;

 private:
  os::Signaller& signaller_;
  core::Clock& clock_;
  kill::KillOptions options_;
  kill::CgroupKiller* cgroups_;
};

}  // namespace reaper::loop
