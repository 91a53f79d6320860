#include "airflow/ti_query.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <set>
#include <tuple>

#include "core/json.h"
#include "net/base64.h"

namespace reaper::airflow {
namespace {

using core::Json;

Json stringArray(const std::vector<std::string>& items) {
  return Json::Array(items.begin(), items.end());
}

using Values = std::set<std::string_view>;  // distinct filter values, viewing the keys' strings

// The query for `keys` whose distinct dag, run and task ids are `dags`, `runs` and `tasks`.
ListQuery queryFor(std::vector<core::TaskInstanceKey> keys, const Values& dags, const Values& runs,
                   const Values& tasks) {
  ListQuery query;
  query.dagIds.assign(dags.begin(), dags.end());
  query.runIds.assign(runs.begin(), runs.end());
  query.taskIds.assign(tasks.begin(), tasks.end());
  query.keys = std::move(keys);
  return query;
}

// The identity of a TaskInstance, any try (tryNumber 0).
core::TaskInstanceKey identityOf(const core::TaskInstanceKey& key) {
  return {key.dagId, key.taskId, key.runId, key.mapIndex, 0};
}

core::Result<std::string> stringField(const Json& object, const char* name) {
  auto value = object.field(name).string();
  if (!value) return core::makeError(std::string("lacks string field ") + name);
  return *value;
}

core::Result<int64_t> integerField(const Json& object, const char* name) {
  auto value = object.field(name).integer();
  if (!value) return core::makeError(std::string("lacks integer field ") + name);
  return *value;
}

core::Result<int> intField(const Json& object, const char* name) {
  auto value = integerField(object, name);
  if (!value.ok()) return value.error();
  if (*value < std::numeric_limits<int>::min() || *value > std::numeric_limits<int>::max()) {
    return core::makeError(std::string("field ") + name + " out of range");
  }
  return static_cast<int>(*value);
}

core::Result<core::TaskInstanceKey> parseIdentity(const Json& item) {
  if (!item.isObject()) return core::makeError("is not an object");
  auto dag = stringField(item, "dag_id");
  if (!dag.ok()) return dag.error();
  auto task = stringField(item, "task_id");
  if (!task.ok()) return task.error();
  auto run = stringField(item, "dag_run_id");
  if (!run.ok()) return run.error();
  auto mapIndex = intField(item, "map_index");
  if (!mapIndex.ok()) return mapIndex.error();
  return core::TaskInstanceKey{*dag, *task, *run, *mapIndex, 0};
}

// Airflow 2 before 2.7 wrote a cleared TI as "none"; both mean "no state".
core::Result<std::optional<std::string>> parseState(const Json& item) {
  if (!item.has("state")) return core::makeError("lacks field state");
  const Json& state = item.field("state");
  if (state.isNull() || state.string() == "none") return std::optional<std::string>{};
  if (!state.isString()) return core::makeError("state is neither a string nor null");
  return state.string();
}

core::Result<std::optional<core::WallTime>> parseQueuedWhen(const Json& item) {
  const Json& value = item.field("queued_when");
  if (value.isNull()) return std::optional<core::WallTime>{};
  auto text = value.string();
  auto time = text ? parseTimestamp(*text) : std::nullopt;
  if (!time) return core::makeError("queued_when is not an ISO 8601 date-time");
  return std::optional<core::WallTime>(time);
}

core::Result<std::optional<int64_t>> parsePid(const Json& item) {
  const Json& value = item.field("pid");
  if (value.isNull()) return std::optional<int64_t>{};
  auto pid = value.integer();
  if (!pid) return core::makeError("pid is neither an integer nor null");
  return std::optional<int64_t>(pid);
}

// The fields after the identity; `record.key` holds the identity already.
core::Status parseAttempt(const Json& item, ApiVersion version, TaskInstanceRecord& record) {
  auto tryNumber = intField(item, "try_number");
  if (!tryNumber.ok()) return tryNumber.error();
  record.key.tryNumber = *tryNumber;
  auto state = parseState(item);
  if (!state.ok()) return state.error();
  record.state = *state;
  auto queuedWhen = parseQueuedWhen(item);
  if (!queuedWhen.ok()) return queuedWhen.error();
  record.queuedWhen = *queuedWhen;
  auto pid = parsePid(item);
  if (!pid.ok()) return pid.error();
  record.pid = *pid;
  if (version == ApiVersion::V2) {
    auto id = stringField(item, "id");
    if (!id.ok()) return id.error();
    record.uuid = *id;
  }
  return core::Ok{};
}

void parseRecord(const Json& item, ApiVersion version, ListPage& page) {
  auto identity = parseIdentity(item);
  if (!identity.ok()) {
    page.bad.push_back({std::nullopt, "task instance " + identity.error().message});
    return;
  }
  TaskInstanceRecord record;
  record.key = *identity;
  auto parsed = parseAttempt(item, version, record);
  if (!parsed.ok()) {
    page.bad.push_back({*identity, "task instance " + parsed.error().message});
    return;
  }
  page.records.push_back(std::move(record));
}

// dag, task, run: views into the keys and the listing at hand.
using TaskRef = std::tuple<std::string_view, std::string_view, std::string_view>;

TaskRef taskOf(const core::TaskInstanceKey& key) { return {key.dagId, key.taskId, key.runId}; }

// Every map index of each mapped task in the listing; tasks with an unreadable map index record
// are left out (their list would be partial).
std::map<TaskRef, std::vector<MapIndexState>> mapIndexesByTask(const Listing& listing) {
  std::map<TaskRef, std::vector<MapIndexState>> byTask;
  for (const auto& record : listing.records()) {
    if (record.key.mapIndex < 0) continue;
    byTask[taskOf(record.key)].push_back({record.key.mapIndex, record.state, record.key.tryNumber});
  }
  for (auto& [task, indexes] : byTask) {
    std::sort(indexes.begin(), indexes.end(),
              [](const auto& a, const auto& b) { return a.mapIndex < b.mapIndex; });
  }
  return byTask;
}

// The members of a TaskInstance that parseRecord reads; a list reply's TaskInstances are 2 deep
// (root object, task_instances array). Airflow writes ~30 per TaskInstance.
const Json::Projection kListReplyFields{
    .depth = 2,
    .keys = {"dag_id", "task_id", "dag_run_id", "map_index", "try_number", "state", "queued_when",
             "id", "pid"}};

core::Result<Json> parseJson(std::string_view text, const Json::Projection* projection = nullptr) {
  auto parsed = projection != nullptr ? Json::parse(text, *projection) : Json::parse(text);
  if (!parsed) return core::makeError("reply is " + parsed.error().message);
  return parsed;
}

}  // namespace

std::vector<ListQuery> planQueries(const std::vector<core::TaskInstanceKey>& keys,
                                   size_t maxFilterValues) {
  if (keys.empty()) return {};
  Values dags, runs, tasks;
  for (const auto& key : keys) {
    dags.insert(key.dagId);
    runs.insert(key.runId);
    tasks.insert(key.taskId);
  }
  // Usually one query holds every key, in any order.
  if (dags.size() + runs.size() + tasks.size() <= maxFilterValues)
    return {queryFor(keys, dags, runs, tasks)};
  std::vector<core::TaskInstanceKey> sorted = keys;
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return std::tie(a.dagId, a.runId, a.taskId, a.mapIndex, a.tryNumber) <
           std::tie(b.dagId, b.runId, b.taskId, b.mapIndex, b.tryNumber);
  });
  std::vector<ListQuery> queries;
  dags.clear();  // now those of the batch, viewing `sorted`
  runs.clear();
  tasks.clear();
  std::vector<core::TaskInstanceKey> batch;
  for (const auto& key : sorted) {
    const size_t added =
        !dags.contains(key.dagId) + !runs.contains(key.runId) + !tasks.contains(key.taskId);
    if (!batch.empty() && dags.size() + runs.size() + tasks.size() + added > maxFilterValues) {
      queries.push_back(queryFor(std::move(batch), dags, runs, tasks));
      batch.clear();
      dags.clear();
      runs.clear();
      tasks.clear();
    }
    dags.insert(key.dagId);
    runs.insert(key.runId);
    tasks.insert(key.taskId);
    batch.push_back(key);
  }
  if (!batch.empty()) queries.push_back(queryFor(std::move(batch), dags, runs, tasks));
  return queries;
}

