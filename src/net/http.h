#pragma once
// The one HTTP client of the agent, shared by the Airflow and Kubernetes clients, behind an
// interface so that their request building and reply handling are tested without a network. Every
// limit of an exchange (reply and line size, timeouts, TLS, redirects, the Authorization header)
// is applied here, once.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"

namespace reaper::net {

struct HttpRequest {
  std::string method = "GET";
  std::string target;  // path and query from the server root, e.g. /api/v2/version
  std::string body;    // sent with `contentType`; a POST, PUT or PATCH always has one
  std::string contentType = "application/json";
  std::string authorization;  // the Authorization header's value; empty: none
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string contentType;  // the reply's Content-Type header; empty: none
};

// Receives one line of a streamed reply, without its line end; false ends the stream.
using LineHandler = std::function<bool(std::string_view)>;

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends one request and reads its whole reply. An Error when no HTTP reply arrived (connect,
  // TLS, timeout) or its body is larger than kMaxReplyBytes (code EMSGSIZE). Redirects are not
  // followed: a 3xx is a reply like any other, so credentials never reach another server.
  virtual core::Result<HttpResponse> send(const HttpRequest& request) = 0;
  // Sends one request and passes a 2xx reply's body to `onLine` one line at a time, each as soon
  // as its line end arrived, until the server ends it, `onLine` returns false, or cancel(). A
  // non-2xx reply's body is returned whole. A line longer than kMaxLineBytes ends the stream with
  // an Error (code EMSGSIZE) without being read further.
  virtual core::Result<HttpResponse> stream(const HttpRequest& request,
                                            const LineHandler& onLine) = 0;
  // Aborts a request in progress (from another thread) and every later one.
  virtual void cancel() = 0;
};

struct HttpOptions {
  std::string baseUrl;  // http:// or https://, scheme, host and port only
  std::string caFile;   // PEM bundle trusted besides the system's; empty: the system's only
  bool insecureSkipVerify = false;
  // The longest one exchange of send() may take, from connecting to the reply's last byte.
  core::Duration timeout{0};
  // The same for stream(): it must outlast the time after which the server ends a stream.
  core::Duration streamTimeout{0};
};

// cpprestsdk's client over HTTP or HTTPS.
core::Result<std::unique_ptr<HttpTransport>> makeHttpTransport(const HttpOptions& options);

// Authorization header values.
std::string basicAuthorization(std::string_view user, std::string_view password);
std::string bearerAuthorization(std::string_view token);

// Sizes the thread pool every transport's I/O runs on; before the first transport is made.
void setHttpThreads(size_t threads);

}  // namespace reaper::net
