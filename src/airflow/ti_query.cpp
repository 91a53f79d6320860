#include "airflow/ti_query.h"

#include <cpprest/asyncrt_utils.h>
#include <cpprest/json.h>

#include <algorithm>
#include <set>
#include <tuple>

namespace reaper::airflow {
namespace json = web::json;
namespace {

json::value stringArray(const std::vector<std::string>& items) {
  std::vector<json::value> values;
  values.reserve(items.size());
  for (const auto& item : items) values.push_back(json::value::string(item));
  return json::value::array(std::move(values));
}

std::vector<std::string> distinct(const std::vector<core::TaskInstanceKey>& keys,
                                  std::string core::TaskInstanceKey::*field) {
  std::set<std::string> seen;
  for (const auto& key : keys) seen.insert(key.*field);
  return {seen.begin(), seen.end()};
}

ListQuery queryFor(std::vector<core::TaskInstanceKey> keys) {
  ListQuery query;
  query.dagIds = distinct(keys, &core::TaskInstanceKey::dagId);
  query.runIds = distinct(keys, &core::TaskInstanceKey::runId);
  query.taskIds = distinct(keys, &core::TaskInstanceKey::taskId);
  query.keys = std::move(keys);
  return query;
}

// The identity of a TaskInstance, any try.
using TiIdentity = std::tuple<std::string, std::string, std::string, int>;

TiIdentity identityOf(const core::TaskInstanceKey& key) {
  return {key.dagId, key.taskId, key.runId, key.mapIndex};
}

core::Result<std::string> stringField(const json::value& object, const char* name) {
  if (!object.has_field(name) || !object.at(name).is_string()) {
    return core::makeError(std::string("task instance lacks string field ") + name);
  }
  return object.at(name).as_string();
}

core::Result<int64_t> integerField(const json::value& object, const char* name) {
  if (!object.has_field(name) || !object.at(name).is_number() ||
      !object.at(name).as_number().is_int64()) {
    return core::makeError(std::string("lacks integer field ") + name);
  }
  return object.at(name).as_number().to_int64();
}

core::Result<TaskInstanceRecord> parseRecord(const json::value& item, ApiVersion version) {
  if (!item.is_object()) return core::makeError("task instance is not an object");
  auto dag = stringField(item, "dag_id");
  if (!dag.ok()) return dag.error();
  auto task = stringField(item, "task_id");
  if (!task.ok()) return task.error();
  auto run = stringField(item, "dag_run_id");
  if (!run.ok()) return run.error();
  auto mapIndex = integerField(item, "map_index");
  if (!mapIndex.ok()) return mapIndex.error();
  auto tryNumber = integerField(item, "try_number");
  if (!tryNumber.ok()) return tryNumber.error();
  TaskInstanceRecord record;
  record.key = {*dag, *task, *run, static_cast<int>(*mapIndex), static_cast<int>(*tryNumber)};
  if (!item.has_field("state")) return core::makeError("task instance lacks field state");
  const auto& state = item.at("state");
  // Airflow 2 before 2.7 wrote a cleared TI as "none"; both mean "no state".
  if (state.is_string() && state.as_string() != "none") {
    record.state = state.as_string();
  } else if (!state.is_null() && !state.is_string()) {
    return core::makeError("task instance state is neither a string nor null");
  }
  if (version == ApiVersion::V2) {
    auto id = stringField(item, "id");
    if (!id.ok()) return id.error();
    record.uuid = *id;
  }
  return record;
}

// JWT segments are base64url without padding (RFC 7515); cpprestsdk decodes standard base64.
std::string base64UrlDecode(std::string_view text) {
  std::string standard(text);
  std::replace(standard.begin(), standard.end(), '-', '+');
  std::replace(standard.begin(), standard.end(), '_', '/');
  standard.append((4 - standard.size() % 4) % 4, '=');
  try {
    const std::vector<unsigned char> bytes = utility::conversions::from_base64(standard);
    return std::string(bytes.begin(), bytes.end());
  } catch (const std::exception&) {
    return {};
  }
}

core::Result<json::value> parseJson(std::string_view text) {
  try {
    return json::value::parse(std::string(text));
  } catch (const std::exception& e) {
    return core::makeError(std::string("reply is not JSON: ") + e.what());
  }
}

}  // namespace

std::vector<ListQuery> planQueries(const std::vector<core::TaskInstanceKey>& keys, size_t maxKeys) {
  std::vector<core::TaskInstanceKey> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  std::vector<ListQuery> queries;
  const size_t step = std::max<size_t>(1, maxKeys);
  for (size_t begin = 0; begin < sorted.size(); begin += step) {
    auto end = sorted.begin() + static_cast<std::ptrdiff_t>(std::min(sorted.size(), begin + step));
    queries.push_back(queryFor({sorted.begin() + static_cast<std::ptrdiff_t>(begin), end}));
  }
  return queries;
}

std::string listPath(ApiVersion version) {
  return version == ApiVersion::V2 ? "/api/v2/dags/~/dagRuns/~/taskInstances/list"
                                   : "/api/v1/dags/~/dagRuns/~/taskInstances/list";
}

std::string buildListBody(const ListQuery& query, int64_t offset, int limit) {
  json::value body = json::value::object();
  if (!query.keys.empty() || !query.dagIds.empty()) {
    body["dag_ids"] = stringArray(query.dagIds);
    body["dag_run_ids"] = stringArray(query.runIds);
    body["task_ids"] = stringArray(query.taskIds);
  }
  if (!query.states.empty()) body["state"] = stringArray(query.states);
  body["page_offset"] = json::value::number(offset);
  body["page_limit"] = json::value::number(limit);
  return body.serialize();
}

core::Result<ListPage> parseListReply(std::string_view text, ApiVersion version) {
  auto parsed = parseJson(text);
  if (!parsed.ok()) return parsed.error();
  const json::value& root = *parsed;
  if (!root.is_object() || !root.has_field("task_instances") ||
      !root.at("task_instances").is_array()) {
    return core::makeError("reply lacks the task_instances array");
  }
  auto total = integerField(root, "total_entries");
  if (!total.ok()) return core::makeError("reply " + total.error().message);
  ListPage page;
  page.totalEntries = *total;
  for (const auto& item : root.at("task_instances").as_array()) {
    auto record = parseRecord(item, version);
    if (!record.ok()) return record.error();
    page.records.push_back(std::move(record).value());
  }
  return page;
}

std::map<core::TaskInstanceKey, TaskInstanceStatus> matchRecords(
    const std::vector<core::TaskInstanceKey>& keys,
    const std::vector<TaskInstanceRecord>& records) {
  std::map<TiIdentity, const TaskInstanceRecord*> byIdentity;
  std::set<std::tuple<std::string, std::string, std::string>> mappedTasks;
  for (const auto& record : records) {
    byIdentity[identityOf(record.key)] = &record;
    if (record.key.mapIndex >= 0) {
      mappedTasks.emplace(record.key.dagId, record.key.taskId, record.key.runId);
    }
  }
  std::map<core::TaskInstanceKey, TaskInstanceStatus> result;
  for (const auto& key : keys) {
    TaskInstanceStatus status;
    auto found = byIdentity.find(identityOf(key));
    if (found != byIdentity.end()) {
      status.lookup = Lookup::Found;
      status.state = found->second->state;
      status.tryNumber = found->second->key.tryNumber;
      status.uuid = found->second->uuid;
    } else if (key.mapIndex < 0 && mappedTasks.contains({key.dagId, key.taskId, key.runId})) {
      // A tree known only by AIRFLOW_CTX_* without AIRFLOW_CTX_MAP_INDEX: which map index it runs
      // is unknown, so it is not "missing".
      status.detail = "task is mapped and the tree's map index is unknown";
    } else {
      status.lookup = Lookup::Missing;
      status.detail = "task instance not in the API reply";
    }
    result[key] = std::move(status);
  }
  return result;
}

std::string buildTokenBody(const std::string& username, const std::string& password) {
  json::value body = json::value::object();
  body["username"] = json::value::string(username);
  body["password"] = json::value::string(password);
  return body.serialize();
}

core::Result<std::string> parseTokenReply(std::string_view text) {
  auto parsed = parseJson(text);
  if (!parsed.ok()) return parsed.error();
  if (!parsed->is_object()) return core::makeError("token reply is not an object");
  auto token = stringField(*parsed, "access_token");
  if (!token.ok() || token->empty()) return core::makeError("token reply lacks access_token");
  return token;
}

core::Result<int64_t> jwtExpiry(std::string_view token) {
  const auto first = token.find('.');
  const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos) return core::makeError("token is not a JWT");
  auto claims = parseJson(base64UrlDecode(token.substr(first + 1, second - first - 1)));
  if (!claims.ok() || !claims->is_object()) return core::makeError("JWT claims do not parse");
  if (!claims->has_field("exp") || !claims->at("exp").is_number()) {
    return core::makeError("JWT lacks a numeric exp claim");
  }
  return static_cast<int64_t>(claims->at("exp").as_double());
}

bool isVersionReply(std::string_view text) {
  auto parsed = parseJson(text);
  return parsed.ok() && parsed->is_object() && parsed->has_field("version") &&
         parsed->at("version").is_string();
}

}  // namespace reaper::airflow
