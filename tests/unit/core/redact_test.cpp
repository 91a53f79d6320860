#include "core/redact.h"

#include <gtest/gtest.h>

using reaper::core::redactCommandLine;
using reaper::core::redactedCommandLine;

TEST(Redact, HidesExecutionTokenInJsonString) {
  const std::string cmd =
      R"(python -m airflow.sdk.execution_time.execute_workload --json-string '{"token": "eyJhbGciOi.secret.sig", "ti": {"dag_id": "d"}}')";
  const std::string out = redactCommandLine(cmd);
  EXPECT_EQ(out.find("eyJhbGciOi"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("dag_id": "d")"), std::string::npos) << out;
}

TEST(Redact, HidesUrlUserinfoFlagsAndAssignments) {
  const std::string out = redactCommandLine(
      "dbt run --target postgresql://admin:hunter2@db:5432/x --password=pw1 --api-key pw2 "
      "DB_PASSWORD=pw3 AIRFLOW_CONN_PG=postgres://u:pw4@h");
  for (const char* secret : {"hunter2", "admin", "pw1", "pw2", "pw3", "pw4"})
    EXPECT_EQ(out.find(secret), std::string::npos) << secret << " in " << out;
  EXPECT_NE(out.find("dbt run --target postgresql://***@db:5432/x"), std::string::npos) << out;
}

TEST(Redact, LeavesOrdinaryCommandLinesAlone) {
  const std::string cmd = "airflow tasks run my_dag my_task manual__2024 --local --map-index 3";
  EXPECT_EQ(redactCommandLine(cmd), cmd);
}

TEST(Redact, TruncatesAfterRedacting) {
  const std::string out = redactedCommandLine({"sleep", std::string(500, 'x')}, 40);
  EXPECT_EQ(out.size(), 40u);
  EXPECT_TRUE(out.ends_with("..."));
}

TEST(Redact, FlattensMultiLineScriptsToOneLine) {
  EXPECT_EQ(redactedCommandLine({"bash", "-c", "sleep 1 &\n\twait\n"}), "bash -c sleep 1 &  wait ");
}
