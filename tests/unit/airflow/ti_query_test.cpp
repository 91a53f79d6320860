#include "airflow/ti_query.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <tuple>

namespace reaper::airflow {
namespace {

using core::TaskInstanceKey;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string tiJson(const std::string& dag, const std::string& task, const std::string& run,
                   int mapIndex, int tryNumber, const std::string& state,
                   const std::string& id = "0195f0a0-0000-7000-8000-000000000001") {
  return R"({"id":")" + id + R"(","dag_id":")" + dag + R"(","task_id":")" + task +
         R"(","dag_run_id":")" + run + R"(","map_index":)" + std::to_string(mapIndex) +
         R"(,"try_number":)" + std::to_string(tryNumber) + R"(,"state":)" + state + "}";
}

TEST(PlanQueries, OneQueryForKeysOfManyDagsAndRuns) {
  std::vector<TaskInstanceKey> keys;
  for (int i = 0; i < 2500; ++i) {
    keys.push_back({"dag" + std::to_string(i % 10), "task" + std::to_string(i % 250),
                    "run" + std::to_string(i % 10), -1, 1});
  }
  auto queries = planQueries(keys);
  ASSERT_EQ(queries.size(), 1u);
  EXPECT_EQ(queries[0].keys.size(), 2500u);
  EXPECT_EQ(queries[0].dagIds.size(), 10u);
  EXPECT_EQ(queries[0].runIds.size(), 10u);
  EXPECT_EQ(queries[0].taskIds.size(), 250u);
}

TEST(PlanQueries, SplitsSortedByDagAndRunWhenTheFilterWouldExceedItsCap) {
  std::vector<TaskInstanceKey> keys;
  for (int i = 0; i < 40; ++i) {
    keys.push_back({"dag" + std::to_string(i % 4), "task" + std::to_string(i),
                    "run" + std::to_string(i % 2), -1, 1});
  }
  auto queries = planQueries(keys, 12);
  size_t planned = 0;
  for (const auto& query : queries) {
    EXPECT_LE(query.dagIds.size() + query.runIds.size() + query.taskIds.size(), 12u);
    planned += query.keys.size();
  }
  EXPECT_EQ(planned, keys.size());
  // dag0's keys (every fourth task, all of run0) come first: one dag, one run, up to 10 tasks.
  ASSERT_GE(queries.size(), 4u);
  EXPECT_THAT(queries[0].dagIds, ElementsAre("dag0"));
  EXPECT_THAT(queries[0].runIds, ElementsAre("run0"));
  EXPECT_EQ(queries[0].keys.size(), 10u);
}

TEST(PlanQueries, AKeyBeyondTheCapOnItsOwnStillGetsAQuery) {
  auto queries = planQueries({{"d", "t", "r", -1, 1}, {"e", "u", "s", -1, 1}}, 2);
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_EQ(queries[0].keys.size(), 1u);
  EXPECT_EQ(queries[1].keys.size(), 1u);
}

TEST(PlanQueries, FiltersAreTheDistinctValuesOfTheKeys) {
  auto queries =
      planQueries({{"d", "t1", "r1", 0, 1}, {"d", "t1", "r1", 1, 1}, {"d", "t2", "r2", -1, 3}});
  ASSERT_EQ(queries.size(), 1u);
  EXPECT_THAT(queries[0].dagIds, ElementsAre("d"));
  EXPECT_THAT(queries[0].runIds, ElementsAre("r1", "r2"));
  EXPECT_THAT(queries[0].taskIds, ElementsAre("t1", "t2"));
  EXPECT_EQ(queries[0].keys.size(), 3u);
}

TEST(PlanQueries, NoKeysNoQueries) { EXPECT_TRUE(planQueries({}).empty()); }

TEST(BuildListBody, CarriesFiltersAndPage) {
  ListQuery query;
  query.dagIds = {"d\"q"};
  query.runIds = {"r"};
  query.taskIds = {"t"};
  query.keys = {{"d\"q", "t", "r", -1, 1}};
  const std::string body = buildListBody(query, ApiVersion::V2, 200, 100);
  EXPECT_THAT(body, HasSubstr(R"("dag_ids":["d\"q"])"));
  EXPECT_THAT(body, HasSubstr(R"("dag_run_ids":["r"])"));
  EXPECT_THAT(body, HasSubstr(R"("task_ids":["t"])"));
  EXPECT_THAT(body, HasSubstr(R"("page_offset":200)"));
  EXPECT_THAT(body, HasSubstr(R"("page_limit":100)"));
  EXPECT_THAT(body, ::testing::Not(HasSubstr("state")));
}

