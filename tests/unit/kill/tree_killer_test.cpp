#include "kill/tree_killer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes.h"

namespace reaper::kill {
namespace {

using ::testing::ElementsAre;
using testing::FakeClock;
using testing::FakeProcess;
using testing::FakeSignaller;
using testing::FakeWorld;
using testing::ignoringTerm;
using testing::inCgroup;
using ::testing::IsEmpty;
using testing::stuckInD;
using ::testing::UnorderedElementsAre;

constexpr core::Pid kSelf = 4242;

class TreeKillerTest : public ::testing::Test {
 protected:
  KillOptions options() const {
    KillOptions opts;
    opts.gracePeriod = core::Duration{10000};
    opts.pollStep = core::Duration{50};
    opts.killWait = core::Duration{2000};
    opts.selfPid = kSelf;
    return opts;
  }
  KillReport killAll(const std::vector<core::ProcessIdentity>& members) {
    TreeKiller killer(signaller_, clock_, options());
    return killer.kill([&] { return liveOnly(members); });
  }
  // A membership scan lists only processes still there.
  std::vector<core::ProcessIdentity> liveOnly(const std::vector<core::ProcessIdentity>& members) {
    std::vector<core::ProcessIdentity> live;
    for (const auto& member : members) {
      if (world_.alive(member)) live.push_back(member);
    }
    return live;
  }

