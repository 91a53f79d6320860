#include "reconcile/decision.h"

#include <algorithm>

namespace reaper::reconcile {
namespace {

Decision keep(std::string reason) { return {Action::Keep, std::move(reason)}; }
Decision kill(std::string reason) { return {Action::Kill, std::move(reason)}; }
Decision unknown(std::string reason) { return {Action::Unknown, std::move(reason)}; }

std::string stateName(const std::optional<std::string>& state) { return state ? *state : "none"; }

bool withinStartupGrace(const Attempt& attempt, bool seenRunning, const Policy& policy) {
  return !seenRunning && attempt.age < policy.startupGrace;
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
  const int attemptTry = attempt.key->tryNumber;
  if (attemptTry > 0 && observation.tryNumber > attemptTry)
    return kill("superseded by try " + std::to_string(observation.tryNumber));
  if (attemptTry > 0 && observation.tryNumber < attemptTry)
    return unknown("API reports try " + std::to_string(observation.tryNumber) +
                   ", older than the process's try " + std::to_string(attemptTry));
  if (observation.state == "running") return keep("running");
  if (withinStartupGrace(attempt, seenRunning, policy))
    return keep("state=" + stateName(observation.state) + " within startup grace");
  return kill("state=" + stateName(observation.state));
}

Decision Reconciler::decide(const Attempt& attempt, const Observation& observation) {
  if (!attempt.key) return reconcile::decide(attempt, observation, false, policy_);
  bool& seen = seenRunning_[*attempt.key];
  Decision decision = reconcile::decide(attempt, observation, seen, policy_);
  if (decision.action == Action::Keep && observation.state == "running") seen = true;
  return decision;
}

void Reconciler::retain(const std::vector<core::TaskInstanceKey>& present) {
  std::erase_if(seenRunning_, [&](const auto& entry) {
    return std::find(present.begin(), present.end(), entry.first) == present.end();
  });
}

}  // namespace reaper::reconcile
