// cpprestsdk adapter: the only file of the module that talks HTTP. cpprestsdk throws; nothing
// leaves.
#include <spdlog/spdlog.h>  // before cpprest: fmt 9 clashes otherwise
//
#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>

#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <optional>

#include "core/log.h"
#include "kube/client.h"
#include "net/cpprest_reads.h"
#include "net/limits.h"
#include "net/secret_file.h"

namespace reaper::kube {
namespace {

namespace http = web::http;

// A watch is ended by the server after its timeoutSeconds (at most ~6 min, see pod_watcher.cpp);
// the stream's read timeout only has to outlast that and the bookmarks between events.
constexpr std::chrono::seconds kStreamTimeout{420};

http::client::http_client_config makeConfig(const ClientOptions& options,
                                            std::chrono::milliseconds timeout) {
  http::client::http_client_config config;
  config.set_timeout(timeout);
  config.set_validate_certificates(!options.insecureSkipVerify);
  if (!options.caFile.empty()) {
    std::string ca = options.caFile;
    config.set_ssl_context_callback([ca](boost::asio::ssl::context& context) {
      boost::system::error_code ec;
      context.load_verify_file(ca, ec);
      if (ec)
        core::Logger("kube").warn("ca_file_unreadable", {{"file", ca}, {"err", ec.message()}});
    });
  }
  return config;
}

class CpprestTransport final : public ApiTransport {
 public:
  CpprestTransport(const std::string& baseUrl, const ClientOptions& options,
                   RequestObserver observer)
      : client_(baseUrl, makeConfig(options, options.timeout)),
        streamClient_(baseUrl, makeConfig(options, kStreamTimeout)),
        tokenFile_(options.tokenFile),
        hasToken_(!options.tokenFile.empty()),
        observer_(std::move(observer)) {}

  core::Result<HttpResponse> send(const HttpRequest& request) override {
    const auto start = std::chrono::steady_clock::now();
    auto result = perform(client_, request, nullptr);
    observe(result,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return result;
  }

  core::Result<HttpResponse> stream(const HttpRequest& request,
                                    const std::function<bool(std::string_view)>& onLine) override {
    auto result = perform(streamClient_, request, &onLine);
    observe(result, std::nullopt);
    return result;
  }

  void cancel() override { cancel_.cancel(); }

 private:
  void observe(const core::Result<HttpResponse>& result, std::optional<double> seconds) {
    if (observer_) observer_(result ? result->code : 0, seconds);
  }

  core::Result<http::http_request> build(const HttpRequest& request) {
    http::http_request req(http::method(request.method));
    req.set_request_uri(web::uri(request.target));
    req.headers().add("Accept", "application/json");
    if (!request.body.empty()) req.set_body(request.body, request.contentType);
    if (hasToken_) {
      std::lock_guard lock(tokenMutex_);
      auto token = tokenFile_.read();
      if (!token) return token.error();
      req.headers().add("Authorization", "Bearer " + *token);
    }
    return req;
  }

  core::Result<HttpResponse> perform(http::client::http_client& client, const HttpRequest& request,
                                     const std::function<bool(std::string_view)>* onLine) {
    try {
      auto req = build(request);
      if (!req) return req.error();
      auto cancelled = cancel_.get_token();
      auto transfer = pplx::cancellation_token_source::create_linked_source(cancelled);
      // A watch keeps the token it always had; a reply read whole is cancelled past the cap.
      http::http_response response =
          client.request(*req, onLine != nullptr ? cancelled : transfer.get_token()).get();
      HttpResponse out{response.status_code(), ""};
      if (onLine == nullptr || out.code < 200 || out.code > 299) {
        auto body = net::readBodyCapped(response, net::kMaxReplyBytes, transfer);
        if (!body) return body.error();
        out.body = std::move(body).value();
        return out;
      }
      readLines(response, *onLine);
      return out;
    } catch (const std::exception& e) {
      return core::makeError(std::string("kube request failed: ") + e.what());
    }
  }

  static void readLines(http::http_response& response,
                        const std::function<bool(std::string_view)>& onLine) {
    auto body = response.body();
    while (true) {
      concurrency::streams::container_buffer<std::string> line;
      size_t n = body.read_line(line).get();
      if (!line.collection().empty() && !onLine(line.collection())) return;
      if (n == 0 && body.is_eof()) return;
    }
  }

  http::client::http_client client_;
  http::client::http_client streamClient_;
  std::mutex tokenMutex_;
  net::SecretFile tokenFile_;  // re-read when kubelet rotates it
  bool hasToken_;
  RequestObserver observer_;
  pplx::cancellation_token_source cancel_;
};

}  // namespace

core::Result<std::unique_ptr<ApiTransport>> makeCpprestTransport(const ClientOptions& options,
                                                                 RequestObserver observer) {
  auto baseUrl = resolveApiServer(options, [](const char* name) { return std::getenv(name); });
  if (!baseUrl) return baseUrl.error();
  try {
    return std::unique_ptr<ApiTransport>(
        std::make_unique<CpprestTransport>(*baseUrl, options, std::move(observer)));
  } catch (const std::exception& e) {
    return core::makeError("invalid kubernetes.apiServer " + *baseUrl + ": " + e.what());
  }
}

}  // namespace reaper::kube
