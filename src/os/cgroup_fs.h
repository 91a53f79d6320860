#pragma once
// The cgroup filesystem operations killing needs, on one cgroup directory (v2, or a v1
// hierarchy's).
#include <string>
#include <vector>

#include "core/result.h"
#include "core/types.h"

namespace reaper::os {

class CgroupFs {
 public:
  virtual ~CgroupFs() = default;
  // The pids in `cgroupDir`/cgroup.procs; a cgroup that is gone (or going) is empty.
  virtual std::vector<core::Pid> procs(const std::string& cgroupDir) = 0;
  // SIGKILLs every process of the cgroup and its descendants at once (v2 cgroup.kill, Linux 5.14+).
  // Fails with code ENOTSUP where the kernel or hierarchy has no cgroup.kill; a gone cgroup is
  // done.
  virtual core::Status killAll(const std::string& cgroupDir) = 0;
  // Freezes (v2 cgroup.freeze / v1 freezer.state FROZEN) and waits until the kernel reports it
  // frozen, or thaws. Fails if the cgroup has no freezer or does not freeze in time.
  virtual core::Status setFrozen(const std::string& cgroupDir, bool frozen) = 0;
};

}  // namespace reaper::os
