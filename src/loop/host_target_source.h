#pragma once
// Host mode: every task-runner tree visible under the proc root, whatever cgroup it is in.
#include "loop/target.h"
#include "os/proc_fs.h"
#include "proc/snapshot.h"

namespace reaper::loop {

class HostTargetSource final : public TargetSource {
 public:
  HostTargetSource(os::ProcFs& procfs, core::Pid selfPid)
      : procfs_(procfs), tracker_(procfs, {.cgroups = false}), selfPid_(selfPid) {}

  std::vector<Target> discover() override;
  std::vector<core::ProcessIdentity> currentMembers(const Target& target) override;

 private:
  std::vector<proc::TaskTree> trees(const proc::ProcessSnapshot& snapshot) const;

  os::ProcFs& procfs_;
  proc::ProcessTracker tracker_;  // discover() only: the loop thread's
  core::Pid selfPid_;
};

// The members of whichever of `trees` is the same attempt as `target` (none when it is gone).
std::vector<core::ProcessIdentity> membersOfSameTree(const std::vector<proc::TaskTree>& trees,
                                                     const proc::TaskTree& target);

}  // namespace reaper::loop
