#pragma once
// What the loop tracks: one TaskInstance attempt, as a process tree or (KubernetesExecutor) as the
// whole cgroups of a pod's workload containers.
#include <optional>
#include <string>
#include <vector>

#include "core/types.h"
#include "proc/tree.h"

namespace reaper::loop {

struct Target {
  proc::TaskTree tree;
  std::optional<core::PodRef> pod;
  // Non-empty: the attempt owns these container cgroups whole and they are killed with cgroup.kill.
  std::vector<std::string> cgroupDirs;

  // "dag/task/run/map/try", else "uuid=<uuid>", else "root=<pid>": for logs and de-duplication.
  std::string label() const;
  size_t orphanCount() const;  // orphans or escapees
};

// Finds the attempts running on this node.
class TargetSource {
 public:
  virtual ~TargetSource() = default;
  // One discovery pass over the node's processes (and pods).
  virtual std::vector<Target> discover() = 0;
  // The processes that belong to `target` right now: re-read while it is being killed.
  virtual std::vector<core::ProcessIdentity> currentMembers(const Target& target) = 0;
};

}  // namespace reaper::loop