  FakeClock clock_;
  FakeWorld world_{clock_};
  FakeSignaller signaller_{world_};
};

TEST_F(TreeKillerTest, TermAndContEveryMemberAndStopsWhenAllExit) {
  const auto root = world_.spawn(100, 1000);
  const auto child = world_.spawn(101, 1001);
  const auto escapee = world_.spawn(200, 1500);

  const auto report = killAll({root, child, escapee});

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

TEST_F(TreeKillerTest, MemberIgnoringTermGetsKillOnlyAfterGrace) {
  const auto polite = world_.spawn(100, 1000);
  const auto stubborn = world_.spawn(101, 1001, ignoringTerm());

  const auto report = killAll({polite, stubborn});

  EXPECT_THAT(world_.signalsTo(polite), ElementsAre(SIGTERM, SIGCONT));
  EXPECT_THAT(world_.signalsTo(stubborn), ElementsAre(SIGTERM, SIGCONT, SIGKILL));
  EXPECT_GE(world_.sent().back().at, core::Duration{10000});
  EXPECT_FALSE(world_.alive(stubborn));
  EXPECT_TRUE(report.escalated);
  EXPECT_EQ(report.killed, 2u);
  EXPECT_THAT(report.survivors, IsEmpty());
}

TEST_F(TreeKillerTest, MemberForkedBetweenTwoReadsIsSignalled) {
  const auto parent = world_.spawn(100, 1000, ignoringTerm());
  core::ProcessIdentity forked{};
  int reads = 0;
  TreeKiller killer(signaller_, clock_, options());
  const auto report = killer.kill([&] {
    // The parent forks right after the first read, before it has handled SIGTERM.
    if (++reads == 2) forked = world_.spawn(101, 1100, ignoringTerm());
    return liveOnly({parent, forked});
  });

  EXPECT_THAT(world_.signalsTo(forked), ElementsAre(SIGTERM, SIGCONT, SIGKILL));
  EXPECT_FALSE(world_.alive(forked));
  EXPECT_EQ(report.signalled, 2u);
}

TEST_F(TreeKillerTest, MemberThatLeavesTheListingStaysATarget) {
  const auto daemon = world_.spawn(300, 3000, ignoringTerm());
  int reads = 0;
  TreeKiller killer(signaller_, clock_, options());
  // Seen once (e.g. before it cleared its environment), never again: still killed after the grace.
  const auto report = killer.kill([&]() -> std::vector<core::ProcessIdentity> {
    if (++reads == 1) return {daemon};
    return {};
  });

  EXPECT_THAT(world_.signalsTo(daemon), ElementsAre(SIGTERM, SIGCONT, SIGKILL));
  EXPECT_FALSE(world_.alive(daemon));
  EXPECT_THAT(report.survivors, IsEmpty());
}

TEST_F(TreeKillerTest, NewcomerAfterGraceGetsKillStraightAway) {
  const auto stubborn = world_.spawn(100, 1000, ignoringTerm());
  core::ProcessIdentity late{};
  TreeKiller killer(signaller_, clock_, options());
  const auto report = killer.kill([&] {
    if (clock_.elapsed() >= core::Duration{10000} && late.pid == 0) {
      late = world_.spawn(150, 2000, ignoringTerm());
    }
    return liveOnly({stubborn, late});
  });

  EXPECT_THAT(world_.signalsTo(late), ElementsAre(SIGKILL));
  EXPECT_FALSE(world_.alive(late));
  EXPECT_EQ(report.signalled, 2u);
}

TEST_F(TreeKillerTest, PidReusedByAnotherProcessIsNeverSignalled) {
  const auto member = world_.spawn(100, 1000);
  // The scan saw pid 200 started at tick 2000; that process died and pid 200 now runs something
  // else.
  const core::ProcessIdentity stale{200, 2000};
  const auto stranger = world_.spawn(200, 2500, ignoringTerm());

  TreeKiller killer(signaller_, clock_, options());
  const auto report = killer.kill([&] { return std::vector{member, stale}; });

  EXPECT_THAT(world_.signalsTo(stranger), IsEmpty());
  EXPECT_TRUE(world_.alive(stranger));
  EXPECT_EQ(report.signalled, 1u);
  EXPECT_FALSE(report.escalated);
}

TEST_F(TreeKillerTest, PidReusedDuringTheKillIsNotHit) {
  const auto stubborn = world_.spawn(100, 1000, ignoringTerm());
  const auto polite = world_.spawn(101, 1001);
  core::ProcessIdentity stranger{};
  TreeKiller killer(signaller_, clock_, options());
  killer.kill([&] {
    // After `polite` died its pid went to a non-member that ignores SIGTERM.
    if (!world_.alive(polite) && stranger.pid == 0) {
      stranger = world_.spawn(101, 9000, ignoringTerm());
    }
    return liveOnly({stubborn, polite});
  });

  EXPECT_THAT(world_.signalsTo(stranger), IsEmpty());
  EXPECT_TRUE(world_.alive(stranger));
  EXPECT_FALSE(world_.alive(stubborn));
}

TEST_F(TreeKillerTest, UninterruptibleSurvivorIsReportedNotRetriedForever) {
  const auto stuck = world_.spawn(100, 1000, stuckInD());
  const auto fine = world_.spawn(101, 1001);

  const auto report = killAll({stuck, fine});

  EXPECT_THAT(report.survivors, ElementsAre(stuck));
  EXPECT_EQ(report.killed, 1u);
  EXPECT_TRUE(report.escalated);
  EXPECT_THAT(world_.signalsTo(stuck), ElementsAre(SIGTERM, SIGCONT, SIGKILL));
  EXPECT_LE(clock_.elapsed(), core::Duration{10000 + 2000 + 50});
}

TEST_F(TreeKillerTest, NeverSignalsInitOrItself) {
  const auto init = world_.spawn(1, 1);
  const auto self = world_.spawn(kSelf, 5000);
  const auto member = world_.spawn(100, 1000);

  const auto report = killAll({init, {0, 0}, self, member});

  EXPECT_THAT(world_.signalsTo(init), IsEmpty());
  EXPECT_THAT(world_.signalsTo(self), IsEmpty());
  EXPECT_TRUE(world_.alive(init));
  EXPECT_TRUE(world_.alive(self));
  EXPECT_EQ(report.signalled, 1u);
}

TEST_F(TreeKillerTest, MemberGoneBeforeTheSignalLandsCountsAsKilled) {
  const auto member = world_.spawn(100, 1000);
  // It exits between open and signal: the signal meets ESRCH, which is success.
  signaller_.onSignal = [&](const core::ProcessIdentity& id, int) {
    world_.find(id)->alive = false;
  };

  const auto report = killAll({member});

  EXPECT_EQ(report.killed, 1u);
  EXPECT_FALSE(report.escalated);
  EXPECT_THAT(report.survivors, IsEmpty());
}

TEST_F(TreeKillerTest, EndlessForkingIsBoundedByMembershipRounds) {
  core::Pid next = 1000;
  std::vector<core::ProcessIdentity> all;
  TreeKiller killer(signaller_, clock_, options());
  const auto report = killer.kill([&] {
    all.push_back(world_.spawn(next, next));
    ++next;
    return all;
  });

  // 50 TERM rounds, then 50 KILL rounds; the survivor-free end shows the killer stopped on its own.
  EXPECT_EQ(report.signalled, 100u);
  EXPECT_THAT(report.survivors, IsEmpty());
}

TEST_F(TreeKillerTest, EmptyTreeSignalsNothing) {
  const auto report = killAll({});
  EXPECT_EQ(report.signalled, 0u);
  EXPECT_FALSE(report.escalated);
  EXPECT_THAT(world_.sent(), IsEmpty());
}

}  // namespace
}  // namespace reaper::kill
