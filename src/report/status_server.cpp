#include "report/status_server.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <functional>
#include <list>
#include <optional>
#include <vector>

#include "core/log.h"

namespace reaper::report {
namespace {

using Monotonic = std::chrono::steady_clock;

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kTextContentType = "text/plain; charset=utf-8";
constexpr size_t kReadChunk = 4096;
// After accept() fails for want of descriptors or memory, wait before trying again rather than
// spin on a listening socket that stays readable.
constexpr std::chrono::milliseconds kAcceptPause{100};

struct HostPort {
  std::string host;  // without IPv6 brackets
  std::string port;
};

core::Result<HostPort> splitHostPort(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return core::makeError("server.bindAddress: '" + address + "' is not host:port");
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return HostPort{host, address.substr(colon + 1)};
}

core::Error socketError(const std::string& address, const std::string& what) {
  return core::makeError("server.bindAddress: cannot serve on '" + address + "': " + what + ": " +
                         std::strerror(errno));
}

// A listening, non-blocking socket bound to `address`, and the port it got.
core::Result<std::pair<int, int>> listenOn(const std::string& address) {
  auto split = splitHostPort(address);
  if (!split.ok()) return split.error();
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(split->host.c_str(), split->port.c_str(), &hints, &found); rc != 0)
    return core::makeError("server.bindAddress: cannot resolve '" + address +
                           "': " + gai_strerror(rc));
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  std::optional<core::Error> failed;
  const int on = 1;
  if (fd < 0) {
    failed = socketError(address, "socket");
  } else if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
             ::bind(fd, found->ai_addr, found->ai_addrlen) != 0) {
    failed = socketError(address, "bind");
  } else if (::listen(fd, SOMAXCONN) != 0) {
    failed = socketError(address, "listen");
  }
  ::freeaddrinfo(found);
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  if (!failed && ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0)
    failed = socketError(address, "getsockname");
  if (failed) {
    if (fd >= 0) ::close(fd);
    return *failed;
  }
  const int port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return std::pair{fd, port};
}

std::string reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    default:
      return "Service Unavailable";
  }
}

