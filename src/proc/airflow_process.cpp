#include "proc/airflow_process.h"

#include <array>
#include <cctype>
#include <charconv>

namespace reaper::proc {
namespace {

constexpr std::string_view kA3WorkerPrefix = "airflow worker -- ";
constexpr std::string_view kLocalExecutorPrefix = "LocalExecutor";
constexpr std::string_view kA2RunnerPrefix = "airflow task runner: ";
constexpr std::string_view kA2SupervisorPrefix = "airflow task supervisor: ";
// Seen on recent Airflow 3 builds; whether it titles a per-TI process or the reused worker is not
// settled, so it is treated as a worker: never a member, never killed.
constexpr std::string_view kA3SupervisorPrefix = "airflow supervisor: ";
constexpr std::string_view kWorkloadModule = "airflow.sdk.execution_time.execute_workload";

// `airflow <command>` daemons that outlive any TaskInstance.
constexpr std::array<std::string_view, 14> kDaemonCommands = {
    "scheduler",     "webserver",     "api-server",   "api_server", "triggerer",
    "dag-processor", "dag_processor", "celery",       "standalone", "edge",
    "serve-logs",    "kerberos",      "internal-api", "fastapi-api"};

// Task-run options that take a value (airflow/cli/cli_config.py, Airflow 2).
constexpr std::array<std::string_view, 12> kValueOptions = {
    "--job-id", "-j", "--pool",      "--subdir",          "-S", "--cfg-path",
    "--pickle", "-p", "--map-index", "--depends-on-past", "-d", "--mark-success-pattern"};

std::string_view basename(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

template <typename Range>
bool contains(const Range& range, std::string_view value) {
  for (std::string_view item : range) {
    if (item == value) return true;
  }
  return false;
}

bool parseInt(std::string_view text, int& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && !text.empty();
}

std::vector<std::string> splitSpaces(std::string_view text) {
  std::vector<std::string> words;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = text.find_first_not_of(' ', pos);
    if (start == std::string_view::npos) break;
    size_t end = text.find(' ', start);
    if (end == std::string_view::npos) end = text.size();
    words.emplace_back(text.substr(start, end - start));
    pos = end;
  }
  return words;
}

std::string joinTitle(const std::vector<std::string>& argv) {
  std::string title;
  for (const auto& arg : argv) {
    if (!title.empty()) title += ' ';
    title += arg;
  }
  while (!title.empty() && title.back() == ' ') title.pop_back();
  return title;
}

bool isUuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// The Python repr of a list of strings, as `airflow task supervisor: {command}` writes it.
std::optional<std::vector<std::string>> parsePythonStringList(std::string_view text) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return std::nullopt;
  std::vector<std::string> items;
  size_t i = 1;
  auto skipSpaces = [&] {
    while (i < text.size() && text[i] == ' ') ++i;
  };
  skipSpaces();
  if (text[i] == ']') return items;
  while (true) {
    skipSpaces();
    if (i >= text.size() || (text[i] != '\'' && text[i] != '"')) return std::nullopt;
    char quote = text[i++];
    std::string item;
    while (i < text.size() && text[i] != quote) {
      if (text[i] == '\\' && i + 1 < text.size()) ++i;
      item += text[i++];
    }
    if (i >= text.size()) return std::nullopt;
    ++i;
    items.push_back(std::move(item));
    skipSpaces();
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    if (i == text.size() - 1) return items;
    return std::nullopt;
  }
}

// `DAG TASK RUN_ID [options]` after `airflow tasks run`.
std::optional<PartialKey> parseTasksRunArgs(const std::vector<std::string>& args, size_t from,
                                            bool& raw) {
  std::vector<std::string_view> positional;
  PartialKey key;
  key.mapIndex = -1;  // Airflow passes --map-index only for mapped TIs
  for (size_t i = from; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--raw" || arg == "-r") raw = true;
    if (arg == "--") {
      positional.insert(positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg.size() > 1 && arg.front() == '-') {
      std::string_view name = arg.substr(0, arg.find('='));
      bool takesValue = contains(kValueOptions, name);
      std::string_view value;
      if (name.size() != arg.size()) {
        value = arg.substr(name.size() + 1);
      } else if (takesValue && i + 1 < args.size()) {
        value = args[++i];
      }
      if (name == "--map-index") {
        int index = 0;
        if (!parseInt(value, index) || index < -1) return std::nullopt;
        key.mapIndex = index;
      }
      continue;
    }
    positional.push_back(arg);
  }
  if (positional.size() < 3) return std::nullopt;
  key.dagId = positional[0];
  key.taskId = positional[1];
  key.runId = positional[2];
  return key;
}

// The words after the `airflow` CLI, whether started as `airflow ...`, `python .../airflow ...` or
// `python -m airflow ...`. `module` receives a `-m` module other than airflow.
std::optional<size_t> airflowArgsStart(const std::vector<std::string>& argv, std::string& module) {
  if (argv.empty()) return std::nullopt;
  if (basename(argv[0]) == "airflow") return 1;
  if (!basename(argv[0]).starts_with("python")) return std::nullopt;
  for (size_t i = 1; i < argv.size(); ++i) {
    std::string_view arg = argv[i];
    if (arg == "-m" && i + 1 < argv.size()) {
      if (argv[i + 1] == "airflow") return i + 2;
      module = argv[i + 1];
      return i + 2;
    }
    if (arg == "-W" || arg == "-X") {
      ++i;
      continue;
    }
    if (arg.starts_with("-")) continue;
    if (basename(arg) == "airflow") return i + 1;
    return std::nullopt;
  }
  return std::nullopt;
}

Recognition worker() {
  Recognition r;
  r.role = ProcessRole::Worker;
  return r;
}

Recognition recognizeWorkload(const std::vector<std::string>& argv, size_t from) {
  Recognition r;
  r.role = ProcessRole::TaskRoot;
  for (size_t i = from; i < argv.size(); ++i) {
    std::string_view arg = argv[i];
    std::string_view json;
    if (arg == "--json-string" && i + 1 < argv.size()) json = argv[i + 1];
    if (arg.starts_with("--json-string=")) json = arg.substr(14);
    if (json.empty()) continue;
    auto ti = parseWorkloadJson(json);
    if (!ti) return Recognition{};  // a callback workload, or JSON we cannot read
    r.key = ti->key;
    r.tiUuid = ti->id;
    return r;
  }
  return r;  // --json-path: the TI is known only from the task process below it
}

Recognition recognizeCommand(const std::vector<std::string>& argv) {
  Recognition r;
  std::string module;
  auto start = airflowArgsStart(argv, module);
  if (!start) return r;
  if (module == kWorkloadModule) return recognizeWorkload(argv, *start);
  if (!module.empty() || *start >= argv.size()) return r;
  std::string_view command = argv[*start];
  if (contains(kDaemonCommands, command)) return worker();
  if (command == "tasks" && *start + 1 < argv.size() && argv[*start + 1] == "run") {
    bool raw = false;
    r.key = parseTasksRunArgs(argv, *start + 2, raw);
    if (r.key) {
      r.role = ProcessRole::TaskRoot;
      r.supervised = raw;
    }
  }
  return r;
}

Recognition recognizeAirflow3Worker(std::string_view rest) {
  Recognition r;
  if (isUuid(rest)) {
    r.role = ProcessRole::TaskRoot;
    r.tiUuid = rest;
    r.supervised = true;
    return r;
  }
  r.role = ProcessRole::Worker;
  if (rest.starts_with(kLocalExecutorPrefix)) {
    r.forksTasks = true;
    size_t colon = rest.find(": ");
    if (colon != std::string_view::npos && isUuid(rest.substr(colon + 2))) {
      r.tiUuid = rest.substr(colon + 2);
    }
  }
  return r;
}

Recognition recognizeRunnerTitle(std::string_view rest) {
  Recognition r;
  auto words = splitSpaces(rest);
  if (words.size() < 3) return r;
  r.role = ProcessRole::TaskRoot;
  r.supervised = true;
  r.key = PartialKey{words[0], words[1], words[2], std::nullopt, std::nullopt};
  return r;
}

}  // namespace

bool PartialKey::sameTaskInstance(const PartialKey& other) const {
  return dagId == other.dagId && taskId == other.taskId && runId == other.runId &&
         (!mapIndex || !other.mapIndex || *mapIndex == *other.mapIndex);
}

bool PartialKey::compatible(const PartialKey& other) const {
  return sameTaskInstance(other) &&
         (!tryNumber || !other.tryNumber || *tryNumber == *other.tryNumber);
}

void PartialKey::merge(const PartialKey& other) {
  if (!mapIndex) mapIndex = other.mapIndex;
  if (!tryNumber) tryNumber = other.tryNumber;
}

core::TaskInstanceKey PartialKey::toKey() const {
  return core::TaskInstanceKey{dagId, taskId, runId, mapIndex.value_or(-1), tryNumber.value_or(0)};
}

Recognition recognize(const std::vector<std::string>& argv) {
  if (argv.empty()) return {};
  std::string title = joinTitle(argv);
  std::string_view t = title;
  if (t.starts_with(kA3WorkerPrefix))
    return recognizeAirflow3Worker(t.substr(kA3WorkerPrefix.size()));
  if (t.starts_with(kA2RunnerPrefix)) return recognizeRunnerTitle(t.substr(kA2RunnerPrefix.size()));
  if (t.starts_with(kA2SupervisorPrefix)) {
    auto command = parsePythonStringList(t.substr(kA2SupervisorPrefix.size()));
    return command ? recognizeCommand(*command) : Recognition{};
  }
  if (t.starts_with(kA3SupervisorPrefix)) return worker();
  if (t.starts_with("[celeryd:") || t.starts_with("celeryd:")) {
    Recognition r = worker();
    r.forksTasks = t.find(":ForkPoolWorker-") != std::string_view::npos;
    return r;
  }
  // A title rewritten with spaces in argv[0] is read as words.
  if (argv.size() == 1 && argv[0].find(' ') != std::string::npos) {
    return recognizeCommand(splitSpaces(argv[0]));
  }
  return recognizeCommand(argv);
}

}  // namespace reaper::proc