TEST(BuildListBody, StateFilterWithoutKeys) {
  ListQuery query;
  query.states = {"running", "queued"};
  const std::string body = buildListBody(query, ApiVersion::V2, 0, 50);
  EXPECT_THAT(body, HasSubstr(R"("state":["running","queued"])"));
  EXPECT_THAT(body, ::testing::Not(HasSubstr("dag_ids")));
}

// Paging by offset is only sound over a stable order: v2 sorts by the primary key. Airflow 2's
// batch body has no order_by (v1.yaml ListTaskInstanceForm; its schema rejects unknown fields).
TEST(BuildListBody, StableOrderOnV2OnlyAndEndedSince) {
  ListQuery query;
  EXPECT_THAT(buildListBody(query, ApiVersion::V2, 0, 100), HasSubstr(R"("order_by":"id")"));
  EXPECT_THAT(buildListBody(query, ApiVersion::V1, 0, 100), ::testing::Not(HasSubstr("order_by")));
  query.orderBy = "-end_date";
  query.endedSince = core::WallTime(std::chrono::seconds(1'795'003'200));
  const std::string body = buildListBody(query, ApiVersion::V2, 0, 100);
  EXPECT_THAT(body, HasSubstr(R"("order_by":"-end_date")"));
  EXPECT_THAT(body, HasSubstr(R"("end_date_gte":"2026-11-18T12:00:00Z")"));
}

TEST(ListPath, PerApiVersion) {
  EXPECT_EQ(listPath(ApiVersion::V2), "/api/v2/dags/~/dagRuns/~/taskInstances/list");
  EXPECT_EQ(listPath(ApiVersion::V1), "/api/v1/dags/~/dagRuns/~/taskInstances/list");
}

TEST(ParseListReply, V2RecordsWithNullStateAndUuid) {
  const std::string json = R"({"task_instances":[)" + tiJson("d", "t", "r", -1, 2, R"("running")") +
                           "," + tiJson("d", "t", "r", 3, 1, "null", "abc") +
                           R"(],"total_entries":7})";
  auto page = parseListReply(json, ApiVersion::V2);
  ASSERT_TRUE(page.ok()) << page.error().message;
  EXPECT_EQ(page->totalEntries, 7);
  ASSERT_EQ(page->records.size(), 2u);
  EXPECT_EQ(page->records[0].key, (TaskInstanceKey{"d", "t", "r", -1, 2}));
  EXPECT_EQ(page->records[0].state, "running");
  EXPECT_EQ(page->records[1].state, std::nullopt);
  EXPECT_EQ(page->records[1].uuid, "abc");
}

TEST(ParseListReply, V1WithoutIdAndLegacyNoneState) {
  const std::string json = R"({"task_instances":[{"dag_id":"d","task_id":"t","dag_run_id":"r",)"
                           R"("map_index":-1,"try_number":1,"state":"none"}],"total_entries":1})";
  auto page = parseListReply(json, ApiVersion::V1);
  ASSERT_TRUE(page.ok()) << page.error().message;
  EXPECT_EQ(page->records[0].state, std::nullopt);
  EXPECT_EQ(page->records[0].uuid, "");
}

TEST(ParseListReply, QueuedWhenIso8601OrNull) {
  const std::string json =
      R"({"task_instances":[{"id":"a","dag_id":"d","task_id":"t","dag_run_id":"r","map_index":-1,)"
      R"("try_number":1,"state":"running","queued_when":"2026-01-01T00:00:01.5+01:00"},)"
      R"({"id":"b","dag_id":"d","task_id":"u","dag_run_id":"r","map_index":-1,"try_number":1,)"
      R"("state":"queued","queued_when":null}],"total_entries":2})";
  auto page = parseListReply(json, ApiVersion::V2);
  ASSERT_TRUE(page.ok()) << page.error().message;
  ASSERT_EQ(page->records.size(), 2u);
  EXPECT_EQ(page->records[0].queuedWhen, parseTimestamp("2025-12-31T23:00:01.500Z"));
  EXPECT_EQ(page->records[1].queuedWhen, std::nullopt);
}

TEST(ParseListReply, RecordedPidIntegerOrNull) {
  const std::string json =
      R"({"task_instances":[{"id":"a","dag_id":"d","task_id":"t","dag_run_id":"r","map_index":-1,)"
      R"("try_number":1,"state":"running","queued_when":null,"pid":4242},)"
      R"({"id":"b","dag_id":"d","task_id":"u","dag_run_id":"r","map_index":-1,"try_number":1,)"
      R"("state":"queued","queued_when":null,"pid":null}],"total_entries":2})";
  auto page = parseListReply(json, ApiVersion::V2);
  ASSERT_TRUE(page.ok()) << page.error().message;
  ASSERT_EQ(page->records.size(), 2u);
  EXPECT_EQ(page->records[0].pid, 4242);
  EXPECT_EQ(page->records[1].pid, std::nullopt);
}

TEST(ParseListReply, RejectsRepliesThatAreUnreadableAsAWhole) {
  for (const std::string& json : {
           std::string(R"({"task_instances": [{"dag_id": "x", "tas)"),
           std::string("<html>502</html>"),
           std::string(R"({"total_entries":1})"),
           std::string(R"({"task_instances":[]})"),
           std::string(R"({"task_instances":{},"total_entries":0})"),
           std::string(R"([1,2])"),
           R"({"task_instances":[)" + tiJson("d", "t", "r", -1, 1, R"("running")") +
               R"(],"total_entries":"1"})",
       }) {
    EXPECT_FALSE(parseListReply(json, ApiVersion::V2).ok()) << json;
  }
}

// One record with wrong types spoils that record only; its identity is kept when readable.
TEST(ParseListReply, BadRecordsAreSetAsideWithTheirIdentity) {
  const std::vector<std::string> withIdentity = {
      tiJson("d", "t", "r", -1, 1, "7"),
      R"({"dag_id":"d","task_id":"t","dag_run_id":"r","map_index":-1,"try_number":1,"id":"x"})",
      R"({"dag_id":"d","task_id":"t","dag_run_id":"r","map_index":-1,"try_number":"1",)"
      R"("state":null,"id":"x"})",
      R"({"dag_id":"d","task_id":"t","dag_run_id":"r","map_index":-1,"try_number":1,)"
      R"("state":null})",  // v2 without id
      R"({"dag_id":"d","task_id":"t","dag_run_id":"r","map_index":-1,"try_number":1,)"
      R"("state":null,"id":"x","queued_when":"yesterday"})",
      R"({"dag_id":"d","task_id":"t","dag_run_id":"r","map_index":-1,"try_number":1,)"
      R"("state":null,"id":"x","pid":"4242"})",
  };
  for (const auto& bad : withIdentity) {
    const std::string json = R"({"task_instances":[)" + tiJson("d", "ok", "r", -1, 1, "null") +
                             "," + bad + R"(],"total_entries":2})";
    auto page = parseListReply(json, ApiVersion::V2);
    ASSERT_TRUE(page.ok()) << bad;
    ASSERT_EQ(page->records.size(), 1u) << bad;
    ASSERT_EQ(page->bad.size(), 1u) << bad;
    EXPECT_EQ(page->bad[0].identity, (TaskInstanceKey{"d", "t", "r", -1, 0})) << bad;
  }
  for (const std::string& bad : {
           std::string("7"),
           std::string(R"({"dag_id":"d","task_id":"t","dag_run_id":"r","map_index":"0"})"),
           std::string(R"({"dag_id":null,"task_id":"t","dag_run_id":"r","map_index":0})"),
           std::string(R"({"dag_id":"d","task_id":"t","dag_run_id":"r","map_index":99999999999})"),
       }) {
    const std::string json = R"({"task_instances":[)" + bad + R"(],"total_entries":1})";
    auto page = parseListReply(json, ApiVersion::V2);
    ASSERT_TRUE(page.ok()) << bad;
    ASSERT_EQ(page->bad.size(), 1u) << bad;
    EXPECT_EQ(page->bad[0].identity, std::nullopt) << bad;
  }
}

// A TaskInstance as Airflow 3 writes it (TaskInstanceResponse, ~35 fields), of which the client
// reads 9; `read` holds those, `rest` the others (nested objects and arrays among them).
struct AirflowTaskInstance {
  std::string read, rest;
  std::string full() const { return "{" + rest + "," + read + "}"; }
  std::string onlyRead() const { return "{" + read + "}"; }
};

AirflowTaskInstance airflowTaskInstance(int i, const std::string& state, int mapIndex) {
  const std::string n = std::to_string(i);
  AirflowTaskInstance ti;
  ti.read = R"("id":"0195f0a0-0000-7000-8000-00000000000)" + n + R"(","task_id":"task_)" + n +
            R"(","dag_id":"etl","dag_run_id":"scheduled__2026-01-01T00:00:00+00:00",)"
            R"("map_index":)" +
            std::to_string(mapIndex) + R"(,"state":)" + state + R"(,"try_number":)" + n +
            R"(,"queued_when":"2026-01-01T00:00:0)" + n + R"(.123456Z","pid":424)" + n;
  ti.rest =
      R"("logical_date":"2026-01-01T00:00:00Z","run_after":"2026-01-01T00:00:00Z",)"
      R"("start_date":"2026-01-01T00:00:09.5Z","end_date":null,"duration":12.25,"max_tries":3,)"
      R"("task_display_name":"Task \"quoted\" \u00e9","dag_display_name":"ETL","hostname":"w-1",)"
      R"("unixname":"airflow","pool":"default_pool","pool_slots":1,"queue":"default",)"
      R"("priority_weight":-2,"operator":"BashOperator","operator_name":"BashOperator",)"
      R"("scheduled_when":"2026-01-01T00:00:00Z","executor":null,)"
      R"("executor_config":"{\"pod_override\":{}}","note":"a note\nover lines",)"
      R"("rendered_map_index":"part-)" +
      n +
      R"(","rendered_fields":{"bash_command":"echo 1","env":{"A":"1"},"args":[1,[2,{"x":null}]]},)"
      R"("trigger":{"id":7,"classpath":"x.Trigger","kwargs":"{}","created_date":"2026-01-01T00:00:00Z",)"
      R"("triggerer_id":null},"triggerer_job":null,)"
      R"("dag_version":{"id":"0195f0a0-0000-7000-8000-0000000000ff","version_number":2,)"
      R"("dag_id":"etl","bundle_name":"dags-folder","bundle_version":null,)"
      R"("created_at":"2026-01-01T00:00:00Z","dag_display_name":"ETL","bundle_url":null})";
  return ti;
}

