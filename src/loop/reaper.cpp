#include "loop/reaper.h"

namespace reaper::loop {

kill::KillReport KillingReaper::reap(const Target& target) {
  if (!target.cgroupDirs.empty()) return reapCgroups(target);
  return trees_.kill([&] { return source_.currentMembers(target); });
}

kill::KillReport KillingReaper::reapCgroups(const Target& target) {
  if (cgroups_ == nullptr) {
    kill::KillReport refused;
    refused.error = core::makeError("no cgroup killer configured for " + target.label());
    return refused;
  }
  kill::KillReport total;
  for (const auto& dir : target.cgroupDirs) {
    kill::KillReport part = cgroups_->kill(dir);
    total.signalled += part.signalled;
    total.killed += part.killed;
    total.escalated = total.escalated || part.escalated;
    total.took += part.took;
    total.survivors.insert(total.survivors.end(), part.survivors.begin(), part.survivors.end());
    if (part.error && !total.error) total.error = part.error;
  }
  return total;
}

}  // namespace reaper::loop
