#include <dirent.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/config.h"
#include "config/validate.h"

namespace reaper::config {
namespace {

core::Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return core::makeError("--config " + path + ": cannot read: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void applyFlags(const CommandLine& flags, Config& config) {
  if (flags.mode) config.mode = *flags.mode;
  if (flags.nodeName) config.nodeName = *flags.nodeName;
  if (flags.dryRun) config.dryRun = true;
  if (flags.logLevel) config.logLevel = *flags.logLevel;
  if (flags.logFormat) config.logFormat = *flags.logFormat;
}

std::string joinPath(const std::string& root, const std::string& child) {
  return root.ends_with('/') ? root + child : root + "/" + child;
}

// The address every pod sees for the API server (what client-go's InClusterConfig uses).
std::string inClusterApiServer(const EnvLookup& env) {
  auto host = env("KUBERNETES_SERVICE_HOST");
  auto port = env("KUBERNETES_SERVICE_PORT");
  if (!host || !port || host->empty() || port->empty()) return "";
  const bool ipv6 = host->find(':') != std::string::npos;
  return "https://" + (ipv6 ? "[" + *host + "]" : *host) + ":" + *port;
}

// `${NAME}` in server.bindAddress is NAME from the environment: the chart binds the pod's own IP
// (status.podIP through the downward API), which one ConfigMap cannot spell for every pod.
core::Status expandBindAddress(const EnvLookup& env, std::string& address) {
  for (auto open = address.find("${"); open != std::string::npos; open = address.find("${")) {
    const auto close = address.find('}', open);
    if (close == std::string::npos)
      return core::makeError("server.bindAddress: unclosed '${' in '" + address + "'");
    const std::string name = address.substr(open + 2, close - open - 2);
    const auto value = env(name);
    if (!value || value->empty())
      return core::makeError("server.bindAddress: $" + name + " is not set in the environment");
    address.replace(open, close - open + 1, *value);
  }
  return core::Ok{};
}

// The roots must be directories the agent can list: a wrong one would run and see nothing.
core::Status checkReadableDirectory(const std::string& key, const std::string& path) {
  if (path.empty()) return core::Ok{};
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr)
    return core::makeError(key + ": '" + path + "' cannot be listed: " + std::strerror(errno));
  ::closedir(dir);
  return core::Ok{};
}

core::Status checkRoots(const Config& config) {
  for (const auto& [key, path] :
       {std::pair<const char*, const std::string&>{"hostRoot", config.hostRoot},
        {"procRoot", config.procRoot},
        {"cgroupRoot", config.cgroupRoot}}) {
    if (auto readable = checkReadableDirectory(key, path); !readable.ok()) return readable;
  }
  return core::Ok{};
}

void applyDefaults(const EnvLookup& env, const std::string& hostName, Config& config) {
  if (config.nodeName.empty()) config.nodeName = env("NODE_NAME").value_or("");
  if (config.nodeName.empty()) config.nodeName = hostName;
  if (config.procRoot.empty()) config.procRoot = joinPath(config.hostRoot, "proc");
  if (config.kubernetes.apiServer.empty()) config.kubernetes.apiServer = inClusterApiServer(env);
}

}  // namespace

core::Result<Config> resolveConfig(const CommandLine& commandLine, const EnvLookup& env,
                                   const std::string& hostName) {
  std::string yaml;
  if (!commandLine.configFile.empty()) {
    auto text = readFile(commandLine.configFile);
    if (!text.ok()) return text.error();
    yaml = std::move(*text);
  }
  auto parsed = parseConfig(yaml);
  if (!parsed.ok()) {
    const std::string source =
        commandLine.configFile.empty() ? "(no --config)" : commandLine.configFile;
    return core::makeError(source + ": " + parsed.error().message);
  }
  Config config = std::move(*parsed);
  applyFlags(commandLine, config);
  applyDefaults(env, hostName, config);
  if (auto expanded = expandBindAddress(env, config.server.bindAddress); !expanded.ok())
    return expanded.error();
  if (auto valid = validateResolved(config); !valid.ok()) return valid.error();
  if (auto roots = checkRoots(config); !roots.ok()) return roots.error();
  return config;
}

}  // namespace reaper::config
