#pragma once
// The agent's main loop: discover attempts, ask Airflow for their TaskInstances, decide, and hand
// the kills of attempts that are no longer running to the kill worker, which runs them all at
// once on its own thread. Everything here runs on the loop's thread.
#include <atomic>
#include <map>
#include <set>
#include <vector>

#include "airflow/task_instance_source.h"
#include "core/clock.h"
#include "core/log.h"
#include "kill/kill_worker.h"
#include "loop/reaper.h"
#include "loop/target.h"
#include "reconcile/decision.h"
#include "report/metrics.h"
#include "report/status_server.h"

namespace reaper::loop {

// One attempt as the loop judged it in one poll.
struct Assessment {
  Target target;
  airflow::TaskInstanceStatus status;
  reconcile::Decision decision;
};

// The TI state as logs and `scan` show it: the state, "none" when cleared, else "missing" or
// "unknown".
std::string stateLabel(const airflow::TaskInstanceStatus& status);

struct ReapResult {
  Target target;
  std::string state;   // the TI state that decided it ("none" when cleared)
  std::string reason;  // the decision's reason
  core::ReapOutcome outcome = core::ReapOutcome::Failed;
  kill::KillReport report;
  core::WallTime at{};
};

// Receives what the loop saw and did (Kubernetes reports). Called on the loop's thread.
class ReapObserver {
 public:
  virtual ~ReapObserver() = default;
  virtual void observed(const std::vector<Assessment>& assessments) = 0;
  virtual void reaped(const ReapResult& result) = 0;
};

struct LoopOptions {
  core::Duration pollInterval{2000};
  bool dryRun = false;
  reconcile::Policy policy;
};

class ReapLoop {
 public:
  ReapLoop(TargetSource& targets, airflow::TaskInstanceSource& airflow, Reaper& reaper,
           kill::KillWorker& killer, core::Clock& clock, report::Metrics& metrics,
           report::Health& health, LoopOptions options);
  ~ReapLoop();  // waits for reaps in flight

  void addObserver(ReapObserver& observer) { observers_.push_back(&observer); }

  // Discovers, asks and decides; never kills. What `scan` prints.
  std::vector<Assessment> assess();
  // One full poll: assess, start kills, deliver finished results.
  void pollOnce();
  // Polls every pollInterval until `stop` is set.
  void run(const std::atomic<bool>& stop);
  // Waits for every kill in flight and delivers its result.
  void drain();

 private:
  using TreeId = core::ProcessIdentity;

  std::vector<Target> resolveUuids(std::vector<Target> targets);
  std::map<core::TaskInstanceKey, airflow::TaskInstanceStatus> fetchStates(
      const std::vector<Target>& targets);
  bool reachAirflow();
  reconcile::Attempt attemptOf(const Target& target) const;
  void forgetGone(const std::set<TreeId>& present);
  void logDecision(const Assessment& assessment);
  void act(const Assessment& assessment);
  bool worthReaping(const Target& target) const;
  void startReap(Assessment assessment);
  void reportDryRun(const Assessment& assessment);
  void deliver(ReapResult result);
  void collectFinished();

  TargetSource& targets_;
  airflow::TaskInstanceSource& airflow_;
  Reaper& reaper_;
  kill::KillWorker& killer_;
  core::Clock& clock_;
  report::Metrics& metrics_;
  report::Health& health_;
  LoopOptions options_;
  const core::Logger log_{"loop"};
  reconcile::Reconciler reconciler_;
  std::vector<ReapObserver*> observers_;

  kill::Baseline listed_;  // what the last discovery listed: kills decided on it grow only by forks
  std::map<std::string, core::TaskInstanceKey> resolvedUuids_;  // of trees present
  bool airflowReached_ = false;
  std::map<TreeId, std::string> lastDecision_;  // "action: reason", logged at info on change
  std::set<TreeId> dryRunReported_;
  // Processes that survived an earlier kill, whichever tree holds them now (a survivor whose root
  // died is found again as a tree of its own): a tree of survivors only is not killed again.
  std::set<core::ProcessIdentity> survivors_;
  std::map<TreeId, ReapResult> inFlight_;  // kills handed to the worker, their results pending
};

}  // namespace reaper::loop
