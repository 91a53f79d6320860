#include "loop/pod_target_source.h"

#include <algorithm>

#include "kube/pod_cgroup.h"

namespace reaper::loop {

struct PodTargetSource::View {
  proc::ProcessSnapshot snapshot;
  std::map<std::string, kube::Pod> podsByUid;
  std::map<core::Pid, PodPlacement> placements;  // processes in a pod of this node

  const kube::Pod* podOf(core::Pid pid) const {
    const auto placement = placements.find(pid);
    if (placement == placements.end()) return nullptr;
    const auto pod = podsByUid.find(placement->second.podUid);
    return pod == podsByUid.end() ? nullptr : &pod->second;
  }
};

std::optional<PodPlacement> placementOf(const proc::Process& process) {
  std::vector<const proc::CgroupEntry*> lines;
  for (const auto& line : process.cgroups) lines.push_back(&line);
  // The unified (v2) line names the cgroup exactly; v1 hierarchies may lag behind it.
  std::stable_partition(lines.begin(), lines.end(),
                        [](const proc::CgroupEntry* l) { return l->hierarchyId == 0; });
  for (const auto* line : lines) {
    if (auto ref = kube::parsePodCgroupPath(line->path))
      return PodPlacement{ref->podUid, ref->containerId};
  }
  return std::nullopt;
}

PodTargetSource::PodTargetSource(os::ProcFs& procfs, PodLister pods,
                                 std::vector<std::string> cgroupRoots, core::Pid selfPid)
    : tracker_(procfs),
      pods_(std::move(pods)),
      cgroupRoots_(std::move(cgroupRoots)),
      selfPid_(selfPid) {}

PodTargetSource::View PodTargetSource::capture(proc::ProcessSnapshot snapshot) {
  View view{std::move(snapshot), {}, {}};
  for (auto& pod : pods_()) view.podsByUid.emplace(pod.ref.uid, std::move(pod));
  for (const auto& process : view.snapshot.processes()) {
    auto placement = placementOf(process);
    if (placement && view.podsByUid.contains(placement->podUid))
      view.placements.emplace(process.pid, std::move(*placement));
  }
  return view;
}

Discovery PodTargetSource::discover() {
  const View view = capture(tracker_.capture());
  Discovery discovery{treeTargets(view), baselineOf(view.snapshot)};
  auto executorPods = executorPodTargets(view);
  std::move(executorPods.begin(), executorPods.end(), std::back_inserter(discovery.targets));
  return discovery;
}

std::vector<Target> PodTargetSource::treeTargets(const View& view) {
  // Confinement: a process is placed in its pod, and trees never link processes of two pods.
  // KubernetesExecutor pods are whole targets of their own: their processes form no other tree.
  const auto placement = [&view](const proc::Process& process) -> const std::string* {
    const kube::Pod* pod = view.podOf(process.pid);
    if (pod == nullptr || pod->kubernetesExecutor()) return nullptr;
    return &pod->ref.uid;
  };
  std::vector<Target> targets;
  for (auto& tree : proc::identifyTrees(view.snapshot, {selfPid_, placement})) {
    const kube::Pod& pod = view.podsByUid.at(tree.placement);
    targets.push_back(Target{std::move(tree), pod.ref, {}});
  }
  return targets;
}

std::vector<Target> PodTargetSource::executorPodTargets(const View& view) {
  std::vector<Target> targets;
  for (const auto& [uid, pod] : view.podsByUid) {
    if (!pod.kubernetesExecutor()) continue;
    if (auto target = executorPodTarget(view, pod)) targets.push_back(std::move(*target));
  }
  return targets;
}

std::optional<Target> PodTargetSource::executorPodTarget(const View& view, const kube::Pod& pod) {
  Target target;
  target.pod = pod.ref;
  target.tree.origin = proc::Origin::Pod;
  target.tree.key = pod.annotatedTaskInstance();
  target.tree.mapIndexKnown = true;
  target.tree.placement = pod.ref.uid;
  if (!target.tree.key) {
    target.tree.ambiguous = true;
    target.tree.ambiguity =
        "KubernetesExecutor pod without dag_id/task_id/run_id/try_number annotations";
  }
  target.cgroupDirs = containerCgroups(pod);
  for (const auto& process : view.snapshot.processes()) {
    const auto placement = view.placements.find(process.pid);
    if (placement == view.placements.end() || placement->second.podUid != pod.ref.uid) continue;
    // The sandbox (pause) and anything in the pod-level cgroup itself are never targets.
    if (placement->second.containerId.empty() || process.zombie()) continue;
    const bool workload = std::any_of(pod.containers.begin(), pod.containers.end(), [&](auto& c) {
      return c.containerId == placement->second.containerId;
    });
    if (!workload) continue;
    proc::TreeMember member{process.identity(), process.ppid, process.pgid, process.sid,
                            process.commandLine};
    target.tree.age = std::max(target.tree.age, view.snapshot.ageOf(process));
    target.tree.members.push_back(std::move(member));
  }
  if (target.tree.members.empty()) return std::nullopt;  // nothing left to reap
  if (target.cgroupDirs.empty()) {
    target.tree.ambiguous = true;
    target.tree.ambiguity = "container cgroups of the pod not found";
  }
  std::sort(target.tree.members.begin(), target.tree.members.end(),
            [](const auto& a, const auto& b) { return a.id.startTicks < b.id.startTicks; });
  target.tree.root = target.tree.members.front().id;
  target.tree.attemptAge = target.tree.age;
  return target;
}

std::vector<std::string> PodTargetSource::containerCgroups(const kube::Pod& pod) {
  for (const auto& root : cgroupRoots_) {
    std::vector<std::string> dirs;
    for (const auto& container : pod.containers) {
      if (container.containerId.empty() || container.isSandbox) continue;
      auto found = kube::findPodCgroupDirs(root, pod.ref.uid, container.containerId);
      std::move(found.begin(), found.end(), std::back_inserter(dirs));
    }
    if (!dirs.empty()) return dirs;
  }
  return {};
}

}  // namespace reaper::loop
