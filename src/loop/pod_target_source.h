#pragma once
// Kubernetes mode: task-runner trees confined to the pods of this node. A process belongs to the
// pod whose uid its /proc/PID/cgroup path names; a process in no pod of this node is never a
// member, whatever its environment says. A KubernetesExecutor pod is one attempt (its TI from the
// pod's annotations) that owns its workload containers' cgroups whole.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kube/pod.h"
#include "loop/target.h"
#include "os/proc_fs.h"
#include "proc/snapshot.h"

namespace reaper::loop {

// The pods currently scheduled on this node.
using PodLister = std::function<std::vector<kube::Pod>()>;

// Where a process sits: its pod's uid and its container's id (empty: the pod-level cgroup).
struct PodPlacement {
  std::string podUid;
  std::string containerId;
};
// From a process's cgroup lines (the v2 line first, then the v1 ones); nullopt: in no pod.
std::optional<PodPlacement> placementOf(const proc::Process& process);

class PodTargetSource final : public TargetSource {
 public:
  // `cgroupRoots`: where a KubernetesExecutor pod's container cgroups are looked for, in order (the
  // v2 unified mount, then the v1 freezer hierarchy); the first root that has them is killed.
  PodTargetSource(os::ProcFs& procfs, PodLister pods, std::vector<std::string> cgroupRoots,
                  core::Pid selfPid);

  Discovery discover() override;

 private:
  struct View;  // one snapshot joined with the pods
  View capture(proc::ProcessSnapshot snapshot);
  std::vector<Target> treeTargets(const View& view);
  std::vector<Target> executorPodTargets(const View& view);
  std::optional<Target> executorPodTarget(const View& view, const kube::Pod& pod);
  std::vector<std::string> containerCgroups(const kube::Pod& pod);

  proc::ProcessTracker tracker_;  // the loop thread's
  PodLister pods_;
  std::vector<std::string> cgroupRoots_;
  core::Pid selfPid_;
};

}  // namespace reaper::loop
