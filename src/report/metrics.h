#pragma once
// The agent's Prometheus metrics, named as the contract lists them. Thread-safe.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/types.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace reaper::report {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Trees and processes currently tracked on the node.
  void setTracked(size_t trees, size_t processes);
  // One reap; `seconds` from decision to tree dead.
  void countReap(core::ReapOutcome outcome, size_t killedProcesses, size_t orphans, double seconds);
  // One Airflow API request; `httpCode` 0 for a transport error (timeout, refused, TLS).
  void countAirflowRequest(int httpCode, double seconds);
  // One Kubernetes API request; `httpCode` 0 for a transport error; `seconds` none for a watch.
  void countKubeRequest(int httpCode, std::optional<double> seconds);
  // Trees whose decision in the last poll was `unknown` (the API could not tell, or identity is
  // ambiguous): never killed, so a number that stays up means reaping has stopped for them.
  void setUndecidedTrees(size_t trees);
  // One poll's Airflow calls: `succeeded` when every one of them got its answer (a poll that had
  // nothing to ask succeeded). Sets the last successful poll's time and the failure streak.
  void observeAirflowPoll(bool succeeded, core::WallTime at);
  // One discovery scan of the process table.
  void observeScan(double seconds);
  // The Prometheus text exposition format (version 0.0.4).
  std::string render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge& trackedTrees_;
  prometheus::Gauge& trackedProcesses_;
  prometheus::Gauge& undecidedTrees_;
  prometheus::Gauge& lastSuccessfulPoll_;
  prometheus::Gauge& airflowFailureStreak_;
  prometheus::Family<prometheus::Counter>& reaps_;
  prometheus::Counter& processesKilled_;
  prometheus::Counter& orphansReaped_;
  prometheus::Family<prometheus::Counter>& airflowRequests_;
  prometheus::Family<prometheus::Counter>& kubeRequests_;
  prometheus::Histogram& scanDuration_;
  prometheus::Histogram& airflowRequestDuration_;
  prometheus::Histogram& kubeRequestDuration_;
  prometheus::Histogram& reapDuration_;
};

}  // namespace reaper::report
