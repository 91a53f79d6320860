#include "kill/cgroup_killer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes.h"

namespace reaper::kill {
namespace {

using ::testing::ElementsAre;
using testing::FakeCgroupFs;
using testing::FakeClock;
using testing::FakeProcess;
using testing::FakeSignaller;
using testing::FakeWorld;
using testing::ignoringTerm;
using testing::inCgroup;
using ::testing::IsEmpty;
using testing::stuckInD;

constexpr core::Pid kSelf = 4242;
const std::string kPod = "/cg/kubepods/pod-uid/container-id";
const std::string kNeighbour = "/cg/kubepods/pod-uid/other-container";

class CgroupKillerTest : public ::testing::Test {
 protected:
  KillReport kill() {
    KillOptions opts;
    opts.killWait = core::Duration{2000};
    opts.selfPid = kSelf;
    CgroupKiller killer(cgroups_, signaller_, clock_, opts);
    return killer.kill(kPod);
  }
  core::ProcessIdentity inPod(core::Pid pid, FakeProcess process = {}) {
    process.cgroup = kPod;
    return world_.spawn(pid, pid * 10, process);
  }

  FakeClock clock_;
  FakeWorld world_{clock_};
  FakeSignaller signaller_{world_};
  FakeCgroupFs cgroups_{world_};
};

TEST_F(CgroupKillerTest, UsesCgroupKillWhereTheKernelHasIt) {
  const auto a = inPod(100);
  const auto b = inPod(101, ignoringTerm());
  const auto neighbour = world_.spawn(300, 3000, inCgroup(kNeighbour));

  const auto report = kill();

  EXPECT_THAT(cgroups_.events, ElementsAre("kill"));
  EXPECT_FALSE(world_.alive(a));
  EXPECT_FALSE(world_.alive(b));
  EXPECT_TRUE(world_.alive(neighbour));
  EXPECT_THAT(world_.sent(), IsEmpty());
  EXPECT_EQ(report.signalled, 2u);
  EXPECT_EQ(report.killed, 2u);
  EXPECT_FALSE(report.error.has_value());
}

TEST_F(CgroupKillerTest, WithoutCgroupKillFreezesSignalsEachMemberThenThaws) {
  cgroups_.killError = ENOTSUP;
  const auto a = inPod(100);
  const auto b = inPod(101);
  const auto neighbour = world_.spawn(300, 3000, inCgroup(kNeighbour));
  std::vector<bool> frozenAtSignal;
  signaller_.onSignal = [&](const core::ProcessIdentity&, int) {
    frozenAtSignal.push_back(cgroups_.frozen());
  };

  const auto report = kill();

  EXPECT_THAT(cgroups_.events, ElementsAre("kill", "freeze", "thaw"));
  EXPECT_THAT(frozenAtSignal, ElementsAre(true, true));
  EXPECT_THAT(world_.signalsTo(a), ElementsAre(SIGKILL));
  EXPECT_THAT(world_.signalsTo(b), ElementsAre(SIGKILL));
  EXPECT_THAT(world_.signalsTo(neighbour), IsEmpty());
  EXPECT_FALSE(cgroups_.frozen());
  EXPECT_EQ(report.signalled, 2u);
  EXPECT_THAT(report.survivors, IsEmpty());
}

TEST_F(CgroupKillerTest, ThawsEvenWhenFreezingFails) {
  cgroups_.killError = ENOTSUP;
  cgroups_.failFreeze = true;
  const auto a = inPod(100);

  const auto report = kill();

  EXPECT_THAT(cgroups_.events, ElementsAre("kill", "freeze", "thaw"));
  EXPECT_FALSE(world_.alive(a));
  EXPECT_THAT(report.survivors, IsEmpty());
}

TEST_F(CgroupKillerTest, PidJoiningBetweenTwoReadsIsKilled) {
  cgroups_.killError = ENOTSUP;
  cgroups_.failFreeze = true;  // unfrozen, members can still fork
  inPod(100);
  core::ProcessIdentity newcomer{};
  cgroups_.beforeRead = [&](int read) {
    if (read == 3) newcomer = inPod(101);
  };

  const auto report = kill();

  EXPECT_THAT(world_.signalsTo(newcomer), ElementsAre(SIGKILL));
  EXPECT_FALSE(world_.alive(newcomer));
  EXPECT_EQ(report.signalled, 2u);
}

TEST_F(CgroupKillerTest, PidRecycledOutsideTheCgroupBetweenReadAndOpenIsNotSignalled) {
  cgroups_.killError = ENOTSUP;
  inPod(100);
  core::ProcessIdentity stranger{};
  // pid 100 exits after cgroup.procs listed it and a process elsewhere gets the pid before the
  // open.
  signaller_.onOpenCurrent = [&](core::Pid pid) {
    if (pid == 100 && stranger.pid == 0) stranger = world_.spawn(100, 7777, inCgroup(kNeighbour));
  };

  const auto report = kill();

  EXPECT_THAT(world_.signalsTo(stranger), IsEmpty());
  EXPECT_TRUE(world_.alive(stranger));
  EXPECT_EQ(report.signalled, 0u);
}

TEST_F(CgroupKillerTest, RefusesACgroupHoldingInitOrTheAgent) {
  for (const core::Pid forbidden : {1, kSelf}) {
    FakeClock clock;
    FakeWorld world{clock};
    FakeSignaller signaller{world};
    FakeCgroupFs cgroups{world};
    const auto member = world.spawn(100, 1000, inCgroup(kPod));
    world.spawn(forbidden, 1, inCgroup(kPod));
    KillOptions opts;
    opts.selfPid = kSelf;
    CgroupKiller killer(cgroups, signaller, clock, opts);

    const auto report = killer.kill(kPod);

    EXPECT_TRUE(report.error.has_value()) << forbidden;
    EXPECT_THAT(cgroups.events, IsEmpty()) << forbidden;
    EXPECT_TRUE(world.alive(member)) << forbidden;
    EXPECT_THAT(world.sent(), IsEmpty()) << forbidden;
  }
}

TEST_F(CgroupKillerTest, UninterruptibleSurvivorIsReported) {
  cgroups_.killError = ENOTSUP;
  const auto stuck = inPod(100, stuckInD());
  inPod(101);

  const auto report = kill();

  EXPECT_THAT(report.survivors, ElementsAre(stuck));
  EXPECT_EQ(report.killed, 1u);
  EXPECT_LE(clock_.elapsed(), core::Duration{2000 + 50});
}

TEST_F(CgroupKillerTest, OtherCgroupKillErrorsAreReportedWithoutFallback) {
  cgroups_.killError = EACCES;
  const auto a = inPod(100);

  const auto report = kill();

  ASSERT_TRUE(report.error.has_value());
  EXPECT_EQ(report.error->code, EACCES);
  EXPECT_THAT(cgroups_.events, ElementsAre("kill"));
  EXPECT_THAT(world_.sent(), IsEmpty());
  EXPECT_THAT(report.survivors, ElementsAre(a));
  EXPECT_EQ(clock_.elapsed(),
            core::Duration{0});  // no pointless wait for a cgroup nobody signalled
}

}  // namespace
}  // namespace reaper::kill
