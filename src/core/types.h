#pragma once
// Small value types shared by every module.
#include <sys/types.h>

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace reaper::core {

using Pid = pid_t;

// A process as the kernel knows it across pid reuse: the pid plus its start time (clock ticks after
// boot, field 22 of /proc/PID/stat).
struct ProcessIdentity {
  Pid pid = 0;
  uint64_t startTicks = 0;
  auto operator<=>(const ProcessIdentity&) const = default;
};

// One TaskInstance attempt: what a task-runner tree runs.
struct TaskInstanceKey {
  std::string dagId;
  std::string taskId;
  std::string runId;
  int mapIndex = -1;
  int tryNumber = 0;

  auto operator<=>(const TaskInstanceKey&) const = default;
  // "dag/task/run/map/try", for logs.
  std::string toString() const;
  // The same TaskInstance, any try.
  bool sameTaskInstance(const TaskInstanceKey& other) const;
};

// How a reap ended: every member dead, some survived or the kill failed, or a dry run signalled
// nothing.
enum class ReapOutcome { Killed, Failed, DryRun };
// "killed" | "failed" | "dry_run": the metric label and the custom resource value.
std::string_view reapOutcomeName(ReapOutcome outcome);

struct PodRef {
  std::string namespaceName;
  std::string name;
  std::string uid;
  auto operator<=>(const PodRef&) const = default;
};

}  // namespace reaper::core
