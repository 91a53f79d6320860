#include "agent/kube_reports.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace reaper::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

loop::ReapResult result(std::string outcome, std::string reason = "superseded by try 3",
                        std::string state = "running") {
  loop::Target target;
  target.pod = core::PodRef{"airflow", "celery-worker-0", "uid-0"};
  target.tree.key = core::TaskInstanceKey{"etl", "extract", "manual__1", -1, 2};
  target.tree.members = {
      {{100, 1}, 1, 100, 100, {"airflow", "tasks", "run", "etl", "extract", "manual__1"}},
      {{101, 2}, 100, 100, 100, {"bash", "-c", "dbt run"}}};
  target.tree.root = target.tree.members[0].id;
  loop::ReapResult r{target, std::move(state), std::move(reason), std::move(outcome), {}, {}};
  r.report.killed = 2;
  return r;
}

loop::ReapResult withOrphan(loop::ReapResult r) {
  r.target.tree.members.push_back(
      {{200, 3}, 1, 200, 200, {"psql", "postgresql://u:hunter2@db/x"}, true, true});
  return r;
}

TEST(ReapEvent, ACompletedReapIsNormalAndSaysWhy) {
  const auto event = reapEvent(result("killed"));
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
  const auto event = reapEvent(withOrphan(result("killed", "state=failed", "failed")));
  ASSERT_TRUE(event);
  EXPECT_EQ(event->reason, "OrphansReaped");
  EXPECT_EQ(event->type, kube::EventType::Warning);
  EXPECT_THAT(event->note, HasSubstr("because state=failed (TaskInstance state failed)"));
  EXPECT_THAT(event->note, HasSubstr("Orphans or escapees (1): 200 psql postgresql://"));
  EXPECT_THAT(event->note, Not(HasSubstr("hunter2")));
}

TEST(ReapEvent, AtMostFiveOrphansAreListed) {
  auto r = result("killed");
  for (core::Pid pid = 300; pid < 308; ++pid)
    r.target.tree.members.push_back({{pid, 1}, 1, pid, pid, {"sleep", "60"}, true});
  const auto event = reapEvent(r);
  ASSERT_TRUE(event);
  EXPECT_THAT(event->note, HasSubstr("(8): 300 sleep 60; 301 sleep 60; 302 sleep 60; 303 sleep "
                                     "60; 304 sleep 60; +3 more"));
}

TEST(ReapEvent, AFailedKillIsAWarningNamingTheSurvivors) {
  auto r = result("failed", "state=failed", "failed");
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
  auto r = result("dry_run", "state=success", "success");
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
  auto r = result("killed");
  r.target.pod.reset();
  EXPECT_FALSE(reapEvent(r));
}

}  // namespace
}  // namespace reaper::agent