std::string listPath(ApiVersion version) {
  return version == ApiVersion::V2 ? "/api/v2/dags/~/dagRuns/~/taskInstances/list"
                                   : "/api/v1/dags/~/dagRuns/~/taskInstances/list";
}

std::string buildListBody(const ListQuery& query, ApiVersion version, int64_t offset, int limit) {
  Json body;
  if (!query.keys.empty() || !query.dagIds.empty()) {
    body["dag_ids"] = stringArray(query.dagIds);
    body["dag_run_ids"] = stringArray(query.runIds);
    body["task_ids"] = stringArray(query.taskIds);
  }
  if (!query.states.empty()) body["state"] = stringArray(query.states);
  if (query.endedSince) body["end_date_gte"] = formatTimestamp(*query.endedSince);
  if (version == ApiVersion::V2) body["order_by"] = query.orderBy;
  body["page_offset"] = offset;
  body["page_limit"] = limit;
  return body.dump();
}

core::Result<ListPage> parseListReply(std::string_view text, ApiVersion version) {
  auto parsed = parseJson(text, &kListReplyFields);
  if (!parsed.ok()) return parsed.error();
  const Json& root = *parsed;
  if (!root.field("task_instances").isArray()) {
    return core::makeError("reply lacks the task_instances array");
  }
  auto total = integerField(root, "total_entries");
  if (!total.ok()) return core::makeError("reply " + total.error().message);
  ListPage page;
  page.totalEntries = *total;
  for (const auto& item : root.field("task_instances").items()) parseRecord(item, version, page);
  return page;
}

