#pragma once
// Pure decision logic: given what discovery saw of an attempt and what the Airflow API said about
// its TaskInstance, keep or kill. When in doubt, never kill.
//
// The try rule: an attempt whose processes do not tell their try (an Airflow 2 `tasks run` root
// without AIRFLOW_CTX_* below it) is the TI's current try unless something shows it is older: it
// started more than kClockSkew before the current try was queued (a try's processes start after
// the scheduler queued it; the API's clock and the node's may differ by a few seconds). Then it is
// superseded.
// The candidate rule: an attempt whose map index is unknown (AIRFLOW_CTX_* carry none) may be any
// map index of its task; it is killed only when every candidate map index has left `running` for
// its try.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/types.h"

namespace reaper::reconcile {

enum class Action { Keep, Kill, Unknown };
std::string_view actionName(Action action);  // "keep" | "kill" | "unknown"

inline constexpr core::Duration kClockSkew{5000};

// An attempt as discovery saw it.
struct Attempt {
  std::optional<core::TaskInstanceKey> key;  // tryNumber 0: the processes do not tell their try
  bool mapIndexKnown = true;                 // false: key's -1 may stand for any map index
  core::Duration age{0};                     // age of the tree's oldest process
  // When the process that fixed the attempt (its root, its youngest carrier) started.
  std::optional<core::WallTime> started;  // nullopt: not known (no try-rule evidence)
  bool ambiguous = false;
  std::string ambiguity;
  std::vector<core::Pid> ownPids;  // of its live members, each in its own PID namespace
};

// One map index of the TaskInstance, for the candidate rule.
struct Candidate {
  int mapIndex = -1;
  std::optional<std::string> state;
  int tryNumber = 0;
};

// What the API said about the attempt's TaskInstance.
struct Observation {
  enum class Lookup { Found, Missing, Unknown } lookup = Lookup::Unknown;
  std::optional<std::string> state;        // nullopt: the TI has no state (cleared)
  int tryNumber = 0;                       // the TI's current try
  std::optional<core::WallTime> queuedAt;  // when the current try was queued
  std::optional<int64_t> recordedPid;      // the process Airflow recorded running the current try
  std::vector<Candidate> candidates;       // every map index, when the attempt's is unknown
  std::string detail;                      // why Missing/Unknown
};

struct Policy {
  core::Duration startupGrace{30000};
  bool killMissing = false;  // kill.onMissingTaskInstance: kill
};

struct Decision {
  Action action = Action::Unknown;
  std::string reason;
  bool running = false;  // the API showed the attempt (or a candidate of it) running
};

// `seenRunning`: the TI was seen `running` by an earlier poll of this attempt.
Decision decide(const Attempt& attempt, const Observation& observation, bool seenRunning,
                const Policy& policy);

// Remembers, across polls, which trees (by root process) were seen running (the startup grace only
// protects attempts never seen running) and forgets trees that are gone.
class Reconciler {
 public:
  explicit Reconciler(Policy policy) : policy_(policy) {}

  Decision decide(const core::ProcessIdentity& tree, const Attempt& attempt,
                  const Observation& observation);
  // Drops history of trees not in `present`.
  void retain(const std::set<core::ProcessIdentity>& present);

 private:
  Policy policy_;
  std::map<core::ProcessIdentity, bool> seenRunning_;
};

}  // namespace reaper::reconcile
