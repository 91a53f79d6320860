#include "airflow/ti_query.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

TEST(PlanQueries, GroupsAtMostMaxKeysPerQuerySortedByDagAndRun) {
  std::vector<TaskInstanceKey> keys;
  for (int i = 0; i < 250; ++i) {
    keys.push_back({"dag" + std::to_string(i % 5), "task" + std::to_string(i % 10),
                    "run" + std::to_string(i / 50), -1, 1});
  }
  auto queries = planQueries(keys, 100);
  ASSERT_EQ(queries.size(), 3u);
  EXPECT_EQ(queries[0].keys.size(), 100u);
  EXPECT_EQ(queries[2].keys.size(), 50u);
  // Sorted: the first query holds dag0 and dag1 only, not a slice of every dag.
  EXPECT_THAT(queries[0].dagIds, ElementsAre("dag0", "dag1"));
}

TEST(PlanQueries, FiltersAreTheDistinctValuesOfTheKeys) {
  auto queries = planQueries(
      {{"d", "t1", "r1", 0, 1}, {"d", "t1", "r1", 1, 1}, {"d", "t2", "r2", -1, 3}}, 100);
  ASSERT_EQ(queries.size(), 1u);
  EXPECT_THAT(queries[0].dagIds, ElementsAre("d"));
  EXPECT_THAT(queries[0].runIds, ElementsAre("r1", "r2"));
  EXPECT_THAT(queries[0].taskIds, ElementsAre("t1", "t2"));
  EXPECT_EQ(queries[0].keys.size(), 3u);
}

TEST(PlanQueries, NoKeysNoQueries) { EXPECT_TRUE(planQueries({}, 100).empty()); }

TEST(BuildListBody, CarriesFiltersAndPage) {
  ListQuery query;
  query.dagIds = {"d\"q"};
  query.runIds = {"r"};
  query.taskIds = {"t"};
  query.keys = {{"d\"q", "t", "r", -1, 1}};
  const std::string body = buildListBody(query, 200, 100);
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
  const std::string body = buildListBody(query, 0, 50);
  EXPECT_THAT(body, HasSubstr(R"("state":["running","queued"])"));
  EXPECT_THAT(body, ::testing::Not(HasSubstr("dag_ids")));
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

TEST(ParseListReply, V2RequiresId) {
  const std::string json =
      R"({"task_instances":[{"dag_id":"d","task_id":"t","dag_run_id":"r",)"
      R"("map_index":-1,"try_number":1,"state":"running"}],"total_entries":1})";
  EXPECT_FALSE(parseListReply(json, ApiVersion::V2).ok());
}

TEST(ParseListReply, RejectsBrokenReplies) {
  for (const std::string& json : {
           std::string(R"({"task_instances": [{"dag_id": "x", "tas)"),
           std::string("<html>502</html>"),
           std::string(R"({"total_entries":1})"),
           std::string(R"({"task_instances":[]})"),
           std::string(R"({"task_instances":{},"total_entries":0})"),
           std::string(R"([1,2])"),
           R"({"task_instances":[)" + tiJson("d", "t", "r", -1, 1, "7") + R"(],"total_entries":1})",
           R"({"task_instances":[)" + tiJson("d", "t", "r", -1, 1, R"("running")") +
               R"(],"total_entries":"1"})",
           std::string(R"({"task_instances":[{"dag_id":"d","task_id":"t","dag_run_id":"r",)"
                       R"("map_index":-1,"try_number":1,"id":"x"}],"total_entries":1})"),
           std::string(
               R"({"task_instances":[{"dag_id":"d","task_id":"t","dag_run_id":"r",)"
               R"("map_index":"0","try_number":1,"state":null,"id":"x"}],"total_entries":1})"),
       }) {
    EXPECT_FALSE(parseListReply(json, ApiVersion::V2).ok()) << json;
  }
}

TEST(MatchRecords, MatchesByIdentityIgnoringTryAndReportsMissing) {
  std::vector<TaskInstanceRecord> records = {
      {{"d", "t", "r", -1, 3}, "success", "u1"},
      {{"d", "t", "r", 0, 1}, std::nullopt, "u2"},
  };
  const TaskInstanceKey oldTry{"d", "t", "r", -1, 1};
  const TaskInstanceKey mapped{"d", "t", "r", 0, 1};
  const TaskInstanceKey otherMap{"d", "t", "r", 1, 1};
  const TaskInstanceKey otherRun{"d", "t", "r2", -1, 1};
  auto result = matchRecords({oldTry, mapped, otherMap, otherRun}, records);
  ASSERT_EQ(result.size(), 4u);
  EXPECT_EQ(result[oldTry].lookup, Lookup::Found);
  EXPECT_EQ(result[oldTry].tryNumber, 3);
  EXPECT_EQ(result[oldTry].state, "success");
  EXPECT_EQ(result[oldTry].uuid, "u1");
  EXPECT_EQ(result[mapped].lookup, Lookup::Found);
  EXPECT_EQ(result[mapped].state, std::nullopt);
  EXPECT_EQ(result[otherMap].lookup, Lookup::Missing);
  EXPECT_EQ(result[otherRun].lookup, Lookup::Missing);
}

TEST(MatchRecords, UnmappedKeyOfAMappedTaskIsUnknownNotMissing) {
  std::vector<TaskInstanceRecord> records = {{{"d", "t", "r", 0, 1}, "success", "u0"},
                                             {{"d", "t", "r", 1, 1}, "running", "u1"}};
  const TaskInstanceKey noMapIndex{"d", "t", "r", -1, 1};
  auto result = matchRecords({noMapIndex}, records);
  EXPECT_EQ(result[noMapIndex].lookup, Lookup::Unknown);
  EXPECT_THAT(result[noMapIndex].detail, HasSubstr("mapped"));
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
  EXPECT_EQ(buildTokenBody("admin", "p\"w"), R"({"password":"p\"w","username":"admin"})");
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
}

TEST(VersionReply, RecognisesVersionInfo) {
  EXPECT_TRUE(isVersionReply(R"({"version":"3.1.0","git_version":null})"));
  EXPECT_FALSE(isVersionReply(R"({"detail":"Not Found"})"));
  EXPECT_FALSE(isVersionReply("<html>"));
}

}  // namespace
}  // namespace reaper::airflow
