// Real cgroups under a unique test prefix: cgroup v2 with cgroup.kill, v2 freeze-signal-thaw, and
// the v1 freezer; each with a neighbour cgroup that must survive.
#include "kill/cgroup_killer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "core/clock.h"
#include "os/cgroup_layout.h"
#include "os/kernel_cgroup_fs.h"
#include "os/pidfd_signaller.h"
#include "real_processes.h"
#include "support/test_support.h"

namespace reaper::kill {
namespace {

using testing::eventually;
using ::testing::IsEmpty;
using testing::MarkedTrees;
using testing::processesMarked;
using testing::readFile;
using testing::RealProcess;
using testing::running;
using testing::spawnMarked;
using testing::TestCgroup;

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// The real cgroupfs, as on a v2 kernel older than 5.14 that has no cgroup.kill.
class WithoutCgroupKill final : public os::CgroupFs {
 public:
  explicit WithoutCgroupKill(os::CgroupFs& real) : real_(real) {}
  std::vector<core::Pid> procs(const std::string& dir) override { return real_.procs(dir); }
  core::Status killAll(const std::string& dir) override {
    return core::makeError("no cgroup.kill", ENOTSUP);
  }
  core::Status setFrozen(const std::string& dir, bool frozen) override {
    ++freezes;
    return real_.setFrozen(dir, frozen);
  }
  int freezes = 0;

 private:
  os::CgroupFs& real_;
};

class RealCgroupKillTest : public ::testing::Test {
 protected:
  void SetUp() override { REAPER_REQUIRE_ROOT(); }

  static std::optional<std::string> hierarchy(bool unified) {
    const auto layout = os::detectCgroupLayout("/");
    if (!layout.ok()) return std::nullopt;
    if (unified) return layout->unified ? std::optional(layout->unified->path) : std::nullopt;
    const auto freezer = layout->legacyHierarchy("freezer");
    return freezer ? std::optional(freezer->path) : std::nullopt;
  }

  KillReport killCgroup(os::CgroupFs& cgroups, const std::string& dir) {
    os::PidfdSignaller signaller("/proc");
    KillOptions options;
    options.pollStep = core::Duration{20};
    options.killWait = core::Duration{5000};
    CgroupKiller killer(cgroups, signaller, clock_, options);
    return killer.kill(dir);
  }

  // A hostile tree inside `dir`: an escapee in its own session, a double-forked daemon, and a
  // SIGTERM-ignoring loop that keeps forking. Returns its processes once all of them exist.
  std::vector<RealProcess> startVictims(const std::string& dir) {
    const std::string marker = trees_.newMarker("cgroup-victim");
    const core::Pid root = spawnMarked(
        "setsid sleep 1000 & sh -c 'sleep 1000 &' & "
        "trap '' TERM; while :; do sleep 1000 & sleep 0.05; done",
        marker, dir);
    std::vector<RealProcess> before;
    const bool ready = eventually([&] {
      before = processesMarked(marker);
      const auto inCgroup = cgroups_.procs(dir);
      const auto has = [&](auto pred) { return std::any_of(before.begin(), before.end(), pred); };
      return before.size() >= 6 && inCgroup.size() >= before.size() &&
             has([&](const RealProcess& p) { return p.sid != ::getsid(root); }) &&
             has([&](const RealProcess& p) {
               return p.ppid == ::getpid() && p.identity.pid != root;
             });
    });
    EXPECT_TRUE(ready) << "victim tree never took shape in " << dir;
    return before;
  }

  RealProcess startNeighbour(const std::string& dir) {
    const std::string marker = trees_.newMarker("cgroup-neighbour");
    spawnMarked("exec sleep 1000", marker, dir);
    std::vector<RealProcess> found;
    EXPECT_TRUE(eventually([&] {
      found = processesMarked(marker);
      return found.size() == 1 && cgroups_.procs(dir).size() == 1;
    }));
    return found.empty() ? RealProcess{} : found.front();
  }

  void expectKilled(const std::vector<RealProcess>& victims, const std::string& dir,
                    const KillReport& report) {
    ASSERT_FALSE(victims.empty());
    for (const auto& victim : victims)
      EXPECT_FALSE(running(victim.identity)) << victim.identity.pid;
    EXPECT_THAT(cgroups_.procs(dir), IsEmpty());
    EXPECT_GE(report.signalled, victims.size());
    EXPECT_THAT(report.survivors, IsEmpty());
    EXPECT_FALSE(report.error.has_value()) << report.error->message;
  }