core::Result<ListPage> PageCache::parse(ApiVersion version, const std::string& requestBody,
                                        std::string reply) {
  const auto key = std::make_pair(version, requestBody);
  auto known = pages_.find(key);
  if (known != pages_.end() && known->second.reply == reply) {
    known->second.asked = true;
    return known->second.page;
  }
  auto parsed = parseListReply(reply, version);
  if (known != pages_.end()) {
    bytes_ -= known->second.reply.size();
    pages_.erase(known);
  }
  if (parsed.ok() && bytes_ + reply.size() <= kMaxCachedReplyBytes) {
    bytes_ += reply.size();
    pages_.emplace(key, Entry{std::move(reply), *parsed});
  }
  return parsed;
}

void PageCache::startRound() {
  for (auto it = pages_.begin(); it != pages_.end();) {
    if (it->second.asked) {
      it->second.asked = false;
      ++it;
    } else {
      bytes_ -= it->second.reply.size();
      it = pages_.erase(it);
    }
  }
}

bool Listing::add(ListPage page) {
  if (!broken_.empty()) return false;
  if (total_ && *total_ != page.totalEntries) {
    broken_ = "total_entries changed while paging";
    return false;
  }
  total_ = page.totalEntries;
  const auto rows = static_cast<int64_t>(page.records.size() + page.bad.size());
  offset_ += rows;
  for (auto& record : page.records) {
    if (auto at = recordAt_.find(IdentityRef(record.key)); at != recordAt_.end()) {
      // The later copy wins; the index views its strings, not those it replaces.
      const size_t index = at->second;
      recordAt_.erase(at);
      records_[index] = std::move(record);
      recordAt_.emplace(IdentityRef(records_[index].key), index);
    } else {
      records_.push_back(std::move(record));
      recordAt_.emplace(IdentityRef(records_.back().key), records_.size() - 1);
    }
  }
  std::move(page.bad.begin(), page.bad.end(), std::back_inserter(bad_));
  if (offset_ >= *total_) return false;
  // An empty page before the total would leave the rest unseen.
  if (rows == 0) broken_ = "reply ended before total_entries";
  return rows != 0;
}

void Listing::truncate(std::string reason) {
  if (broken_.empty() && !complete()) broken_ = std::move(reason);
}

const TaskInstanceRecord* Listing::find(const core::TaskInstanceKey& key) const {
  auto at = recordAt_.find(IdentityRef(key));
  return at == recordAt_.end() ? nullptr : &records_[at->second];
}

size_t Listing::IdentityHash::operator()(const IdentityRef& identity) const {
  size_t hash = std::hash<int>{}(identity.mapIndex);
  for (std::string_view part : {identity.dagId, identity.taskId, identity.runId})
    hash = hash * 31 + std::hash<std::string_view>{}(part);
  return hash;
}

