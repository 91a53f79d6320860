#include <spdlog/spdlog.h>
// spdlog before cpprestsdk: fmt 9 breaks otherwise.
#include <cpprest/http_client.h>

#include "airflow/http_transport.h"
#include "net/cpprest_reads.h"
#include "net/limits.h"

namespace reaper::airflow {
namespace {

namespace http = web::http;

class CpprestTransport final : public HttpTransport {
 public:
  CpprestTransport(const std::string& baseUrl, const http::client::http_client_config& config)
      : client_(baseUrl, config) {}

  core::Result<HttpResponse> send(const HttpRequest& request) override {
    try {
      http::http_request message(request.method);
      message.set_request_uri(request.path);
      for (const auto& [name, value] : request.headers) message.headers().add(name, value);
      if (!request.body.empty() || request.method == "POST") {
        message.set_body(request.body, "application/json");
      }
      pplx::cancellation_token_source transfer;
      http::http_response response = client_.request(message, transfer.get_token()).get();
      auto body = net::readBodyCapped(response, net::kMaxReplyBytes, transfer);
      if (!body.ok()) return body.error();
      return HttpResponse{response.status_code(), std::move(body).value()};
    } catch (const std::exception& e) {
      return core::makeError(std::string("transport: ") + e.what());
    }
  }

 private:
  http::client::http_client client_;
};

}  // namespace

core::Result<std::unique_ptr<HttpTransport>> makeCpprestTransport(const TransportOptions& options) {
  http::client::http_client_config config;
  config.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(options.timeout));
  config.set_validate_certificates(!options.insecureSkipVerify);
  if (!options.caFile.empty()) {
    config.set_ssl_context_callback([caFile = options.caFile](boost::asio::ssl::context& context) {
      boost::system::error_code ignored;  // an unreadable CA shows up as a failed handshake
      context.load_verify_file(caFile, ignored);
    });
  }
  try {
    return std::unique_ptr<HttpTransport>(new CpprestTransport(options.baseUrl, config));
  } catch (const std::exception& e) {
    return core::makeError("airflow.baseUrl: " + std::string(e.what()));
  }
}

}  // namespace reaper::airflow
