#include "reconcile/decision.h"

#include <algorithm>

namespace reaper::reconcile {
namespace {

Decision keep(std::string reason, bool running = false) {
  return {Action::Keep, std::move(reason), running};
}
Decision kill(std::string reason) { return {Action::Kill, std::move(reason)}; }
Decision unknown(std::string reason) { return {Action::Unknown, std::move(reason)}; }

std::string stateName(const std::optional<std::string>& state) { return state ? *state : "none"; }

// Queued at the attempt's own try: the executor has started the attempt and Airflow has not yet
// marked it running (the task process does that itself, through the API server, once started).
// A queued TI has no earlier run of its try, so its processes are the starting attempt itself.
bool startingOrRunning(const std::optional<std::string>& state) {
  return state == "running" || state == "queued";
}

bool withinStartupGrace(const Attempt& attempt, bool seenRunning, const Policy& policy) {
  return !seenRunning && attempt.age < policy.startupGrace;
}

// "0, 1, 2" (at most five, then "...").
std::string listIndexes(const std::vector<int>& indexes) {
  constexpr size_t kShown = 5;
  std::string text;
  for (size_t i = 0; i < indexes.size() && i < kShown; ++i)
    text += (i ? ", " : "") + std::to_string(indexes[i]);
  return indexes.size() > kShown ? text + ", ..." : text;
}

// The candidate rule: the attempt may be any map index of its task that has reached its try.
Decision decideCandidates(const Attempt& attempt, const Observation& observation, bool seenRunning,
                          const Policy& policy) {
  const int attemptTry = attempt.key->tryNumber;
  std::vector<int> running, left;
  for (const Candidate& c : observation.candidates) {
    if (attemptTry > 0 && c.tryNumber < attemptTry) continue;  // not at this try yet
    const bool superseded = attemptTry > 0 && c.tryNumber > attemptTry;
    (!superseded && startingOrRunning(c.state) ? running : left).push_back(c.mapIndex);
  }
  if (!running.empty())
    return keep(
        "map index unknown; candidate map index " + listIndexes(running) + " running or starting",
        true);
  if (left.empty())
    return unknown("map index unknown; no map index of the task is at try " +
                   std::to_string(attemptTry));
  if (withinStartupGrace(attempt, seenRunning, policy))
    return keep("map index unknown; every candidate has left running, within startup grace");
  return kill("map index unknown; every candidate map index (" + listIndexes(left) +
              ") has left running");
}

// The try rule for an attempt that does not tell its try. A process Airflow recorded running the
// current try is a member: the attempt is that try, whatever the clocks say (a node whose clock is
// behind the scheduler's makes the current try look started before it was queued).
bool startedBeforeCurrentTry(const Attempt& attempt, const Observation& observation) {
  const bool recorded =
      observation.recordedPid && std::find(attempt.ownPids.begin(), attempt.ownPids.end(),
                                           *observation.recordedPid) != attempt.ownPids.end();
  return attempt.key->tryNumber == 0 && attempt.started && observation.queuedAt && !recorded &&
         *attempt.started + kClockSkew < *observation.queuedAt;
}

}  // namespace

std::string_view actionName(Action action) {
  switch (action) {
    case Action::Keep:
      return "keep";
    case Action::Kill:
      return "kill";
    case Action::Unknown:
      break;
  }
  return "unknown";
}

Decision decide(const Attempt& attempt, const Observation& observation, bool seenRunning,
                const Policy& policy) {
  if (attempt.ambiguous) return unknown("ambiguous identity: " + attempt.ambiguity);
  if (!attempt.key) return unknown("task instance not identified yet");
  using Lookup = Observation::Lookup;
  if (observation.lookup == Lookup::Unknown) return unknown("state unknown: " + observation.detail);
  if (observation.lookup == Lookup::Missing) {
    if (!policy.killMissing)
      return keep("task instance missing from the API (onMissingTaskInstance=keep)");
    if (withinStartupGrace(attempt, seenRunning, policy))
      return keep("missing, within startup grace");
    return kill("task instance missing from the API");
  }
  if (!observation.candidates.empty()) {
    if (attempt.mapIndexKnown)
      return unknown("the task is mapped but the process names map index " +
                     std::to_string(attempt.key->mapIndex));
    return decideCandidates(attempt, observation, seenRunning, policy);
  }
  const std::string currentTry = std::to_string(observation.tryNumber);
  if (startedBeforeCurrentTry(attempt, observation))
    return kill("superseded: started before try " + currentTry + " was queued");
  const int attemptTry = attempt.key->tryNumber;
  if (attemptTry > 0 && observation.tryNumber > attemptTry)
    return kill("superseded by try " + currentTry);
  if (attemptTry > 0 && observation.tryNumber < attemptTry)
    return unknown("API reports try " + currentTry + ", older than the process's try " +
                   std::to_string(attemptTry));
  if (observation.state == "running") return keep("running", true);
  if (observation.state == "queued") return keep("queued: the attempt is starting");
  if (withinStartupGrace(attempt, seenRunning, policy))
    return keep("state=" + stateName(observation.state) + " within startup grace");
  return kill("state=" + stateName(observation.state));
}

Decision Reconciler::decide(const core::ProcessIdentity& tree, const Attempt& attempt,
                            const Observation& observation) {
  bool& seen = seenRunning_[tree];
  Decision decision = reconcile::decide(attempt, observation, seen, policy_);
  if (decision.action == Action::Keep && decision.running) seen = true;
  return decision;
}

void Reconciler::retain(const std::set<core::ProcessIdentity>& present) {
  std::erase_if(seenRunning_, [&](const auto& entry) { return !present.contains(entry.first); });
}

}  // namespace reaper::reconcile
