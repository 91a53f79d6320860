#pragma once
// How the library reaches the API server: options, in-cluster defaults, and the transport behind an
// interface so request building and reply handling are tested without a network.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"

namespace reaper::kube {

inline constexpr std::string_view kServiceAccountTokenFile =
    "/var/run/secrets/kubernetes.io/serviceaccount/token";
inline constexpr std::string_view kServiceAccountCaFile =
    "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";

struct ClientOptions {
  std::string apiServer;  // empty: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
  std::string tokenFile = std::string(kServiceAccountTokenFile);  // empty: no Authorization
  std::string caFile = std::string(kServiceAccountCaFile);        // empty: system CAs only
  bool insecureSkipVerify = false;
  core::Duration timeout{10000};
};

// Called once per request with its HTTP status, 0 when no reply arrived, and the round trip's
// seconds; none for a watch, whose length the server decides (metrics).
using RequestObserver = std::function<void(int httpCode, std::optional<double> seconds)>;

struct HttpRequest {
  std::string method = "GET";
  std::string target;  // path and query, e.g. /api/v1/pods?watch=1
  std::string body;
  std::string contentType = "application/json";
};

struct HttpResponse {
  int code = 0;
  std::string body;
};

// The API server as the library sees it.
class ApiTransport {
 public:
  virtual ~ApiTransport() = default;
  // Sends one request and reads the whole reply; an Error only when no HTTP reply arrived.
  virtual core::Result<HttpResponse> send(const HttpRequest& request) = 0;
  // Sends one request and passes a 2xx reply's body to `onLine` line by line as it arrives, until
  // the server ends it, `onLine` returns false, or cancel(). A non-2xx reply's body is returned
  // whole.
  virtual core::Result<HttpResponse> stream(
      const HttpRequest& request, const std::function<bool(std::string_view)>& onLine) = 0;
  // Aborts a stream() in progress (from another thread) and every later request.
  virtual void cancel() = 0;
};

// The API server URL: `options.apiServer`, else the in-cluster service from `getenv`.
core::Result<std::string> resolveApiServer(const ClientOptions& options,
                                           const std::function<const char*(const char*)>& getenv);

// cpprestsdk over HTTPS (TLS verified unless insecureSkipVerify), reporting every request to
// `observer`.
core::Result<std::unique_ptr<ApiTransport>> makeCpprestTransport(const ClientOptions& options,
                                                                 RequestObserver observer);

// Percent-encodes a query parameter value.
std::string encodeQueryValue(std::string_view value);

}  // namespace reaper::kube
