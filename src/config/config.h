#pragma once
// The agent's configuration: the YAML file and the command line, as plain structs. Every error this
// module returns is a usage or configuration error (exit code 2) whose message names the key or
// flag.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace reaper::config {

enum class Mode { Kubernetes, Host };
std::string_view modeName(Mode mode);  // "kubernetes" | "host"

struct AirflowAuthConfig {
  std::string type = "none";  // none | basic | jwt | bearer
  std::string username;
  std::string passwordFile;
  std::string tokenFile;
};

struct AirflowConfig {
  std::string baseUrl;
  std::string apiVersion = "auto";  // auto | v1 | v2
  AirflowAuthConfig auth;
  std::string caFile;
  bool insecureSkipVerify = false;
  core::Duration timeout{5000};
  int pageSize = 100;
};

struct KillConfig {
  core::Duration gracePeriod{10000};
  std::string onMissingTaskInstance = "keep";  // keep | kill
};

struct KubernetesConfig {
  std::string apiServer;  // resolveConfig fills the in-cluster address when empty
  std::string tokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string caFile = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  bool insecureSkipVerify = false;
  std::vector<std::string> namespaces;  // empty: every namespace
  bool events = true;
  bool taskTrees = true;
  bool nodeReport = true;
  core::Duration treeRetention{3600000};
};

struct ServerConfig {
  std::string bindAddress = "0.0.0.0:9464";
};

struct Config {
  Mode mode = Mode::Kubernetes;
  std::string nodeName;
  std::string hostRoot = "/";
  std::string procRoot;
  std::string
      cgroupRoot;  // empty: the os layer finds the cgroup mount under <hostRoot>/sys/fs/cgroup
  core::Duration pollInterval{2000};
  core::Duration startupGrace{30000};
  bool dryRun = false;
  AirflowConfig airflow;
  KillConfig kill;
  KubernetesConfig kubernetes;
  ServerConfig server;
  std::string logLevel = "info";   // trace | debug | info | warn | error
  std::string logFormat = "text";  // text | json
};

enum class Command { Run, Scan, Version, Help };

struct CommandLine {
  Command command = Command::Run;
  std::string configFile;
  std::optional<Mode> mode;
  std::optional<std::string> nodeName;
  bool dryRun = false;
  std::optional<std::string> logLevel;
  std::optional<std::string> logFormat;
  // scan
  std::string output = "table";      // table | json
  bool processes = false;            // the table lists each tree's processes
  std::optional<std::string> state;  // only trees whose TI state (as the table shows it) is this
  std::optional<std::string> pod;    // only trees in this pod: NAME or NAMESPACE/NAME
  std::optional<std::string> dag;    // only trees of this dag_id
};

// The usage text: printed by `help` and with a usage error.
std::string usage();

// `args` excludes argv[0]. Accepts the contract's commands and flags, scan's filters, `help`,
// `--help`/`-h` (anywhere) and `--version`.
core::Result<CommandLine> parseCommandLine(const std::vector<std::string>& args);

// Parses and validates one configuration document. Every key is optional except airflow.baseUrl.
core::Result<Config> parseConfig(std::string_view yaml);

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Reads the file named on the command line (an empty document when none is), applies the flags over
// it, then the defaults that depend on the environment: nodeName ($NODE_NAME, else `hostName`),
// procRoot (<hostRoot>/proc) and, in kubernetes mode, the in-cluster API server address.
core::Result<Config> resolveConfig(const CommandLine& commandLine, const EnvLookup& env,
                                   const std::string& hostName);

}  // namespace reaper::config
