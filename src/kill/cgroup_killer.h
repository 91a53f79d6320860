#pragma once
// Kills every process of one container cgroup (a KubernetesExecutor pod's task container, never its
// sandbox): cgroup.kill where the kernel has it (v2, Linux 5.14+, atomic against forks), otherwise
// freeze, SIGKILL each member through its pidfd, thaw. The caller picks the cgroup; this refuses
// one that holds pid 1 or the agent itself.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "kill/tree_killer.h"
#include "os/cgroup_fs.h"
#include "os/signaller.h"

namespace reaper::kill {

class CgroupKiller {
 public:
  CgroupKiller(os::CgroupFs& cgroups, os::Signaller& signaller, core::Clock& clock,
               KillOptions options);

  // Kills all of `cgroupDir` (the v2 directory, or the v1 freezer hierarchy's), waits up to
  // killWait for it to empty and reports who is still there.
  KillReport kill(const std::string& cgroupDir);

 private:
  // cgroup.kill, or freeze-signal-thaw where there is none; returns how many were signalled.
  core::Result<size_t> signalAll(const std::string& cgroupDir, size_t listed);
  // Freeze-signal-thaw; returns how many processes were signalled. Thaws on every path.
  size_t freezeAndSignal(const std::string& cgroupDir);
  size_t signalNewcomers(const std::string& cgroupDir,
                         std::map<core::Pid, std::unique_ptr<os::ProcessHandle>>& held);
  bool forbidden(core::Pid pid) const;
  std::vector<core::Pid> waitUntilEmpty(const std::string& cgroupDir);
  std::vector<core::ProcessIdentity> identify(const std::vector<core::Pid>& pids);

  os::CgroupFs& cgroups_;
  os::Signaller& signaller_;
  core::Clock& clock_;
  KillOptions options_;
};

// A KubernetesExecutor pod's container cgroups killed whole, in one step: cgroup.kill is atomic
// and immediate; the wait for the cgroups to empty is bounded by killWait.
class CgroupKill final : public KillJob {
 public:
  CgroupKill(CgroupKiller& killer, std::vector<std::string> dirs);

  bool step(const std::vector<ForkedProcess>& forked) override;
  KillReport report() const override { return report_; }

 private:
  CgroupKiller& killer_;
  std::vector<std::string> dirs_;
  bool done_ = false;
  KillReport report_;
};

}  // namespace reaper::kill
