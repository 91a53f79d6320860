#include "proc/parsers.h"

#include <gtest/gtest.h>

#include <string>

namespace reaper::proc {
namespace {

using namespace std::string_literals;

TEST(ParseStatus, UidNsPidAndKthread) {
  auto status = parseStatus(
      "Name:\tpython3\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nPid:\t4242\n"
      "Uid:\t50000\t50001\t50000\t50000\nNSpid:\t4242\t17\t1\nKthread:\t0\nThreads:\t3");
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(status->tgid, 4242);
  EXPECT_EQ(status->realUid, 50000u);
  EXPECT_EQ(status->effectiveUid, 50001u);
  EXPECT_EQ(status->nsPids, (std::vector<core::Pid>{4242, 17, 1}));
  ASSERT_TRUE(status->kthread.has_value());
  EXPECT_FALSE(*status->kthread);
}

TEST(ParseStatus, OlderKernelWithoutKthread) {
  auto status = parseStatus("Name:\tkworker/0:1\nTgid:\t12\nUid:\t0\t0\t0\t0\nNSpid:\t12\n");
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE(status->kthread.has_value());
  EXPECT_EQ(status->nsPids, std::vector<core::Pid>{12});
}

TEST(ParseStatus, MalformedIsAnError) {
  EXPECT_FALSE(parseStatus("").ok());
  EXPECT_FALSE(parseStatus("Tgid:\t1\n").ok());
  EXPECT_FALSE(parseStatus("Tgid:\tx\nUid:\t0\t0\t0\t0\n").ok());
  EXPECT_FALSE(parseStatus("Tgid:\t1\nUid:\t0\t0\t0\t0\nNSpid:\t1\tz\n").ok());
}

TEST(ParseCmdline, NulSeparatedWithAndWithoutTrailingNul) {
  std::vector<std::string> want{"airflow", "tasks", "run", "my dag"};
  EXPECT_EQ(parseCmdline("airflow\0tasks\0run\0my dag\0"s), want);
  EXPECT_EQ(parseCmdline("airflow\0tasks\0run\0my dag"s), want);
}

TEST(ParseCmdline, EmptyForKernelThreadsAndZombies) { EXPECT_TRUE(parseCmdline("").empty()); }

TEST(ParseCmdline, SetproctitleKeepsSpacesAndDropsPadding) {
  auto argv = parseCmdline("airflow worker -- 0194c2e1-8f5a-7b3c-9d2e-1f0a2b3c4d5e\0\0\0\0\0\0"s);
  ASSERT_EQ(argv.size(), 1u);
  EXPECT_EQ(argv[0], "airflow worker -- 0194c2e1-8f5a-7b3c-9d2e-1f0a2b3c4d5e");
}

TEST(ParseCmdline, EmptyArgumentsInTheMiddleSurvive) {
  EXPECT_EQ(parseCmdline("a\0\0b\0"s), (std::vector<std::string>{"a", "", "b"}));
}

TEST(ParseCmdline, HugeCommandLine) {
  std::string json(200000, 'x');
  auto argv = parseCmdline("python\0-m\0mod\0--json-string\0"s + json);
  ASSERT_EQ(argv.size(), 5u);
  EXPECT_EQ(argv[4].size(), json.size());
}

TEST(ParseAirflowContext, KeepsOnlyAirflowContext) {
  std::string environ =
      "PATH=/usr/bin\0AIRFLOW_CTX_DAG_ID=etl\0AIRFLOW_CONN_DB=postgres://u:secret@db\0"
      "AIRFLOW_CTX_TASK_ID=load\0AIRFLOW_CTX_DAG_RUN_ID=manual__2024-01-01T00:00:00+00:00\0"
      "AIRFLOW_CTX_TRY_NUMBER=3\0DB_PASSWORD=hunter2\0AIRFLOW_CTX_DAG_OWNER=ops"s;
  AirflowContext ctx = parseAirflowContext(environ);
  EXPECT_TRUE(ctx.complete());
  EXPECT_EQ(ctx.dagId, "etl");
  EXPECT_EQ(ctx.taskId, "load");
  EXPECT_EQ(ctx.runId, "manual__2024-01-01T00:00:00+00:00");
  EXPECT_EQ(ctx.tryNumber, 3);
  EXPECT_EQ(ctx.mapIndex, -1);
  EXPECT_FALSE(ctx.hasMapIndex);
  EXPECT_EQ(ctx.key().toString(), "etl/load/manual__2024-01-01T00:00:00+00:00/-1/3");
}

TEST(ParseAirflowContext, MapIndexWhenExported) {
  AirflowContext ctx = parseAirflowContext(
      "AIRFLOW_CTX_DAG_ID=d\0AIRFLOW_CTX_TASK_ID=t\0AIRFLOW_CTX_DAG_RUN_ID=r\0"
      "AIRFLOW_CTX_MAP_INDEX=7\0"s);
  EXPECT_TRUE(ctx.hasMapIndex);
  EXPECT_EQ(ctx.mapIndex, 7);
  EXPECT_EQ(ctx.tryNumber, 0);
}

TEST(ParseAirflowContext, NonUtf8BytesTolerated) {
  std::string environ =
      "JUNK=\xff\xfe\x80\0AIRFLOW_CTX_DAG_ID=d\0\xc3\x28=x\0AIRFLOW_CTX_TASK_ID=t\0"
      "AIRFLOW_CTX_DAG_RUN_ID=r\xe2\x82\0AIRFLOW_CTX_TRY_NUMBER=2\0"s;
  AirflowContext ctx = parseAirflowContext(environ);
  EXPECT_EQ(ctx.dagId, "d");
  EXPECT_EQ(ctx.taskId, "t");
  EXPECT_EQ(ctx.runId, "") << "an invalid UTF-8 value is dropped, not guessed";
  EXPECT_FALSE(ctx.complete());
}

TEST(ParseAirflowContext, GarbageNumbersIgnored) {
  AirflowContext ctx = parseAirflowContext(
      "AIRFLOW_CTX_TRY_NUMBER=two\0AIRFLOW_CTX_MAP_INDEX=-5\0AIRFLOW_CTX_DAG_ID\0=\0"s);
  EXPECT_EQ(ctx.tryNumber, 0);
  EXPECT_FALSE(ctx.hasMapIndex);
  EXPECT_FALSE(ctx.complete());
}

TEST(ParseCgroup, V1AndV2Lines) {
  auto entries = parseCgroup(
      "12:pids:/kubepods/besteffort/pod1234/abcd\n"
      "1:name=systemd:/kubepods/besteffort/pod1234/abcd\n"
      "0::/../../kubepods.slice/kubepods-pod1234.slice/cri-containerd-abcd.scope");
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0], (CgroupEntry{12, "pids", "/kubepods/besteffort/pod1234/abcd"}));
  EXPECT_EQ(entries[1].controllers, "name=systemd");
  EXPECT_EQ(entries[2].hierarchyId, 0);
  EXPECT_EQ(entries[2].controllers, "");
  EXPECT_EQ(entries[2].path,
            "/../../kubepods.slice/kubepods-pod1234.slice/cri-containerd-abcd.scope");
}

TEST(ParseCgroup, MalformedLinesSkipped) {
  auto entries = parseCgroup("garbage\nx::/a\n3:cpu\n0::relative\n0::/ok:colon\n");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].path, "/ok:colon");
}

}  // namespace
}  // namespace reaper::proc
