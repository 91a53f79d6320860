#pragma once
// Pure pieces of the TaskInstance client: batching keys into list requests, building request bodies
// and parsing replies (JSON text in, typed structs out), matching replies to keys.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airflow/task_instance_source.h"
#include "core/result.h"
#include "core/types.h"

namespace reaper::airflow {

enum class ApiVersion { V1, V2 };

// One POST .../taskInstances/list: the filters and the keys whose answers it carries.
struct ListQuery {
  std::vector<std::string> dagIds, runIds, taskIds;
  std::vector<std::string> states;  // empty: any state
  std::vector<core::TaskInstanceKey> keys;
};

// Splits keys into queries of at most `maxKeys` keys each, sorted so that keys of one dag and run
// share a query and its dag_ids x dag_run_ids x task_ids filter stays close to the keys it asks
// for.
std::vector<ListQuery> planQueries(const std::vector<core::TaskInstanceKey>& keys, size_t maxKeys);

std::string listPath(ApiVersion version);
std::string buildListBody(const ListQuery& query, int64_t offset, int limit);

struct TaskInstanceRecord {
  core::TaskInstanceKey key;  // tryNumber = the TI's current try
  std::optional<std::string> state;
  std::string uuid;  // empty on Airflow 2
};

struct ListPage {
  std::vector<TaskInstanceRecord> records;
  int64_t totalEntries = 0;
};

// Parses a TaskInstanceCollectionResponse (v2) or TaskInstanceCollection (v1).
core::Result<ListPage> parseListReply(std::string_view json, ApiVersion version);

// Found for keys present in `records` (matched by dag, task, run and map index); Unknown for a key
// with map index -1 whose task the reply shows mapped; Missing otherwise.
std::map<core::TaskInstanceKey, TaskInstanceStatus> matchRecords(
    const std::vector<core::TaskInstanceKey>& keys, const std::vector<TaskInstanceRecord>& records);

// POST /auth/token body and the access_token of its LoginResponse.
std::string buildTokenBody(const std::string& username, const std::string& password);
core::Result<std::string> parseTokenReply(std::string_view json);

// The `exp` claim (seconds since the epoch) of a JWT, read without verifying it.
core::Result<int64_t> jwtExpiry(std::string_view token);

// True when a version reply ({"version": ...}) parses.
bool isVersionReply(std::string_view json);

}  // namespace reaper::airflow
