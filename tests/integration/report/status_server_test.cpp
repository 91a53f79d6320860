// A real StatusServer on loopback, queried with the agent's own HTTP transport.
#include "report/status_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "net/http.h"
#include "support/fake_clock.h"

namespace reaper::report {
namespace {

using core::Duration;
using ::testing::AnyOf;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::StartsWith;

constexpr Duration kTolerance{30000};

// One request to the server on loopback `port`; an Error when no HTTP reply came.
core::Result<net::HttpResponse> request(int port, const std::string& path,
                                        const std::string& method = "GET") {
  auto transport = net::makeHttpTransport(
      {.baseUrl = "http://127.0.0.1:" + std::to_string(port), .timeout = Duration(10000)});
  if (!transport) return transport.error();
  return (*transport)->send({.method = method, .target = path});
}

class StatusServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start().ok());
    ASSERT_GT(server_.port(), 0);
  }

  net::HttpResponse get(const std::string& path, const std::string& method = "GET") {
    auto reply = request(server_.port(), path, method);
    EXPECT_TRUE(reply) << reply.error().message;
    return reply ? *reply : net::HttpResponse{};
  }

  reaper::test::FakeClock clock_;
  Metrics metrics_;
  Health health_;
  StatusServer server_{"127.0.0.1:0", metrics_, health_, clock_, kTolerance};
};

TEST_F(StatusServerTest, ServesMetricsInPrometheusTextFormat) {
  metrics_.setTracked(4, 12);
  const net::HttpResponse reply = get("/metrics");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.contentType, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(reply.body, ::testing::HasSubstr("airflow_reaper_tracked_trees 4\n"));
  EXPECT_THAT(reply.body, ::testing::HasSubstr("airflow_reaper_tracked_processes 12\n"));
}

TEST_F(StatusServerTest, HealthzFollowsTheMainLoopTicks) {
  EXPECT_EQ(get("/healthz").status, 503) << "no tick yet";
  health_.markTick(clock_.now());
  EXPECT_EQ(get("/healthz").status, 200);
  clock_.advance(kTolerance + Duration(1));
  EXPECT_EQ(get("/healthz").status, 503) << "ticks stopped";
  health_.markTick(clock_.now());
  EXPECT_EQ(get("/healthz").status, 200);
}

TEST_F(StatusServerTest, ReadyzWaitsForTheFirstScanAndAirflow) {
  EXPECT_EQ(get("/readyz").status, 503);
  health_.markFirstScan();
  EXPECT_EQ(get("/readyz").status, 503);
  health_.markAirflowReached();
  EXPECT_EQ(get("/readyz").status, 200);
}

TEST_F(StatusServerTest, OtherPathsAndMethodsAreRefused) {
  EXPECT_EQ(get("/").status, 404);
  EXPECT_EQ(get("/metrics/extra").status, 404);
  EXPECT_EQ(get("/metrics", "POST").status, 405);
}

TEST_F(StatusServerTest, StopClosesThePort) {
  const int port = server_.port();
  server_.stop();
  EXPECT_FALSE(request(port, "/healthz")) << "a reply came from a stopped server";
}

// The default bind address (all interfaces) is reachable on loopback.
TEST(StatusServer, ServesOnAllInterfaces) {
  reaper::test::FakeClock clock;
  Metrics metrics;
  Health health;
  health.markTick(clock.now());
  StatusServer server("0.0.0.0:0", metrics, health, clock, kTolerance);
  ASSERT_TRUE(server.start().ok());
  auto reply = request(server.port(), "/healthz");
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->status, 200);
}

// --- limits: every case talks raw HTTP over its own sockets and checks what the server did.

// A connected loopback socket, closed with the object.
class Socket {
 public:
  explicit Socket(int port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port));
    connected_ =
        fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    // A server that never answers fails the test instead of hanging it.
    const timeval timeout{30, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  bool connected() const { return connected_; }
  // Sends all of `data`; false once the peer closed or reset the connection.
  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t put = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (put <= 0) return false;
      data.remove_prefix(static_cast<size_t>(put));
    }
    return true;
  }
  // Everything the server sends until it closes (or resets) the connection; nullopt when it
  // keeps it open.
  std::optional<std::string> readToEnd() {
    std::string got;
    char buffer[4096];
    ssize_t n;
    while ((n = ::recv(fd_, buffer, sizeof(buffer), 0)) > 0) got.append(buffer, n);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return std::nullopt;
    return got;
  }
  // One reply whose Content-Length says where it ends.
  std::string readReply() {
    std::string got;
    char buffer[4096];
    while (true) {
      const auto end = got.find("\r\n\r\n");
      if (end != std::string::npos) {
        const auto length = got.find("Content-Length: ");
        if (length != std::string::npos &&
            got.size() >= end + 4 + std::stoul(got.substr(length + 16)))
          return got;
      }
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return got;
      got.append(buffer, n);
    }
  }
  // True when the server has closed its end (a read returns EOF or a reset) without waiting.
  bool closedByPeer() {
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) != 1) return false;
    char byte;
    const ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN);
  }

 private:
  int fd_;
  bool connected_ = false;
};

size_t openDescriptors() {
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                                           std::filesystem::directory_iterator()));
}

size_t residentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

class StatusServerLimitsTest : public ::testing::Test {
 protected:
  void start(ServerLimits limits) {
    server_ = std::make_unique<StatusServer>("127.0.0.1:0", metrics_, health_, clock_, kTolerance,
                                             limits);
    ASSERT_TRUE(server_->start().ok());
    health_.markTick(clock_.now());
  }
  int port() const { return server_->port(); }

