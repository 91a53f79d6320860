// cpprestsdk adapter: the only file of the agent that talks HTTP. cpprestsdk throws; nothing
// leaves.
#include <spdlog/spdlog.h>  // before cpprest: fmt 9 clashes otherwise
//
#include <cpprest/http_client.h>
#include <pplx/threadpool.h>

#include <algorithm>
#include <boost/asio/ssl.hpp>
#include <cerrno>
#include <limits>
#include <mutex>
#include <optional>

#include "core/log.h"
#include "net/base64.h"
#include "net/http.h"
#include "net/limits.h"

namespace reaper::net {
namespace {

namespace http = web::http;

// The most read from a reply's buffer at once.
constexpr size_t kChunk = 64 << 10;

core::Error tooLarge(const std::string& what, size_t maxBytes) {
  return core::makeError(what + " larger than " + std::to_string(maxBytes) + " bytes", EMSGSIZE);
}

// Reads what has arrived of `body` into `out`: at least one byte (waiting for it), at most kChunk;
// 0 at its end. Asking for more than has arrived would wait for it, and a stream's lines must be
// passed on as they come.
size_t readArrived(concurrency::streams::istream& body, std::string& out) {
  auto buffer = body.streambuf();
  const auto available = static_cast<size_t>(std::max<std::streamsize>(buffer.in_avail(), 0));
  const size_t count = std::clamp<size_t>(available, 1, kChunk);
  out.resize(count);
  const size_t n = buffer.getn(reinterpret_cast<uint8_t*>(out.data()), count).get();
  out.resize(n);
  return n;
}

// The whole body, up to kMaxReplyBytes.
core::Result<std::string> readWhole(http::http_response& response) {
  const auto announced = response.headers().content_length();
  if (announced > kMaxReplyBytes && announced != std::numeric_limits<utility::size64_t>::max()) {
    return tooLarge("reply", kMaxReplyBytes);
  }
  auto body = response.body();
  std::string text;
  // Reserved at once: growing by doubling would hold the old and the new copy at the cap. Pages
  // never written cost no memory.
  text.reserve(kMaxReplyBytes);
  std::string chunk;
  while (readArrived(body, chunk) > 0) {
    if (text.size() + chunk.size() > kMaxReplyBytes) return tooLarge("reply", kMaxReplyBytes);
    text += chunk;
  }
  return text;
}

enum class StreamEnd { ByServer, ByHandler };

// Passes each line of `response` to `onLine` as soon as its line end arrived; a line is never
// held beyond kMaxLineBytes.
core::Result<StreamEnd> readLines(http::http_response& response, const LineHandler& onLine) {
  auto body = response.body();
  std::string line, chunk;
  const auto deliver = [&] {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const bool more = line.empty() || onLine(line);
    line.clear();
    return more;
  };
  while (readArrived(body, chunk) > 0) {
    size_t start = 0;
    for (size_t end; (end = chunk.find('\n', start)) != std::string::npos; start = end + 1) {
      if (line.size() + (end - start) > kMaxLineBytes) return tooLarge("line", kMaxLineBytes);
      line.append(chunk, start, end - start);
      if (!deliver()) return StreamEnd::ByHandler;
    }
    if (line.size() + (chunk.size() - start) > kMaxLineBytes) {
      return tooLarge("line", kMaxLineBytes);
    }
    line.append(chunk, start);
  }
  return deliver() ? StreamEnd::ByServer : StreamEnd::ByHandler;
}

http::client::http_client_config makeConfig(const HttpOptions& options, core::Duration timeout) {
  http::client::http_client_config config;
  config.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
  config.set_max_redirects(0);
  config.set_validate_certificates(!options.insecureSkipVerify);
  if (!options.caFile.empty()) {
    config.set_ssl_context_callback([ca = options.caFile](boost::asio::ssl::context& context) {
      boost::system::error_code ec;  // the handshake fails then, unless the system trusts it
      context.load_verify_file(ca, ec);
      if (ec) core::Logger("net").warn("ca_file_unreadable", {{"file", ca}, {"err", ec.message()}});
    });
  }
  return config;
}

class CpprestTransport final : public HttpTransport {
 public:
  explicit CpprestTransport(const HttpOptions& options)
      : options_(options), client_(options.baseUrl, makeConfig(options, options.timeout)) {}

  core::Result<HttpResponse> send(const HttpRequest& request) override {
    return exchange(client_, request, nullptr);
  }

  core::Result<HttpResponse> stream(const HttpRequest& request,
                                    const LineHandler& onLine) override {
    return exchange(streamClient(), request, &onLine);
  }

  void cancel() override { cancel_.cancel(); }

 private:
  // Made on the first stream(): a client that never streams needs none.
  http::client::http_client& streamClient() {
    std::lock_guard lock(streamMutex_);
    if (!streamClient_) {
      streamClient_.emplace(options_.baseUrl, makeConfig(options_, options_.streamTimeout));
    }
    return *streamClient_;
  }

  static http::http_request build(const HttpRequest& request) {
    http::http_request message{http::method(request.method)};
    message.set_request_uri(web::uri(request.target));
    message.headers().add("Accept", "application/json");
    if (!request.authorization.empty()) {
      message.headers().add("Authorization", request.authorization);
    }
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
        request.method == "PATCH") {
      message.set_body(request.body, request.contentType);
    }
    return message;
  }

  core::Result<HttpResponse> exchange(http::client::http_client& client, const HttpRequest& request,
                                      const LineHandler* onLine) {
    // Cancelling `transfer` closes the connection: how a reply is left unread past a limit.
    auto cancelled = cancel_.get_token();
    auto transfer = pplx::cancellation_token_source::create_linked_source(cancelled);
    try {
      http::http_response response = client.request(build(request), transfer.get_token()).get();
      HttpResponse out{response.status_code(), ""};
      if (onLine != nullptr && out.status >= 200 && out.status <= 299) {
        auto end = readLines(response, *onLine);
        if (!end || *end == StreamEnd::ByHandler) transfer.cancel();
        if (!end) return end.error();
        return out;
      }
      auto body = readWhole(response);
      if (!body) {
        transfer.cancel();
        return body.error();
      }
      out.body = std::move(body).value();
      return out;
    } catch (const std::exception& e) {
      transfer.cancel();
      return core::makeError(std::string("HTTP request failed: ") + e.what());
    }
  }

  HttpOptions options_;
  http::client::http_client client_;
  std::mutex streamMutex_;
  std::optional<http::client::http_client> streamClient_;
  pplx::cancellation_token_source cancel_;
};

}  // namespace

core::Result<std::unique_ptr<HttpTransport>> makeHttpTransport(const HttpOptions& options) {
  try {
    return std::unique_ptr<HttpTransport>(std::make_unique<CpprestTransport>(options));
  } catch (const std::exception& e) {
    return core::makeError("invalid URL " + options.baseUrl + ": " + e.what());
  }
}

std::string basicAuthorization(std::string_view user, std::string_view password) {
  std::string credentials;
  credentials.append(user).append(":").append(password);
  return "Basic " + base64Encode(credentials);
}

std::string bearerAuthorization(std::string_view token) { return "Bearer " + std::string(token); }

void setHttpThreads(size_t threads) { crossplat::threadpool::initialize_with_threads(threads); }

}  // namespace reaper::net
