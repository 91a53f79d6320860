#include "report/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <set>
#include <string>

#include "core/log.h"
#include "core/printable.h"

namespace reaper::report {
namespace {

constexpr const char* kTime = "%Y-%m-%dT%H:%M:%S.%eZ";
// How core::renderLogLine starts a JSON body.
constexpr std::string_view kJsonBodyStart = "\"msg\":";

void append(spdlog::memory_buf_t& dest, std::string_view text) {
  dest.append(text.data(), text.data() + text.size());
}

std::string_view levelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

// %* : the level as the contract spells it ("warn", "error"; spdlog writes "warning", "err").
class LevelFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    append(dest, levelName(msg.level));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<LevelFlag>();
  }
};

// %J : the members after "logger". core::Logger renders them from typed fields (they start with
// "msg":); a message logged through spdlog directly becomes one "msg" string, never parsed for
// fields.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string_view text(msg.payload.data(), msg.payload.size());
    if (text.starts_with(kJsonBodyStart)) return append(dest, text);
    append(dest, kJsonBodyStart);
    append(dest, core::jsonQuoted(text));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

// %V : the message made printable (a no-op for core::Logger's lines; spdlog's direct callers may
// log anything).
class TextMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    append(dest, core::printable(std::string_view(msg.payload.data(), msg.payload.size())));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TextMessageFlag>();
  }
};

// %N : the logger name as a JSON string.
class JsonLoggerFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    append(dest,
           core::jsonQuoted(std::string_view(msg.logger_name.data(), msg.logger_name.size())));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonLoggerFlag>();
  }
};

std::unique_ptr<spdlog::formatter> makeFormatter(core::LogFormat format) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<LevelFlag>('*');
  if (format == core::LogFormat::Json) {
    formatter->add_flag<JsonMessageFlag>('J').add_flag<JsonLoggerFlag>('N');
    formatter->set_pattern(std::string("{\"time\":\"") + kTime +
                           "\",\"level\":\"%*\",\"logger\":%N,%J}");
  } else {
    formatter->add_flag<TextMessageFlag>('V');
    formatter->set_pattern(std::string(kTime) + " %* %n %V");
  }
  return formatter;
}

}  // namespace

core::Status configureLogging(std::string_view level, std::string_view format) {
  if (format != "text" && format != "json")
    return core::makeError("log format '" + std::string(format) + "' is not text or json");
  static const std::set<std::string_view> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (!kLevels.contains(level))
    return core::makeError("log level '" + std::string(level) +
                           "' is not trace, debug, info, warn or error");
  // The registry hands its formatter and level to every logger it creates afterwards as well.
  const auto chosen = format == "json" ? core::LogFormat::Json : core::LogFormat::Text;
  core::setLogFormat(chosen);
  spdlog::set_formatter(makeFormatter(chosen));
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
  return core::Ok{};
}

}  // namespace reaper::report
