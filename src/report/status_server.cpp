// clang-format off
// spdlog (via core) before cpprestsdk: cpprestsdk's macros break fmt 9 otherwise.
#include "core/log.h"
#include "report/status_server.h"
// clang-format on

#include <arpa/inet.h>
#include <cpprest/http_listener.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

namespace reaper::report {
namespace {

using web::http::http_request;
using web::http::status_code;
using web::http::experimental::listener::http_listener;

constexpr int kBindAttempts = 5;
constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kTextContentType = "text/plain; charset=utf-8";

struct HostPort {
  std::string host;  // without IPv6 brackets
  int port = 0;
};

core::Result<HostPort> splitHostPort(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return core::makeError("server.bindAddress: '" + address + "' is not host:port");
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  try {
    return HostPort{host, std::stoi(address.substr(colon + 1))};
  } catch (const std::exception&) {
    return core::makeError("server.bindAddress: '" + address + "' has no numeric port");
  }
}

// A free TCP port on `host`, found by binding port 0. http_listener cannot bind port 0 itself (it
// reads 0 as "the scheme's default"), so start() retries should another process take it first.
core::Result<int> freePort(const std::string& host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), "0", &hints, &found); rc != 0)
    return core::makeError("server.bindAddress: cannot resolve '" + host +
                           "': " + gai_strerror(rc));
  int port = -1;
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && ::bind(fd, found->ai_addr, found->ai_addrlen) == 0) {
    sockaddr_storage bound{};
    socklen_t length = sizeof(bound);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) == 0) {
      port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    }
  }
  if (fd >= 0) ::close(fd);
  ::freeaddrinfo(found);
  if (port < 0) return core::makeError("server.bindAddress: no free port on '" + host + "'");
  return port;
}

std::string listenUri(const HostPort& address) {
  const bool ipv6 = address.host.find(':') != std::string::npos;
  return "http://" + (ipv6 ? "[" + address.host + "]" : address.host) + ":" +
         std::to_string(address.port) + "/";
}

}  // namespace

class StatusServer::Listener {
 public:
  using Responder = std::function<Response(const std::string& method, const std::string& path)>;

  Listener(const std::string& uri, Responder respond) : listener_(uri) {
    listener_.support([respond = std::move(respond)](http_request request) {
      try {
        const Response response = respond(request.method(), request.relative_uri().path());
        request
            .reply(static_cast<status_code>(response.status), response.body, response.contentType)
            .wait();
      } catch (const std::exception& e) {
        // The client went away mid-reply: nothing to answer any more.
        core::logger("report")->debug("status reply failed error=\"{}\"", e.what());
      }
    });
  }
  void open() { listener_.open().wait(); }
  void close() { listener_.close().wait(); }

 private:
  http_listener listener_;
};

void Health::markTick(core::SteadyTime now) {
  lastTick_.store(now.time_since_epoch().count());
  ticked_.store(true);
}

void Health::markFirstScan() { scanned_.store(true); }

void Health::markFirstApiAnswer() { apiAnswered_.store(true); }

bool Health::live(core::SteadyTime now, core::Duration tolerance) const {
  if (!ticked_.load()) return false;
  const core::SteadyTime last{core::SteadyTime::duration(lastTick_.load())};
  return now - last <= tolerance;
}

bool Health::ready() const { return scanned_.load() && apiAnswered_.load(); }

StatusServer::StatusServer(std::string bindAddress, const Metrics& metrics, const Health& health,
                           core::Clock& clock, core::Duration liveTolerance)
    : bindAddress_(std::move(bindAddress)),
      metrics_(metrics),
      health_(health),
      clock_(clock),
      liveTolerance_(liveTolerance) {}

StatusServer::~StatusServer() { stop(); }

core::Status StatusServer::start() {
  auto address = splitHostPort(bindAddress_);
  if (!address.ok()) return address.error();
  const bool anyPort = address->port == 0;
  std::string lastError;
  for (int attempt = 0; attempt < (anyPort ? kBindAttempts : 1); ++attempt) {
    if (anyPort) {
      auto port = freePort(address->host);
      if (!port.ok()) return port.error();
      address->port = *port;
    }
    try {
      auto listener = std::make_unique<Listener>(
          listenUri(*address), [this](const std::string& method, const std::string& path) {
            return respond(method, path);
          });
      listener->open();
      listener_ = std::move(listener);
      port_ = address->port;
      core::logger("report")->info("serving address={} paths=/metrics,/healthz,/readyz",
                                   listenUri(*address));
      return core::Ok{};
    } catch (const std::exception& e) {
      lastError = e.what();
    }
  }
  return core::makeError("server.bindAddress: cannot serve on '" + bindAddress_ +
                         "': " + lastError);
}

int StatusServer::port() const { return port_; }

void StatusServer::stop() {
  if (!listener_) return;
  try {
    listener_->close();
  } catch (const std::exception& e) {
    core::logger("report")->warn("status server close failed error=\"{}\"", e.what());
  }
  listener_.reset();
}

StatusServer::Response StatusServer::respond(const std::string& method,
                                             const std::string& path) const {
  if (method != "GET") return {405, kTextContentType, "method not allowed\n"};
  if (path == "/metrics") return {200, kMetricsContentType, metrics_.render()};
  if (path == "/healthz") {
    if (health_.live(clock_.now(), liveTolerance_)) return {200, kTextContentType, "ok\n"};
    return {503, kTextContentType, "main loop stalled\n"};
  }
  if (path == "/readyz") {
    if (health_.ready()) return {200, kTextContentType, "ok\n"};
    return {503, kTextContentType, "waiting for the first scan and the first API answer\n"};
  }
  return {404, kTextContentType, "not found\n"};
}

}  // namespace reaper::report
