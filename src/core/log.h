#pragma once
// Structured logs. One named spdlog logger per module ("proc", "kill", "airflow", ...); a line is
// an event name plus typed fields:
//   core::Logger("kill").info("signalled", {{"ti", label}, {"pid", pid}, {"sig", "TERM"}});
// renders as   signalled ti=dag/task/run/-1/1 pid=42 sig=TERM                       (text)
//          or  "msg":"signalled","ti":"dag/task/run/-1/1","pid":42,"sig":"TERM"      (json)
// Fields are never re-parsed out of text: a value holding " action=kill" stays one quoted value.
// Every string is printable()'d. Format and level are set once at start-up (report/logging.h) and
// apply to every logger, including those created later.
#include <spdlog/spdlog.h>

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace reaper::core {

enum class LogFormat { Text, Json };

// A key and a string, integer or boolean value. It refers to its key and string: build fields in
// the logging call, not ahead of it.
class LogField {
 public:
  LogField(std::string_view key, std::string_view value) : key_(key), value_(value) {}
  LogField(std::string_view key, const char* value) : key_(key), value_(std::string_view(value)) {}
  LogField(std::string_view key, const std::string& value)
      : key_(key), value_(std::string_view(value)) {}
  LogField(std::string_view key, bool value) : key_(key), value_(value) {}
  // Without a value the field is left out of the line (a host process has no pod).
  LogField(std::string_view key, const std::optional<std::string>& value)
      : key_(key), value_(value ? Value(std::string_view(*value)) : Value()) {}
  // A char would print as a number: pass std::string(1, c).
  LogField(std::string_view key, char value) = delete;
  template <std::signed_integral T>
  LogField(std::string_view key, T value) : key_(key), value_(static_cast<int64_t>(value)) {}
  template <std::unsigned_integral T>
  requires(!std::same_as<T, bool>) LogField(std::string_view key, T value)
      : key_(key), value_(static_cast<uint64_t>(value)) {}

  using Value = std::variant<std::monostate, std::string_view, int64_t, uint64_t, bool>;

  std::string_view key() const { return key_; }
  const Value& value() const { return value_; }

 private:
  std::string_view key_;
  Value value_;
};

// The keys every JSON line has already; a field with one of them is written as "_<key>".
inline constexpr std::string_view kReservedLogKeys[] = {"time", "level", "logger", "msg"};

// The body of one line: what follows "<time> <level> <logger> " in text, the members after
// "logger" in JSON (starting with "msg":).
std::string renderLogLine(LogFormat format, std::string_view event,
                          std::span<const LogField> fields);

// Chosen once at start-up, before the loggers are used from several threads.
void setLogFormat(LogFormat format);
LogFormat logFormat();

class Logger {
 public:
  using Fields = std::initializer_list<LogField>;

  explicit Logger(const std::string& module);

  void trace(std::string_view event, Fields fields = {}) const;
  void debug(std::string_view event, Fields fields = {}) const;
  void info(std::string_view event, Fields fields = {}) const;
  void warn(std::string_view event, Fields fields = {}) const;
  void error(std::string_view event, Fields fields = {}) const;
  void log(spdlog::level::level_enum level, std::string_view event, Fields fields = {}) const;
  // Whether a line at `level` would be written: to skip building fields no line would show.
  bool enabled(spdlog::level::level_enum level) const;

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

// The module's spdlog logger (created on first use): its sinks and level. Log through Logger.
std::shared_ptr<spdlog::logger> logger(const std::string& module);

}  // namespace reaper::core
