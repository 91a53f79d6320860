#pragma once
// Finds what the targets of a kill forked since the discovery that decided it: the children of
// each target, as the kernel lists them now (/proc/<pid>/task/*/children), that the discovery did
// not list, by pid and start time. A pid is not enough: a tree that forks fast turns the pid
// allocator over, and its children then get pids the discovery listed for processes gone since.
// Asking each target for its children costs in proportion to the kill, not to the node. A kill
// adopts a newcomer only through a parent it already targets; this only tells it who the
// newcomers are. One instance per thread.
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/types.h"
#include "os/proc_fs.h"

namespace reaper::kill {

struct ForkedProcess {
  core::ProcessIdentity id;
  core::Pid ppid = 0;  // as read in this step
};

// The processes a discovery listed, sorted: what a kill decided on may only grow by processes
// outside.
using Baseline = std::shared_ptr<const std::vector<core::ProcessIdentity>>;
Baseline makeBaseline(std::vector<core::ProcessIdentity> listed);

class ForkWatch {
 public:
  explicit ForkWatch(os::ProcFs& procfs) : procfs_(procfs) {}

  // Starts a step: what was read in the previous one may be stale now.
  void refresh();
  // The children of `parents` (that could still be read) that `baseline` does not hold.
  std::vector<ForkedProcess> forkedBy(const std::vector<core::Pid>& parents,
                                      const Baseline& baseline);

 private:
  std::optional<ForkedProcess> readOnce(core::Pid pid);

  os::ProcFs& procfs_;
  std::unordered_map<core::Pid, std::optional<ForkedProcess>> read_;  // in this step
};

}  // namespace reaper::kill
