#include "config/validate.h"

#include <charconv>

namespace reaper::config {
namespace {

core::Error invalid(const std::string& key, const std::string& what) {
  return core::makeError(key + ": " + what);
}

bool isHttpUrl(const std::string& url) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.starts_with(scheme) && url.size() > scheme.size() && url[scheme.size()] != '/')
      return true;
  }
  return false;
}

// host:port, with the host optionally in brackets (IPv6); port 0 picks a free port.
bool isHostPort(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  const std::string_view port = std::string_view(address).substr(colon + 1);
  int value = -1;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return ec == std::errc() && end == port.data() + port.size() && value >= 0 && value <= 65535;
}

core::Status validateAirflow(const AirflowConfig& airflow) {
  if (airflow.baseUrl.empty()) return invalid("airflow.baseUrl", "required");
  if (!isHttpUrl(airflow.baseUrl))
    return invalid("airflow.baseUrl",
                   "'" + airflow.baseUrl + "' is not an http:// or https:// URL");
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
  if (!config.kubernetes.apiServer.empty() && !isHttpUrl(config.kubernetes.apiServer))
    return invalid("kubernetes.apiServer",
                   "'" + config.kubernetes.apiServer + "' is not an http:// or https:// URL");
  if (config.hostRoot.empty()) return invalid("hostRoot", "must not be empty");
  if (!isHostPort(config.server.bindAddress))
    return invalid("server.bindAddress", "'" + config.server.bindAddress + "' is not host:port");
  return core::Ok{};
}

core::Status validateResolved(const Config& config) {
  if (config.nodeName.empty())
    return invalid("nodeName", "empty, and neither $NODE_NAME nor the host name gives one");
  if (config.mode == Mode::Kubernetes && config.kubernetes.apiServer.empty())
    return invalid("kubernetes.apiServer",
                   "not set, and $KUBERNETES_SERVICE_HOST/$KUBERNETES_SERVICE_PORT are not "
                   "either (not running in a cluster?)");
  return core::Ok{};
}

}  // namespace reaper::config
