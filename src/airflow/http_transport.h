#pragma once
// One HTTP exchange with the Airflow API server, behind an interface so the client's auth, retry
// and batching logic is tested without a server.
#include <map>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/result.h"

namespace reaper::airflow {

struct HttpRequest {
  std::string method;  // GET | POST
  std::string path;    // from the server root, e.g. /api/v2/version
  std::map<std::string, std::string> headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::string body;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends one request; an Error means no HTTP status arrived (connect, TLS, timeout).
  virtual core::Result<HttpResponse> send(const HttpRequest& request) = 0;
};

struct TransportOptions {
  std::string baseUrl;
  std::string caFile;
  bool insecureSkipVerify = false;
  core::Duration timeout{5000};
};

// cpprestsdk http_client over HTTP or HTTPS.
core::Result<std::unique_ptr<HttpTransport>> makeCpprestTransport(const TransportOptions& options);

}  // namespace reaper::airflow
