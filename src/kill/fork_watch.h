#pragma once
// Finds the processes started after a discovery without re-reading what the discovery saw: each
// refresh lists the proc root once, and only pids the discovery did not list have their stat read
// (once, then cached until they leave the listing). A kill adopts a newcomer only through a parent
// it already targets; this only tells it who the newcomers are. One instance per thread.
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/types.h"
#include "os/proc_fs.h"

namespace reaper::kill {

struct ForkedProcess {
  core::ProcessIdentity id;
  core::Pid ppid = 0;  // as read once, when the process first appeared
};

// The pids a discovery listed, sorted: what a kill decided on may only grow by processes outside.
using Baseline = std::shared_ptr<const std::vector<core::Pid>>;

class ForkWatch {
 public:
  explicit ForkWatch(os::ProcFs& procfs) : procfs_(procfs) {}

  // Lists the proc root again (forgets what it read of pids no longer listed).
  void refresh();
  // Processes of the last listing that `baseline` does not hold (that could still be read).
  const std::vector<ForkedProcess>& newSince(const Baseline& baseline);

 private:
  std::optional<ForkedProcess> readOnce(core::Pid pid);

  os::ProcFs& procfs_;
  std::vector<core::Pid> listed_;  // sorted
  std::unordered_map<core::Pid, std::optional<ForkedProcess>> read_;
  std::unordered_map<const std::vector<core::Pid>*, std::vector<ForkedProcess>> perBaseline_;
};

}  // namespace reaper::kill
