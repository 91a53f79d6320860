#include "kube/client.h"

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <mutex>

#include "net/secret_file.h"

namespace reaper::kube {
namespace {

// A watch is ended by the server after its timeoutSeconds (at most ~6 min, see pod_watcher.cpp);
// a stream's timeout only has to outlast that.
constexpr core::Duration kStreamTimeout{std::chrono::seconds(420)};

// Adds the bearer token and reports each request to the observer.
class ApiServerTransport final : public HttpTransport {
 public:
  ApiServerTransport(std::unique_ptr<HttpTransport> http, const std::string& tokenFile,
                     RequestObserver observer)
      : http_(std::move(http)), observer_(std::move(observer)) {
    if (!tokenFile.empty()) tokenFile_.emplace(tokenFile);
  }

  core::Result<HttpResponse> send(const HttpRequest& request) override {
    const auto start = std::chrono::steady_clock::now();
    auto reply = authorized(request, [&](const HttpRequest& r) { return http_->send(r); });
    observe(reply, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return reply;
  }

  core::Result<HttpResponse> stream(const HttpRequest& request,
                                    const net::LineHandler& onLine) override {
    auto reply =
        authorized(request, [&](const HttpRequest& r) { return http_->stream(r, onLine); });
    observe(reply, std::nullopt);
    return reply;
  }

  void cancel() override { http_->cancel(); }

 private:
  template <typename Send>
  core::Result<HttpResponse> authorized(const HttpRequest& request, const Send& send) {
    if (!tokenFile_) return send(request);
    HttpRequest withToken = request;
    {
      std::lock_guard lock(tokenMutex_);
      auto token = tokenFile_->read();
      if (!token) return token.error();
      withToken.authorization = net::bearerAuthorization(*token);
    }
    return send(withToken);
  }

  void observe(const core::Result<HttpResponse>& reply, std::optional<double> seconds) {
    if (observer_) observer_(reply ? reply->status : 0, seconds);
  }

  std::unique_ptr<HttpTransport> http_;
  std::mutex tokenMutex_;  // the watch threads and the reporters share the transport
  std::optional<net::SecretFile> tokenFile_;
  RequestObserver observer_;
};

}  // namespace

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

core::Result<std::unique_ptr<HttpTransport>> makeApiTransport(const ClientOptions& options,
                                                              RequestObserver observer) {
  auto baseUrl = resolveApiServer(options, [](const char* name) { return std::getenv(name); });
  if (!baseUrl) return baseUrl.error();
  auto http = net::makeHttpTransport({.baseUrl = *baseUrl,
                                      .caFile = options.caFile,
                                      .insecureSkipVerify = options.insecureSkipVerify,
                                      .timeout = options.timeout,
                                      .streamTimeout = kStreamTimeout});
  if (!http) return core::makeError("kubernetes.apiServer: " + http.error().message);
  return std::unique_ptr<HttpTransport>(std::make_unique<ApiServerTransport>(
      std::move(http).value(), options.tokenFile, std::move(observer)));
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
