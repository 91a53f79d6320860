#include "agent/kube_reports.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/kube/fakes.h"
#include "unit/loop/fakes.h"

namespace reaper::agent {
namespace {

using reaper::test::FakeClock;
using reaper::test::tiKey;
using reaper::test::treeTarget;
using ::testing::HasSubstr;
using ::testing::Not;

loop::ReapResult result(core::ReapOutcome outcome, std::string reason = "superseded by try 3",
                        std::string state = "running") {
  loop::Target target;
  target.pod = core::PodRef{"airflow", "celery-worker-0", "uid-0"};
  target.tree.key = core::TaskInstanceKey{"etl", "extract", "manual__1", -1, 2};
  target.tree.members = {
      {{100, 1},
       1,
       100,
       100,
       proc::CommandLine({"airflow", "tasks", "run", "etl", "extract", "manual__1"})},
      {{101, 2}, 100, 100, 100, proc::CommandLine({"bash", "-c", "dbt run"})}};
  target.tree.root = target.tree.members[0].id;
  loop::ReapResult r{target, std::move(state), std::move(reason), outcome, {}, {}};
  r.report.killed = 2;
  return r;
}

loop::ReapResult withOrphan(loop::ReapResult r) {
  r.target.tree.members.push_back({{200, 3},
                                   1,
                                   200,
                                   200,
                                   proc::CommandLine({"psql", "postgresql://u:hunter2@db/x"}),
                                   true,
                                   true});
  return r;
}

TEST(ReapEvent, ACompletedReapIsNormalAndSaysWhy) {
  const auto event = reapEvent(result(core::ReapOutcome::Killed));
  ASSERT_TRUE(event);
  EXPECT_EQ(event->reason, "TaskTreeReaped");
  EXPECT_EQ(event->type, kube::EventType::Normal);
  EXPECT_EQ(event->action, "Kill");
  EXPECT_EQ(event->note,
            "Killed 2 processes (tree of 2 processes) of TaskInstance etl/extract/manual__1/-1/2, "
            "because "
            "superseded by try 3 (TaskInstance state running). Root: 100 airflow tasks run etl "
            "extract manual__1.");
}

TEST(ReapEvent, OrphansAreAWarningListingThemRedacted) {
  const auto event =
      reapEvent(withOrphan(result(core::ReapOutcome::Killed, "state=failed", "failed")));
  ASSERT_TRUE(event);
  EXPECT_EQ(event->reason, "OrphansReaped");
  EXPECT_EQ(event->type, kube::EventType::Warning);
  EXPECT_THAT(event->note, HasSubstr("because state=failed (TaskInstance state failed)"));
  EXPECT_THAT(event->note, HasSubstr("Orphans or escapees (1): 200 psql postgresql://"));
  EXPECT_THAT(event->note, Not(HasSubstr("hunter2")));
}

TEST(ReapEvent, AtMostFiveOrphansAreListed) {
  auto r = result(core::ReapOutcome::Killed);
  for (core::Pid pid = 300; pid < 308; ++pid)
    r.target.tree.members.push_back(
        {{pid, 1}, 1, pid, pid, proc::CommandLine({"sleep", "60"}), true});
  const auto event = reapEvent(r);
  ASSERT_TRUE(event);
  EXPECT_THAT(event->note, HasSubstr("(8): 300 sleep 60; 301 sleep 60; 302 sleep 60; 303 sleep "
                                     "60; 304 sleep 60; +3 more"));
}

TEST(ReapEvent, AFailedKillIsAWarningNamingTheSurvivors) {
  auto r = result(core::ReapOutcome::Failed, "state=failed", "failed");
  r.report.killed = 1;
  r.report.survivors = {{101, 2}};
  const auto event = reapEvent(r);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->reason, "TaskTreeKillFailed");
  EXPECT_EQ(event->type, kube::EventType::Warning);
  EXPECT_THAT(event->note,
              HasSubstr("Killed 1 process (tree of 2 processes); 1 survived SIGKILL (pids "
                        "101, uninterruptible?)"));
}

TEST(ReapEvent, ADryRunIsVisibleAndSaysNothingWasSignalled) {
  auto r = result(core::ReapOutcome::DryRun, "state=success", "success");
  r.report = {};
  const auto event = reapEvent(r);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->reason, "DryRunWouldReap");
  EXPECT_EQ(event->action, "DryRun");
  EXPECT_EQ(event->type, kube::EventType::Normal);
  EXPECT_THAT(event->note, ::testing::StartsWith("Dry run: would kill 2 processes (none "
                                                 "signalled) of TaskInstance "));
  EXPECT_EQ(reapEvent(withOrphan(r))->type, kube::EventType::Warning) << "orphans found";
}

TEST(ReapEvent, NoneForATreeInNoPod) {
  auto r = result(core::ReapOutcome::Killed);
  r.target.pod.reset();
  EXPECT_FALSE(reapEvent(r));
}

// --- per-attempt state

