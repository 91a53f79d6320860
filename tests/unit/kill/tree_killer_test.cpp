#include "kill/tree_killer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "fakes.h"

namespace reaper::kill {
namespace {

using ::testing::ElementsAre;
using testing::FakeClock;
using testing::FakeSignaller;
using testing::FakeWorld;
using testing::ignoringTerm;
using ::testing::IsEmpty;
using testing::stuckInD;
using ::testing::UnorderedElementsAre;

constexpr core::Pid kSelf = 4242;

class TreeKillTest : public ::testing::Test {
 protected:
  KillOptions options() const {
    KillOptions opts;
    opts.gracePeriod = core::Duration{10000};
    opts.pollStep = core::Duration{50};
    opts.killWait = core::Duration{2000};
    opts.maxTargets = 100;
    opts.selfPid = kSelf;
    return opts;
  }
  // Steps a kill of `members` to its end as the kill worker would; `forked` says, before each
  // step, which processes appeared since the decision.
  KillReport kill(const std::vector<core::ProcessIdentity>& members,
                  const std::function<std::vector<ForkedProcess>()>& forked = {}) {
    TreeKill job("etl/load/r1/-1/1", members, signaller_, clock_, options());
    while (!job.step(forked ? forked() : std::vector<ForkedProcess>{}))
      clock_.sleepFor(options().pollStep);
    return job.report();
  }