// recordAt_ holds each parsed TaskInstance once; a bad record adds a row unless its TaskInstance
// was counted already.
size_t Listing::distinctRows() const {
  std::set<core::TaskInstanceKey> badOnly;
  size_t unidentified = 0;
  for (const auto& bad : bad_) {
    if (!bad.identity) {
      ++unidentified;
    } else if (!recordAt_.contains(IdentityRef(*bad.identity))) {
      badOnly.insert(*bad.identity);
    }
  }
  return recordAt_.size() + badOnly.size() + unidentified;
}

bool Listing::complete() const { return incompleteReason().empty(); }

std::string Listing::incompleteReason() const {
  if (!broken_.empty()) return broken_;
  if (!total_ || offset_ < *total_) return "listing not finished";
  const auto distinct = static_cast<int64_t>(distinctRows());
  if (distinct != *total_) {
    return "rows repeated or missing across pages (" + std::to_string(distinct) + " distinct of " +
           std::to_string(*total_) + ")";
  }
  return {};
}

std::map<core::TaskInstanceKey, TaskInstanceStatus> matchRecords(
    const std::vector<core::TaskInstanceKey>& keys, const Listing& listing) {
  std::map<core::TaskInstanceKey, std::string> badByIdentity;
  std::set<TaskRef> tasksWithBadRecords;
  std::string unidentified;
  for (const auto& bad : listing.bad()) {
    if (!bad.identity) {
      unidentified = bad.reason;
      continue;
    }
    badByIdentity[*bad.identity] = bad.reason;
    tasksWithBadRecords.insert(taskOf(*bad.identity));
  }
  const auto mapped = mapIndexesByTask(listing);
  const std::string incomplete = listing.incompleteReason();

  std::map<core::TaskInstanceKey, TaskInstanceStatus> result;
  for (const auto& key : keys) {
    TaskInstanceStatus status;
    const auto task = mapped.empty() ? mapped.end() : mapped.find(taskOf(key));
    const auto bad =
        badByIdentity.empty() ? badByIdentity.end() : badByIdentity.find(identityOf(key));
    const TaskInstanceRecord* found = listing.find(key);
    // A tree known only by AIRFLOW_CTX_* (no map index) of a mapped task: every map index is a
    // candidate, so is the unmapped TaskInstance Airflow may leave beside them (removed when the
    // mapping resolved after it was created), and only a complete list of them says which.
    const bool candidates = key.mapIndex < 0 && task != mapped.end();
    if (found != nullptr && !candidates) {
      status.lookup = Lookup::Found;
      status.state = found->state;
      status.tryNumber = found->key.tryNumber;
      status.uuid = found->uuid;
      status.queuedWhen = found->queuedWhen;
      status.pid = found->pid;
    } else if (bad != badByIdentity.end()) {
      status.detail = bad->second;
    } else if (candidates) {
      if (incomplete.empty() && unidentified.empty() &&
          !tasksWithBadRecords.contains(task->first)) {
        status.lookup = Lookup::Found;
        status.mapIndexes = task->second;
        if (found != nullptr) {
          status.mapIndexes.insert(status.mapIndexes.begin(),
                                   {key.mapIndex, found->state, found->key.tryNumber});
        }
      } else {
        status.detail = "task is mapped and the listing of its map indexes is incomplete";
      }
    } else if (!incomplete.empty()) {
      status.detail = "listing incomplete: " + incomplete;
    } else if (!unidentified.empty()) {
      status.detail = "a record of the reply did not parse: " + unidentified;
    } else {
      status.lookup = Lookup::Missing;
      status.detail = "task instance not in the API reply";
    }
    // Sorted keys (as the loop asks) go in at the end.
    result.insert_or_assign(result.end(), key, std::move(status));
  }
  return result;
}

