#include <algorithm>
#include <map>

#include "config/config.h"

namespace reaper::config {
namespace {

using Args = std::vector<std::string>;

// Which flags each command accepts (the contract's command line, exactly).
const std::map<std::string, std::vector<std::string>, std::less<>> kCommandFlags = {
    {"run", {"--config", "--mode", "--node-name", "--dry-run", "--log-level", "--log-format"}},
    {"scan", {"--config", "--output"}},
    {"version", {}},
};

core::Error usageError(const std::string& what) { return core::makeError(what + "\n" + usage()); }

core::Result<std::string> oneOf(const std::string& flag, const std::string& value,
                                std::initializer_list<std::string_view> allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return value;
  std::string want;
  for (auto word : allowed) want += (want.empty() ? "" : "|") + std::string(word);
  return usageError(flag + ": bad value '" + value + "' (want " + want + ")");
}

// Stores the value of one flag; `value` is already split off the argument list.
core::Status apply(const std::string& flag, const std::string& value, CommandLine& out) {
  core::Result<std::string> checked = value;
  if (flag == "--config") {
    out.configFile = value;
  } else if (flag == "--node-name") {
    out.nodeName = value;
  } else if (flag == "--mode") {
    checked = oneOf(flag, value, {"kubernetes", "host"});
    if (checked.ok()) out.mode = *checked == "host" ? Mode::Host : Mode::Kubernetes;
  } else if (flag == "--log-level") {
    checked = oneOf(flag, value, {"trace", "debug", "info", "warn", "error"});
    if (checked.ok()) out.logLevel = *checked;
  } else if (flag == "--log-format") {
    checked = oneOf(flag, value, {"json", "text"});
    if (checked.ok()) out.logFormat = *checked;
  } else if (flag == "--output") {
    checked = oneOf(flag, value, {"table", "json"});
    if (checked.ok()) out.output = *checked;
  }
  if (!checked.ok()) return checked.error();
  if (value.empty()) return usageError(flag + ": needs a non-empty value");
  return core::Ok{};
}

}  // namespace

std::string usage() {
  return "usage:\n"
         "  airflow-reaper [run]  [--config FILE] [--mode kubernetes|host] [--node-name NAME] "
         "[--dry-run]\n"
         "                        [--log-level trace|debug|info|warn|error] [--log-format "
         "json|text]\n"
         "  airflow-reaper scan   [--config FILE] [--output table|json]\n"
         "  airflow-reaper version";
}

core::Result<CommandLine> parseCommandLine(const Args& args) {
  CommandLine out;
  auto next = args.begin();
  if (next != args.end() && !next->starts_with("-")) out.command = *next++;
  const auto command = kCommandFlags.find(out.command);
  if (command == kCommandFlags.end()) return usageError("unknown command '" + out.command + "'");
  const auto& allowed = command->second;
  for (; next != args.end(); ++next) {
    std::string flag = *next;
    std::optional<std::string> value;
    if (auto eq = flag.find('='); flag.starts_with("--") && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    if (std::find(allowed.begin(), allowed.end(), flag) == allowed.end())
      return usageError("unknown " + std::string(flag.starts_with("-") ? "flag" : "argument") +
                        " '" + flag + "' for " + out.command);
    if (flag == "--dry-run") {
      if (value) return usageError("--dry-run takes no value");
      out.dryRun = true;
      continue;
    }
    if (!value) {
      if (std::next(next) == args.end()) return usageError(flag + ": missing value");
      value = *++next;
    }
    if (auto applied = apply(flag, *value, out); !applied.ok()) return applied.error();
  }
  return out;
}

}  // namespace reaper::config