std::string listReply(const std::vector<std::string>& items, size_t total) {
  std::string json = R"({"task_instances":[)";
  for (size_t i = 0; i < items.size(); ++i) json += (i > 0 ? "," : "") + items[i];
  return json + R"(],"total_entries":)" + std::to_string(total) + "}";
}

// The client builds only the fields it reads of each TaskInstance (a projection): the fields it
// leaves unbuilt must change no record.
TEST(ParseListReply, TheFieldsNotReadChangeNoRecord) {
  const std::vector<AirflowTaskInstance> tis = {
      airflowTaskInstance(1, R"("running")", -1), airflowTaskInstance(2, "null", 0),
      airflowTaskInstance(3, R"("up_for_retry")", 1), airflowTaskInstance(4, "7", -1)};
  std::vector<std::string> full, onlyRead;
  for (const auto& ti : tis) {
    full.push_back(ti.full());
    onlyRead.push_back(ti.onlyRead());
  }
  for (auto version : {ApiVersion::V2, ApiVersion::V1}) {
    auto fromFull = parseListReply(listReply(full, 9), version);
    ASSERT_TRUE(fromFull.ok()) << fromFull.error().message;
    auto fromRead = parseListReply(listReply(onlyRead, 9), version);
    ASSERT_TRUE(fromRead.ok()) << fromRead.error().message;
    EXPECT_EQ(fromFull->records, fromRead->records);
    EXPECT_EQ(fromFull->bad, fromRead->bad);
    EXPECT_EQ(fromFull->totalEntries, 9);
    ASSERT_EQ(fromFull->records.size(), 3u);
    EXPECT_EQ(fromFull->records[2].key,
              (TaskInstanceKey{"etl", "task_3", "scheduled__2026-01-01T00:00:00+00:00", 1, 3}));
    EXPECT_EQ(fromFull->records[2].state, "up_for_retry");
    EXPECT_EQ(fromFull->records[2].queuedWhen, parseTimestamp("2026-01-01T00:00:03.123456Z"));
    EXPECT_EQ(fromFull->records[2].uuid,
              version == ApiVersion::V2 ? "0195f0a0-0000-7000-8000-000000000003" : "");
    ASSERT_EQ(fromFull->bad.size(), 1u) << "a state of 7";
  }
}