loop::Assessment killed(int attempt) {
  loop::Target target = treeTarget(tiKey("task-" + std::to_string(attempt)), {1000 + attempt});
  target.pod = core::PodRef{"airflow", "worker-" + std::to_string(attempt), "uid"};
  airflow::TaskInstanceStatus status{airflow::Lookup::Found, "failed", 1};
  return {std::move(target), std::move(status), {reconcile::Action::Kill, "state=failed"}};
}

loop::ReapResult resultOf(const loop::Assessment& a, core::WallTime at) {
  kill::KillReport report;
  report.signalled = report.killed = a.target.tree.members.size();
  return {a.target, "failed", a.decision.reason, core::ReapOutcome::Killed, report, at};
}

class KubeReportsTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  // The API server never answers: what is kept per attempt must not depend on it.
  KubeReports reports_{nullptr,
                       std::make_unique<kube::CustomResources>(
                           std::make_unique<kube::test::FakeTransport>(), "node-a", clock_),
                       true,
                       true,
                       "node-a",
                       clock_};
};

// Today's reproduction: +4 MB after 9,450 short attempts, never freed.
TEST_F(KubeReportsTest, ManyShortAttemptsLeaveNoStateBehind) {
  for (int attempt = 0; attempt < 2000; ++attempt) {
    const loop::Assessment a = killed(attempt);
    reports_.observed({a});
    reports_.reaped(resultOf(a, clock_.wallNow()));
    clock_.advance(core::Duration{2000});
    ASSERT_LE(reports_.attemptsRemembered(), 2u) << "attempt " << attempt;
  }
  reports_.observed({});
  EXPECT_EQ(reports_.attemptsRemembered(), 0u);
}

// While its processes are still seen, a reaped attempt stays reaped (its phase is not rewritten).
TEST_F(KubeReportsTest, AnAttemptStillOnTheNodeIsRemembered) {
  const loop::Assessment a = killed(1);
  reports_.observed({a});
  reports_.reaped(resultOf(a, clock_.wallNow()));
  reports_.observed({a, killed(2)});
  EXPECT_EQ(reports_.attemptsRemembered(), 3u);
  reports_.observed({killed(2)});
  EXPECT_EQ(reports_.attemptsRemembered(), 1u);
}

// A root's tree and the tree of a carrier of its orphans are one attempt in one pod: one
// TaskRunnerTree, remembered once, its counts added up.
TEST_F(KubeReportsTest, TheTreesOfOneAttemptAreOneTaskRunnerTree) {
  const loop::Assessment root = killed(1);
  loop::Assessment carrier = killed(1);
  carrier.target.tree = treeTarget(*root.target.tree.key, {3000, 3001}).tree;
  carrier.target.tree.origin = proc::Origin::Environment;
  reports_.observed({carrier, root});
  EXPECT_EQ(reports_.attemptsRemembered(), 1u);
  reports_.reaped(resultOf(carrier, clock_.wallNow()));
  EXPECT_EQ(reports_.attemptsRemembered(), 2u) << "first sight and reaped, of one attempt";
}

// The same TaskInstance attempt seen in two pods is two TaskRunnerTrees.
TEST_F(KubeReportsTest, TheSameAttemptInTwoPodsIsTwoTaskRunnerTrees) {
  const loop::Assessment inA = killed(1);
  loop::Assessment inB = killed(1);
  inB.target.pod = core::PodRef{"airflow", "worker-b", "uid-b"};
  reports_.observed({inA, inB});
  EXPECT_EQ(reports_.attemptsRemembered(), 2u);
}

TEST(AddTree, CountsAddUpAndTheRootsTreeNamesTheRootPid) {
  kube::TreeStatus attempt;
  attempt.rootPid = 3000;
  attempt.processes = 2;
  attempt.orphans = 2;
  attempt.message = "keep: running";
  kube::TreeStatus root;
  root.rootPid = 1000;
  root.processes = 5;
  root.escapees = 1;
  root.phase = kube::TreePhase::Reaping;
  root.message = "kill: state=failed";
  addTree(attempt, root, true);
  EXPECT_EQ(attempt.rootPid, 1000);
  EXPECT_EQ(attempt.processes, 7);
  EXPECT_EQ((std::pair{attempt.orphans, attempt.escapees}), (std::pair{2, 1}));
  EXPECT_EQ(attempt.phase, kube::TreePhase::Reaping);
  EXPECT_EQ(attempt.message, "kill: state=failed");

  kube::TreeStatus carrier;
  carrier.rootPid = 4000;
  carrier.processes = 1;
  addTree(attempt, carrier, false);
  EXPECT_EQ(attempt.rootPid, 1000) << "a carrier's root is not the attempt's";
  EXPECT_EQ(attempt.processes, 8);
  EXPECT_EQ(attempt.phase, kube::TreePhase::Reaping) << "a kept tree does not undo a kill";
}

}  // namespace
}  // namespace reaper::agent
