#include "loop/host_target_source.h"

#include "proc/snapshot.h"

namespace reaper::loop {

std::vector<proc::TaskTree> HostTargetSource::trees(const proc::ProcessSnapshot& snapshot) const {
  return proc::identifyTrees(snapshot, proc::IdentityOptions{selfPid_, {}});
}

std::vector<Target> HostTargetSource::discover() {
  std::vector<Target> targets;
  for (auto& tree : trees(tracker_.capture()))
    targets.push_back(Target{std::move(tree), std::nullopt, {}});
  return targets;
}

std::vector<core::ProcessIdentity> HostTargetSource::currentMembers(const Target& target) {
  const auto snapshot = proc::ProcessSnapshot::capture(procfs_, {.cgroups = false});
  return membersOfSameTree(trees(snapshot), target.tree);
}

std::vector<core::ProcessIdentity> membersOfSameTree(const std::vector<proc::TaskTree>& trees,
                                                     const proc::TaskTree& target) {
  std::vector<core::ProcessIdentity> members;
  for (const auto& tree : trees) {
    if (!proc::sameTree(tree, target)) continue;
    for (const auto& member : tree.members) members.push_back(member.id);
  }
  return members;
}

}  // namespace reaper::loop