// Unbuilt is not unread: a field the client does not read still has to be JSON.
TEST(ParseListReply, AFieldNotReadMustStillBeJson) {
  const auto ti = airflowTaskInstance(1, R"("running")", -1);
  for (const std::string& rest :
       {std::string(R"("rendered_fields":{"a":[1,]})"),
        std::string(R"("note":"line)"
                    "\n"
                    R"(")"),
        std::string(R"("pid":01)"), std::string(R"("trigger":{"id":7)"),
        R"("rendered_fields":)" + std::string(200, '[') + std::string(200, ']')}) {
    const std::string item = "{" + rest + "," + ti.read + "}";
    EXPECT_FALSE(parseListReply(listReply({item}, 1), ApiVersion::V2).ok()) << rest;
  }
  const std::string twice = "{" + ti.read + R"(,"state":"failed"})";
  EXPECT_FALSE(parseListReply(listReply({twice}, 1), ApiVersion::V2).ok())
      << "a field read twice: which one counts?";
}

// Whatever the cache holds, a page is what parseListReply makes of the reply at hand.
TEST(PageCache, APageIsItsReplyParsedWhetherKeptOrNot) {
  const auto first = listReply({tiJson("d", "t", "r", -1, 1, R"("running")")}, 1);
  const auto flipped = listReply({tiJson("d", "t", "r", -1, 1, R"("failed")")}, 1);
  PageCache cache;
  for (const auto& [version, body, reply] : {std::tuple{ApiVersion::V2, "p0", first},
                                             {ApiVersion::V2, "p0", first},
                                             {ApiVersion::V2, "p0", flipped},
                                             {ApiVersion::V1, "p0", first},
                                             {ApiVersion::V2, "p1", first},
                                             {ApiVersion::V2, "p0", flipped},
                                             {ApiVersion::V2, "p0", first}}) {
    auto expected = parseListReply(reply, version);
    ASSERT_TRUE(expected.ok());
    auto page = cache.parse(version, body, reply);
    ASSERT_TRUE(page.ok()) << page.error().message;
    EXPECT_EQ(page->records, expected->records) << body << " " << reply;
    EXPECT_EQ(page->totalEntries, expected->totalEntries);
  }
  EXPECT_EQ(cache.pages(), 3u) << "one page per version and request body";
  auto broken = cache.parse(ApiVersion::V2, "p0", R"({"task_instances":[)");
  EXPECT_FALSE(broken.ok()) << "an unreadable reply is an error, never the page before it";
  EXPECT_EQ(cache.pages(), 2u);
}

