#pragma once
// Host mode: every task-runner tree visible under the proc root, whatever cgroup it is in.
#include "loop/target.h"
#include "os/proc_fs.h"
#include "proc/snapshot.h"

namespace reaper::loop {

class HostTargetSource final : public TargetSource {
 public:
  // `procfs` is used from the loop's thread only.
  HostTargetSource(os::ProcFs& procfs, core::Pid selfPid)
      : tracker_(procfs, {.cgroups = false}), selfPid_(selfPid) {}

  Discovery discover() override;

 private:
  proc::ProcessTracker tracker_;
  core::Pid selfPid_;
};

}  // namespace reaper::loop