std::string serialize(const StatusServer::Response& response, bool close) {
  return "HTTP/1.1 " + std::to_string(response.status) + " " + reasonPhrase(response.status) +
         "\r\nContent-Type: " + response.contentType +
         "\r\nContent-Length: " + std::to_string(response.body.size()) +
         (close ? "\r\nConnection: close" : "") + "\r\n\r\n" + response.body;
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// One request head (request line and headers, without the blank line), as far as this server
// needs it.
struct RequestHead {
  std::string method;
  std::string path;  // without the query
  bool keepAlive = true;
  bool chunked = false;
  uint64_t contentLength = 0;
};

std::optional<RequestHead> parseHead(std::string_view head) {
  const auto lineEnd = head.find("\r\n");
  const std::string_view line = head.substr(0, lineEnd);
  const auto firstSpace = line.find(' ');
  const auto lastSpace = line.rfind(' ');
  if (firstSpace == std::string_view::npos || firstSpace == lastSpace) return std::nullopt;
  const std::string_view version = line.substr(lastSpace + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return std::nullopt;
  RequestHead request;
  request.method = line.substr(0, firstSpace);
  const std::string_view target = line.substr(firstSpace + 1, lastSpace - firstSpace - 1);
  request.path = target.substr(0, target.find('?'));
  request.keepAlive = version == "HTTP/1.1";
  std::string_view rest = lineEnd == std::string_view::npos ? "" : head.substr(lineEnd + 2);
  while (!rest.empty()) {
    const auto end = rest.find("\r\n");
    const std::string_view field = rest.substr(0, end);
    rest = end == std::string_view::npos ? "" : rest.substr(end + 2);
    const auto colon = field.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const std::string_view name = field.substr(0, colon);
    const std::string_view value = trim(field.substr(colon + 1));
    if (equalsIgnoringCase(name, "Content-Length")) {
      auto [end, ec] =
          std::from_chars(value.data(), value.data() + value.size(), request.contentLength);
      if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
    } else if (equalsIgnoringCase(name, "Transfer-Encoding")) {
      request.chunked = true;
    } else if (equalsIgnoringCase(name, "Connection")) {
      if (equalsIgnoringCase(value, "close")) request.keepAlive = false;
      if (equalsIgnoringCase(value, "keep-alive")) request.keepAlive = true;
    }
  }
  return request;
}

}  // namespace

// The poll loop: a listening socket, an eventfd that stops it, and at most
// limits.maxConnections connections, each holding at most one request head and one reply.
class StatusServer::Connections {
 public:
  using Responder = std::function<Response(const std::string& method, const std::string& path)>;

  Connections(int listenFd, ServerLimits limits, Responder respond)
      : listenFd_(listenFd),
        wakeFd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
        limits_(limits),
        respond_(std::move(respond)) {}

  ~Connections() {
    for (auto& connection : open_) ::close(connection.fd);
    ::close(listenFd_);
    if (wakeFd_ >= 0) ::close(wakeFd_);
  }

  bool ready() const { return wakeFd_ >= 0; }

  void run() {
    while (true) {
      std::vector<pollfd> polled = pollSet();
      const int ready = ::poll(polled.data(), polled.size(), waitMillis());
      if (ready < 0 && errno != EINTR) {
        core::Logger("report").error("status server stopped",
                                     {{"error", std::string("poll: ") + std::strerror(errno)}});
        return;
      }
      if (polled[0].revents != 0) return;  // stop()
      const bool listening = polled.size() > 1 && polled[1].fd == listenFd_;
      serve(polled, listening ? 2 : 1);
      if (listening && polled[1].revents != 0) acceptAll();
      closeExpired();
    }
  }

  void wake() {
    const uint64_t one = 1;
    [[maybe_unused]] auto written = ::write(wakeFd_, &one, sizeof(one));
  }

 private:
  struct Connection {
    int fd;
    std::string in;
    std::string out;
    size_t sent = 0;
    bool closeAfterReply = false;
    Monotonic::time_point deadline;
  };
  using Iterator = std::list<Connection>::iterator;

  // [wake, listen (unless paused), connections in the order of open_].
  std::vector<pollfd> pollSet() {
    std::vector<pollfd> polled{{wakeFd_, POLLIN, 0}};
    if (Monotonic::now() >= acceptPausedUntil_) polled.push_back({listenFd_, POLLIN, 0});
    for (const auto& connection : open_) {
      // A connection is read only while it has no reply pending: one request at a time.
      const short events = connection.out.empty() ? POLLIN : POLLOUT;
      polled.push_back({connection.fd, events, 0});
    }
    return polled;
  }

  int waitMillis() const {
    auto next = Monotonic::now() + limits_.idleTimeout;
    for (const auto& connection : open_) next = std::min(next, connection.deadline);
    if (Monotonic::now() < acceptPausedUntil_) next = std::min(next, acceptPausedUntil_);
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next - Monotonic::now());
    return static_cast<int>(std::max<int64_t>(wait.count(), 0));
  }

  void acceptAll() {
    while (true) {
      const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          core::Logger("report").warn("status server cannot accept",
                                      {{"error", std::strerror(errno)}});
          acceptPausedUntil_ = Monotonic::now() + kAcceptPause;
        }
        return;  // EAGAIN: accepted everything waiting
      }
      if (open_.size() >= limits_.maxConnections) evictIdlest();
      open_.push_back(Connection{fd, {}, {}, 0, false, Monotonic::now() + limits_.idleTimeout});
    }
  }

  // The connection that made progress the longest ago goes first: idle clients cannot lock out
  // the kubelet's probes or Prometheus.
  void evictIdlest() {
    auto idlest = std::min_element(open_.begin(), open_.end(), [](const auto& a, const auto& b) {
      return a.deadline < b.deadline;
    });
    close(idlest);
  }

  // polled[first..] are the connections of open_, in order (pollSet() made them so).
  void serve(const std::vector<pollfd>& polled, size_t first) {
    auto connection = open_.begin();
    for (size_t i = first; i < polled.size(); ++i) {
      auto next = std::next(connection);
      if (polled[i].revents != 0 && !progress(*connection, polled[i].revents)) close(connection);
      connection = next;
    }
  }

  // Reads or writes what the socket allows; false when the connection is done.
  bool progress(Connection& connection, short revents) {
    if (!connection.out.empty()) return (revents & POLLOUT) != 0 ? write(connection) : false;
    if ((revents & (POLLIN | POLLHUP | POLLERR)) == 0) return true;
    char buffer[kReadChunk];
    const ssize_t got = ::recv(connection.fd, buffer, sizeof(buffer), 0);
    if (got < 0) return errno == EAGAIN || errno == EINTR;
    if (got == 0) return false;  // the client closed
    connection.in.append(buffer, static_cast<size_t>(got));
    return handle(connection);
  }

  // Turns the next complete request head into a reply; false when the connection is done.
  bool handle(Connection& connection) {
    const auto end = connection.in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (connection.in.size() <= limits_.maxRequestHeadBytes) return true;  // wait for more
      return reply(connection, {431, kTextContentType, "request head too large\n"}, true);
    }
    if (end + 4 > limits_.maxRequestHeadBytes)
      return reply(connection, {431, kTextContentType, "request head too large\n"}, true);
    const auto head = parseHead(std::string_view(connection.in).substr(0, end));
    connection.in.erase(0, end + 4);
    if (!head) return reply(connection, {400, kTextContentType, "bad request\n"}, true);
    // The body is never read: a request that has one ends the connection.
    if (head->chunked || head->contentLength > limits_.maxRequestBodyBytes)
      return reply(connection, {413, kTextContentType, "request body not accepted\n"}, true);
    return reply(connection, respond_(head->method, head->path), !head->keepAlive);
  }

  bool reply(Connection& connection, const Response& response, bool close) {
    connection.out = serialize(response, close);
    connection.sent = 0;
    connection.closeAfterReply = close;
    touch(connection);
    return write(connection);
  }

  bool write(Connection& connection) {
    while (connection.sent < connection.out.size()) {
      const ssize_t put = ::send(connection.fd, connection.out.data() + connection.sent,
                                 connection.out.size() - connection.sent, MSG_NOSIGNAL);
      if (put < 0) return errno == EAGAIN || errno == EINTR;
      connection.sent += static_cast<size_t>(put);
    }
    connection.out.clear();
    if (connection.closeAfterReply) return false;
    touch(connection);
    // A pipelined request may already be waiting.
    return connection.in.empty() ? true : handle(connection);
  }

  // A reply is progress: the idle clock starts again.
  void touch(Connection& connection) {
    connection.deadline = Monotonic::now() + limits_.idleTimeout;
  }

  void closeExpired() {
    const auto now = Monotonic::now();
    for (auto it = open_.begin(); it != open_.end();) {
      auto next = std::next(it);
      if (it->deadline <= now) close(it);
      it = next;
    }
  }

  void close(Iterator connection) {
    ::close(connection->fd);
    open_.erase(connection);
  }

  int listenFd_;
  int wakeFd_;
  ServerLimits limits_;
  Responder respond_;
  std::list<Connection> open_;
  Monotonic::time_point acceptPausedUntil_{};
};

