#include "loop/reap_loop.h"

#include <algorithm>

#include "core/log.h"

namespace reaper::loop {
namespace {

using airflow::Lookup;

reconcile::Observation observationOf(const airflow::TaskInstanceStatus& status) {
  using ObservedLookup = reconcile::Observation::Lookup;
  reconcile::Observation observation;
  observation.lookup = status.lookup == Lookup::Found     ? ObservedLookup::Found
                       : status.lookup == Lookup::Missing ? ObservedLookup::Missing
                                                          : ObservedLookup::Unknown;
  observation.state = status.state;
  observation.tryNumber = status.tryNumber;
  observation.queuedAt = status.queuedWhen;
  observation.recordedPid = status.pid;
  for (const auto& index : status.mapIndexes)
    observation.candidates.push_back({index.mapIndex, index.state, index.tryNumber});
  observation.detail = status.detail;
  return observation;
}

// The TaskInstance to ask about: any try (the API answers with the current one).
core::TaskInstanceKey lookupKey(core::TaskInstanceKey key) {
  key.tryNumber = 0;
  return key;
}

// What a reap of `assessment` reports, before its kill has run.
ReapResult pendingResult(const Assessment& assessment) {
  ReapResult result;
  result.target = assessment.target;
  result.state = stateLabel(assessment.status);
  result.reason = assessment.decision.reason;
  return result;
}

// "namespace/name", or nothing (the field is left out) for a tree on the host.
std::optional<std::string> podName(const Target& target) {
  if (!target.pod) return std::nullopt;
  return target.pod->namespaceName + "/" + target.pod->name;
}

// The tree's map index: as told, or -1 where it is not told (no AIRFLOW_CTX_MAP_INDEX) and the
// API lists the TaskInstance unmapped.
std::optional<int> mapIndexOf(const Assessment& assessment) {
  const proc::TaskTree& tree = assessment.target.tree;
  if (tree.mapIndexKnown) return tree.key->mapIndex;
  const auto& status = assessment.status;
  if (status.lookup == Lookup::Found && status.mapIndexes.empty()) return -1;
  return std::nullopt;
}

// Trees judged alike: the same attempt in the same place, killed for the same reason.
bool sameReap(const Assessment& a, const Assessment& b) {
  const proc::TaskTree& x = a.target.tree;
  const proc::TaskTree& y = b.target.tree;
  if (!x.key || !y.key || !a.target.cgroupDirs.empty() || !b.target.cgroupDirs.empty())
    return false;
  const auto mapIndex = mapIndexOf(a);
  return x.key->dagId == y.key->dagId && x.key->taskId == y.key->taskId &&
         x.key->runId == y.key->runId && x.key->tryNumber == y.key->tryNumber && mapIndex &&
         mapIndex == mapIndexOf(b) && x.placement == y.placement &&
         a.decision.reason == b.decision.reason;
}

// The kills a poll decided. The trees of one attempt judged alike in one place (a root's tree
// and the trees of the orphans it left) are one reap: one kill, one result, one Event. A root's
// tree leads, so the reap is known by its root.
// Only `eligible` trees join: a tree of survivors alone, or held by a kill in flight, must not
// bring its members into another tree's kill.
template <typename Eligible>
std::vector<Assessment> reapsOf(const std::vector<Assessment>& assessments, Eligible eligible) {
  std::vector<Assessment> reaps;
  for (const auto& assessment : assessments) {
    if (assessment.decision.action != reconcile::Action::Kill || !eligible(assessment.target))
      continue;
    auto same = std::find_if(reaps.begin(), reaps.end(),
                             [&](const Assessment& reap) { return sameReap(reap, assessment); });
    if (same == reaps.end()) {
      reaps.push_back(assessment);
      continue;
    }
    Assessment joining = assessment;
    if (joining.target.tree.origin == proc::Origin::Root &&
        same->target.tree.origin != proc::Origin::Root) {
      std::swap(*same, joining);
    }
    proc::TaskTree& tree = same->target.tree;
    auto& members = joining.target.tree.members;
    std::move(members.begin(), members.end(), std::back_inserter(tree.members));
    tree.age = std::max(tree.age, joining.target.tree.age);
  }
  return reaps;
}

template <typename Map>
void keepOnly(Map& map, const std::set<core::ProcessIdentity>& present) {
  std::erase_if(map, [&](const auto& entry) { return !present.contains(entry.first); });
}

}  // namespace

std::string stateLabel(const airflow::TaskInstanceStatus& status) {
  if (status.lookup != Lookup::Found)
    return status.lookup == Lookup::Missing ? "missing" : "unknown";
  if (!status.mapIndexes.empty()) return "mapped";
  return status.state.value_or("none");
}

ReapLoop::ReapLoop(TargetSource& targets, airflow::TaskInstanceSource& airflow, Reaper& reaper,
                   kill::KillWorker& killer, core::Clock& clock, report::Metrics& metrics,
                   report::Health& health, LoopOptions options)
    : targets_(targets),
      airflow_(airflow),
      reaper_(reaper),
      killer_(killer),
      clock_(clock),
      metrics_(metrics),
      health_(health),
      options_(options),
      reconciler_(options.policy) {}

ReapLoop::~ReapLoop() { drain(); }

std::vector<Assessment> ReapLoop::assess() {
  const auto started = clock_.now();
  Discovery discovery = targets_.discover();
  metrics_.observeScan(std::chrono::duration<double>(clock_.now() - started).count());
  health_.markFirstScan();
  listed_ = std::move(discovery.listed);

  std::vector<Target> targets = resolveUuids(std::move(discovery.targets));
  const auto states = fetchStates(targets);

  std::vector<Assessment> assessments;
  std::set<TreeId> present;
  size_t processes = 0;
  for (auto& target : targets) {
    processes += target.tree.members.size();
    present.insert(target.id());
    airflow::TaskInstanceStatus status;
    status.detail = "not asked";
    if (target.tree.key) {
      if (auto found = states.find(lookupKey(*target.tree.key)); found != states.end())
        status = found->second;
    }
    auto decision = reconciler_.decide(target.id(), attemptOf(target), observationOf(status));
    assessments.push_back(Assessment{std::move(target), std::move(status), std::move(decision)});
  }
  reconciler_.retain(present);
  forgetGone(present);
  metrics_.setTracked(assessments.size(), processes);
  metrics_.setUndecidedTrees(std::count_if(
      assessments.begin(), assessments.end(),
      [](const Assessment& a) { return a.decision.action == reconcile::Action::Unknown; }));
  return assessments;
}

// Airflow 3 trees known by their TI uuid get the key the API gives it; members whose own evidence
// names another attempt then become ambiguous trees of their own.
std::vector<Target> ReapLoop::resolveUuids(std::vector<Target> targets) {
  std::vector<std::string> unresolved;
  for (const auto& target : targets) {
    const auto& uuid = target.tree.tiUuid;
    if (!target.tree.key && !uuid.empty() && !resolvedUuids_.contains(uuid))
      unresolved.push_back(uuid);
  }
  if (!unresolved.empty()) resolvedUuids_.merge(airflow_.resolveUuids(unresolved));
  std::set<std::string> present;
  std::vector<Target> settled;
  for (auto& target : targets) {
    present.insert(target.tree.tiUuid);
    const auto found = resolvedUuids_.find(target.tree.tiUuid);
    std::vector<proc::TaskTree> splits;
    if (!target.tree.key && found != resolvedUuids_.end())
      splits = proc::settleKey(target.tree, found->second);
    const auto pod = target.pod;
    settled.push_back(std::move(target));
    for (auto& split : splits) settled.push_back(Target{std::move(split), pod, {}});
  }
  std::erase_if(resolvedUuids_, [&](const auto& entry) { return !present.contains(entry.first); });
  return settled;
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
    log_.warn("airflow not reached", {{"error", probed.error().message}});
    return false;
  }
  airflowReached_ = true;
  health_.markAirflowReached();
  return true;
}

