#include "core/redact.h"

#include <algorithm>
#include <regex>

namespace reaper::core {
namespace {

// Parts of a name that mark its value as a secret.
constexpr const char* kSecretWord = R"((?:token|password|passwd|pwd|secret|key|credential|auth))";

const std::regex& jsonSecretValue() {
  // "token": "value"  (also with escaped quotes inside a shell-quoted JSON string)
  static const std::regex re(std::string(R"((\\?"[A-Za-z0-9_\-]*)") + kSecretWord +
                                 R"([A-Za-z0-9_\-]*\\?"\s*:\s*)(\\?")((?:[^"\\]|\\[^"])*)(\\?"))",
                             std::regex::icase | std::regex::optimize);
  return re;
}

const std::regex& urlUserinfo() {
  static const std::regex re(R"(([A-Za-z][A-Za-z0-9+.\-]*://)[^/\s@'"]+@)", std::regex::optimize);
  return re;
}

const std::regex& flagWithValue() {
  // --password=x, --api-key x, -p? (short flags are too ambiguous to touch)
  static const std::regex re(
      std::string(R"((--[A-Za-z0-9\-_]*)") + kSecretWord + R"([A-Za-z0-9\-_]*)(=|\s+)([^\s]+))",
      std::regex::icase | std::regex::optimize);
  return re;
}

const std::regex& assignment() {
  // FOO_PASSWORD=x, AIRFLOW_CONN_X=uri (env-style assignments on a command line)
  static const std::regex re(std::string(R"(\b([A-Za-z0-9_]*(?:)") + kSecretWord +
                                 R"(|AIRFLOW_CONN_)[A-Za-z0-9_]*=)([^\s]+))",
                             std::regex::icase | std::regex::optimize);
  return re;
}

}  // namespace

std::string redactCommandLine(std::string_view commandLine) {
  std::string out(commandLine);
  out = std::regex_replace(out, jsonSecretValue(), "$1$2***$4");
  out = std::regex_replace(out, urlUserinfo(), "$1***@");
  out = std::regex_replace(out, flagWithValue(), "$1$2***");
  out = std::regex_replace(out, assignment(), "$1***");
  return out;
}

std::string redactedCommandLine(const std::vector<std::string>& argv, size_t maxLength) {
  std::string joined;
  for (const auto& arg : argv) {
    if (!joined.empty()) joined += ' ';
    joined += arg;
  }
  // One line per command: scripts passed with `-c` carry newlines and tabs.
  std::replace_if(
      joined.begin(), joined.end(), [](char c) { return c >= 0 && c < ' '; }, ' ');
  std::string redacted = redactCommandLine(joined);
  if (maxLength > 0 && redacted.size() > maxLength) {
    redacted.resize(maxLength > 3 ? maxLength - 3 : maxLength);
    redacted += "...";
  }
  return redacted;
}

}  // namespace reaper::core
