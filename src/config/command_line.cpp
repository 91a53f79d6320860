#include <algorithm>
#include <map>

#include "config/config.h"

namespace reaper::config {
namespace {

using Args = std::vector<std::string>;

struct CommandSpec {
  Command command;
  std::vector<std::string_view> flags;  // the flags it accepts
};

const std::map<std::string, CommandSpec, std::less<>> kCommands = {
    {"run",
     {Command::Run,
      {"--config", "--mode", "--node-name", "--dry-run", "--log-level", "--log-format"}}},
    {"scan", {Command::Scan, {"--config", "--output", "--processes", "--state", "--pod", "--dag"}}},
    {"version", {Command::Version, {}}},
    {"help", {Command::Help, {}}},
};

// Flags that take no value.
constexpr std::string_view kSwitches[] = {"--dry-run", "--processes"};

bool isHelp(std::string_view arg) { return arg == "--help" || arg == "-h"; }

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
  if (value.empty()) return usageError(flag + ": needs a non-empty value");
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
  } else if (flag == "--state") {
    out.state = value;
  } else if (flag == "--pod") {
    out.pod = value;
  } else if (flag == "--dag") {
    out.dag = value;
  }
  if (!checked.ok()) return checked.error();
  return core::Ok{};
}

void applySwitch(const std::string& flag, CommandLine& out) {
  if (flag == "--dry-run") out.dryRun = true;
  if (flag == "--processes") out.processes = true;
}

}  // namespace

std::string usage() {
  return "usage:\n"
         "  airflow-reaper [run]  [--config FILE] [--mode kubernetes|host] [--node-name NAME] "
         "[--dry-run]\n"
         "                        [--log-level trace|debug|info|warn|error] [--log-format "
         "json|text]\n"
         "  airflow-reaper scan   [--config FILE] [--output table|json] [--processes]\n"
         "                        [--state STATE] [--pod [NAMESPACE/]NAME] [--dag DAG_ID]\n"
         "  airflow-reaper version | --version\n"
         "  airflow-reaper help | --help | -h";
}

core::Result<CommandLine> parseCommandLine(const Args& args) {
  CommandLine out;
  // `--help` anywhere (also after a command) asks for the usage, like most CLIs.
  if (std::any_of(args.begin(), args.end(), isHelp)) {
    out.command = Command::Help;
    return out;
  }
  auto next = args.begin();
  std::string name = "run";
  if (next != args.end() && *next == "--version") {
    name = "version";
    ++next;
  } else if (next != args.end() && !next->starts_with("-")) {
    name = *next++;
  }
  const auto command = kCommands.find(name);
  if (command == kCommands.end()) return usageError("unknown command '" + name + "'");
  out.command = command->second.command;
  const auto& allowed = command->second.flags;
  for (; next != args.end(); ++next) {
    std::string flag = *next;
    std::optional<std::string> value;
    if (auto eq = flag.find('='); flag.starts_with("--") && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    if (std::find(allowed.begin(), allowed.end(), flag) == allowed.end())
      return usageError("unknown " + std::string(flag.starts_with("-") ? "flag" : "argument") +
                        " '" + flag + "' for " + name);
    if (std::find(std::begin(kSwitches), std::end(kSwitches), flag) != std::end(kSwitches)) {
      if (value) return usageError(flag + " takes no value");
      applySwitch(flag, out);
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
