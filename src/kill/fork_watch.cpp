#include "kill/fork_watch.h"

#include <algorithm>

#include "proc/parsers.h"
#include "proc/snapshot.h"

namespace reaper::kill {

void ForkWatch::refresh() {
  listed_ = procfs_.listPids();
  std::sort(listed_.begin(), listed_.end());
  std::erase_if(read_, [this](const auto& entry) {
    return !std::binary_search(listed_.begin(), listed_.end(), entry.first);
  });
  perBaseline_.clear();
}

const std::vector<ForkedProcess>& ForkWatch::newSince(const Baseline& baseline) {
  static const std::vector<ForkedProcess> kNone;
  if (!baseline) return kNone;
  auto [it, fresh] = perBaseline_.try_emplace(baseline.get());
  if (!fresh) return it->second;
  std::vector<core::Pid> added;
  std::set_difference(listed_.begin(), listed_.end(), baseline->begin(), baseline->end(),
                      std::back_inserter(added));
  for (core::Pid pid : added) {
    if (auto forked = readOnce(pid)) it->second.push_back(*forked);
  }
  return it->second;
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
