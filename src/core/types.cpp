#include "core/types.h"

namespace reaper::core {

std::string TaskInstanceKey::toString() const {
  return dagId + "/" + taskId + "/" + runId + "/" + std::to_string(mapIndex) + "/" +
         std::to_string(tryNumber);
}

bool TaskInstanceKey::sameTaskInstance(const TaskInstanceKey& other) const {
  return dagId == other.dagId && taskId == other.taskId && runId == other.runId &&
         mapIndex == other.mapIndex;
}

std::string_view reapOutcomeName(ReapOutcome outcome) {
  switch (outcome) {
    case ReapOutcome::Killed:
      return "killed";
    case ReapOutcome::Failed:
      return "failed";
    case ReapOutcome::DryRun:
      return "dry_run";
  }
  return "unknown";
}

}  // namespace reaper::core
