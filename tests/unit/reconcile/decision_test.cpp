#include "reconcile/decision.h"

#include <gtest/gtest.h>

namespace reaper::reconcile {
namespace {

using Lookup = Observation::Lookup;
using std::chrono::seconds;

core::TaskInstanceKey key(int tryNumber) { return {"etl", "load", "manual__1", -1, tryNumber}; }

Attempt attempt(int tryNumber, core::Duration age = seconds(120)) {
  Attempt a;
  a.key = key(tryNumber);
  a.age = age;
  return a;
}

Observation found(std::optional<std::string> state, int tryNumber) {
  Observation o;
  o.lookup = Lookup::Found;
  o.state = std::move(state);
  o.tryNumber = tryNumber;
  return o;
}

const core::WallTime kQueued{std::chrono::seconds(1'795'003'200)};

const Policy kPolicy{seconds(30), false};

TEST(Decide, KeepsRunningAttempt) {
  EXPECT_EQ(decide(attempt(1), found("running", 1), false, kPolicy).action, Action::Keep);
}

TEST(Decide, KillsEveryStateButRunning) {
  for (const char* state : {"success", "failed", "up_for_retry", "up_for_reschedule", "deferred",
                            "restarting", "removed", "skipped", "upstream_failed", "scheduled"}) {
    const Decision d = decide(attempt(1), found(state, 1), true, kPolicy);
    EXPECT_EQ(d.action, Action::Kill) << state;
    EXPECT_EQ(d.reason, std::string("state=") + state);
  }
}

// Real Airflow 3.3 (LocalExecutor) starts a retry's task process while the API still says queued:
// with the contract's "queued after startupGrace", a slow flip to running killed the new try.
TEST(Decide, QueuedAtTheAttemptsTryIsTheAttemptStartingAndNeverKilled) {
  for (bool seenRunning : {false, true}) {
    const Decision d = decide(attempt(2, seconds(3600)), found("queued", 2), seenRunning, kPolicy);
    EXPECT_EQ(d.action, Action::Keep);
    EXPECT_EQ(d.reason, "queued: the attempt is starting");
  }
  EXPECT_EQ(decide(attempt(1), found("queued", 2), true, kPolicy).reason, "superseded by try 2");
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
  Observation unknown{.lookup = Lookup::Unknown, .detail = "HTTP 503"};
  const Decision d = decide(attempt(1), unknown, true, kPolicy);
  EXPECT_EQ(d.action, Action::Unknown);
  EXPECT_EQ(d.reason, "state unknown: HTTP 503");
}

TEST(Decide, MissingTaskInstanceFollowsPolicy) {
  Observation missing{.lookup = Lookup::Missing, .detail = "404"};
  EXPECT_EQ(decide(attempt(1), missing, true, kPolicy).action, Action::Keep);
  EXPECT_EQ(decide(attempt(1), missing, true, Policy{seconds(30), true}).action, Action::Kill);
  EXPECT_EQ(decide(attempt(1, seconds(5)), missing, false, Policy{seconds(30), true}).action,
            Action::Keep);
}

TEST(Decide, StartupGraceProtectsYoungAttemptsNeverSeenRunning) {
  EXPECT_EQ(decide(attempt(1, seconds(10)), found("scheduled", 1), false, kPolicy).action,
            Action::Keep);
  EXPECT_EQ(decide(attempt(1, seconds(31)), found("scheduled", 1), false, kPolicy).action,
            Action::Kill);
  EXPECT_EQ(decide(attempt(1, seconds(10)), found("failed", 1), true, kPolicy).action,
            Action::Kill);
}

TEST(Decide, NeverKillsAmbiguousOrUnidentifiedAttempts) {
  Attempt ambiguous = attempt(1);
  ambiguous.ambiguous = true;
  ambiguous.ambiguity = "two task instances";
  EXPECT_EQ(decide(ambiguous, found("failed", 1), true, kPolicy).action, Action::Unknown);
  Attempt anonymous{.key = std::nullopt, .age = seconds(100)};
  EXPECT_EQ(decide(anonymous, found("failed", 1), true, kPolicy).action, Action::Unknown);
}

TEST(Decide, ApiBehindTheProcessIsUnknown) {
  EXPECT_EQ(decide(attempt(3), found("failed", 2), true, kPolicy).action, Action::Unknown);
}

TEST(Decide, UnknownTrySkipsTheSupersededCheck) {
  EXPECT_EQ(decide(attempt(0), found("running", 4), true, kPolicy).action, Action::Keep);
  EXPECT_EQ(decide(attempt(0), found("failed", 4), true, kPolicy).action, Action::Kill);
}

TEST(TryRule, UnknownTryStartedBeforeTheCurrentTryWasQueuedIsSuperseded) {
  Attempt old = attempt(0);
  old.started = kQueued - seconds(60);
  Observation current = found("running", 3);
  current.queuedAt = kQueued;
  const Decision d = decide(old, current, true, kPolicy);
  EXPECT_EQ(d.action, Action::Kill);
  EXPECT_EQ(d.reason, "superseded: started before try 3 was queued");
}

// A node whose clock is behind the scheduler's makes the current try look started before it was
// queued; the pid Airflow recorded for the current try, a member's, tells it is that try.
TEST(TryRule, AnAttemptHoldingThePidAirflowRecordedIsTheCurrentTry) {
  Attempt a = attempt(0);
  a.started = kQueued - seconds(60);
  a.ownPids = {4100, 4242};
  Observation current = found("running", 3);
  current.queuedAt = kQueued;
  current.recordedPid = 4242;
  EXPECT_EQ(decide(a, current, true, kPolicy).action, Action::Keep);
  current.recordedPid = 4343;  // another process runs the current try: this attempt is older
  EXPECT_EQ(decide(a, current, true, kPolicy).reason,
            "superseded: started before try 3 was queued");
}

TEST(TryRule, UnknownTryStartedAfterTheQueueTimeIsTheCurrentTry) {
  Observation current = found("running", 3);
  current.queuedAt = kQueued;
  for (const auto started : {kQueued + seconds(1), kQueued - seconds(4)}) {  // within the skew
    Attempt a = attempt(0);
    a.started = started;
    EXPECT_EQ(decide(a, current, false, kPolicy).action, Action::Keep);
  }
}

TEST(TryRule, NoQueueTimeOrNoStartIsNoEvidence) {
  Attempt a = attempt(0);
  a.started = kQueued - seconds(600);
  EXPECT_EQ(decide(a, found("running", 2), true, kPolicy).action, Action::Keep);
  Observation current = found("running", 2);
  current.queuedAt = kQueued;
  EXPECT_EQ(decide(attempt(0), current, true, kPolicy).action, Action::Keep);
}

Observation mapped(std::vector<Candidate> candidates) {
  Observation o = found(std::nullopt, 0);
  o.candidates = std::move(candidates);
  return o;
}

Attempt unmapped(int tryNumber) {
  Attempt a = attempt(tryNumber);
  a.mapIndexKnown = false;
  return a;
}

TEST(CandidateRule, KeptWhileAnyCandidateMapIndexRuns) {
  const Decision d = decide(
      unmapped(1), mapped({{0, "success", 1}, {1, "running", 1}, {2, "failed", 1}}), true, kPolicy);
  EXPECT_EQ(d.action, Action::Keep);
  EXPECT_EQ(d.reason, "map index unknown; candidate map index 1 running or starting");
}

TEST(CandidateRule, KilledOnceEveryCandidateHasLeftRunning) {
  const Decision d = decide(
      unmapped(1), mapped({{0, "success", 1}, {1, "failed", 1}, {2, "running", 2}}), true, kPolicy);
  EXPECT_EQ(d.action, Action::Kill) << d.reason;
  EXPECT_EQ(d.reason, "map index unknown; every candidate map index (0, 1, 2) has left running");
}

TEST(CandidateRule, AQueuedCandidateAtTheTryIsStarting) {
  const Decision d =
      decide(unmapped(2), mapped({{0, "failed", 2}, {1, "queued", 2}}), true, kPolicy);
  EXPECT_EQ(d.action, Action::Keep);
  EXPECT_EQ(d.reason, "map index unknown; candidate map index 1 running or starting");
}

TEST(CandidateRule, MapIndexesNotYetAtTheTryAreNoCandidates) {
  EXPECT_EQ(
      decide(unmapped(2), mapped({{0, "running", 1}, {1, "failed", 2}}), true, kPolicy).action,
      Action::Kill);
  EXPECT_EQ(decide(unmapped(3), mapped({{0, "running", 1}}), true, kPolicy).action,
            Action::Unknown);
}

TEST(CandidateRule, UnknownTryCountsEveryRunningMapIndex) {
  EXPECT_EQ(
      decide(unmapped(0), mapped({{0, "running", 4}, {1, "failed", 1}}), true, kPolicy).action,
      Action::Keep);
}

TEST(CandidateRule, ProcessThatNamesMapIndexMinusOneOfAMappedTaskIsUnknown) {
  EXPECT_EQ(decide(attempt(1), mapped({{0, "failed", 1}}), true, kPolicy).action, Action::Unknown);
}

TEST(CandidateRule, StartupGraceStillProtectsYoungCarriers) {
  Attempt young = unmapped(1);
  young.age = seconds(3);
  EXPECT_EQ(decide(young, mapped({{0, "scheduled", 1}}), false, kPolicy).action, Action::Keep);
}

const core::ProcessIdentity kTree{100, 1000};

TEST(Reconciler, RemembersRunningSoGraceNoLongerApplies) {
  Reconciler reconciler(kPolicy);
  const Attempt young = attempt(1, seconds(5));
  EXPECT_EQ(reconciler.decide(kTree, young, found("running", 1)).action, Action::Keep);
  EXPECT_EQ(reconciler.decide(kTree, young, found("success", 1)).action, Action::Kill);
}

TEST(Reconciler, ANewRootOfTheSameTaskInstanceKeepsItsOwnStartupGrace) {
  Reconciler reconciler(kPolicy);
  EXPECT_EQ(reconciler.decide(kTree, attempt(0), found("running", 1)).action, Action::Keep);
  const core::ProcessIdentity retry{300, 9000};
  EXPECT_EQ(reconciler.decide(retry, attempt(0, seconds(2)), found("scheduled", 2)).action,
            Action::Keep);
}

TEST(Reconciler, ForgetsTreesThatAreGone) {
  Reconciler reconciler(kPolicy);
  const Attempt young = attempt(1, seconds(5));
  EXPECT_EQ(reconciler.decide(kTree, young, found("running", 1)).action, Action::Keep);
  reconciler.retain({});
  EXPECT_EQ(reconciler.decide(kTree, young, found("scheduled", 1)).action, Action::Keep);
}

}  // namespace
}  // namespace reaper::reconcile
