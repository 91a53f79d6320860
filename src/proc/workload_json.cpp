// cpprestsdk's JSON reader stays in this file: its headers clash with fmt when mixed with spdlog.
#include <cpprest/json.h>

#include "proc/airflow_process.h"

namespace reaper::proc {
namespace {

std::optional<std::string> stringField(const web::json::object& object, const char* name) {
  auto it = object.find(utility::conversions::to_string_t(name));
  if (it == object.end() || !it->second.is_string()) return std::nullopt;
  return utility::conversions::to_utf8string(it->second.as_string());
}

std::optional<int> intField(const web::json::object& object, const char* name) {
  auto it = object.find(utility::conversions::to_string_t(name));
  if (it == object.end() || !it->second.is_integer()) return std::nullopt;
  return it->second.as_integer();
}

}  // namespace

// The workload is airflow.executors.workloads.ExecuteTask: {"token": ..., "ti": {"id",
// "dag_id", "task_id", "run_id", "try_number", "map_index", ...}, "dag_rel_path": ..., ...}.
std::optional<WorkloadTi> parseWorkloadJson(std::string_view json) {
  try {
    web::json::value root =
        web::json::value::parse(utility::conversions::to_string_t(std::string(json)));
    if (!root.is_object() || !root.has_object_field(U("ti"))) return std::nullopt;
    const auto& ti = root.at(U("ti")).as_object();
    auto id = stringField(ti, "id");
    auto dagId = stringField(ti, "dag_id");
    auto taskId = stringField(ti, "task_id");
    auto runId = stringField(ti, "run_id");
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
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace reaper::proc