std::optional<core::WallTime> parseTimestamp(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS, then an optional fraction, then Z or +HH:MM / -HH:MM.
  auto digits = [&](size_t at, size_t count) -> std::optional<int> {
    if (at + count > text.size()) return std::nullopt;
    int value = 0;
    for (size_t i = at; i < at + count; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  const auto year = digits(0, 4), month = digits(5, 2), day = digits(8, 2);
  const auto hour = digits(11, 2), minute = digits(14, 2), second = digits(17, 2);
  if (!year || !month || !day || !hour || !minute || !second || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != ' ') || text[13] != ':' || text[16] != ':' || *month < 1 ||
      *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  size_t at = 19;
  std::chrono::microseconds fraction{0};
  if (at < text.size() && text[at] == '.') {
    int64_t scale = 100000;
    size_t first = ++at;
    for (; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at, scale /= 10) {
      fraction += std::chrono::microseconds((text[at] - '0') * scale);
    }
    if (at == first) return std::nullopt;
  }
  std::chrono::minutes offset{0};
  if (at < text.size() && text[at] == 'Z') {
    ++at;
  } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    const auto offsetHours = digits(at + 1, 2), offsetMinutes = digits(at + 4, 2);
    if (!offsetHours || !offsetMinutes || text[at + 3] != ':') return std::nullopt;
    offset = std::chrono::minutes(*offsetHours * 60 + *offsetMinutes);
    if (text[at] == '-') offset = -offset;
    at += 6;
  } else {
    return std::nullopt;  // a date-time without zone is ambiguous
  }
  if (at != text.size()) return std::nullopt;
  const std::chrono::sys_days date = std::chrono::year_month_day(
      std::chrono::year(*year), std::chrono::month(static_cast<unsigned>(*month)),
      std::chrono::day(static_cast<unsigned>(*day)));
  const std::chrono::sys_time<std::chrono::microseconds> time =
      date + std::chrono::hours(*hour) + std::chrono::minutes(*minute) +
      std::chrono::seconds(*second) + fraction - offset;
  // WallTime counts nanoseconds in 64 bits: the years 1678 to 2261.
  constexpr auto kEarliest = std::chrono::floor<std::chrono::microseconds>(core::WallTime::min());
  constexpr auto kLatest = std::chrono::floor<std::chrono::microseconds>(core::WallTime::max());
  if (time <= kEarliest || time >= kLatest) return std::nullopt;
  return std::chrono::time_point_cast<core::WallTime::duration>(time);
}

std::string formatTimestamp(core::WallTime time) {
  const auto seconds = std::chrono::time_point_cast<std::chrono::seconds>(time);
  const std::chrono::sys_days day = std::chrono::floor<std::chrono::days>(seconds);
  const std::chrono::year_month_day date(day);
  const std::chrono::hh_mm_ss clock(seconds - day);
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02ld:%02ld:%02lldZ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<long>(clock.hours().count()),
                static_cast<long>(clock.minutes().count()),
                static_cast<long long>(clock.seconds().count()));
  return text;
}

std::string buildTokenBody(const std::string& username, const std::string& password) {
  Json body;
  body["username"] = username;
  body["password"] = password;
  return body.dump();
}

core::Result<std::string> parseTokenReply(std::string_view text) {
  auto parsed = parseJson(text);
  if (!parsed.ok()) return parsed.error();
  if (!parsed->isObject()) return core::makeError("token reply is not an object");
  auto token = stringField(*parsed, "access_token");
  if (!token.ok() || token->empty()) return core::makeError("token reply lacks access_token");
  return token;
}

core::Result<int64_t> jwtExpiry(std::string_view token) {
  const auto first = token.find('.');
  const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos) return core::makeError("token is not a JWT");
  const auto payload = net::base64UrlDecode(token.substr(first + 1, second - first - 1));
  auto claims = parseJson(payload.value_or(""));
  if (!claims.ok() || !claims->isObject()) return core::makeError("JWT claims do not parse");
  auto exp = claims->field("exp").number();
  // Seconds since the epoch: anything beyond the year 10000 is no expiry.
  constexpr double kLatest = 253402300800.0;
  if (!exp || !(*exp >= 0 && *exp < kLatest)) {
    return core::makeError("JWT lacks a plausible numeric exp claim");
  }
  return static_cast<int64_t>(*exp);
}

bool isVersionReply(std::string_view text) {
  auto parsed = parseJson(text);
  return parsed.ok() && parsed->field("version").isString();
}

}  // namespace reaper::airflow