TEST(PageCache, KeepsThePagesOfTheLastRoundWithinItsCap) {
  const auto reply = listReply({tiJson("d", "t", "r", -1, 1, R"("running")")}, 1);
  PageCache cache;
  ASSERT_TRUE(cache.parse(ApiVersion::V2, "a", reply).ok());
  ASSERT_TRUE(cache.parse(ApiVersion::V2, "b", reply).ok());
  cache.startRound();
  ASSERT_TRUE(cache.parse(ApiVersion::V2, "a", reply).ok());
  EXPECT_EQ(cache.pages(), 2u);
  cache.startRound();
  EXPECT_EQ(cache.pages(), 1u) << "b was not asked for in the last round";
  cache.startRound();
  EXPECT_EQ(cache.pages(), 0u);
  const std::string big =
      listReply({R"({"note":")" + std::string(kMaxCachedReplyBytes, 'x') + R"(",)" +
                 tiJson("d", "t", "r", -1, 1, R"("running")").substr(1)},
                1);
  auto page = cache.parse(ApiVersion::V2, "a", big);
  ASSERT_TRUE(page.ok()) << page.error().message;
  EXPECT_EQ(page->records.size(), 1u);
  EXPECT_EQ(cache.pages(), 0u) << "a reply over the cap is parsed, not kept";
}

TaskInstanceRecord record(TaskInstanceKey key, std::optional<std::string> state,
                          std::string uuid = "") {
  return {std::move(key), std::move(state), std::move(uuid), std::nullopt};
}

// One page holding every row.
Listing listingOf(std::vector<TaskInstanceRecord> records, std::vector<BadRecord> bad = {}) {
  Listing listing;
  const auto total = static_cast<int64_t>(records.size() + bad.size());
  EXPECT_FALSE(listing.add({std::move(records), std::move(bad), total}));
  return listing;
}