  reaper::test::FakeClock clock_;
  Metrics metrics_;
  Health health_;
  std::unique_ptr<StatusServer> server_;
};

TEST_F(StatusServerLimitsTest, KeepsAConnectionAliveAcrossRequests) {
  start({});
  Socket client(port());
  ASSERT_TRUE(client.connected());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_THAT(client.readReply(), StartsWith("HTTP/1.1 200 OK\r\n"));
  }
  ASSERT_TRUE(client.send("GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_THAT(client.readToEnd(), Optional(StartsWith("HTTP/1.1 503 ")));
}

// Today's reproduction: a 600 MB POST to /metrics left the agent's RSS at 587 MB.
TEST_F(StatusServerLimitsTest, AHugeBodyIsRefusedUnreadAndHoldsNoMemory) {
  start({});
  const size_t before = residentBytes();
  Socket client(port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(
      client.send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 629145600\r\n\r\n"));
  const std::string chunk(1 << 20, 'x');
  size_t sent = 0;
  while (sent < 600 * chunk.size() && client.send(chunk)) sent += chunk.size();
  EXPECT_LT(sent, 600 * chunk.size()) << "the server read the whole body";
  // Closing with the body unread resets the connection, which may discard the reply.
  EXPECT_THAT(client.readToEnd(),
              Optional(AnyOf(StartsWith("HTTP/1.1 413 Content Too Large\r\n"), IsEmpty())));
  EXPECT_LT(residentBytes(), before + 32 * chunk.size());
}

TEST_F(StatusServerLimitsTest, ChunkedBodiesAreRefused) {
  start({});
  Socket client(port());
  ASSERT_TRUE(client.send("POST /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n"));
  EXPECT_THAT(client.readToEnd(), Optional(StartsWith("HTTP/1.1 413 ")));
}

TEST_F(StatusServerLimitsTest, AnOversizedHeadIsRefusedAndClosed) {
  start({});
  Socket endless(port());
  // No end of headers ever comes: refused once the limit is passed, not when the client stops.
  std::string head = "GET /metrics HTTP/1.1\r\nX-Filler: " + std::string(kMaxRequestHeadBytes, 'a');
  endless.send(head);
  EXPECT_THAT(endless.readToEnd(), Optional(StartsWith("HTTP/1.1 431 ")));

  Socket complete(port());
  complete.send(head + "\r\n\r\n");
  EXPECT_THAT(complete.readToEnd(), Optional(StartsWith("HTTP/1.1 431 ")));

  Socket garbage(port());
  garbage.send("\x16\x03\x01 not http\r\n\r\n");
  EXPECT_THAT(garbage.readToEnd(), Optional(StartsWith("HTTP/1.1 400 ")));
}

TEST_F(StatusServerLimitsTest, IdleAndSlowConnectionsAreClosed) {
  start({.idleTimeout = core::Duration{200}});
  Socket idle(port());
  EXPECT_THAT(idle.readToEnd(), Optional(IsEmpty())) << "closed without a reply";
  Socket slow(port());
  for (char c : std::string("GET /healthz HTTP/1.1\r\n")) {
    if (!slow.send(std::string(1, c))) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_THAT(slow.readToEnd(), Optional(IsEmpty()))
      << "a request trickling in is cut at the idle timeout";
}

// Today's reproduction: 3000 idle connections held 3009 descriptors. Now the server holds at most
// maxConnections, closes the idlest to make room, and still answers a new probe.
TEST_F(StatusServerLimitsTest, ThousandsOfIdleConnectionsHoldBoundedDescriptors) {
  // 3000 client ends live in this process too: lift the soft limit (often 1024) to the hard one.
  rlimit files{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &files), 0);
  files.rlim_cur = files.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &files), 0);
  ASSERT_GE(files.rlim_cur, 3000 + 2 * kMaxStatusConnections + 64) << "RLIMIT_NOFILE too low";
  start({});
  const size_t before = openDescriptors();
  std::vector<std::unique_ptr<Socket>> idle;
  for (int i = 0; i < 3000; ++i) {
    idle.push_back(std::make_unique<Socket>(port()));
    ASSERT_TRUE(idle.back()->connected()) << i;
  }
  Socket probe(port());
  ASSERT_TRUE(probe.send("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"));
  EXPECT_THAT(probe.readToEnd(), Optional(StartsWith("HTTP/1.1 200 OK\r\n")));
  // The probe was accepted after every idle connection: the server has seen them all.
  size_t stillOpen = 0;
  for (auto& socket : idle) stillOpen += socket->closedByPeer() ? 0 : 1;
  EXPECT_LE(stillOpen, kMaxStatusConnections);
  // This process holds the 3000 client ends plus the server's (probe included).
  EXPECT_LE(openDescriptors(), before + 3000 + kMaxStatusConnections + 1);
}

// A port another program listens on (here: a plain socket) cannot be served.
TEST(StatusServer, ATakenPortIsAStartError) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);

  reaper::test::FakeClock clock;
  Metrics metrics;
  Health health;
  StatusServer server("127.0.0.1:" + std::to_string(ntohs(address.sin_port)), metrics, health,
                      clock, kTolerance);
  auto started = server.start();
  ::close(fd);
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.error().message, StartsWith("server.bindAddress: cannot serve"));
}

}  // namespace
}  // namespace reaper::report
