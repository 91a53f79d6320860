#include "report/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/version.h"

namespace reaper::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The request counters appear with their first request: a code label cannot be guessed ahead.
TEST(Metrics, ExportsEveryUnlabelledOrOutcomeMetricFromTheStart) {
  const std::string text = Metrics().render();
  EXPECT_THAT(text, HasSubstr("# TYPE airflow_reaper_tracked_trees gauge"));
  EXPECT_THAT(text, HasSubstr("# TYPE airflow_reaper_tracked_processes gauge"));
  EXPECT_THAT(text, HasSubstr("# TYPE airflow_reaper_reaps_total counter"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_reaps_total{outcome=\"killed\"} 0"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_reaps_total{outcome=\"failed\"} 0"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_reaps_total{outcome=\"dry_run\"} 0"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_processes_killed_total 0"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_orphans_reaped_total 0"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_undecided_trees 0"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_last_successful_poll_timestamp_seconds 0"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_airflow_consecutive_failures 0"));
  EXPECT_THAT(text, HasSubstr("# TYPE airflow_reaper_scan_duration_seconds histogram"));
  EXPECT_THAT(text, HasSubstr("# TYPE airflow_reaper_airflow_request_duration_seconds histogram"));
  EXPECT_THAT(text, HasSubstr("# TYPE airflow_reaper_reap_duration_seconds histogram"));
}

TEST(Metrics, BuildInfoCarriesTheVersion) {
  EXPECT_THAT(Metrics().render(), HasSubstr("airflow_reaper_build_info{version=\"" +
                                            std::string(core::kVersion) + "\"} 1\n"));
}

TEST(Metrics, TrackedGaugesFollowTheLastValue) {
  Metrics metrics;
  metrics.setTracked(3, 40);
  metrics.setTracked(2, 17);
  const std::string text = metrics.render();
  EXPECT_THAT(text, HasSubstr("airflow_reaper_tracked_trees 2\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_tracked_processes 17\n"));
}

TEST(Metrics, AirflowPollsSetTheFailureStreakAndTheLastSuccess) {
  Metrics metrics;
  const core::WallTime at{std::chrono::seconds(1'795'003'200)};
  metrics.observeAirflowPoll(true, at);
  metrics.observeAirflowPoll(false, at + std::chrono::seconds(2));
  metrics.observeAirflowPoll(false, at + std::chrono::seconds(4));
  std::string text = metrics.render();
  EXPECT_THAT(text, HasSubstr("airflow_reaper_airflow_consecutive_failures 2\n"));
  EXPECT_THAT(text,
              HasSubstr("airflow_reaper_last_successful_poll_timestamp_seconds 1795003200\n"));
  metrics.observeAirflowPoll(true, at + std::chrono::seconds(6));
  text = metrics.render();
  EXPECT_THAT(text, HasSubstr("airflow_reaper_airflow_consecutive_failures 0\n"));
  EXPECT_THAT(text,
              HasSubstr("airflow_reaper_last_successful_poll_timestamp_seconds 1795003206\n"));
}

TEST(Metrics, ReapsCountOutcomesProcessesOrphansAndDuration) {
  Metrics metrics;
  metrics.countReap(core::ReapOutcome::Killed, 5, 2, 1.5);
  metrics.countReap(core::ReapOutcome::Killed, 3, 0, 0.2);
  metrics.countReap(core::ReapOutcome::Failed, 1, 1, 12);
  const std::string text = metrics.render();
  EXPECT_THAT(text, HasSubstr("airflow_reaper_reaps_total{outcome=\"killed\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_reaps_total{outcome=\"failed\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_reaps_total{outcome=\"dry_run\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_processes_killed_total 9\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_orphans_reaped_total 3\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_reap_duration_seconds_count 3\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_reap_duration_seconds_sum 13.7"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_reap_duration_seconds_bucket{le=\"1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_reap_duration_seconds_bucket{le=\"2\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_reap_duration_seconds_bucket{le=\"15\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_reap_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
}

TEST(Metrics, RequestsAreLabelledByHttpCode) {
  Metrics metrics;
  metrics.countAirflowRequest(200, 0.03);
  metrics.countAirflowRequest(200, 0.04);
  metrics.countAirflowRequest(0, 5);
  metrics.countKubeRequest(201, 0.02);
  metrics.countKubeRequest(409, 0.2);
  metrics.countKubeRequest(200, std::nullopt);  // a watch: counted, not timed
  const std::string text = metrics.render();
  EXPECT_THAT(text, HasSubstr("# TYPE airflow_reaper_airflow_requests_total counter"));
  EXPECT_THAT(text, HasSubstr("# TYPE airflow_reaper_kube_requests_total counter"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_airflow_requests_total{code=\"200\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_airflow_requests_total{code=\"0\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_kube_requests_total{code=\"201\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_kube_requests_total{code=\"409\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_airflow_request_duration_seconds_count 3\n"));
  EXPECT_THAT(text,
              HasSubstr("airflow_reaper_airflow_request_duration_seconds_bucket{le=\"0.05\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("airflow_reaper_airflow_request_duration_seconds_bucket{le=\"5\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_kube_requests_total{code=\"200\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_kube_request_duration_seconds_count 2\n"));
  EXPECT_THAT(text,
              HasSubstr("airflow_reaper_kube_request_duration_seconds_bucket{le=\"0.025\"} 1\n"));
}

TEST(Metrics, ScanHistogramHasMillisecondBuckets) {
  Metrics metrics;
  metrics.observeScan(0.004);
  const std::string text = metrics.render();
  EXPECT_THAT(text, HasSubstr("airflow_reaper_scan_duration_seconds_bucket{le=\"0.0025\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_scan_duration_seconds_bucket{le=\"0.005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("airflow_reaper_scan_duration_seconds_count 1\n"));
}

}  // namespace
}  // namespace reaper::report
