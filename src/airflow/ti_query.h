#pragma once
// Pure pieces of the TaskInstance client: batching keys into list requests, building request bodies
// and parsing replies (JSON text in, typed structs out), matching replies to keys.
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "airflow/task_instance_source.h"
#include "core/result.h"
#include "core/types.h"

namespace reaper::airflow {

enum class ApiVersion { V1, V2 };

// One POST .../taskInstances/list: the filters and the keys whose answers it carries.
struct ListQuery {
  std::vector<std::string> dagIds, runIds, taskIds;
  std::vector<std::string> states;           // empty: any state
  std::optional<core::WallTime> endedSince;  // end_date_gte
  // v2 only (Airflow 2's batch body has no order_by). The default, the primary key, is unique, so
  // no row moves between pages while paging by offset.
  std::string orderBy = "id";
  std::vector<core::TaskInstanceKey> keys;
};

// At most this many filter values (dag_ids, dag_run_ids and task_ids together) in one query: the
// server turns each into a bound parameter of its SQL `IN` lists, and the body stays small.
inline constexpr size_t kMaxFilterValues = 1000;

// The fewest queries whose filters cover the keys: one, unless its dag_ids x dag_run_ids x
// task_ids filter would exceed `maxFilterValues` values; then keys sorted by dag and run are cut
// into consecutive queries that each stay within it. A filter is a cross product, so a reply may
// hold TaskInstances of no key: matchRecords leaves them out. A query pages through its rows
// (ceil(rows / pageSize) requests), however many dags and runs the keys span.
std::vector<ListQuery> planQueries(const std::vector<core::TaskInstanceKey>& keys,
                                   size_t maxFilterValues = kMaxFilterValues);

std::string listPath(ApiVersion version);
std::string buildListBody(const ListQuery& query, ApiVersion version, int64_t offset, int limit);

struct TaskInstanceRecord {
  core::TaskInstanceKey key;  // tryNumber = the TI's current try
  std::optional<std::string> state;
  std::string uuid;  // empty on Airflow 2
  std::optional<core::WallTime> queuedWhen;
  // The process Airflow recorded running the current try (`pid`, in the worker's PID namespace).
  std::optional<int64_t> pid;
  bool operator==(const TaskInstanceRecord&) const = default;
};

// A record of a reply that did not parse.
struct BadRecord {
  // dag, task, run and map index (tryNumber 0) when that much could be read.
  std::optional<core::TaskInstanceKey> identity;
  std::string reason;
  bool operator==(const BadRecord&) const = default;
};

struct ListPage {
  std::vector<TaskInstanceRecord> records;
  std::vector<BadRecord> bad;
  int64_t totalEntries = 0;
};

// Parses a TaskInstanceCollectionResponse (v2) or TaskInstanceCollection (v1). Fails only when the
// reply as a whole is unreadable; a malformed record becomes a BadRecord.
core::Result<ListPage> parseListReply(std::string_view json, ApiVersion version);

// The pages of the last round of listings (a poll's fetchStates), by request: a page whose reply is
// byte for byte the reply the same request had then is not parsed again. Between two polls most
// pages are as they were. Replies are kept up to kMaxCachedReplyBytes in all.
class PageCache {
 public:
  // The page of `reply`, the reply to a list request with `requestBody`: parsed, or as parsed
  // before.
  core::Result<ListPage> parse(ApiVersion version, const std::string& requestBody,
                               std::string reply);
  // Starts a round: forgets the pages not asked for in the last one.
  void startRound();
  size_t pages() const { return pages_.size(); }

 private:
  struct Entry {
    std::string reply;
    ListPage page;
    bool asked = true;  // in the current round
  };
  std::map<std::pair<ApiVersion, std::string>, Entry> pages_;
  size_t bytes_ = 0;  // of the replies kept
};
inline constexpr size_t kMaxCachedReplyBytes = 4 << 20;

// The pages of one listing put together: rows de-duplicated by TaskInstance (a later copy wins),
// total_entries checked across pages. Complete only when every page agreed on the total and the
// distinct rows add up to it: paging by offset over rows that move skips some and repeats others.
class Listing {
 public:
  // Adds the next page; false when no further page should be asked for.
  bool add(ListPage page);
  // Ends the listing before total_entries was reached (page cap).
  void truncate(std::string reason);
  int64_t nextOffset() const { return offset_; }
  bool complete() const;
  // Why the listing is not complete (empty when it is).
  std::string incompleteReason() const;
  const std::deque<TaskInstanceRecord>& records() const { return records_; }
  const std::vector<BadRecord>& bad() const { return bad_; }
  // The record of the TaskInstance of `key` (any try), if the listing holds one.
  const TaskInstanceRecord* find(const core::TaskInstanceKey& key) const;

 private:
  // The identity of a TaskInstance (dag, task, run, map index), viewing a key's strings.
  struct IdentityRef {
    std::string_view dagId, taskId, runId;
    int mapIndex = -1;
    explicit IdentityRef(const core::TaskInstanceKey& key)
        : dagId(key.dagId), taskId(key.taskId), runId(key.runId), mapIndex(key.mapIndex) {}
    bool operator==(const IdentityRef&) const = default;
  };
  struct IdentityHash {
    size_t operator()(const IdentityRef& identity) const;
  };

  size_t distinctRows() const;

  std::deque<TaskInstanceRecord> records_;  // a deque: recordAt_ views the strings of its keys
  std::unordered_map<IdentityRef, size_t, IdentityHash> recordAt_;  // -> index in records_
  std::vector<BadRecord> bad_;
  std::optional<int64_t> total_;
  int64_t offset_ = 0;
  std::string broken_;
};

// Found for keys present in the listing (matched by dag, task, run and map index). A key with map
// index -1 whose task the listing shows mapped: Found with every map index (-1 too, when listed
// beside them) when the listing is complete, Unknown otherwise. Unknown for a key whose record did
// not parse, and for every other key when the listing is incomplete or holds a record without
// readable identity; Missing otherwise.
std::map<core::TaskInstanceKey, TaskInstanceStatus> matchRecords(
    const std::vector<core::TaskInstanceKey>& keys, const Listing& listing);

// ISO 8601 date-times as Airflow writes them: 2026-01-01T00:00:01Z,
// 2026-01-01T00:00:01.123456+00:00.
std::optional<core::WallTime> parseTimestamp(std::string_view text);
// 2026-01-01T00:00:01Z
std::string formatTimestamp(core::WallTime time);

// POST /auth/token body and the access_token of its LoginResponse.
std::string buildTokenBody(const std::string& username, const std::string& password);
core::Result<std::string> parseTokenReply(std::string_view json);

// The `exp` claim (seconds since the epoch) of a JWT, read without verifying it.
core::Result<int64_t> jwtExpiry(std::string_view token);

// True when a version reply ({"version": ...}) parses.
bool isVersionReply(std::string_view json);

}  // namespace reaper::airflow