  FakeClock clock_;
  FakeWorld world_{clock_};
  FakeSignaller signaller_{world_};
};

TEST_F(TreeKillTest, TermAndContEveryMemberAndStopsWhenAllExit) {
  const auto root = world_.spawn(100, 1000);
  const auto child = world_.spawn(101, 1001);
  const auto escapee = world_.spawn(200, 1500);

  const auto report = kill({root, child, escapee});

  for (const auto& member : {root, child, escapee}) {
    EXPECT_THAT(world_.signalsTo(member), ElementsAre(SIGTERM, SIGCONT));
    EXPECT_FALSE(world_.alive(member));
  }
  EXPECT_EQ(report.signalled, 3u);
  EXPECT_EQ(report.killed, 3u);
  EXPECT_FALSE(report.escalated);
  EXPECT_THAT(report.survivors, IsEmpty());
  EXPECT_LT(clock_.elapsed(), core::Duration{10000});
}

TEST_F(TreeKillTest, MemberIgnoringTermGetsKillOnlyAfterGrace) {
  const auto polite = world_.spawn(100, 1000);
  const auto stubborn = world_.spawn(101, 1001, ignoringTerm());

  const auto report = kill({polite, stubborn});

  EXPECT_THAT(world_.signalsTo(polite), ElementsAre(SIGTERM, SIGCONT));
  EXPECT_THAT(world_.signalsTo(stubborn), ElementsAre(SIGTERM, SIGCONT, SIGSTOP, SIGKILL));
  EXPECT_GE(world_.sent().back().at, core::Duration{10000});
  EXPECT_FALSE(world_.alive(stubborn));
  EXPECT_TRUE(report.escalated);
  EXPECT_EQ(report.killed, 2u);
  EXPECT_THAT(report.survivors, IsEmpty());
}

TEST_F(TreeKillTest, ChildForkedByATargetWhileDyingIsAdopted) {
  const auto parent = world_.spawn(100, 1000, ignoringTerm());
  core::ProcessIdentity child{};
  const auto report = kill({parent}, [&]() -> std::vector<ForkedProcess> {
    if (child.pid == 0) child = world_.spawn(101, 1100, ignoringTerm());
    return {{child, parent.pid}};
  });

  EXPECT_THAT(world_.signalsTo(child), ElementsAre(SIGTERM, SIGCONT, SIGSTOP, SIGKILL));
  EXPECT_FALSE(world_.alive(child));
  EXPECT_EQ(report.signalled, 2u);
}

TEST_F(TreeKillTest, GrandchildrenFollowTheirParentsInOneStep) {
  const auto root = world_.spawn(100, 1000, ignoringTerm());
  const auto child = world_.spawn(101, 1100, ignoringTerm());
  const auto grandchild = world_.spawn(102, 1200, ignoringTerm());
  // Listed grandchild first: adoption repeats until a pass finds nobody new.
  const std::vector<ForkedProcess> forked = {{grandchild, 101}, {child, 100}};
  TreeKill job("t", {root}, signaller_, clock_, options());
  job.step(forked);
  EXPECT_THAT(world_.signalsTo(grandchild), ElementsAre(SIGTERM, SIGCONT));
  EXPECT_THAT(world_.signalsTo(child), ElementsAre(SIGTERM, SIGCONT));
}

TEST_F(TreeKillTest, ProcessThatNoTargetForkedIsNeverSignalled) {
  // A new try's root started by the Celery pool (pid 50) while the old try dies: same task, same
  // key, but its parent is not a target.
  const auto oldRoot = world_.spawn(100, 1000, ignoringTerm());
  const auto newRoot = world_.spawn(300, 5000, ignoringTerm());
  const auto report = kill({oldRoot}, [&]() -> std::vector<ForkedProcess> {
    return {{newRoot, 50}};
  });

  EXPECT_THAT(world_.signalsTo(newRoot), IsEmpty());
  EXPECT_TRUE(world_.alive(newRoot));
  EXPECT_EQ(report.signalled, 1u);
}

TEST_F(TreeKillTest, NewcomerOlderThanTheTargetWithItsPidIsNotAdopted) {
  const auto target = world_.spawn(100, 1000, ignoringTerm());
  // Its parent pid names the target, but it started before the target: that pid was someone else.
  const auto stranger = world_.spawn(400, 900, ignoringTerm());
  kill({target}, [&]() -> std::vector<ForkedProcess> { return {{stranger, 100}}; });
  EXPECT_THAT(world_.signalsTo(stranger), IsEmpty());
}

TEST_F(TreeKillTest, NewcomerOfATargetThatExitedIsNotAdopted) {
  // The target exited, its pid was reused, and the reuser forked: the child names that pid.
  const auto polite = world_.spawn(100, 1000);
  const auto stubborn = world_.spawn(101, 1001, ignoringTerm());
  core::ProcessIdentity stranger{};
  kill({polite, stubborn}, [&]() -> std::vector<ForkedProcess> {
    if (world_.alive(polite)) return {};
    if (stranger.pid == 0) stranger = world_.spawn(500, 9000, ignoringTerm());
    return {{stranger, 100}};
  });
  EXPECT_THAT(world_.signalsTo(stranger), IsEmpty());
  EXPECT_TRUE(world_.alive(stranger));
}

TEST_F(TreeKillTest, NewcomerAfterGraceGetsKillStraightAway) {
  const auto stuck = world_.spawn(100, 1000, stuckInD());  // lives on to be a parent
  core::ProcessIdentity late{};
  const auto report = kill({stuck}, [&]() -> std::vector<ForkedProcess> {
    if (clock_.elapsed() <= core::Duration{10000}) return {};
    if (late.pid == 0) late = world_.spawn(150, 2000, ignoringTerm());
    return {{late, 100}};
  });
  // Forked before its parent was stopped: stopped in turn, then killed with the rest.
  EXPECT_THAT(world_.signalsTo(late), ElementsAre(SIGSTOP, SIGKILL));
  EXPECT_FALSE(world_.alive(late));
  EXPECT_EQ(report.signalled, 2u);
}

TEST_F(TreeKillTest, KillWaitsUntilAStepAfterTheStopFindsNobodyNew) {
  const auto forker = world_.spawn(100, 1000, ignoringTerm());
  core::ProcessIdentity last{};
  const auto report = kill({forker}, [&]() -> std::vector<ForkedProcess> {
    // Forked just before the stop landed: seen only at the step after it.
    if (clock_.elapsed() != core::Duration{10050}) return {};
    last = world_.spawn(101, 1500, ignoringTerm());
    return {{last, 100}};
  });
  EXPECT_THAT(world_.signalsTo(forker), ElementsAre(SIGTERM, SIGCONT, SIGSTOP, SIGKILL));
  EXPECT_THAT(world_.signalsTo(last), ElementsAre(SIGSTOP, SIGKILL));
  EXPECT_EQ(world_.sent().back().at, core::Duration{10100});
  EXPECT_EQ(report.signalled, 2u);
}

TEST_F(TreeKillTest, PidReusedByAnotherProcessIsNeverSignalled) {
  const auto member = world_.spawn(100, 1000);
  // The scan saw pid 200 started at tick 2000; that process died and pid 200 now runs something
  // else.
  const core::ProcessIdentity stale{200, 2000};
  const auto stranger = world_.spawn(200, 2500, ignoringTerm());

  const auto report = kill({member, stale});

  EXPECT_THAT(world_.signalsTo(stranger), IsEmpty());
  EXPECT_TRUE(world_.alive(stranger));
  EXPECT_EQ(report.signalled, 1u);
  EXPECT_FALSE(report.escalated);
}

TEST_F(TreeKillTest, UninterruptibleSurvivorIsReportedNotRetriedForever) {
  const auto stuck = world_.spawn(100, 1000, stuckInD());
  const auto fine = world_.spawn(101, 1001);

  const auto report = kill({stuck, fine});

  EXPECT_THAT(report.survivors, ElementsAre(stuck));
  EXPECT_EQ(report.killed, 1u);
  EXPECT_TRUE(report.escalated);
  EXPECT_THAT(world_.signalsTo(stuck), ElementsAre(SIGTERM, SIGCONT, SIGSTOP, SIGKILL));
  EXPECT_LE(clock_.elapsed(), core::Duration{10000 + 50 + 2000 + 50});
}

TEST_F(TreeKillTest, NeverSignalsInitOrItself) {
  const auto init = world_.spawn(1, 1);
  const auto self = world_.spawn(kSelf, 5000);
  const auto member = world_.spawn(100, 1000);

  const auto report = kill({init, {0, 0}, self, member});

  EXPECT_THAT(world_.signalsTo(init), IsEmpty());
  EXPECT_THAT(world_.signalsTo(self), IsEmpty());
  EXPECT_TRUE(world_.alive(init));
  EXPECT_TRUE(world_.alive(self));
  EXPECT_EQ(report.signalled, 1u);
  ASSERT_TRUE(report.error) << "a decided member left alive fails the kill";
}

// Not opened for another reason than being gone (no descriptor left, another PID namespace): the
// member may live on, and the kill says so.
TEST_F(TreeKillTest, AMemberThatCannotBeOpenedFailsTheKill) {
  const auto refused = world_.spawn(100, 1000);
  const auto member = world_.spawn(101, 1000);
  signaller_.refused = {refused.pid};

  const auto report = kill({refused, member});

  EXPECT_THAT(world_.signalsTo(refused), IsEmpty());
  EXPECT_FALSE(world_.alive(member));
  EXPECT_EQ(report.signalled, 1u);
  ASSERT_TRUE(report.error);
  EXPECT_EQ(report.error->message, "pid 100 not signalled: not opened: refused here");
}

TEST_F(TreeKillTest, MemberGoneBeforeTheSignalLandsCountsAsKilled) {
  const auto member = world_.spawn(100, 1000);
  // It exits between open and signal: the signal meets ESRCH, which is success.
  signaller_.onSignal = [&](const core::ProcessIdentity& id, int) {
    world_.find(id)->alive = false;
  };

  const auto report = kill({member});

  EXPECT_EQ(report.killed, 1u);
  EXPECT_FALSE(report.escalated);
  EXPECT_THAT(report.survivors, IsEmpty());
}

TEST_F(TreeKillTest, EndlessForkingIsBoundedByMaxTargets) {
  const auto root = world_.spawn(1000, 1000, ignoringTerm());
  core::Pid next = 1001;
  std::vector<ForkedProcess> all;
  const auto report = kill({root}, [&] {
    all.push_back({world_.spawn(next, next, ignoringTerm()), next - 1});
    ++next;
    return all;
  });

  EXPECT_EQ(report.signalled, options().maxTargets);
  EXPECT_THAT(report.survivors, IsEmpty());
}

TEST_F(TreeKillTest, EmptyTreeSignalsNothing) {
  const auto report = kill({});
  EXPECT_EQ(report.signalled, 0u);
  EXPECT_FALSE(report.escalated);
  EXPECT_THAT(world_.sent(), IsEmpty());
}

}  // namespace
}  // namespace reaper::kill