reconcile::Attempt ReapLoop::attemptOf(const Target& target) const {
  const proc::TaskTree& tree = target.tree;
  reconcile::Attempt attempt{tree.key,       tree.mapIndexKnown,
                             tree.age,       clock_.wallNow() - tree.attemptAge,
                             tree.ambiguous, tree.ambiguity};
  for (const auto& member : tree.members) {
    if (!member.dead) attempt.ownPids.push_back(member.ownPid);
  }
  return attempt;
}

void ReapLoop::forgetGone(const std::set<TreeId>& present) {
  keepOnly(lastDecision_, present);
  std::erase_if(survivors_, [&](const core::ProcessIdentity& process) {
    return !listed_ || !std::binary_search(listed_->begin(), listed_->end(), process);
  });
  std::erase_if(dryRunReported_, [&](const TreeId& id) { return !present.contains(id); });
}

void ReapLoop::pollOnce() {
  collectFinished();
  auto assessments = assess();
  for (const auto& assessment : assessments) logDecision(assessment);
  const auto eligible = [this](const Target& target) {
    return options_.dryRun || worthReaping(target);
  };
  for (const auto& reap : reapsOf(assessments, eligible)) act(reap);
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
      collectFinished();
    }
  }
  drain();
}

void ReapLoop::drain() {
  killer_.waitIdle();
  collectFinished();
}

