#include "kill/fork_watch.h"

#include <algorithm>

#include "proc/parsers.h"
#include "proc/snapshot.h"

namespace reaper::kill {

Baseline makeBaseline(std::vector<core::ProcessIdentity> listed) {
  std::sort(listed.begin(), listed.end());
  return std::make_shared<const std::vector<core::ProcessIdentity>>(std::move(listed));
}

void ForkWatch::refresh() { read_.clear(); }

std::vector<ForkedProcess> ForkWatch::forkedBy(const std::vector<core::Pid>& parents,
                                               const Baseline& baseline) {
  std::vector<ForkedProcess> forked;
  if (!baseline) return forked;
  for (core::Pid parent : parents) {
    for (core::Pid child : procfs_.children(parent)) {
      const auto process = readOnce(child);
      if (process && !std::binary_search(baseline->begin(), baseline->end(), process->id))
        forked.push_back(*process);
    }
  }
  return forked;
}

std::optional<ForkedProcess> ForkWatch::readOnce(core::Pid pid) {
  auto [it, fresh] = read_.try_emplace(pid);
  if (!fresh) return it->second;
  auto text = procfs_.read(pid, "stat", proc::kStatMaxBytes);
  if (!text.ok()) return std::nullopt;  // gone already, or unreadable: never adopted
  auto stat = proc::parseStat(*text);
  if (stat.ok()) it->second = ForkedProcess{{pid, stat->starttime}, stat->ppid};
  return it->second;
}

}  // namespace reaper::kill
