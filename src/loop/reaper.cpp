#include "loop/reaper.h"

namespace reaper::loop {
namespace {

// A job that refuses: nothing is signalled.
class RefusedKill final : public kill::KillJob {
 public:
  explicit RefusedKill(std::string why) { report_.error = core::makeError(std::move(why)); }
  bool step(const std::vector<kill::ForkedProcess>&) override { return true; }
  kill::KillReport report() const override { return report_; }

 private:
  kill::KillReport report_;
};

}  // namespace

std::unique_ptr<kill::KillJob> KillingReaper::start(const Target& target) {
  if (!target.cgroupDirs.empty()) {
    if (cgroups_ == nullptr)
      return std::make_unique<RefusedKill>("no cgroup killer configured for " + target.label());
    return std::make_unique<kill::CgroupKill>(*cgroups_, target.cgroupDirs);
  }
  std::vector<core::ProcessIdentity> members;
  for (const auto& member : target.tree.members) {
    if (!member.dead) members.push_back(member.id);
  }
  return std::make_unique<kill::TreeKill>(target.label(), std::move(members), signaller_, clock_,
                                          options_);
}

}  // namespace reaper::loop
