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

core::Result<std::string> TokenFile::token() {
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) {
    return core::makeError("cannot stat token file " + path_, errno);
  }
  long long stamp = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  if (stamp == stamp_ && !token_.empty()) return token_;
  std::ifstream in(path_);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return core::makeError("cannot read token file " + path_);
  std::string token = text.str();
  auto notSpace = [](char c) { return c != ' ' && c != '\n' && c != '\r' && c != '\t'; };
  token.erase(token.begin(), std::find_if(token.begin(), token.end(), notSpace));
  token.erase(std::find_if(token.rbegin(), token.rend(), notSpace).base(), token.end());
  if (token.empty()) return core::makeError("token file " + path_ + " is empty");
  token_ = std::move(token);
  stamp_ = stamp;
  return token_;
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
