#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <atomic>
#include <mutex>

#include "core/printable.h"

namespace reaper::core {
namespace {

std::atomic<LogFormat> format{LogFormat::Text};

// A text value bare when it reads unambiguously, quoted otherwise.
std::string textValue(std::string_view text) {
  std::string shown = printable(text);
  const bool bare = !shown.empty() && shown.find_first_of(" \"=\\") == std::string::npos;
  return bare ? shown : quoted(text);
}

void appendValue(std::string& out, LogFormat format, const LogField& field) {
  std::visit(
      [&](const auto& value) {
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, std::monostate>) {  // left out by renderLogLine
        } else if constexpr (std::is_same_v<T, std::string_view>) {
          out += format == LogFormat::Json ? jsonQuoted(value) : textValue(value);
        } else if constexpr (std::is_same_v<T, bool>) {
          out += value ? "true" : "false";
        } else {
          out += std::to_string(value);
        }
      },
      field.value());
}

std::string jsonKey(std::string_view key) {
  const bool reserved = std::ranges::find(kReservedLogKeys, key) != std::end(kReservedLogKeys);
  return reserved ? "_" + std::string(key) : std::string(key);
}

}  // namespace

std::string renderLogLine(LogFormat format, std::string_view event,
                          std::span<const LogField> fields) {
  std::string out;
  if (format == LogFormat::Json) {
    out += "\"msg\":";
    out += jsonQuoted(event);
  } else {
    out += printable(event);
  }
  for (const auto& field : fields) {
    if (std::holds_alternative<std::monostate>(field.value())) continue;
    if (format == LogFormat::Json) {
      out += ',';
      out += jsonQuoted(jsonKey(field.key()));
      out += ':';
    } else {
      out += ' ';
      out += printable(field.key());
      out += '=';
    }
    appendValue(out, format, field);
  }
  return out;
}

void setLogFormat(LogFormat chosen) { format.store(chosen); }

LogFormat logFormat() { return format.load(); }

Logger::Logger(const std::string& module) : logger_(logger(module)) {}

void Logger::trace(std::string_view event, Fields fields) const {
  log(spdlog::level::trace, event, fields);
}
void Logger::debug(std::string_view event, Fields fields) const {
  log(spdlog::level::debug, event, fields);
}
void Logger::info(std::string_view event, Fields fields) const {
  log(spdlog::level::info, event, fields);
}
void Logger::warn(std::string_view event, Fields fields) const {
  log(spdlog::level::warn, event, fields);
}
void Logger::error(std::string_view event, Fields fields) const {
  log(spdlog::level::err, event, fields);
}

bool Logger::enabled(spdlog::level::level_enum level) const { return logger_->should_log(level); }

void Logger::log(spdlog::level::level_enum level, std::string_view event, Fields fields) const {
  if (!enabled(level)) return;
  const std::string line =
      renderLogLine(logFormat(), event, std::span(fields.begin(), fields.size()));
  logger_->log(level, spdlog::string_view_t(line.data(), line.size()));
}

std::shared_ptr<spdlog::logger> logger(const std::string& module) {
  static std::mutex creating;
  std::lock_guard lock(creating);
  if (auto existing = spdlog::get(module)) return existing;
  return spdlog::stderr_logger_mt(module);
}

}  // namespace reaper::core
