#include "report/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "core/version.h"

namespace reaper::report {
namespace {

using prometheus::Histogram;

// Scans of a few thousand processes take milliseconds.
const Histogram::BucketBoundaries kScanBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,   0.25,   0.5,   1,    2.5};
// Requests are bounded by airflow.timeout (default 5 s) and the Kubernetes client's 10 s.
const Histogram::BucketBoundaries kRequestBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                     0.5,   1,    2.5,   5,    10};
// A reap lasts up to kill.gracePeriod (default 10 s) plus the re-reads of membership.
const Histogram::BucketBoundaries kReapBuckets = {0.01, 0.05, 0.1, 0.5, 1,  2,
                                                  5,    10,   15,  30,  60, 120};

prometheus::Gauge& gauge(prometheus::Registry& registry, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Family<prometheus::Counter>& counters(prometheus::Registry& registry, const char* name,
                                                  const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Histogram& histogram(prometheus::Registry& registry, const char* name, const char* help,
                                 const Histogram::BucketBoundaries& buckets) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry).Add({}, buckets);
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      trackedTrees_(gauge(*registry_, "airflow_reaper_tracked_trees",
                          "Task-runner trees currently tracked on this node.")),
      trackedProcesses_(gauge(*registry_, "airflow_reaper_tracked_processes",
                              "Processes in the tracked task-runner trees.")),
      undecidedTrees_(gauge(*registry_, "airflow_reaper_undecided_trees",
                            "Trees whose last decision was unknown (never killed).")),
      lastSuccessfulPoll_(gauge(*registry_, "airflow_reaper_last_successful_poll_timestamp_seconds",
                                "Unix time of the last poll whose Airflow requests all succeeded "
                                "(0: none yet).")),
      airflowFailureStreak_(
          gauge(*registry_, "airflow_reaper_airflow_consecutive_failures",
                "Polls in a row with an Airflow request that failed after its retries.")),
      reaps_(counters(*registry_, "airflow_reaper_reaps_total",
                      "Trees reaped, by outcome (killed, failed, dry_run).")),
      processesKilled_(counters(*registry_, "airflow_reaper_processes_killed_total",
                                "Processes killed in reaped trees.")
                           .Add({})),
      orphansReaped_(counters(*registry_, "airflow_reaper_orphans_reaped_total",
                              "Orphaned or escaped processes killed in reaped trees.")
                         .Add({})),
      airflowRequests_(counters(*registry_, "airflow_reaper_airflow_requests_total",
                                "Airflow API requests, by HTTP status (0: transport error).")),
      kubeRequests_(counters(*registry_, "airflow_reaper_kube_requests_total",
                             "Kubernetes API requests, by HTTP status (0: transport error).")),
      scanDuration_(histogram(*registry_, "airflow_reaper_scan_duration_seconds",
                              "Duration of one discovery scan of the process table.",
                              kScanBuckets)),
      airflowRequestDuration_(histogram(*registry_,
                                        "airflow_reaper_airflow_request_duration_seconds",
                                        "Duration of one Airflow API request.", kRequestBuckets)),
      kubeRequestDuration_(histogram(*registry_, "airflow_reaper_kube_request_duration_seconds",
                                     "Duration of one Kubernetes API request (watches excluded).",
                                     kRequestBuckets)),
      reapDuration_(histogram(*registry_, "airflow_reaper_reap_duration_seconds",
                              "Duration of one reap, from the kill decision to the tree dead.",
                              kReapBuckets)) {
  // Every outcome is exported from the start, so rate() and alerts see a zero rather than nothing.
  for (auto outcome :
       {core::ReapOutcome::Killed, core::ReapOutcome::Failed, core::ReapOutcome::DryRun})
    reaps_.Add({{"outcome", std::string(core::reapOutcomeName(outcome))}});
  prometheus::BuildGauge()
      .Name("airflow_reaper_build_info")
      .Help("Always 1; the agent's version as a label, to join with other series.")
      .Register(*registry_)
      .Add({{"version", std::string(core::kVersion)}})
      .Set(1);
}

Metrics::~Metrics() = default;

void Metrics::setTracked(size_t trees, size_t processes) {
  trackedTrees_.Set(static_cast<double>(trees));
  trackedProcesses_.Set(static_cast<double>(processes));
}

void Metrics::countReap(core::ReapOutcome outcome, size_t killedProcesses, size_t orphans,
                        double seconds) {
  reaps_.Add({{"outcome", std::string(core::reapOutcomeName(outcome))}}).Increment();
  processesKilled_.Increment(static_cast<double>(killedProcesses));
  orphansReaped_.Increment(static_cast<double>(orphans));
  reapDuration_.Observe(seconds);
}

void Metrics::countAirflowRequest(int httpCode, double seconds) {
  airflowRequests_.Add({{"code", std::to_string(httpCode)}}).Increment();
  airflowRequestDuration_.Observe(seconds);
}

void Metrics::countKubeRequest(int httpCode, std::optional<double> seconds) {
  kubeRequests_.Add({{"code", std::to_string(httpCode)}}).Increment();
  if (seconds) kubeRequestDuration_.Observe(*seconds);
}

void Metrics::setUndecidedTrees(size_t trees) { undecidedTrees_.Set(static_cast<double>(trees)); }

void Metrics::observeAirflowPoll(bool succeeded, core::WallTime at) {
  if (!succeeded) return airflowFailureStreak_.Increment();
  airflowFailureStreak_.Set(0);
  lastSuccessfulPoll_.Set(std::chrono::duration<double>(at.time_since_epoch()).count());
}

void Metrics::observeScan(double seconds) { scanDuration_.Observe(seconds); }

std::string Metrics::render() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace reaper::report
