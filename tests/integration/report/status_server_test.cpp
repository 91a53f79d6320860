// A real StatusServer on loopback, queried with a real HTTP client.
// clang-format off
// spdlog and gtest before cpprestsdk: its macros (U) break fmt 9 and gtest otherwise.
#include "report/status_server.h"
#include "support/fake_clock.h"
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <cpprest/http_client.h>
// clang-format on

namespace reaper::report {
namespace {

using core::Duration;
using web::http::methods;
using web::http::client::http_client;

constexpr Duration kTolerance{30000};

struct Reply {
  int status = 0;
  std::string contentType;
  std::string body;
};

class StatusServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start().ok());
    ASSERT_GT(server_.port(), 0);
  }

  Reply get(const std::string& path, const web::http::method& method = methods::GET) {
    http_client client("http://127.0.0.1:" + std::to_string(server_.port()));
    auto response = client.request(method, path).get();
    return {response.status_code(), response.headers().content_type(),
            response.extract_utf8string(true).get()};
  }

  reaper::test::FakeClock clock_;
  Metrics metrics_;
  Health health_;
  StatusServer server_{"127.0.0.1:0", metrics_, health_, clock_, kTolerance};
};

TEST_F(StatusServerTest, ServesMetricsInPrometheusTextFormat) {
  metrics_.setTracked(4, 12);
  const Reply reply = get("/metrics");
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

TEST_F(StatusServerTest, ReadyzWaitsForTheFirstScanAndApiAnswer) {
  EXPECT_EQ(get("/readyz").status, 503);
  health_.markFirstScan();
  EXPECT_EQ(get("/readyz").status, 503);
  health_.markFirstApiAnswer();
  EXPECT_EQ(get("/readyz").status, 200);
}

TEST_F(StatusServerTest, OtherPathsAndMethodsAreRefused) {
  EXPECT_EQ(get("/").status, 404);
  EXPECT_EQ(get("/metrics/extra").status, 404);
  EXPECT_EQ(get("/metrics", methods::POST).status, 405);
}

TEST_F(StatusServerTest, StopClosesThePort) {
  const int port = server_.port();
  server_.stop();
  http_client client("http://127.0.0.1:" + std::to_string(port));
  EXPECT_THROW(client.request(methods::GET, "/healthz").get(), web::http::http_exception);
}

// The default bind address (all interfaces) is reachable on loopback.
TEST(StatusServer, ServesOnAllInterfaces) {
  reaper::test::FakeClock clock;
  Metrics metrics;
  Health health;
  health.markTick(clock.now());
  StatusServer server("0.0.0.0:0", metrics, health, clock, kTolerance);
  ASSERT_TRUE(server.start().ok());
  http_client client("http://127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(client.request(methods::GET, "/healthz").get().status_code(), 200);
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
  EXPECT_THAT(started.error().message, ::testing::StartsWith("server.bindAddress: cannot serve"));
}

}  // namespace
}  // namespace reaper::report