TEST(MatchRecords, MatchesByIdentityIgnoringTryAndReportsMissing) {
  auto listing = listingOf({record({"d", "t", "r", -1, 3}, "success", "u1"),
                            record({"d", "t", "r2", 0, 1}, std::nullopt, "u2")});
  const TaskInstanceKey oldTry{"d", "t", "r", -1, 1};
  const TaskInstanceKey mapped{"d", "t", "r2", 0, 1};
  const TaskInstanceKey otherMap{"d", "t", "r2", 1, 1};
  const TaskInstanceKey otherRun{"d", "t", "r3", -1, 1};
  auto result = matchRecords({oldTry, mapped, otherMap, otherRun}, listing);
  ASSERT_EQ(result.size(), 4u);
  EXPECT_EQ(result[oldTry].lookup, Lookup::Found);
  EXPECT_EQ(result[oldTry].tryNumber, 3);
  EXPECT_EQ(result[oldTry].state, "success");
  EXPECT_EQ(result[oldTry].uuid, "u1");
  EXPECT_EQ(result[mapped].lookup, Lookup::Found);
  EXPECT_EQ(result[mapped].state, std::nullopt);
  EXPECT_TRUE(result[mapped].mapIndexes.empty());
  EXPECT_EQ(result[otherMap].lookup, Lookup::Missing);
  EXPECT_EQ(result[otherRun].lookup, Lookup::Missing);
}

TEST(MatchRecords, CarriesTheQueueTime) {
  auto running = record({"d", "t", "r", -1, 2}, "running", "u1");
  running.queuedWhen = parseTimestamp("2026-01-01T00:00:01Z");
  const TaskInstanceKey key{"d", "t", "r", -1, 2};
  auto result = matchRecords({key}, listingOf({running}));
  EXPECT_EQ(result[key].queuedWhen, running.queuedWhen);
}

// What the listing says of task d/t/r's key without map index: found, with no state of its own
// but candidates.
std::vector<MapIndexState> candidatesOf(const Listing& listing) {
  const TaskInstanceKey noMapIndex{"d", "t", "r", -1, 1};
  auto result = matchRecords({noMapIndex}, listing);
  EXPECT_EQ(result[noMapIndex].lookup, Lookup::Found);
  EXPECT_EQ(result[noMapIndex].state, std::nullopt);
  return result[noMapIndex].mapIndexes;
}

// A key without map index of a mapped task: every map index is a candidate.
TEST(MatchRecords, UnmappedKeyOfAMappedTaskListsEveryMapIndex) {
  EXPECT_THAT(candidatesOf(listingOf({record({"d", "t", "r", 1, 2}, "running", "u1"),
                                      record({"d", "t", "r", 0, 1}, "success", "u0"),
                                      record({"d", "other", "r", 4, 1}, "failed", "u4")})),
              ElementsAre(MapIndexState{0, "success", 1}, MapIndexState{1, "running", 2}));
}

// Airflow leaves the unmapped TaskInstance beside the mapped ones, removed, when a task's mapping
// resolves after it was created (DagRun._revise_map_indexes_if_mapped): it is one candidate among
// them, never the answer for a key whose map index is unknown.
TEST(MatchRecords, UnmappedRecordBesideMappedOnesIsOneCandidate) {
  EXPECT_THAT(candidatesOf(listingOf({record({"d", "t", "r", -1, 0}, "removed", "u"),
                                      record({"d", "t", "r", 0, 1}, "running", "u0"),
                                      record({"d", "t", "r", 1, 1}, "success", "u1")})),
              ElementsAre(MapIndexState{-1, "removed", 0}, MapIndexState{0, "running", 1},
                          MapIndexState{1, "success", 1}));
}

TEST(MatchRecords, MappedCandidatesNeedACompleteListing) {
  const TaskInstanceKey noMapIndex{"d", "t", "r", -1, 1};
  // A map index whose record did not parse.
  auto withBad = listingOf({record({"d", "t", "r", 0, 1}, "success", "u0")},
                           {{TaskInstanceKey{"d", "t", "r", 1, 0}, "state is 7"}});
  EXPECT_EQ(matchRecords({noMapIndex}, withBad)[noMapIndex].lookup, Lookup::Unknown);
  // A page short of the total.
  Listing partial;
  EXPECT_TRUE(partial.add({{record({"d", "t", "r", 0, 1}, "success", "u0")}, {}, 2}));
  partial.truncate("page cap");
  EXPECT_EQ(matchRecords({noMapIndex}, partial)[noMapIndex].lookup, Lookup::Unknown);
}

