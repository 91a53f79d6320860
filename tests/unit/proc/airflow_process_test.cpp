#include "proc/airflow_process.h"

#include <gtest/gtest.h>

namespace reaper::proc {
namespace {

constexpr const char* kUuid = "0194c2e1-8f5a-7b3c-9d2e-1f0a2b3c4d5e";

TEST(Recognize, Airflow2LocalCommandWithInterpreter) {
  auto r =
      recognize({"/usr/local/bin/python3.11", "/home/airflow/.local/bin/airflow", "tasks", "run",
                 "etl", "load", "scheduled__2024-01-01T00:00:00+00:00", "--job-id", "42", "--local",
                 "--pool", "default_pool", "--subdir", "DAGS_FOLDER/etl.py", "--map-index", "3"});
  EXPECT_EQ(r.role, ProcessRole::TaskRoot);
  ASSERT_TRUE(r.key);
  EXPECT_EQ(r.key->dagId, "etl");
  EXPECT_EQ(r.key->taskId, "load");
  EXPECT_EQ(r.key->runId, "scheduled__2024-01-01T00:00:00+00:00");
  EXPECT_EQ(r.key->mapIndex, 3);
  EXPECT_FALSE(r.key->tryNumber) << "an Airflow 2 command line does not carry the try";
  EXPECT_FALSE(r.supervised);
}

TEST(Recognize, Airflow2RawUnmappedAndInlineOptions) {
  auto r =
      recognize({"airflow", "tasks", "run", "--job-id=7", "-S", "x.py", "d", "t", "r", "--raw"});
  ASSERT_EQ(r.role, ProcessRole::TaskRoot);
  EXPECT_EQ(r.key, (PartialKey{"d", "t", "r", -1, std::nullopt}));
  EXPECT_TRUE(r.supervised);
}

TEST(Recognize, PythonDashMAirflow) {
  auto r = recognize({"python3", "-u", "-m", "airflow", "tasks", "run", "d", "t", "r"});
  ASSERT_EQ(r.role, ProcessRole::TaskRoot);
  EXPECT_EQ(r.key->dagId, "d");
}

TEST(Recognize, Airflow2TooFewPositionalsOrBadMapIndexIsNothing) {
  EXPECT_EQ(recognize({"airflow", "tasks", "run", "d", "t"}).role, ProcessRole::Other);
  EXPECT_EQ(recognize({"airflow", "tasks", "run", "d", "t", "r", "--map-index", "x"}).role,
            ProcessRole::Other);
  EXPECT_EQ(recognize({"airflow", "tasks", "test", "d", "t", "r"}).role, ProcessRole::Other);
}

TEST(Recognize, TitleRewrittenWithSpacesIsReadAsWords) {
  auto r = recognize({"airflow tasks run etl load r1 --map-index 5 --local"});
  ASSERT_EQ(r.role, ProcessRole::TaskRoot);
  EXPECT_EQ(r.key, (PartialKey{"etl", "load", "r1", 5, std::nullopt}));
}

TEST(Recognize, Airflow2RunnerTitle) {
  auto r = recognize({"airflow task runner: etl load manual__2024 42"});
  ASSERT_EQ(r.role, ProcessRole::TaskRoot);
  EXPECT_EQ(r.key, (PartialKey{"etl", "load", "manual__2024", std::nullopt, std::nullopt}));
  EXPECT_TRUE(r.supervised);
}

TEST(Recognize, Airflow2SupervisorTitle) {
  auto r =
      recognize({"airflow task supervisor: ['airflow', 'tasks', 'run', 'etl', 'load', "
                 "\"it's_run\", '--local', '--map-index', '0']"});
  ASSERT_EQ(r.role, ProcessRole::TaskRoot);
  EXPECT_EQ(r.key, (PartialKey{"etl", "load", "it's_run", 0, std::nullopt}));
  EXPECT_EQ(recognize({"airflow task supervisor: ['airflow', 'tasks'"}).role, ProcessRole::Other);
}

TEST(Recognize, Airflow3TaskProcess) {
  auto r = recognize({std::string("airflow worker -- ") + kUuid});
  ASSERT_EQ(r.role, ProcessRole::TaskRoot);
  EXPECT_EQ(r.tiUuid, kUuid);
  EXPECT_FALSE(r.key);
  EXPECT_TRUE(r.supervised);
}

TEST(Recognize, WorkersAreNeverTasks) {
  auto local = recognize({std::string("airflow worker -- LocalExecutor: ") + kUuid});
  EXPECT_EQ(local.role, ProcessRole::Worker);
  EXPECT_TRUE(local.forksTasks);
  EXPECT_EQ(local.tiUuid, kUuid);
  EXPECT_EQ(recognize({"airflow worker -- LocalExecutor: <idle>"}).role, ProcessRole::Worker);
  EXPECT_EQ(recognize({"airflow worker -- LocalExecutor: ['airflow', 'tasks', 'run', 'd', 't', "
                       "'r', '--local']"})
                .role,
            ProcessRole::Worker);
  auto pool = recognize({"[celeryd: celery@worker-0:ForkPoolWorker-3]"});
  EXPECT_EQ(pool.role, ProcessRole::Worker);
  EXPECT_TRUE(pool.forksTasks);
  auto main = recognize({"[celeryd: celery@worker-0:MainProcess] -active- (celery worker)"});
  EXPECT_EQ(main.role, ProcessRole::Worker);
  EXPECT_FALSE(main.forksTasks);
  EXPECT_EQ(recognize({"/usr/bin/python3", "/usr/bin/airflow", "celery", "worker"}).role,
            ProcessRole::Worker);
  EXPECT_EQ(recognize({"airflow scheduler -- DagFileProcessorManager"}).role, ProcessRole::Worker);
  EXPECT_EQ(recognize({"airflow api_server -- host:0.0.0.0 port:8080"}).role, ProcessRole::Worker);
  EXPECT_EQ(recognize({std::string("airflow supervisor: ") + kUuid}).role, ProcessRole::Worker);
}

TEST(Recognize, OrdinaryProcesses) {
  EXPECT_EQ(recognize({}).role, ProcessRole::Other);
  EXPECT_EQ(recognize({"bash", "-c", "airflow tasks run d t r"}).role, ProcessRole::Other);
  EXPECT_EQ(recognize({"python3", "script.py", "tasks", "run", "d", "t", "r"}).role,
            ProcessRole::Other);
  EXPECT_EQ(recognize({"airflow worker -- not-a-uuid"}).role, ProcessRole::Worker);
}

TEST(Recognize, KubernetesExecutorWorkload) {
  std::string json = std::string(R"({"token":"secret-jwt","ti":{"id":")") + kUuid +
                     R"(","task_id":"load","dag_id":"etl","run_id":"manual__1","try_number":2,)"
                     R"("map_index":-1,"pool_slots":1,"queue":"default","priority_weight":1},)"
                     R"("dag_rel_path":"etl.py","bundle_info":{"name":"dags","version":null},)"
                     R"("log_path":"x.log","type":"ExecuteTask"})";
  auto r = recognize({"/usr/python/bin/python", "-m", "airflow.sdk.execution_time.execute_workload",
                      "--json-string", json});
  ASSERT_EQ(r.role, ProcessRole::TaskRoot);
  EXPECT_EQ(r.key, (PartialKey{"etl", "load", "manual__1", -1, 2}));
  EXPECT_EQ(r.tiUuid, kUuid);