void Health::markTick(core::SteadyTime now) {
  lastTick_.store(now.time_since_epoch().count());
  ticked_.store(true);
}

void Health::markFirstScan() { scanned_.store(true); }

void Health::markAirflowReached() { airflowReached_.store(true); }

bool Health::live(core::SteadyTime now, core::Duration tolerance) const {
  if (!ticked_.load()) return false;
  const core::SteadyTime last{core::SteadyTime::duration(lastTick_.load())};
  return now - last <= tolerance;
}

bool Health::ready() const { return scanned_.load() && airflowReached_.load(); }

StatusServer::StatusServer(std::string bindAddress, const Metrics& metrics, const Health& health,
                           core::Clock& clock, core::Duration liveTolerance, ServerLimits limits)
    : bindAddress_(std::move(bindAddress)),
      metrics_(metrics),
      health_(health),
      clock_(clock),
      liveTolerance_(liveTolerance),
      limits_(limits) {}

StatusServer::~StatusServer() { stop(); }

core::Status StatusServer::start() {
  auto listening = listenOn(bindAddress_);
  if (!listening.ok()) return listening.error();
  auto connections = std::make_unique<Connections>(
      listening->first, limits_,
      [this](const std::string& method, const std::string& path) { return respond(method, path); });
  if (!connections->ready())
    return core::makeError(std::string("status server: eventfd: ") + std::strerror(errno));
  connections_ = std::move(connections);
  port_ = listening->second;
  thread_ = std::thread([this] { connections_->run(); });
  const auto split = splitHostPort(bindAddress_);
  const bool ipv6 = split->host.find(':') != std::string::npos;
  const std::string host = ipv6 ? "[" + split->host + "]" : split->host;
  core::Logger("report").info("serving",
                              {{"address", "http://" + host + ":" + std::to_string(port_) + "/"},
                               {"paths", "/metrics,/healthz,/readyz"},
                               {"max_connections", limits_.maxConnections},
                               {"idle_timeout_ms", limits_.idleTimeout.count()}});
  return core::Ok{};
}

int StatusServer::port() const { return port_; }

void StatusServer::stop() {
  if (!connections_) return;
  connections_->wake();
  if (thread_.joinable()) thread_.join();
  connections_.reset();
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
    return {503, kTextContentType, "waiting for the first scan and an answer from Airflow\n"};
  }
  return {404, kTextContentType, "not found\n"};
}

}  // namespace reaper::report
