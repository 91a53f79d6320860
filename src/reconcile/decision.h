#pragma once
// Pure decision logic: given what discovery saw of an attempt and what the Airflow API said about
// its TaskInstance, keep or kill. When in doubt, never kill.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/types.h"

namespace reaper::reconcile {

enum class Action { Keep, Kill, Unknown };
std::string_view actionName(Action action);  // "keep" | "kill" | "unknown"

// An attempt as discovery saw it.
struct Attempt {
  std::optional<core::TaskInstanceKey> key;  // tryNumber 0: the processes do not tell their try
  core::Duration age{0};                     // age of the tree's oldest process
  bool ambiguous = false;
  std::string ambiguity;
};

// What the API said about the attempt's TaskInstance.
struct Observation {
  enum class Lookup { Found, Missing, Unknown } lookup = Lookup::Unknown;
  std::optional<std::string> state;  // nullopt: the TI has no state (cleared)
  int tryNumber = 0;                 // the TI's current try
  std::string detail;                // why Missing/Unknown
};

struct Policy {
  core::Duration startupGrace{30000};
  bool killMissing = false;  // kill.onMissingTaskInstance: kill
};

struct Decision {
  Action action = Action::Unknown;
  std::string reason;
};

// `seenRunning`: the TI was seen `running` by an earlier poll of this attempt.
Decision decide(const Attempt& attempt, const Observation& observation, bool seenRunning,
                const Policy& policy);

// Remembers, across polls, which attempts were seen running (the startup grace only protects
// attempts never seen running) and forgets attempts that are gone.
class Reconciler {
 public:
  explicit Reconciler(Policy policy) : policy_(policy) {}

  Decision decide(const Attempt& attempt, const Observation& observation);
  // Drops history of attempts not in `present`.
  void retain(const std::vector<core::TaskInstanceKey>& present);

 private:
  Policy policy_;
  std::map<core::TaskInstanceKey, bool> seenRunning_;
};

}  // namespace reaper::reconcile