  core::SystemClock clock_;
  os::KernelCgroupFs cgroups_{clock_};
  MarkedTrees trees_;
};

TEST_F(RealCgroupKillTest, V2CgroupKillEmptiesTheContainerCgroupOnly) {
  const auto unified = hierarchy(true);
  REAPER_REQUIRE(unified.has_value(), "no cgroup2 hierarchy mounted");
  TestCgroup test(*unified);
  ASSERT_TRUE(test.created());
  const auto victimDir = test.child("victim");
  const auto neighbourDir = test.child("neighbour");
  REAPER_REQUIRE(exists(victimDir + "/cgroup.kill"), "kernel without cgroup.kill (< 5.14)");
  const auto neighbour = startNeighbour(neighbourDir);
  const auto victims = startVictims(victimDir);

  const auto report = killCgroup(cgroups_, victimDir);

  expectKilled(victims, victimDir, report);
  EXPECT_TRUE(running(neighbour.identity));
  EXPECT_EQ(cgroups_.procs(neighbourDir).size(), 1u);
}

TEST_F(RealCgroupKillTest, V2WithoutCgroupKillFreezesSignalsEachMemberAndThaws) {
  const auto unified = hierarchy(true);
  REAPER_REQUIRE(unified.has_value(), "no cgroup2 hierarchy mounted");
  TestCgroup test(*unified);
  ASSERT_TRUE(test.created());
  const auto victimDir = test.child("victim");
  const auto neighbourDir = test.child("neighbour");
  const auto neighbour = startNeighbour(neighbourDir);
  const auto victims = startVictims(victimDir);
  WithoutCgroupKill cgroups(cgroups_);

  const auto report = killCgroup(cgroups, victimDir);

  expectKilled(victims, victimDir, report);
  EXPECT_EQ(cgroups.freezes, 2);
  EXPECT_NE(readFile(victimDir + "/cgroup.events").find("frozen 0"), std::string::npos);
  EXPECT_TRUE(running(neighbour.identity));
}

TEST_F(RealCgroupKillTest, V1FreezerFreezesSignalsEachMemberAndThaws) {
  const auto freezer = hierarchy(false);
  REAPER_REQUIRE(freezer.has_value(), "no cgroup v1 freezer hierarchy mounted");
  TestCgroup test(*freezer);
  ASSERT_TRUE(test.created());
  const auto victimDir = test.child("victim");
  const auto neighbourDir = test.child("neighbour");
  const auto neighbour = startNeighbour(neighbourDir);
  const auto victims = startVictims(victimDir);

  const auto report = killCgroup(cgroups_, victimDir);

  expectKilled(victims, victimDir, report);
  EXPECT_EQ(readFile(victimDir + "/freezer.state"), "THAWED\n");
  EXPECT_TRUE(running(neighbour.identity));
  EXPECT_EQ(readFile(neighbourDir + "/freezer.state"), "THAWED\n");
}

TEST_F(RealCgroupKillTest, GoneCgroupIsEmptyAndFreezerlessCgroupIsAnError) {
  const auto unified = hierarchy(true);
  REAPER_REQUIRE(unified.has_value(), "no cgroup2 hierarchy mounted");
  TestCgroup test(*unified);
  ASSERT_TRUE(test.created());
  const std::string gone = test.child("gone");
  ASSERT_EQ(::rmdir(gone.c_str()), 0);
  EXPECT_THAT(cgroups_.procs(gone), IsEmpty());
  EXPECT_TRUE(cgroups_.killAll(gone).ok());
  EXPECT_FALSE(cgroups_.setFrozen(gone, true).ok());
}

TEST(CgroupLayoutDetectionTest, FindsThisMachinesHierarchies) {
  const auto layout = os::detectCgroupLayout("/");
  ASSERT_TRUE(layout.ok()) << layout.error().message;
  if (layout->unified) {
    EXPECT_TRUE(exists(layout->unified->path + "/cgroup.procs"));
  }
  for (const auto& mount : layout->legacy) EXPECT_TRUE(exists(mount.path + "/cgroup.procs"));
  EXPECT_TRUE(layout->unified.has_value() || !layout->legacy.empty());
}

}  // namespace
}  // namespace reaper::kill
