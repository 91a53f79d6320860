#pragma once
// What a process's command line or title says about its role in Airflow. Pure, on argv.
//
// Titles and command lines as Airflow writes them (setproctitle):
//   Airflow 3  task process           `airflow worker -- <TI uuid>`
//              LocalExecutor worker   `airflow worker -- LocalExecutor: <TI uuid>|<idle>` (reused)
//              Celery pool process    `[celeryd: <node>:ForkPoolWorker-N]` (reused)
//              KubernetesExecutor     `python -m airflow.sdk.execution_time.execute_workload
//                                      --json-string '<workload JSON>'`
//   Airflow 2  `airflow tasks run DAG TASK RUN_ID [--local|--raw] [--map-index N] ...`
//              forked runner          `airflow task runner: DAG TASK RUN_ID [JOB_ID]`
//              Celery/Local fork      `airflow task supervisor: ['airflow', 'tasks', 'run', ...]`
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.h"

namespace reaper::proc {

// A TaskInstance key of which some parts may be unknown (an Airflow 2 command line has no try
// number; the runner title and most environments have no map index).
struct PartialKey {
  std::string dagId;
  std::string taskId;
  std::string runId;
  std::optional<int> mapIndex;
  std::optional<int> tryNumber;
  bool operator==(const PartialKey&) const = default;

  // Nothing known contradicts: same dag/task/run, and map index and try equal where both known.
  bool compatible(const PartialKey& other) const;
  // Same TaskInstance (tries may differ).
  bool sameTaskInstance(const PartialKey& other) const;
  // Fills this key's unknown parts from `other`.
  void merge(const PartialKey& other);
  // Unknown map index -> -1, unknown try -> 0.
  core::TaskInstanceKey toKey() const;
};

enum class ProcessRole {
  Other,     // nothing Airflow-specific on the command line
  Worker,    // long-lived Airflow/Celery process reused across TIs: never a member
  TaskRoot,  // runs one TaskInstance attempt
};

struct Recognition {
  ProcessRole role = ProcessRole::Other;
  std::optional<PartialKey> key;
  std::string tiUuid;
  // The process is normally the child of a supervisor that is itself a member or a worker (so a
  // root of this kind whose parent is neither was reparented: an orphan).
  bool supervised = false;
  // A LocalExecutor worker or Celery pool process: its fork that has not yet retitled is the
  // Airflow 3 task process.
  bool forksTasks = false;
};

Recognition recognize(const std::vector<std::string>& argv);

// The TI of a KubernetesExecutor workload (`ti` object of the --json-string JSON). nullopt when the
// JSON does not parse or is not a task workload.
struct WorkloadTi {
  PartialKey key;
  std::string id;
};
std::optional<WorkloadTi> parseWorkloadJson(std::string_view json);

}  // namespace reaper::proc