  auto inlineForm = recognize(
      {"python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string=" + json});
  EXPECT_EQ(inlineForm.tiUuid, kUuid);
}

TEST(Recognize, WorkloadJsonThatDoesNotParseGivesNoKey) {
  const char* module = "airflow.sdk.execution_time.execute_workload";
  EXPECT_EQ(recognize({"python", "-m", module, "--json-string", "{\"ti\": {\"id\": 1"}).role,
            ProcessRole::Other);
  EXPECT_EQ(recognize({"python", "-m", module, "--json-string", R"({"callback":{"id":"x"}})"}).role,
            ProcessRole::Other);
  EXPECT_EQ(
      recognize({"python", "-m", module, "--json-string",
                 R"({"ti":{"id":"x","dag_id":"d","task_id":"t","run_id":"r","try_number":"2"}})"})
          .role,
      ProcessRole::Other);
  auto path = recognize({"python", "-m", module, "--json-path", "/tmp/w.json"});
  EXPECT_EQ(path.role, ProcessRole::TaskRoot);
  EXPECT_FALSE(path.key);
}

TEST(PartialKey, CompatibilityAndMerge) {
  PartialKey cmd{"d", "t", "r", 2, std::nullopt};
  PartialKey env{"d", "t", "r", std::nullopt, 3};
  EXPECT_TRUE(cmd.compatible(env));
  cmd.merge(env);
  EXPECT_EQ(cmd.toKey().toString(), "d/t/r/2/3");
  EXPECT_FALSE(cmd.compatible(PartialKey{"d", "t", "r", std::nullopt, 4}));
  EXPECT_TRUE(cmd.sameTaskInstance(PartialKey{"d", "t", "r", std::nullopt, 4}));
  EXPECT_FALSE(cmd.sameTaskInstance(PartialKey{"d", "t", "r", 1, 3}));
  EXPECT_EQ(PartialKey({"d", "t", "r", std::nullopt, std::nullopt}).toKey().toString(),
            "d/t/r/-1/0");
}

}  // namespace
}  // namespace reaper::proc
