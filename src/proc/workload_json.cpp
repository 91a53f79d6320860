#include <limits>

#include "core/json.h"
#include "proc/airflow_process.h"

namespace reaper::proc {
namespace {

std::optional<int> intField(const core::Json& object, const char* name) {
  auto value = object.field(name).integer();
  if (!value || *value < std::numeric_limits<int>::min() ||
      *value > std::numeric_limits<int>::max()) {
    return std::nullopt;
  }
  return static_cast<int>(*value);
}

}  // namespace

// The workload is airflow.executors.workloads.ExecuteTask: {"token": ..., "ti": {"id",
// "dag_id", "task_id", "run_id", "try_number", "map_index", ...}, "dag_rel_path": ..., ...}.
std::optional<WorkloadTi> parseWorkloadJson(std::string_view json) {
  auto root = core::Json::parse(json);
  if (!root) return std::nullopt;
  const core::Json& ti = root->field("ti");
  auto id = ti.field("id").string();
  auto dagId = ti.field("dag_id").string();
  auto taskId = ti.field("task_id").string();
  auto runId = ti.field("run_id").string();
  auto tryNumber = intField(ti, "try_number");
  if (!id || !dagId || !taskId || !runId || !tryNumber || dagId->empty() || taskId->empty() ||
      runId->empty()) {
    return std::nullopt;
  }
  WorkloadTi result;
  result.id = *id;
  result.key =
      PartialKey{*dagId, *taskId, *runId, intField(ti, "map_index").value_or(-1), *tryNumber};
  return result;
}

}  // namespace reaper::proc
