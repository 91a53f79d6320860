#include "loop/target.h"

#include <algorithm>

namespace reaper::loop {

std::string Target::label() const {
  if (tree.key) return tree.key->toString();
  if (!tree.tiUuid.empty()) return "uuid=" + tree.tiUuid;
  return "root=" + std::to_string(tree.root.pid);
}

kill::Baseline baselineOf(const proc::ProcessSnapshot& snapshot) {
  std::vector<core::ProcessIdentity> listed;
  listed.reserve(snapshot.processes().size());
  for (const auto& process : snapshot.processes()) listed.push_back(process.identity());
  return kill::makeBaseline(std::move(listed));
}

size_t Target::orphanCount() const {
  return std::count_if(tree.members.begin(), tree.members.end(),
                       [](const proc::TreeMember& m) { return m.orphan || m.escapee; });
}

}  // namespace reaper::loop
