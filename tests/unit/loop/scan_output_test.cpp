#include "loop/scan_output.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "fakes.h"

namespace reaper::loop {
namespace {

using test::tiKey;
using test::treeTarget;
using ::testing::HasSubstr;
using ::testing::Not;

Assessment assessment(Target target, std::optional<std::string> state, reconcile::Action action,
                      std::string reason) {
  airflow::TaskInstanceStatus status;
  status.lookup = airflow::Lookup::Found;
  status.state = std::move(state);
  return {std::move(target), status, {action, std::move(reason)}};
}

std::vector<Assessment> node() {
  Target inPod = treeTarget(tiKey("extract"), {10, 11, 12});
  inPod.pod = core::PodRef{"airflow", "worker-0", "uid-0"};
  inPod.tree.members[2].orphan = true;
  inPod.tree.members[2].commandLine = proc::CommandLine({"dbt", "run", "--password", "hunter2"});
  Target onHost = treeTarget({"reports", "load", "manual__1", -1, 2}, {20});
  return {assessment(inPod, "failed", reconcile::Action::Kill, "state=failed"),
          assessment(onHost, "running", reconcile::Action::Keep, "running")};
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(ScanTable, OneAlignedRowPerTreeAndASummary) {
  const auto out = lines(scanTable(node(), false, 2));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_THAT(out[0], ::testing::StartsWith("POD"));
  for (const char* column : {"TI", "STATE", "ACTION", "PROCESSES", "ORPHANS", "REASON"}) {
    const size_t at = out[0].find(column);
    ASSERT_NE(at, std::string::npos) << column;
    EXPECT_NE(out[1][at], ' ') << column << " starts where its header does";
    EXPECT_NE(out[2][at], ' ') << column << " starts where its header does";
    EXPECT_EQ(out[1][at - 1], ' ') << column;
  }
  EXPECT_THAT(out[1], HasSubstr("airflow/worker-0"));
  EXPECT_THAT(out[1], HasSubstr("etl/extract/manual__1/-1/1"));
  EXPECT_THAT(out[2], ::testing::StartsWith("-   "));
  EXPECT_EQ(out[3], "2 trees: 1 kill, 1 keep, 0 unknown; 4 processes, 1 orphans or escapees");
}

TEST(ScanTable, ProcessesListsRedactedMembersUnderTheirTree) {
  const auto out = lines(scanTable(node(), true, 2));
  ASSERT_EQ(out.size(), 8u);
  EXPECT_THAT(out[2], HasSubstr("pid=10"));
  EXPECT_THAT(out[4], HasSubstr("orphan"));
  EXPECT_THAT(out[4], HasSubstr("dbt run --password ***"));
  EXPECT_THAT(out[4], Not(HasSubstr("hunter2")));
  EXPECT_THAT(out[6], HasSubstr("pid=20"));
  EXPECT_EQ(out[4].find("dbt"), out[2].find("sleep")) << "member columns align";
}

TEST(ScanTable, SummarySaysHowManyTheFiltersLeftOut) {
  const auto all = node();
  const auto out = lines(scanTable({all[0]}, false, 2));
  EXPECT_EQ(out.back(),
            "1 tree (of 2 on this node): 1 kill, 0 keep, 0 unknown; 3 processes, 1 orphans or "
            "escapees");
  EXPECT_EQ(lines(scanTable({}, false, 0)).back(),
            "0 trees: 0 kill, 0 keep, 0 unknown; 0 processes, 0 orphans or escapees");
}

TEST(ScanFilter, ByStatePodAndDag) {
  const auto all = node();
  EXPECT_TRUE(matches({}, all[0]));
  EXPECT_TRUE(matches({.state = "failed"}, all[0]));
  EXPECT_FALSE(matches({.state = "failed"}, all[1]));
  EXPECT_TRUE(matches({.pod = "worker-0"}, all[0]));
  EXPECT_TRUE(matches({.pod = "airflow/worker-0"}, all[0]));
  EXPECT_FALSE(matches({.pod = "other/worker-0"}, all[0]));
  EXPECT_FALSE(matches({.pod = "worker-0"}, all[1])) << "a host tree is in no pod";
  EXPECT_TRUE(matches({.dag = "reports"}, all[1]));
  EXPECT_FALSE(matches({.dag = "reports"}, all[0]));
  EXPECT_FALSE(matches({.state = "failed", .dag = "reports"}, all[0]));
}

TEST(ScanJson, KeepsTheContractsDocumentShape) {
  const std::string json = scanJson(node());
  EXPECT_THAT(json, ::testing::StartsWith("{\"trees\":[{"));
  for (const char* key : {"\"pod\":{", "\"ti\":{", "\"state\":\"failed\"", "\"processes\":[",
                          "\"action\":\"kill\"", "\"reason\":\"state=failed\"", "\"pod\":null"})
    EXPECT_THAT(json, HasSubstr(key));
  EXPECT_THAT(json, Not(HasSubstr("hunter2")));
}

// A tree whose ids and command line carry a newline, a terminal escape and a byte that is not
// UTF-8.
Assessment hostile() {
  Target target = treeTarget({"dag\nforged 1 keep", "t\x1b[2J", "run\xff", -1, 1}, {42});
  target.tree.members[0].commandLine =
      proc::CommandLine({"airflow", "run", "dag\nx", "--password", "hunter2", "\xfe"});
  return assessment(target, "failed\n", reconcile::Action::Kill, "state=failed\r\nforged");
}

TEST(ScanTable, ForeignTextCannotForgeRows) {
  const std::string table = scanTable({hostile()}, true, 1);
  const auto out = lines(table);
  ASSERT_EQ(out.size(), 4u) << table;  // header, tree, member, summary
  EXPECT_THAT(out[1], HasSubstr("dag\\nforged 1 keep/t\\x1b[2J/run\\xff/-1/1"));
  EXPECT_THAT(out[1], HasSubstr("failed\\n"));
  EXPECT_THAT(out[1], HasSubstr("state=failed\\r\\nforged"));
  EXPECT_THAT(out[2], HasSubstr("airflow run dag x --password *** \\xfe"));
  EXPECT_THAT(table, Not(HasSubstr("hunter2")));
}

TEST(ScanJson, ForeignTextIsPrintableUtf8) {
  const std::string json = scanJson({hostile()});
  EXPECT_EQ(json.find('\n'), json.size() - 1) << json;
  for (const char* escaped :
       {R"("dag_id":"dag\\nforged 1 keep")", R"("task_id":"t\\x1b[2J")", R"("run_id":"run\\xff")",
        R"("state":"failed\\n")", R"("reason":"state=failed\\r\\nforged")",
        R"("cmdline":"airflow run dag x --password *** \\xfe")"})
    EXPECT_THAT(json, HasSubstr(escaped));
  EXPECT_EQ(json.find_first_of("\xff\xfe\x1b\r"), std::string::npos);
}

}  // namespace
}  // namespace reaper::loop
