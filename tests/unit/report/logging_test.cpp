#include "report/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <regex>
#include <sstream>

#include "core/json.h"
#include "core/log.h"

namespace reaper::report {
namespace {

// A logger writing into a string, registered the way core::logger() registers its loggers.
class CapturedLogger {
 public:
  explicit CapturedLogger(const std::string& name)
      : logger_(std::make_shared<spdlog::logger>(
            name, std::make_shared<spdlog::sinks::ostream_sink_mt>(out_))) {
    spdlog::drop(name);
    spdlog::initialize_logger(logger_);
  }
  ~CapturedLogger() { spdlog::drop(logger_->name()); }

  spdlog::logger& operator*() { return *logger_; }
  spdlog::logger* operator->() { return logger_.get(); }
  std::vector<std::string> lines() const {
    std::vector<std::string> result;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) result.push_back(line);
    return result;
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> logger_;
};

// Also fails on a key written twice: a log line has each field once.
core::Json parseJson(const std::string& line) {
  auto json = core::Json::parse(line);
  EXPECT_TRUE(json) << line << ": " << json.error().message;
  return json ? *json : core::Json();
}

TEST(ConfigureLogging, TextLinesCarryUtcTimeLevelLoggerAndMessage) {
  CapturedLogger before("text-before");
  ASSERT_TRUE(configureLogging("info", "text").ok());
  CapturedLogger after("text-after");
  core::Logger("text-before").warn("stalled", {{"pid", 42}});
  core::Logger("text-after").info("killed", {{"ti", "d/t/r/-1/1"}});
  ASSERT_EQ(before.lines().size(), 1u);
  ASSERT_EQ(after.lines().size(), 1u);
  const std::regex time(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z )");
  EXPECT_TRUE(std::regex_search(before.lines()[0], time)) << before.lines()[0];
  EXPECT_THAT(before.lines()[0], ::testing::EndsWith(" warn text-before stalled pid=42"));
  EXPECT_THAT(after.lines()[0], ::testing::EndsWith(" info text-after killed ti=d/t/r/-1/1"));
}

TEST(ConfigureLogging, LevelAppliesToExistingAndLaterLoggers) {
  CapturedLogger before("level-before");
  ASSERT_TRUE(configureLogging("warn", "text").ok());
  CapturedLogger after("level-after");
  for (const char* name : {"level-before", "level-after"}) {
    core::Logger(name).info("dropped");
    core::Logger(name).error("kept");
  }
  ASSERT_EQ(before.lines().size(), 1u);
  ASSERT_EQ(after.lines().size(), 1u);
  EXPECT_THAT(after.lines()[0], ::testing::EndsWith(" error level-after kept"));
}

// A dag id is foreign text: its newline must not start a forged line, its spaces not forge fields.
TEST(ConfigureLogging, TextValuesCannotForgeLines) {
  ASSERT_TRUE(configureLogging("info", "text").ok());
  CapturedLogger logger("forge-text");
  core::Logger("forge-text")
      .info("decision",
            {{"ti", "d\n2026-01-01T00:00:00.000Z info kill signalled pid=1"}, {"action", "keep"}});
  logger->info("direct spdlog call with a raw\nnewline");
  ASSERT_EQ(logger.lines().size(), 2u);
  EXPECT_THAT(
      logger.lines()[0],
      ::testing::EndsWith(
          R"(decision ti="d\n2026-01-01T00:00:00.000Z info kill signalled pid=1" action=keep)"));
  EXPECT_THAT(logger.lines()[1], ::testing::EndsWith(R"(with a raw\nnewline)"));
}

TEST(ConfigureLogging, JsonLinesCarryTypedFields) {
  ASSERT_TRUE(configureLogging("debug", "json").ok());
  CapturedLogger logger("kill");
  core::Logger("kill").info(
      "signalled", {{"ti", "dag/task/run/-1/2"}, {"pid", 42}, {"sig", "TERM"}, {"dry_run", false}});
  ASSERT_EQ(logger.lines().size(), 1u);
  const auto json = parseJson(logger.lines()[0]);
  EXPECT_EQ(json.field("level").string(), "info");
  EXPECT_EQ(json.field("logger").string(), "kill");
  EXPECT_EQ(json.field("msg").string(), "signalled");
  EXPECT_EQ(json.field("ti").string(), "dag/task/run/-1/2");
  EXPECT_EQ(json.field("pid").integer(), 42);
  EXPECT_EQ(json.field("sig").string(), "TERM");
  EXPECT_EQ(json.field("dry_run").boolean(), false);
  EXPECT_TRUE(std::regex_match(json.field("time").string().value_or(""),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
}

TEST(ConfigureLogging, JsonEscapesAwkwardValuesAndParsesNoFieldsFromText) {
  ASSERT_TRUE(configureLogging("info", "json").ok());
  CapturedLogger logger("escape");
  core::Logger("escape").info(
      "decision", {{"reason", "a \"b\" action=kill level=spoof\ttab\nnl\xff back\\slash"}});
  logger->info("direct call action=kill level=spoof\n\xff");
  ASSERT_EQ(logger.lines().size(), 2u) << "a newline in a value must not split the line";
  const auto typed = parseJson(logger.lines()[0]);
  EXPECT_EQ(typed.field("reason").string(),
            "a \"b\" action=kill level=spoof\\ttab\\nnl\\xff back\\slash");
  EXPECT_EQ(typed.field("level").string(), "info");
  EXPECT_FALSE(typed.has("action")) << "a field is never re-parsed out of a value";
  const auto direct = parseJson(logger.lines()[1]);
  EXPECT_EQ(direct.field("msg").string(), "direct call action=kill level=spoof\\n\\xff");
  EXPECT_EQ(direct.field("level").string(), "info");
  EXPECT_FALSE(direct.has("action"));
}

TEST(ConfigureLogging, RejectsUnknownLevelsAndFormats) {
  EXPECT_FALSE(configureLogging("verbose", "text").ok());
  EXPECT_FALSE(configureLogging("info", "xml").ok());
}

}  // namespace
}  // namespace reaper::report
