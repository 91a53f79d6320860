#include "loop/reap_loop.h"

#include <algorithm>

#include "core/log.h"
#include "core/redact.h"

namespace reaper::loop {
namespace {

using airflow::Lookup;

reconcile::Observation observationOf(const airflow::TaskInstanceStatus& status) {
  using ObservedLookup = reconcile::Observation::Lookup;
  const ObservedLookup lookup = status.lookup == Lookup::Found     ? ObservedLookup::Found
                                : status.lookup == Lookup::Missing ? ObservedLookup::Missing
                                                                   : ObservedLookup::Unknown;
  return reconcile::Observation{lookup, status.state, status.tryNumber, status.detail};
}

reconcile::Attempt attemptOf(const Target& target) {
  return reconcile::Attempt{target.tree.key, target.tree.age, target.tree.ambiguous,
                            target.tree.ambiguity};
}

// The TaskInstance to ask about: any try (the API answers with the current one).
core::TaskInstanceKey lookupKey(core::TaskInstanceKey key) {
  key.tryNumber = 0;
  return key;
}

std::string podField(const Target& target) {
  return target.pod ? " pod=" + target.pod->namespaceName + "/" + target.pod->name : "";
}

}  // namespace

std::string stateLabel(const airflow::TaskInstanceStatus& status) {
  if (status.lookup != Lookup::Found)
    return status.lookup == Lookup::Missing ? "missing" : "unknown";
  return status.state.value_or("none");
}

ReapLoop::ReapLoop(TargetSource& targets, airflow::TaskInstanceSource& airflow, Reaper& reaper,
                   core::Clock& clock, report::Metrics& metrics, report::Health& health,
                   LoopOptions options)
    : targets_(targets),
      airflow_(airflow),
      reaper_(reaper),
      clock_(clock),
      metrics_(metrics),
      health_(health),
      options_(options),
      reconciler_(options.policy) {}

ReapLoop::~ReapLoop() { collectFinished(true); }

std::vector<Assessment> ReapLoop::assess() {
  const auto started = clock_.now();
  std::vector<Target> targets = targets_.discover();
  metrics_.observeScan(std::chrono::duration<double>(clock_.now() - started).count());
  health_.markFirstScan();

  resolveUuids(targets);
  const auto states = fetchStates(targets);

  std::vector<Assessment> assessments;
  std::vector<core::TaskInstanceKey> present;
  size_t processes = 0;
  for (auto& target : targets) {
    processes += target.tree.members.size();
    airflow::TaskInstanceStatus status;
    status.detail = "not asked";
    if (target.tree.key) {
      present.push_back(*target.tree.key);
      if (auto found = states.find(lookupKey(*target.tree.key)); found != states.end())
        status = found->second;
    }
    auto decision = reconciler_.decide(attemptOf(target), observationOf(status));
    assessments.push_back(Assessment{std::move(target), std::move(status), std::move(decision)});
  }
  reconciler_.retain(present);
  metrics_.setTracked(assessments.size(), processes);
  metrics_.setUndecidedTrees(std::count_if(
      assessments.begin(), assessments.end(),
      [](const Assessment& a) { return a.decision.action == reconcile::Action::Unknown; }));
  return assessments;
}

void ReapLoop::resolveUuids(std::vector<Target>& targets) {
  std::vector<std::string> unresolved;
  for (const auto& target : targets) {
    if (!target.tree.key && !target.tree.tiUuid.empty() &&
        !resolvedUuids_.contains(target.tree.tiUuid))
      unresolved.push_back(target.tree.tiUuid);
  }
  if (!unresolved.empty()) resolvedUuids_.merge(airflow_.resolveUuids(unresolved));
  for (auto& target : targets) {
    if (target.tree.key || target.tree.tiUuid.empty()) continue;
    if (auto found = resolvedUuids_.find(target.tree.tiUuid); found != resolvedUuids_.end())
      target.tree.key = found->second;
  }
}

std::map<core::TaskInstanceKey, airflow::TaskInstanceStatus> ReapLoop::fetchStates(
    const std::vector<Target>& targets) {
  std::vector<core::TaskInstanceKey> keys;
  for (const auto& target : targets) {
    if (target.tree.key) keys.push_back(lookupKey(*target.tree.key));
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  bool succeeded = reachAirflow();
  std::map<core::TaskInstanceKey, airflow::TaskInstanceStatus> states;
  if (!keys.empty()) states = airflow_.fetchStates(keys);
  succeeded = succeeded && std::none_of(states.begin(), states.end(), [](const auto& entry) {
                return entry.second.lookup == Lookup::Unknown;
              });
  metrics_.observeAirflowPoll(succeeded, clock_.wallNow());
  return states;
}

// Readiness means Airflow can be asked: probed every poll until it answers once, whether or not
// the node has anything to ask about. Later failures are metrics, not readiness.
bool ReapLoop::reachAirflow() {
  if (airflowReached_) return true;
  if (auto probed = airflow_.probe(); !probed.ok()) {
    core::logger("loop")->warn("airflow not reached error=\"{}\"", probed.error().message);
    return false;
  }
  airflowReached_ = true;
  health_.markAirflowReached();
  return true;
}

void ReapLoop::pollOnce() {
  collectFinished(false);
  auto assessments = assess();
  for (const auto& assessment : assessments) {
    logDecision(assessment);
    act(assessment);
  }
  for (auto* observer : observers_) observer->observed(assessments);
  health_.markTick(clock_.now());
}

void ReapLoop::run(const std::atomic<bool>& stop) {
  constexpr core::Duration kSlice{100};
  while (!stop) {
    const auto next = clock_.now() + options_.pollInterval;
    pollOnce();
    while (!stop && clock_.now() < next) {
      clock_.sleepFor(std::min<core::Duration>(
          kSlice, std::chrono::duration_cast<core::Duration>(next - clock_.now())));
      collectFinished(false);
    }
  }
  drain();
}

void ReapLoop::drain() { collectFinished(true); }

void ReapLoop::logDecision(const Assessment& assessment) {
  const std::string label = assessment.target.label();
  const std::string summary = std::string(reconcile::actionName(assessment.decision.action)) +
                              ": " + assessment.decision.reason;
  auto log = core::logger("loop");
  const auto level = lastDecision_[label] == summary ? spdlog::level::debug : spdlog::level::info;
  lastDecision_[label] = summary;
  log->log(level, "decision ti={}{} root={} processes={} state={} action={} reason=\"{}\"", label,
           podField(assessment.target), assessment.target.tree.root.pid,
           assessment.target.tree.members.size(), stateLabel(assessment.status),
           reconcile::actionName(assessment.decision.action), assessment.decision.reason);
}

void ReapLoop::act(const Assessment& assessment) {
  if (assessment.decision.action != reconcile::Action::Kill) return;
  if (options_.dryRun) return reportDryRun(assessment);
  if (!worthReaping(assessment.target)) return;
  startReap(assessment);
}

bool ReapLoop::worthReaping(const Target& target) const {
  const std::string label = target.label();
  if (inFlight_.contains(label)) return false;
  const auto survivors = survivors_.find(label);
  if (survivors == survivors_.end()) return true;
  return std::any_of(target.tree.members.begin(), target.tree.members.end(),
                     [&](const proc::TreeMember& m) { return !survivors->second.contains(m.id); });
}

void ReapLoop::reportDryRun(const Assessment& assessment) {
  const std::string label = assessment.target.label();
  if (!dryRunReported_.insert(label).second) return;
  deliver(ReapResult{assessment.target,
                     stateLabel(assessment.status),
                     assessment.decision.reason,
                     "dry_run",
                     {},
                     clock_.wallNow()});
}

void ReapLoop::startReap(const Assessment& assessment) {
  const std::string label = assessment.target.label();
  core::logger("loop")->info("reap ti={}{} root={} processes={} orphans={} reason=\"{}\"", label,
                             podField(assessment.target), assessment.target.tree.root.pid,
                             assessment.target.tree.members.size(), assessment.target.orphanCount(),
                             assessment.decision.reason);
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread worker([this, assessment, done] {
    ReapResult result{assessment.target,
                      stateLabel(assessment.status),
                      assessment.decision.reason,
                      "",
                      reaper_.reap(assessment.target),
                      clock_.wallNow()};
    result.outcome = result.report.survivors.empty() && !result.report.error ? "killed" : "failed";
    {
      std::lock_guard lock(finishedMutex_);
      finished_.push_back(std::move(result));
    }
    *done = true;
  });
  inFlight_.emplace(label, InFlight{std::move(worker), std::move(done)});
}

void ReapLoop::collectFinished(bool wait) {
  for (auto it = inFlight_.begin(); it != inFlight_.end();) {
    if (wait || *it->second.done) {
      it->second.worker.join();
      it = inFlight_.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<ReapResult> results;
  {
    std::lock_guard lock(finishedMutex_);
    results.swap(finished_);
  }
  for (auto& result : results) deliver(std::move(result));
}

void ReapLoop::deliver(ReapResult result) {
  const auto& report = result.report;
  const std::string label = result.target.label();
  if (!report.survivors.empty()) {
    auto& known = survivors_[label];
    known.insert(report.survivors.begin(), report.survivors.end());
  }
  metrics_.countReap(result.outcome, report.killed,
                     result.outcome == "dry_run" ? 0 : result.target.orphanCount(),
                     std::chrono::duration<double>(report.took).count());
  auto log = core::logger("loop");
  log->info("reaped ti={}{} outcome={} state={} signalled={} killed={} survivors={} took_ms={}{}",
            label, podField(result.target), result.outcome, result.state, report.signalled,
            report.killed, report.survivors.size(), report.took.count(),
            report.error ? " error=\"" + report.error->message + "\"" : "");
  for (const auto& survivor : report.survivors)
    log->warn("survivor ti={} pid={} (uninterruptible or unkillable; not retried)", label,
              survivor.pid);
  for (auto* observer : observers_) observer->reaped(result);
}

}  // namespace reaper::loop