TEST(MatchRecords, BadRecordMakesOnlyItsTaskInstanceUnknown) {
  const TaskInstanceKey good{"d", "t", "r", -1, 1};
  const TaskInstanceKey spoilt{"d", "u", "r", -1, 1};
  const TaskInstanceKey absent{"d", "v", "r", -1, 1};
  auto listing = listingOf({record(good, "failed", "u1")},
                           {{TaskInstanceKey{"d", "u", "r", -1, 0}, "state is 7"}});
  auto result = matchRecords({good, spoilt, absent}, listing);
  EXPECT_EQ(result[good].lookup, Lookup::Found);
  EXPECT_EQ(result[spoilt].lookup, Lookup::Unknown);
  EXPECT_THAT(result[spoilt].detail, HasSubstr("state is 7"));
  EXPECT_EQ(result[absent].lookup, Lookup::Missing);
}

// When a bad record's own identity is unreadable, it could be any key the reply did not match.
TEST(MatchRecords, UnidentifiableRecordMakesUnmatchedKeysUnknown) {
  const TaskInstanceKey good{"d", "t", "r", -1, 1};
  const TaskInstanceKey absent{"d", "v", "r", -1, 1};
  auto listing = listingOf({record(good, "failed", "u1")}, {{std::nullopt, "not an object"}});
  auto result = matchRecords({good, absent}, listing);
  EXPECT_EQ(result[good].lookup, Lookup::Found);
  EXPECT_EQ(result[absent].lookup, Lookup::Unknown);
}

// Rows shifted between pages: one row repeated, another never seen. Never "missing".
TEST(Listing, RepeatedRowsAcrossPagesMakeItIncompleteNotMissing) {
  const TaskInstanceKey a{"d", "a", "r", -1, 1}, b{"d", "b", "r", -1, 1}, c{"d", "c", "r", -1, 1};
  Listing listing;
  EXPECT_TRUE(listing.add({{record(a, "running"), record(b, "running")}, {}, 3}));
  EXPECT_EQ(listing.nextOffset(), 2);
  EXPECT_FALSE(listing.add({{record(b, "success")}, {}, 3}));
  EXPECT_FALSE(listing.complete());
  EXPECT_THAT(listing.incompleteReason(), HasSubstr("2 distinct of 3"));
  ASSERT_EQ(listing.records().size(), 2u);
  auto result = matchRecords({a, b, c}, listing);
  EXPECT_EQ(result[a].lookup, Lookup::Found);
  EXPECT_EQ(result[b].state, "success");  // the later copy
  EXPECT_EQ(result[c].lookup, Lookup::Unknown);
  EXPECT_THAT(result[c].detail, HasSubstr("incomplete"));
}

// Identities long enough to live on the heap, many pages, rows repeated: every TaskInstance is
// found as its last copy says, by any try of its key.
TEST(Listing, FindsTheLastCopyOfEveryTaskInstanceAcrossPages) {
  const std::string run = "scheduled__2026-01-01T00:00:00.000000+00:00";
  auto key = [&](int i) {
    return TaskInstanceKey{"a_dag_with_a_long_name", "task_number_" + std::to_string(i % 40), run,
                           i / 40, 1};
  };
  Listing listing;
  for (int page = 0; page < 30; ++page) {
    std::vector<TaskInstanceRecord> records;
    for (int i = page * 10; i < page * 10 + 20; ++i) {  // each row again on the next page
      records.push_back(record(key(i % 200), "try " + std::to_string(page)));
    }
    listing.add({std::move(records), {}, 1000});
  }
  for (int i = 0; i < 200; ++i) {
    TaskInstanceKey anyTry = key(i);
    anyTry.tryNumber = 7;
    const TaskInstanceRecord* found = listing.find(anyTry);
    ASSERT_NE(found, nullptr) << i;
    EXPECT_EQ(found->key, key(i));
    const int lastRow = i + 200 < 300 + 10 ? i + 200 : i;  // rows 0 to 309 were listed
    EXPECT_EQ(found->state, "try " + std::to_string(std::min(lastRow / 10, 29))) << i;
  }
  EXPECT_EQ(listing.find(key(200)), nullptr) << "map index 5: never listed";
  EXPECT_EQ(listing.records().size(), 200u);
}

