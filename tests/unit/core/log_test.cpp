#include "core/log.h"

#include <gtest/gtest.h>

#include <vector>

namespace reaper::core {
namespace {

std::string render(LogFormat format, std::string_view event, std::vector<LogField> fields) {
  return renderLogLine(format, event, fields);
}

TEST(RenderLogLine, TextIsKeyValueWithQuotedValuesWhereNeeded) {
  EXPECT_EQ(render(LogFormat::Text, "signalled",
                   {{"ti", std::string("d/t/r/-1/1")}, {"pid", 42}, {"sig", "TERM"}}),
            "signalled ti=d/t/r/-1/1 pid=42 sig=TERM");
  EXPECT_EQ(render(LogFormat::Text, "decision",
                   {{"reason", "state=failed"}, {"empty", ""}, {"dry_run", false}}),
            R"(decision reason="state=failed" empty="" dry_run=false)");
}

TEST(RenderLogLine, TextValuesCannotForgeFieldsOrLines) {
  const std::string dag = "d x=1 action=kill\n2026-01-01T00:00:00.000Z info kill signalled";
  EXPECT_EQ(render(LogFormat::Text, "decision", {{"ti", dag}, {"action", "keep"}}),
            R"(decision ti="d x=1 action=kill\n2026-01-01T00:00:00.000Z info kill signalled")"
            " action=keep");
  EXPECT_EQ(render(LogFormat::Text, "e", {{"v", R"(a" action="kill)"}}),
            R"(e v="a\" action=\"kill")");
  EXPECT_EQ(render(LogFormat::Text, "e", {{"v", "caf\xc3\xa9\xff"}}), "e v=\"caf\xc3\xa9\\xff\"");
}

TEST(RenderLogLine, JsonHasTypedMembers) {
  EXPECT_EQ(render(LogFormat::Json, "reaped",
                   {{"ti", "d/t/r/-1/1"},
                    {"killed", size_t{3}},
                    {"map_index", -1},
                    {"dry_run", true},
                    {"reason", "say \"hi\"\n"}}),
            R"("msg":"reaped","ti":"d/t/r/-1/1","killed":3,"map_index":-1,"dry_run":true,)"
            R"("reason":"say \"hi\"\\n")");
}

TEST(RenderLogLine, FieldsWithoutAValueAreLeftOut) {
  const std::optional<std::string> none;
  const std::optional<std::string> pod = "ns/p";
  EXPECT_EQ(render(LogFormat::Text, "reap", {{"pod", none}, {"pid", 1}}), "reap pid=1");
  EXPECT_EQ(render(LogFormat::Json, "reap", {{"pod", pod}, {"pod2", none}}),
            R"("msg":"reap","pod":"ns/p")");
}

TEST(RenderLogLine, JsonRenamesReservedKeys) {
  EXPECT_EQ(render(LogFormat::Json, "e", {{"level", "x"}, {"msg", 1}}),
            R"("msg":"e","_level":"x","_msg":1)");
}

}  // namespace
}  // namespace reaper::core
