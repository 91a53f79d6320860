#include "reconcile/decision.h"

#include <gtest/gtest.h>

namespace reaper::reconcile {
namespace {

using Lookup = Observation::Lookup;
using std::chrono::seconds;

core::TaskInstanceKey key(int tryNumber) { return {"etl", "load", "manual__1", -1, tryNumber}; }

Attempt attempt(int tryNumber, core::Duration age = seconds(120)) {
  return Attempt{key(tryNumber), age, false, ""};
}

Observation found(std::optional<std::string> state, int tryNumber) {
  return Observation{Lookup::Found, std::move(state), tryNumber, ""};
}

const Policy kPolicy{seconds(30), false};

TEST(Decide, KeepsRunningAttempt) {
  EXPECT_EQ(decide(attempt(1), found("running", 1), false, kPolicy).action, Action::Keep);
}

TEST(Decide, KillsEveryStateButRunning) {
  for (const char* state :
       {"success", "failed", "up_for_retry", "up_for_reschedule", "deferred", "restarting",
        "removed", "skipped", "upstream_failed", "queued", "scheduled"}) {
    const Decision d = decide(attempt(1), found(state, 1), true, kPolicy);
    EXPECT_EQ(d.action, Action::Kill) << state;
    EXPECT_EQ(d.reason, std::string("state=") + state);
  }
}

TEST(Decide, KillsClearedTaskInstance) {
  const Decision d = decide(attempt(1), found(std::nullopt, 1), true, kPolicy);
  EXPECT_EQ(d.action, Action::Kill);
  EXPECT_EQ(d.reason, "state=none");
}

TEST(Decide, KillsSupersededTryEvenWhileTheNewTryRuns) {
  const Decision d = decide(attempt(2), found("running", 3), true, kPolicy);
  EXPECT_EQ(d.action, Action::Kill);
  EXPECT_EQ(d.reason, "superseded by try 3");
}

TEST(Decide, NeverKillsWhenStateIsUnknown) {
  Observation unknown{Lookup::Unknown, std::nullopt, 0, "HTTP 503"};
  const Decision d = decide(attempt(1), unknown, true, kPolicy);
  EXPECT_EQ(d.action, Action::Unknown);
  EXPECT_EQ(d.reason, "state unknown: HTTP 503");
}

TEST(Decide, MissingTaskInstanceFollowsPolicy) {
  Observation missing{Lookup::Missing, std::nullopt, 0, "404"};
  EXPECT_EQ(decide(attempt(1), missing, true, kPolicy).action, Action::Keep);
  EXPECT_EQ(decide(attempt(1), missing, true, Policy{seconds(30), true}).action, Action::Kill);
  EXPECT_EQ(decide(attempt(1, seconds(5)), missing, false, Policy{seconds(30), true}).action,
            Action::Keep);
}

TEST(Decide, StartupGraceProtectsYoungAttemptsNeverSeenRunning) {
  EXPECT_EQ(decide(attempt(1, seconds(10)), found("queued", 1), false, kPolicy).action,
            Action::Keep);
  EXPECT_EQ(decide(attempt(1, seconds(31)), found("queued", 1), false, kPolicy).action,
            Action::Kill);
  EXPECT_EQ(decide(attempt(1, seconds(10)), found("failed", 1), true, kPolicy).action,
            Action::Kill);
}

TEST(Decide, NeverKillsAmbiguousOrUnidentifiedAttempts) {
  Attempt ambiguous = attempt(1);
  ambiguous.ambiguous = true;
  ambiguous.ambiguity = "two task instances";
  EXPECT_EQ(decide(ambiguous, found("failed", 1), true, kPolicy).action, Action::Unknown);
  Attempt anonymous{std::nullopt, seconds(100), false, ""};
  EXPECT_EQ(decide(anonymous, found("failed", 1), true, kPolicy).action, Action::Unknown);
}

TEST(Decide, ApiBehindTheProcessIsUnknown) {
  EXPECT_EQ(decide(attempt(3), found("failed", 2), true, kPolicy).action, Action::Unknown);
}

TEST(Decide, UnknownTrySkipsTheSupersededCheck) {
  EXPECT_EQ(decide(attempt(0), found("running", 4), true, kPolicy).action, Action::Keep);
  EXPECT_EQ(decide(attempt(0), found("failed", 4), true, kPolicy).action, Action::Kill);
}

TEST(Reconciler, RemembersRunningSoGraceNoLongerApplies) {
  Reconciler reconciler(kPolicy);
  const Attempt young = attempt(1, seconds(5));
  EXPECT_EQ(reconciler.decide(young, found("running", 1)).action, Action::Keep);
  EXPECT_EQ(reconciler.decide(young, found("success", 1)).action, Action::Kill);
}

TEST(Reconciler, ForgetsAttemptsThatAreGone) {
  Reconciler reconciler(kPolicy);
  const Attempt young = attempt(1, seconds(5));
  EXPECT_EQ(reconciler.decide(young, found("running", 1)).action, Action::Keep);
  reconciler.retain({});
  EXPECT_EQ(reconciler.decide(young, found("queued", 1)).action, Action::Keep);
}

}  // namespace
}  // namespace reaper::reconcile