TEST(Listing, CompleteWhenDistinctRowsMatchTheTotal) {
  const TaskInstanceKey a{"d", "a", "r", -1, 1}, b{"d", "b", "r", -1, 1};
  Listing listing;
  EXPECT_TRUE(listing.add({{record(a, "running")}, {}, 2}));
  EXPECT_FALSE(listing.complete());
  EXPECT_FALSE(listing.add({{record(b, "running")}, {}, 2}));
  EXPECT_TRUE(listing.complete()) << listing.incompleteReason();
}

TEST(Listing, TotalChangingOrEmptyPageBreaksIt) {
  const TaskInstanceKey a{"d", "a", "r", -1, 1};
  Listing changed;
  EXPECT_TRUE(changed.add({{record(a, "running")}, {}, 2}));
  EXPECT_FALSE(changed.add({{}, {}, 3}));
  EXPECT_THAT(changed.incompleteReason(), HasSubstr("total_entries changed"));
  Listing ended;
  EXPECT_TRUE(ended.add({{record(a, "running")}, {}, 2}));
  EXPECT_FALSE(ended.add({{}, {}, 2}));
  EXPECT_THAT(ended.incompleteReason(), HasSubstr("ended before"));
}

TEST(Timestamp, ParsesAirflowForms) {
  const core::WallTime base{std::chrono::seconds(1'767'225'601)};  // 2026-01-01T00:00:01Z
  EXPECT_EQ(parseTimestamp("2026-01-01T00:00:01Z"), base);
  EXPECT_EQ(parseTimestamp("2026-01-01T00:00:01+00:00"), base);
  EXPECT_EQ(parseTimestamp("2026-01-01T02:00:01+02:00"), base);
  EXPECT_EQ(parseTimestamp("2025-12-31T23:30:01-00:30"), base);
  EXPECT_EQ(parseTimestamp("2026-01-01T00:00:01.250000Z"), base + std::chrono::milliseconds(250));
  for (const char* bad :
       {"", "2026-01-01", "2026-01-01T00:00:01", "2026-13-01T00:00:01Z", "2026-01-01T00:00:01.Z",
        "2026-01-01T00:00:01Zjunk", "yesterday",
        // Beyond the nanoseconds of a WallTime (1678 to 2261), found by fuzzing.
        "1013-01-01T00:00:00.5Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z"}) {
    EXPECT_EQ(parseTimestamp(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(parseTimestamp("1970-01-01T01:00:00+01:00"), core::WallTime{});
  EXPECT_EQ(parseTimestamp("2200-01-01T00:00:00Z"),
            core::WallTime{std::chrono::seconds(7'258'118'400)});
  EXPECT_EQ(formatTimestamp(base + std::chrono::milliseconds(900)), "2026-01-01T00:00:01Z");
}

TEST(TokenReply, ParsesAccessToken) {
  auto token = parseTokenReply(R"({"access_token":"abc.def.ghi"})");
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, "abc.def.ghi");
  EXPECT_FALSE(parseTokenReply(R"({"token":"x"})").ok());
  EXPECT_FALSE(parseTokenReply(R"({"access_token":""})").ok());
  EXPECT_FALSE(parseTokenReply("garbage").ok());
}

TEST(TokenBody, UsernameAndPassword) {
  EXPECT_EQ(buildTokenBody("admin", "p\"w"), R"({"username":"admin","password":"p\"w"})");
}

TEST(JwtExpiry, ReadsExpClaim) {
  // {"alg":"HS256","typ":"JWT"} . {"sub":"admin","exp":1767225600} . sig
  auto exp = jwtExpiry(
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZG1pbiIsImV4cCI6MTc2NzIyNTYwMH0.c2ln");
  ASSERT_TRUE(exp.ok()) << exp.error().message;
  EXPECT_EQ(*exp, 1767225600);
}

TEST(JwtExpiry, RejectsNonJwtAndMissingExp) {
  EXPECT_FALSE(jwtExpiry("opaque-token").ok());
  // {"sub":"admin"}
  EXPECT_FALSE(jwtExpiry("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2ln").ok());
  EXPECT_FALSE(jwtExpiry("a.!!!.c").ok());
  // {"exp":1e300}: no expiry a time point can hold
  EXPECT_FALSE(jwtExpiry("eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjFlMzAwfQ.c2ln").ok());
}

TEST(VersionReply, RecognisesVersionInfo) {
  EXPECT_TRUE(isVersionReply(R"({"version":"3.1.0","git_version":null})"));
  EXPECT_FALSE(isVersionReply(R"({"detail":"Not Found"})"));
  EXPECT_FALSE(isVersionReply("<html>"));
}

}  // namespace
}  // namespace reaper::airflow
