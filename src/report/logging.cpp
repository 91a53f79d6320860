#include "report/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <set>
#include <string>

namespace reaper::report {
namespace {

constexpr const char* kTime = "%Y-%m-%dT%H:%M:%S.%eZ";

void append(spdlog::memory_buf_t& dest, std::string_view text) {
  dest.append(text.data(), text.data() + text.size());
}

// The length of the valid UTF-8 sequence at the start of `text`, or 0 when it is not one.
size_t utf8Length(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  size_t length = lead < 0x80           ? 1
                  : (lead >> 5) == 0x6  ? 2
                  : (lead >> 4) == 0xE  ? 3
                  : (lead >> 3) == 0x1E ? 4
                                        : 0;
  if (length == 0 || length > text.size()) return 0;
  for (size_t i = 1; i < length; ++i)
    if ((byte(i) & 0xC0) != 0x80) return 0;
  return length;
}

// A JSON string body. Bytes that are not UTF-8 (command lines can hold anything) become U+FFFD so
// every line stays valid JSON.
void appendJsonString(spdlog::memory_buf_t& dest, std::string_view text) {
  dest.push_back('"');
  while (!text.empty()) {
    const char c = text.front();
    const size_t length = utf8Length(text);
    if (length == 0) {
      append(dest, "\\ufffd");
      text.remove_prefix(1);
      continue;
    }
    if (c == '"' || c == '\\') {
      dest.push_back('\\');
      dest.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      append(dest, fmt::format("\\u{:04x}", static_cast<int>(c)));
    } else {
      append(dest, text.substr(0, length));
    }
    text.remove_prefix(length);
  }
  dest.push_back('"');
}

struct Field {
  std::string key;
  std::string value;
};

bool isKeyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

// The value at the start of `text`: a "quoted string" (with \" and \\ escapes) or up to a space.
std::string takeValue(std::string_view& text) {
  std::string value;
  if (!text.starts_with('"')) {
    const size_t end = std::min(text.find(' '), text.size());
    value = text.substr(0, end);
    text.remove_prefix(end);
    return value;
  }
  size_t i = 1;
  for (; i < text.size() && text[i] != '"'; ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) ++i;
    value.push_back(text[i]);
  }
  text.remove_prefix(std::min(i + 1, text.size()));
  return value;
}

// The `key=value` fields of a message, in order.
std::vector<Field> fieldsOf(std::string_view text) {
  std::vector<Field> fields;
  while (!text.empty()) {
    if (text.front() == ' ') {
      text.remove_prefix(1);
      continue;
    }
    size_t keyEnd = 0;
    while (keyEnd < text.size() && isKeyChar(text[keyEnd])) ++keyEnd;
    if (keyEnd > 0 && keyEnd < text.size() && text[keyEnd] == '=') {
      std::string key(text.substr(0, keyEnd));
      text.remove_prefix(keyEnd + 1);
      fields.push_back({std::move(key), takeValue(text)});
    } else {
      text.remove_prefix(std::min(text.find(' '), text.size()));
    }
  }
  return fields;
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

// %J : `"msg":"...","key":"value",...`, the message and its key=value fields as JSON members.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string_view text(msg.payload.data(), msg.payload.size());
    append(dest, "\"msg\":");
    appendJsonString(dest, text);
    std::set<std::string> used = {"time", "level", "logger", "msg"};
    for (const auto& field : fieldsOf(text)) {
      if (!used.insert(field.key).second) continue;
      dest.push_back(',');
      appendJsonString(dest, field.key);
      dest.push_back(':');
      appendJsonString(dest, field.value);
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

// %N : the logger name as a JSON string.
class JsonLoggerFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    appendJsonString(dest, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonLoggerFlag>();
  }
};

std::unique_ptr<spdlog::formatter> makeFormatter(std::string_view format) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<LevelFlag>('*');
  if (format == "json") {
    formatter->add_flag<JsonMessageFlag>('J').add_flag<JsonLoggerFlag>('N');
    formatter->set_pattern(std::string("{\"time\":\"") + kTime +
                           "\",\"level\":\"%*\",\"logger\":%N,%J}");
  } else {
    formatter->set_pattern(std::string(kTime) + " %* %n %v");
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
  spdlog::set_formatter(makeFormatter(format));
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
  return core::Ok{};
}

}  // namespace reaper::report
