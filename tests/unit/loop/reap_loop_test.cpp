#include "loop/reap_loop.h"

#include <gtest/gtest.h>

#include "fakes.h"

namespace reaper::loop {
namespace {

using reaper::test::FakeAirflow;
using reaper::test::FakeReaper;
using reaper::test::FakeTargets;
using reaper::test::tiKey;
using reaper::test::treeTarget;

class Recorder final : public ReapObserver {
 public:
  std::vector<ReapResult> results;
  size_t snapshots = 0;
  void observed(const std::vector<Assessment>&) override { ++snapshots; }
  void reaped(const ReapResult& result) override { results.push_back(result); }
};

class ReapLoopTest : public ::testing::Test {
 protected:
  ReapLoop& loop(bool dryRun = false) {
    LoopOptions options;
    options.dryRun = dryRun;
    loop_ = std::make_unique<ReapLoop>(targets_, airflow_, reaper_, killer_, clock_, metrics_,
                                       health_, options);
    loop_->addObserver(recorder_);
    return *loop_;
  }

  FakeTargets targets_;
  FakeAirflow airflow_;
  FakeReaper reaper_;
  reaper::test::FakeClock clock_;
  report::Metrics metrics_;
  report::Health health_;
  Recorder recorder_;
  reaper::test::FakeProcFs procfs_;
  kill::KillWorker killer_{procfs_, clock_, core::Duration{50}};
  std::unique_ptr<ReapLoop> loop_;
};

TEST_F(ReapLoopTest, ReapsOnlyAttemptsThatAreNoLongerRunning) {
  targets_.targets = {treeTarget(tiKey("extract"), {10, 11}), treeTarget(tiKey("load"), {20})};
  airflow_.set(tiKey("extract"), "failed");
  airflow_.set(tiKey("load"), "running");
  auto& l = loop();
  l.pollOnce();
  l.drain();
  EXPECT_EQ(reaper_.reaped, std::vector<std::string>{tiKey("extract").toString()});
  ASSERT_EQ(recorder_.results.size(), 1u);
  EXPECT_EQ(recorder_.results[0].outcome, core::ReapOutcome::Killed);
  EXPECT_EQ(recorder_.results[0].state, "failed");
  EXPECT_NE(metrics_.render().find("airflow_reaper_reaps_total{outcome=\"killed\"} 1"),
            std::string::npos);
}

TEST_F(ReapLoopTest, AsksOnceForAllTreesOfOneTaskInstance) {
  // An old try's orphans and the current try are two trees of one TaskInstance.
  targets_.targets = {treeTarget(tiKey("extract", 1), {10}), treeTarget(tiKey("extract", 2), {20})};
  airflow_.set(tiKey("extract"), "running", 2);
  auto& l = loop();
  l.pollOnce();
  l.drain();
  EXPECT_EQ(airflow_.fetches, 1);
  EXPECT_EQ(reaper_.reaped, std::vector<std::string>{tiKey("extract", 1).toString()});
}

TEST_F(ReapLoopTest, UnknownStateNeverReaps) {
  targets_.targets = {treeTarget(tiKey("extract"), {10})};  // the fake answers Unknown
  auto& l = loop();
  const auto assessments = l.assess();
  l.pollOnce();
  l.drain();
  ASSERT_EQ(assessments.size(), 1u);
  EXPECT_EQ(assessments[0].decision.action, reconcile::Action::Unknown);
  EXPECT_TRUE(reaper_.reaped.empty());
}

TEST_F(ReapLoopTest, DryRunReportsOnceAndNeverReaps) {
  targets_.targets = {treeTarget(tiKey("extract"), {10})};
  airflow_.set(tiKey("extract"), "failed");
  auto& l = loop(true);
  l.pollOnce();
  l.pollOnce();
  l.drain();
  EXPECT_TRUE(reaper_.reaped.empty());
  ASSERT_EQ(recorder_.results.size(), 1u);
  EXPECT_EQ(recorder_.results[0].outcome, core::ReapOutcome::DryRun);
}

TEST_F(ReapLoopTest, SurvivorsAreReportedAndNotRetriedUnlessOthersAppear) {
  targets_.targets = {treeTarget(tiKey("extract"), {10})};
  airflow_.set(tiKey("extract"), "failed");
  reaper_.survivors = {targets_.targets[0].tree.members[0].id};
  auto& l = loop();
  l.pollOnce();
  l.drain();
  l.pollOnce();
  l.drain();
  EXPECT_EQ(reaper_.count(), 1u);
  ASSERT_EQ(recorder_.results.size(), 1u);
  EXPECT_EQ(recorder_.results[0].outcome, core::ReapOutcome::Failed);
  targets_.targets = {treeTarget(tiKey("extract"), {10, 12})};  // a newcomer beside the survivor
  l.pollOnce();
  l.drain();
  ASSERT_EQ(reaper_.count(), 2u);
  EXPECT_EQ(reaper_.members[1], (std::vector<core::ProcessIdentity>{{12, 112}}))
      << "the survivor is not signalled again";
}

// The kill follows what its members fork: a tree with a member it holds (its root dead, a member
// found again as an orphan's tree with a newcomer) waits for it, and is reaped once it is over.
TEST_F(ReapLoopTest, ATreeWithAMemberAKillInFlightHoldsWaitsForThatKill) {
  targets_.targets = {treeTarget(tiKey("extract"), {10, 11})};
  airflow_.set(tiKey("extract"), "failed");
  reaper_.hold = true;
  auto& l = loop();
  l.pollOnce();
  Target orphan = treeTarget(tiKey("extract"), {11, 12});
  orphan.tree.origin = proc::Origin::Environment;
  targets_.targets = {orphan};
  l.pollOnce();
  EXPECT_EQ(reaper_.count(), 1u) << "member 11 is held by the kill in flight";
  reaper_.hold = false;
  reaper_.release();
  l.drain();
  l.pollOnce();
  l.drain();
  EXPECT_EQ(reaper_.count(), 2u);
}

// Its root gone, a survivor is found again as a tree of its own (carried by its environment): it
// is the same process, already signalled, and is not killed again.
TEST_F(ReapLoopTest, ASurvivorFoundAgainInAnotherTreeIsNotRetried) {
  targets_.targets = {treeTarget(tiKey("extract"), {10, 11})};
  airflow_.set(tiKey("extract"), "failed");
  reaper_.survivors = {targets_.targets[0].tree.members[1].id};
  auto& l = loop();
  l.pollOnce();
  l.drain();
  targets_.targets = {treeTarget(tiKey("extract"), {11})};
  l.pollOnce();
  l.drain();
  EXPECT_EQ(reaper_.count(), 1u);
  EXPECT_EQ(recorder_.results.size(), 1u);
}

TEST_F(ReapLoopTest, ResolvesEachUuidOnceAndThenDecidesByKey) {
  Target anonymous = treeTarget(tiKey("extract"), {10});
  anonymous.tree.key.reset();
  anonymous.tree.tiUuid = "0196-uuid";
  targets_.targets = {anonymous};
  airflow_.uuids["0196-uuid"] = tiKey("extract", 1);
  airflow_.set(tiKey("extract"), "running");
  auto& l = loop();
  l.pollOnce();
  airflow_.set(tiKey("extract"), "failed");
  l.pollOnce();
  l.drain();
  EXPECT_EQ(airflow_.resolves, 1);
  EXPECT_EQ(reaper_.reaped, std::vector<std::string>{tiKey("extract").toString()});
}

TEST_F(ReapLoopTest, UnresolvedUuidIsNeverReaped) {
  Target anonymous = treeTarget(tiKey("extract"), {10});
  anonymous.tree.key.reset();
  anonymous.tree.tiUuid = "unknown-uuid";
  targets_.targets = {anonymous};
  auto& l = loop();
  l.pollOnce();
  l.drain();
  EXPECT_TRUE(reaper_.reaped.empty());
}

TEST_F(ReapLoopTest, ProbesTheApiWhenThereIsNothingToAskAndTicksHealth) {
  auto& l = loop();
  l.pollOnce();
  l.pollOnce();
  EXPECT_EQ(airflow_.probes, 1);
  EXPECT_EQ(airflow_.fetches, 0);
  EXPECT_TRUE(health_.live(clock_.now(), core::Duration{1}));
  EXPECT_EQ(recorder_.snapshots, 2u);
}

// An idle node (nothing to ask) is Ready once Airflow answers the probe, retried every poll.
TEST_F(ReapLoopTest, ReadyOnceTheFirstScanIsDoneAndAirflowAnswersTheProbe) {
  airflow_.probeResult = core::makeError("connection refused");
  auto& l = loop();
  l.pollOnce();
  l.pollOnce();
  EXPECT_FALSE(health_.ready());
  airflow_.probeResult = core::Ok{};
  l.pollOnce();
  EXPECT_TRUE(health_.ready());
  l.pollOnce();
  EXPECT_EQ(airflow_.probes, 3);
  EXPECT_EQ(airflow_.fetches, 0);
}

// An answer about a tree is not what readiness waits for: the probe is.
TEST_F(ReapLoopTest, AnAnswerAboutATreeDoesNotMakeReady) {
  targets_.targets = {treeTarget(tiKey("extract"), {10})};
  airflow_.set(tiKey("extract"), "running");
  airflow_.probeResult = core::makeError("HTTP 404");
  loop().pollOnce();
  EXPECT_FALSE(health_.ready());
}

// After the start, API failures change metrics, never readiness.
TEST_F(ReapLoopTest, LaterApiFailuresAreMetricsNotReadiness) {
  auto metric = [&](const std::string& name) {
    const std::string text = metrics_.render();
    const auto at = text.find("\n" + name + " ");
    EXPECT_NE(at, std::string::npos) << name;
    return std::stod(text.substr(at + name.size() + 2));
  };
  targets_.targets = {treeTarget(tiKey("extract"), {10}), treeTarget(tiKey("load"), {20})};
  airflow_.set(tiKey("extract"), "running");
  airflow_.set(tiKey("load"), "running");
  auto& l = loop();
  l.pollOnce();
  const double succeededAt =
      std::chrono::duration<double>(clock_.wallNow().time_since_epoch()).count();
  EXPECT_TRUE(health_.ready());
  EXPECT_EQ(metric("airflow_reaper_last_successful_poll_timestamp_seconds"), succeededAt);
  EXPECT_EQ(metric("airflow_reaper_airflow_consecutive_failures"), 0);
  EXPECT_EQ(metric("airflow_reaper_undecided_trees"), 0);

  airflow_.states.clear();  // every answer Unknown from now on, as when the API is down
  for (int poll = 1; poll <= 3; ++poll) {
    clock_.advance(core::Duration{2000});
    l.pollOnce();
    EXPECT_EQ(metric("airflow_reaper_airflow_consecutive_failures"), poll);
  }
  EXPECT_TRUE(health_.ready());
  EXPECT_EQ(metric("airflow_reaper_undecided_trees"), 2);
  EXPECT_EQ(metric("airflow_reaper_last_successful_poll_timestamp_seconds"), succeededAt);

  airflow_.set(tiKey("extract"), "running");
  airflow_.set(tiKey("load"), "running");
  clock_.advance(core::Duration{2000});
  l.pollOnce();
  l.drain();
  EXPECT_EQ(metric("airflow_reaper_airflow_consecutive_failures"), 0);
  EXPECT_EQ(metric("airflow_reaper_undecided_trees"), 0);
  EXPECT_EQ(metric("airflow_reaper_last_successful_poll_timestamp_seconds"),
            std::chrono::duration<double>(clock_.wallNow().time_since_epoch()).count());
  EXPECT_TRUE(reaper_.reaped.empty());
}

TEST_F(ReapLoopTest, TwoLiveRootsOfOneTaskInstanceAreDecidedAndKilledApart) {
  // The old try's root (no try told) started long before the retry was queued; the retry's root
  // started after it. Same key, two trees.
  Target old = treeTarget(tiKey("extract", 0), {10, 11});
  old.tree.attemptAge = std::chrono::hours(1);
  Target retry = treeTarget(tiKey("extract", 0), {20});
  retry.tree.attemptAge = std::chrono::seconds(1);
  targets_.targets = {old, retry};
  airflow_.set(tiKey("extract"), "running", 2);
  airflow_.states.begin()->second.queuedWhen = clock_.wallNow() - std::chrono::seconds(10);
  auto& l = loop();
  l.pollOnce();
  l.drain();
  ASSERT_EQ(reaper_.members.size(), 1u);
  EXPECT_EQ(reaper_.members[0],
            (std::vector<core::ProcessIdentity>{old.tree.members[0].id, old.tree.members[1].id}));
  ASSERT_EQ(recorder_.results.size(), 1u);
  EXPECT_EQ(recorder_.results[0].reason, "superseded: started before try 2 was queued");
}

TEST_F(ReapLoopTest, TheTreesOfOneAttemptAreOneReap) {
  // A root's tree and the tree of an orphan it left (a carrier of the same attempt's context):
  // one kill, one result, one count in the metrics.
  Target root = treeTarget(tiKey("extract"), {10, 11});
  Target orphan = treeTarget(tiKey("extract"), {30, 31});
  orphan.tree.origin = proc::Origin::Environment;
  orphan.tree.members[0].orphan = true;
  Target other = treeTarget(tiKey("load"), {40});
  targets_.targets = {orphan, root, other};
  airflow_.set(tiKey("extract"), "failed");
  airflow_.set(tiKey("load"), "failed");
  auto& l = loop();
  l.pollOnce();
  l.drain();
  ASSERT_EQ(reaper_.members.size(), 2u);
  EXPECT_EQ(reaper_.members[0], (std::vector<core::ProcessIdentity>{
                                    root.tree.members[0].id, root.tree.members[1].id,
                                    orphan.tree.members[0].id, orphan.tree.members[1].id}));
  EXPECT_EQ(reaper_.members[1], (std::vector<core::ProcessIdentity>{other.tree.members[0].id}));
  ASSERT_EQ(recorder_.results.size(), 2u);
  EXPECT_EQ(recorder_.results[0].target.id(), root.id());
  EXPECT_EQ(recorder_.results[0].target.orphanCount(), 1u);
  EXPECT_NE(metrics_.render().find("airflow_reaper_reaps_total{outcome=\"killed\"} 2"),
            std::string::npos);
}

TEST_F(ReapLoopTest, AnOrphanWhoseMapIndexIsNotToldJoinsTheReapOfAnUnmappedTaskInstance) {
  // Airflow exports no AIRFLOW_CTX_MAP_INDEX: the orphan's tree does not know its map index, the
  // root's does. The API lists the TaskInstance unmapped, so both are map index -1.
  Target root = treeTarget(tiKey("extract"), {10});
  Target orphan = treeTarget(tiKey("extract"), {30});
  orphan.tree.origin = proc::Origin::Environment;
  orphan.tree.mapIndexKnown = false;
  targets_.targets = {root, orphan};
  airflow_.set(tiKey("extract"), "failed");
  auto& l = loop();
  l.pollOnce();
  l.drain();
  ASSERT_EQ(reaper_.members.size(), 1u);
  EXPECT_EQ(reaper_.members[0], (std::vector<core::ProcessIdentity>{root.tree.members[0].id,
                                                                    orphan.tree.members[0].id}));
}

TEST_F(ReapLoopTest, AnOrphanWhoseMapIndexIsNotToldIsReapedApartFromAMappedOne) {
  // Mapped: the orphan may be any map index's, so its reap is not map index 3's.
  core::TaskInstanceKey three = tiKey("extract");
  three.mapIndex = 3;
  Target root = treeTarget(three, {10});
  Target orphan = treeTarget(tiKey("extract"), {30});
  orphan.tree.origin = proc::Origin::Environment;
  orphan.tree.mapIndexKnown = false;
  targets_.targets = {root, orphan};
  airflow_.set(three, "failed");
  airflow::TaskInstanceStatus mapped{airflow::Lookup::Found, std::nullopt, 1};
  mapped.mapIndexes = {{3, "failed", 1}};
  airflow_.states[core::TaskInstanceKey{"etl", "extract", "manual__1", -1, 0}] = mapped;
  auto& l = loop();
  l.pollOnce();
  l.drain();
  ASSERT_EQ(reaper_.members.size(), 2u);
}

TEST_F(ReapLoopTest, ASurvivorsTreeNeverJoinsAnotherTreesReap) {
  Target survivor = treeTarget(tiKey("extract"), {10});
  survivor.tree.origin = proc::Origin::Environment;
  targets_.targets = {survivor};
  airflow_.set(tiKey("extract"), "failed");
  reaper_.survivors = {survivor.tree.members[0].id};
  auto& l = loop();
  l.pollOnce();
  l.drain();
  ASSERT_EQ(reaper_.members.size(), 1u);
  reaper_.survivors.clear();
  Target fresh = treeTarget(tiKey("extract"), {20});
  targets_.targets = {fresh, survivor};
  l.pollOnce();
  l.drain();
  ASSERT_EQ(reaper_.members.size(), 2u);
  EXPECT_EQ(reaper_.members[1], (std::vector<core::ProcessIdentity>{fresh.tree.members[0].id}));
}

TEST_F(ReapLoopTest, TreesOfOneTaskInstanceJudgedApartAreReapedApart) {
  // The same key, but one tree is in its startup grace: only the other is killed.
  Target old = treeTarget(tiKey("extract"), {10});
  Target young = treeTarget(tiKey("extract"), {20}, std::chrono::seconds(1));
  targets_.targets = {old, young};
  airflow_.set(tiKey("extract"), "scheduled");
  auto& l = loop();
  l.pollOnce();
  l.drain();
  ASSERT_EQ(reaper_.members.size(), 1u);
  EXPECT_EQ(reaper_.members[0], (std::vector<core::ProcessIdentity>{old.tree.members[0].id}));
}

TEST_F(ReapLoopTest, ResolvedUuidSplitsOffMembersNamingAnotherAttempt) {
  Target tree = treeTarget(tiKey("extract"), {10, 11});
  tree.tree.key.reset();
  tree.tree.mapIndexKnown = false;
  tree.tree.tiUuid = "0196-uuid";
  tree.tree.members[1].ppid = 10;
  tree.tree.members[1].claim = proc::Claim{{"etl", "maintenance", "manual__1", {}, 1}, ""};
  targets_.targets = {tree};
  airflow_.uuids["0196-uuid"] = tiKey("extract", 1);
  airflow_.set(tiKey("extract"), "failed");
  auto& l = loop();
  const auto assessments = l.assess();
  ASSERT_EQ(assessments.size(), 2u);
  EXPECT_EQ(assessments[0].decision.action, reconcile::Action::Kill);
  EXPECT_EQ(assessments[0].target.tree.members.size(), 1u);
  EXPECT_EQ(assessments[1].decision.action, reconcile::Action::Unknown);
  EXPECT_EQ(assessments[1].target.tree.members[0].id.pid, 11);
}

}  // namespace
}  // namespace reaper::loop
