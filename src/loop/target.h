#pragma once
// What the loop tracks: one TaskInstance attempt, as a process tree or (KubernetesExecutor) as the
// whole cgroups of a pod's workload containers.
#include <optional>
#include <string>
#include <vector>

#include "core/types.h"
#include "kill/fork_watch.h"
#include "proc/snapshot.h"
#include "proc/tree.h"

namespace reaper::loop {

struct Target {
  proc::TaskTree tree;
  std::optional<core::PodRef> pod;
  // Non-empty: the attempt owns these container cgroups whole and they are killed with cgroup.kill.
  std::vector<std::string> cgroupDirs;

  // The tree across polls: its root process (two live roots of one TI are two trees).
  core::ProcessIdentity id() const { return tree.root; }
  // "dag/task/run/map/try", else "uuid=<uuid>", else "root=<pid>": for logs and reports.
  std::string label() const;
  size_t orphanCount() const;  // orphans or escapees
};

// One pass over the node: the attempts found, and every pid it listed (what a kill decided on it
// may grow by only through forks of its targets).
struct Discovery {
  std::vector<Target> targets;
  kill::Baseline listed;
};

// The pids of `snapshot`, as a kill's baseline.
kill::Baseline baselineOf(const proc::ProcessSnapshot& snapshot);

// Finds the attempts running on this node. Called from the loop's thread only.
class TargetSource {
 public:
  virtual ~TargetSource() = default;
  virtual Discovery discover() = 0;
};

}  // namespace reaper::loop
