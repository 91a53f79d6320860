#include "kube/client.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace reaper::kube {

core::Result<std::string> resolveApiServer(const ClientOptions& options,
                                           const std::function<const char*(const char*)>& getenv) {
  if (!options.apiServer.empty()) return options.apiServer;
  const char* host = getenv("KUBERNETES_SERVICE_HOST");
  const char* port = getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    return core::makeError(
        "kubernetes.apiServer is empty and KUBERNETES_SERVICE_HOST/PORT are not set (not in a "
        "pod?)");
  }
  std::string h(host);
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6 service address
  return "https://" + h + ":" + port;
}

std::string encodeQueryValue(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

}  // namespace reaper::kube
