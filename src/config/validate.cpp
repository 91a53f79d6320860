#include "config/validate.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

namespace reaper::config {
namespace {

core::Error invalid(const std::string& key, const std::string& what) {
  return core::makeError(key + ": " + what);
}

bool isPort(std::string_view text, int lowest) {
  int value = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() && value >= lowest && value <= 65535;
}

bool isHostName(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_';
  });
}

bool isIpv6(std::string_view host) {
  return host.find(':') != std::string_view::npos &&
         std::all_of(host.begin(), host.end(),
                     [](unsigned char c) { return std::isxdigit(c) || c == ':' || c == '.'; });
}

// What is wrong with `authority` (host, [IPv6] or either with :port), or nullopt.
std::optional<std::string> authorityProblem(std::string_view authority, int lowestPort) {
  if (authority.empty()) return "has no host";
  std::string_view host = authority;
  std::optional<std::string_view> port;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return "has an unclosed '[' in its host";
    host = authority.substr(1, close - 1);
    if (!isIpv6(host)) return "has a bad IPv6 address in brackets";
    const std::string_view rest = authority.substr(close + 1);
    if (rest.empty()) return std::nullopt;
    if (rest.front() != ':') return "has text after its ']'";
    port = rest.substr(1);
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return "has an IPv6 host without brackets";
  }
  if (!isHostName(host) && !isIpv6(host)) return "has a bad host name";
  if (port && !isPort(*port, lowestPort)) return "has a bad port";
  return std::nullopt;
}

// What is wrong with an http(s) URL, or nullopt: scheme://host[:port][/path].
std::optional<std::string> urlProblem(std::string_view url) {
  std::optional<std::string_view> afterScheme;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.starts_with(scheme)) afterScheme = url.substr(scheme.size());
  }
  if (!afterScheme) return "is not an http:// or https:// URL";
  const std::string_view rest = *afterScheme;
  if (std::any_of(url.begin(), url.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; }))
    return "contains a space or control character";
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos)
    return "carries credentials (they belong in files, never in a URL)";
  return authorityProblem(authority, 1);
}

// A namespace name is a DNS-1123 label: lower-case alphanumerics and '-', at most 63.
bool isNamespaceName(std::string_view name) {
  return !name.empty() && name.size() <= 63 && name.front() != '-' && name.back() != '-' &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::islower(c) || std::isdigit(c) || c == '-';
         });
}

core::Status checkNamespaces(const std::vector<std::string>& namespaces) {
  std::set<std::string_view> seen;
  for (const auto& name : namespaces) {
    if (!isNamespaceName(name))
      return invalid("kubernetes.namespaces", "'" + name + "' is not a namespace name");
    if (!seen.insert(name).second)
      return invalid("kubernetes.namespaces", "'" + name + "' is listed twice");
  }
  return core::Ok{};
}

core::Status checkUrl(const std::string& key, const std::string& url) {
  if (auto problem = urlProblem(url)) return invalid(key, "'" + url + "' " + *problem);
  return core::Ok{};
}

core::Status validateAirflow(const AirflowConfig& airflow) {
  if (airflow.baseUrl.empty()) return invalid("airflow.baseUrl", "required");
  if (auto url = checkUrl("airflow.baseUrl", airflow.baseUrl); !url.ok()) return url;
  if (airflow.pageSize < 1 || airflow.pageSize > 100)
    return invalid("airflow.pageSize", std::to_string(airflow.pageSize) + " is not in 1..100");
  if (airflow.timeout.count() <= 0) return invalid("airflow.timeout", "must be greater than 0");
  const auto& auth = airflow.auth;
  if ((auth.type == "basic" || auth.type == "jwt") && auth.username.empty())
    return invalid("airflow.auth.username", "required by auth type " + auth.type);
  if ((auth.type == "basic" || auth.type == "jwt") && auth.passwordFile.empty())
    return invalid("airflow.auth.passwordFile", "required by auth type " + auth.type);
  if (auth.type == "bearer" && auth.tokenFile.empty())
    return invalid("airflow.auth.tokenFile", "required by auth type bearer");
  return core::Ok{};
}

}  // namespace

core::Status validateFile(const Config& config) {
  if (auto airflow = validateAirflow(config.airflow); !airflow.ok()) return airflow;
  if (config.pollInterval.count() <= 0) return invalid("pollInterval", "must be greater than 0");
  if (config.kill.gracePeriod.count() <= 0)
    return invalid("kill.gracePeriod", "must be greater than 0");
  if (config.kubernetes.treeRetention.count() <= 0)
    return invalid("kubernetes.treeRetention", "must be greater than 0");
  if (!config.kubernetes.apiServer.empty()) {
    if (auto url = checkUrl("kubernetes.apiServer", config.kubernetes.apiServer); !url.ok())
      return url;
  }
  if (auto namespaces = checkNamespaces(config.kubernetes.namespaces); !namespaces.ok())
    return namespaces;
  if (config.hostRoot.empty()) return invalid("hostRoot", "must not be empty");
  // A reference to the environment is checked once resolved.
  if (config.server.bindAddress.find("${") != std::string::npos) return core::Ok{};
  return checkBindAddress(config.server.bindAddress);
}

core::Status checkBindAddress(const std::string& address) {
  // host:port, with an IPv6 host in brackets or bare (a pod IP from the environment); port 0
  // picks a free port.
  const auto colon = address.rfind(':');
  const bool bare6 =
      colon != std::string::npos && isIpv6(address.substr(0, colon)) && address.front() != '[';
  const std::string authority =
      bare6 ? "[" + address.substr(0, colon) + "]" + address.substr(colon) : address;
  if (colon == std::string::npos || colon == 0)
    return invalid("server.bindAddress", "'" + address + "' is not host:port");
  if (auto problem = authorityProblem(authority, 0))
    return invalid("server.bindAddress", "'" + address + "' " + *problem);
  return core::Ok{};
}

core::Status validateResolved(const Config& config) {
  if (config.nodeName.empty())
    return invalid("nodeName", "empty, and neither $NODE_NAME nor the host name gives one");
  if (config.mode == Mode::Kubernetes && config.kubernetes.apiServer.empty())
    return invalid("kubernetes.apiServer",
                   "not set, and $KUBERNETES_SERVICE_HOST/$KUBERNETES_SERVICE_PORT are not "
                   "either (not running in a cluster?)");
  return checkBindAddress(config.server.bindAddress);
}

}  // namespace reaper::config
