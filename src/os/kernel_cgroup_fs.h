#pragma once
// CgroupFs on the kernel's cgroupfs files. Which interface a directory speaks is told by its files
// (cgroup.freeze / cgroup.kill for v2, freezer.state for the v1 freezer), so one instance serves
// both.
#include "core/clock.h"
#include "os/cgroup_fs.h"

namespace reaper::os {

class KernelCgroupFs final : public CgroupFs {
 public:
  // `freezeTimeout` bounds how long setFrozen waits for the kernel to report the cgroup frozen.
  explicit KernelCgroupFs(core::Clock& clock, core::Duration freezeTimeout = core::Duration{2000});

  std::vector<core::Pid> procs(const std::string& cgroupDir) override;
  core::Status killAll(const std::string& cgroupDir) override;
  core::Status setFrozen(const std::string& cgroupDir, bool frozen) override;

 private:
  core::Status waitUntil(const std::string& file, const std::string& expected);

  core::Clock& clock_;
  core::Duration freezeTimeout_;
};

}  // namespace reaper::os
