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
  if (auto valid = validateResolved(config); !valid.ok()) return valid.error();
  return config;
}

}  // namespace reaper::config
