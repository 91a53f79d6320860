// clang-format off
// spdlog and gtest before cpprestsdk: its macros (U) break fmt 9 and gtest otherwise.
#include "report/logging.h"
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <cpprest/json.h>
// clang-format on

#include <regex>
#include <sstream>

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

web::json::value parseJson(const std::string& line) {
  std::error_code error;
  auto value = web::json::value::parse(line, error);
  EXPECT_FALSE(error) << "not JSON: " << line;
  return value;
}

TEST(ConfigureLogging, TextLinesCarryUtcTimeLevelLoggerAndMessage) {
  CapturedLogger before("text-before");
  ASSERT_TRUE(configureLogging("info", "text").ok());
  CapturedLogger after("text-after");
  before->warn("stalled pid={}", 42);
  after->info("killed ti=d/t/r/-1/1");
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
  for (auto* logger : {&*before, &*after}) {
    logger->info("dropped");
    logger->error("kept");
  }
  ASSERT_EQ(before.lines().size(), 1u);
  ASSERT_EQ(after.lines().size(), 1u);
  EXPECT_THAT(after.lines()[0], ::testing::EndsWith(" error level-after kept"));
}

TEST(ConfigureLogging, JsonLinesParseAndRepeatKeyValueFields) {
  ASSERT_TRUE(configureLogging("debug", "json").ok());
  CapturedLogger logger("kill");
  logger->info("killed ti=dag/task/run/-1/2 pid=42 sig=TERM");
  ASSERT_EQ(logger.lines().size(), 1u);
  const auto json = parseJson(logger.lines()[0]);
  EXPECT_EQ(json.at("level").as_string(), "info");
  EXPECT_EQ(json.at("logger").as_string(), "kill");
  EXPECT_EQ(json.at("msg").as_string(), "killed ti=dag/task/run/-1/2 pid=42 sig=TERM");
  EXPECT_EQ(json.at("ti").as_string(), "dag/task/run/-1/2");
  EXPECT_EQ(json.at("pid").as_string(), "42");
  EXPECT_EQ(json.at("sig").as_string(), "TERM");
  EXPECT_TRUE(std::regex_match(json.at("time").as_string(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
}

TEST(ConfigureLogging, JsonEscapesAwkwardMessages) {
  ASSERT_TRUE(configureLogging("info", "json").ok());
  CapturedLogger logger("escape");
  logger->info("cmd=\"a \\\"b\\\" c\" level=spoof quote\" back\\slash tab\there nl\nbyte\xff end");
  ASSERT_EQ(logger.lines().size(), 1u) << "a newline in the message must not split the line";
  const auto json = parseJson(logger.lines()[0]);
  EXPECT_EQ(json.at("cmd").as_string(), "a \"b\" c");
  EXPECT_EQ(json.at("level").as_string(), "info") << "a field must not override the level";
  EXPECT_THAT(json.at("msg").as_string(),
              ::testing::HasSubstr("tab\there nl\nbyte\xEF\xBF\xBD end"));
}

TEST(ConfigureLogging, RejectsUnknownLevelsAndFormats) {
  EXPECT_FALSE(configureLogging("verbose", "text").ok());
  EXPECT_FALSE(configureLogging("info", "xml").ok());
}

}  // namespace
}  // namespace reaper::report
