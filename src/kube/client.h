#pragma once
// How the library reaches the API server: options, in-cluster defaults, and the transport (net's,
// behind its interface, so request building and reply handling are tested without a network).
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"
#include "net/http.h"

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

using net::HttpRequest;
using net::HttpResponse;
using net::HttpTransport;

// The API server URL: `options.apiServer`, else the in-cluster service from `getenv`.
core::Result<std::string> resolveApiServer(const ClientOptions& options,
                                           const std::function<const char*(const char*)>& getenv);

// The API server over net's transport (TLS verified unless insecureSkipVerify): every request
// carries the service-account token (re-read when kubelet rotates it) and is reported to
// `observer`.
core::Result<std::unique_ptr<HttpTransport>> makeApiTransport(const ClientOptions& options,
                                                              RequestObserver observer);

// Percent-encodes a query parameter value.
std::string encodeQueryValue(std::string_view value);

}  // namespace reaper::kube