void ReapLoop::logDecision(const Assessment& assessment) {
  const std::string summary = std::string(reconcile::actionName(assessment.decision.action)) +
                              ": " + assessment.decision.reason;
  std::string& last = lastDecision_[assessment.target.id()];
  const auto level = last == summary ? spdlog::level::debug : spdlog::level::info;
  last = summary;
  if (!log_.enabled(level)) return;
  log_.log(level, "decision",
           {{"ti", assessment.target.label()},
            {"pod", podName(assessment.target)},
            {"root", assessment.target.tree.root.pid},
            {"processes", assessment.target.tree.members.size()},
            {"state", stateLabel(assessment.status)},
            {"action", reconcile::actionName(assessment.decision.action)},
            {"reason", assessment.decision.reason}});
}

void ReapLoop::act(const Assessment& assessment) {
  if (assessment.decision.action != reconcile::Action::Kill) return;
  if (options_.dryRun) return reportDryRun(assessment);
  if (!worthReaping(assessment.target)) return;
  startReap(assessment);
}

// A member that survived an earlier kill is not killed anew (its root dead, such a process is found
// again as a tree of its own), and a tree with a member that a kill in flight holds waits for that
// kill: it signals what its members fork, and what is left is reaped once it is over.
bool ReapLoop::worthReaping(const Target& target) const {
  if (inFlight_.contains(target.id())) return false;
  const auto beingKilled = [&](const proc::TreeMember& member) {
    return std::any_of(inFlight_.begin(), inFlight_.end(), [&](const auto& entry) {
      const auto& members = entry.second.target.tree.members;
      return std::any_of(members.begin(), members.end(),
                         [&](const proc::TreeMember& m) { return m.id == member.id; });
    });
  };
  const auto& members = target.tree.members;
  return std::none_of(members.begin(), members.end(), beingKilled) &&
         std::any_of(members.begin(), members.end(),
                     [&](const proc::TreeMember& m) { return !survivors_.contains(m.id); });
}

void ReapLoop::reportDryRun(const Assessment& assessment) {
  if (!dryRunReported_.insert(assessment.target.id()).second) return;
  ReapResult result = pendingResult(assessment);
  result.outcome = core::ReapOutcome::DryRun;
  result.at = clock_.wallNow();
  deliver(std::move(result));
}

void ReapLoop::startReap(Assessment assessment) {
  Target& target = assessment.target;
  std::erase_if(target.tree.members,
                [&](const proc::TreeMember& m) { return survivors_.contains(m.id); });
  log_.info("reap", {{"ti", target.label()},
                     {"pod", podName(target)},
                     {"root", target.tree.root.pid},
                     {"processes", target.tree.members.size()},
                     {"orphans", target.orphanCount()},
                     {"reason", assessment.decision.reason}});
  inFlight_.emplace(target.id(), pendingResult(assessment));
  killer_.submit(target.id(), reaper_.start(target), listed_);
}

void ReapLoop::collectFinished() {
  for (auto& finished : killer_.takeFinished()) {
    auto entry = inFlight_.extract(finished.id);
    if (entry.empty()) continue;
    ReapResult result = std::move(entry.mapped());
    result.report = std::move(finished.report);
    result.outcome = result.report.survivors.empty() && !result.report.error
                         ? core::ReapOutcome::Killed
                         : core::ReapOutcome::Failed;
    result.at = clock_.wallNow();
    deliver(std::move(result));
  }
}

void ReapLoop::deliver(ReapResult result) {
  const auto& report = result.report;
  const std::string label = result.target.label();
  survivors_.insert(report.survivors.begin(), report.survivors.end());
  metrics_.countReap(result.outcome, report.killed,
                     result.outcome == core::ReapOutcome::DryRun ? 0 : result.target.orphanCount(),
                     std::chrono::duration<double>(report.took).count());
  log_.info("reaped",
            {{"ti", label},
             {"pod", podName(result.target)},
             {"outcome", core::reapOutcomeName(result.outcome)},
             {"state", result.state},
             {"signalled", report.signalled},
             {"killed", report.killed},
             {"survivors", report.survivors.size()},
             {"took_ms", report.took.count()},
             {"error", report.error ? std::optional(report.error->message) : std::nullopt}});
  for (const auto& survivor : report.survivors)
    log_.warn("survivor (uninterruptible or unkillable; not retried)",
              {{"ti", label}, {"pid", survivor.pid}});
  for (auto* observer : observers_) observer->reaped(result);
}

}  // namespace reaper::loop
