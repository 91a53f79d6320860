#include "loop/host_target_source.h"

namespace reaper::loop {

Discovery HostTargetSource::discover() {
  const auto snapshot = tracker_.capture();
  Discovery discovery{{}, baselineOf(snapshot)};
  for (auto& tree : proc::identifyTrees(snapshot, proc::IdentityOptions{selfPid_, {}}))
    discovery.targets.push_back(Target{std::move(tree), std::nullopt, {}});
  return discovery;
}

}  // namespace reaper::loop
