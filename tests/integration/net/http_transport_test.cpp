// The one HTTP transport against a loopback server that decides when each byte of a reply leaves:
// streamed lines as they arrive, the line and reply caps, timeouts, redirects and headers.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cerrno>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "net/http.h"
#include "net/limits.h"
#include "support/loopback_server.h"
#include "support/test_support.h"

namespace reaper::net {
namespace {

using test::Exchange;
using test::Gate;
using test::LoopbackServer;

// Far past every cap: a reader without one would hold it all.
constexpr size_t kHostileBytes = size_t{256} << 20;

std::unique_ptr<HttpTransport> transportTo(const LoopbackServer& server,
                                           core::Duration timeout = core::Duration(10000),
                                           core::Duration streamTimeout = core::Duration(30000)) {
  auto made = makeHttpTransport(
      {.baseUrl = server.url(), .timeout = timeout, .streamTimeout = streamTimeout});
  EXPECT_TRUE(made) << made.error().message;
  return std::move(made).value();
}

// Peak resident memory of this process (each test runs in a process of its own under ctest).
size_t peakRssBytes() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<size_t>(usage.ru_maxrss) * 1024;
}

// What a hostile handler managed to send before the client hung up.
struct Flood {
  std::mutex mutex;
  size_t sent = 0;
  bool closedByClient = false;
  Gate done;
};

// Writes `prefix`, then one line of 'x' without end, until the client closes the connection or
// kHostileBytes are out.
void flood(Exchange& exchange, Flood& result, const std::string& prefix) {
  const std::string block(64 << 10, 'x');
  bool open = exchange.begin(200) && exchange.chunk(prefix);
  while (open && exchange.sent < kHostileBytes) open = exchange.chunk(block);
  std::lock_guard lock(result.mutex);
  result.sent = exchange.sent;
  result.closedByClient = !open;
  result.done.open();
}

TEST(HttpTransport, StreamPassesEachLineOnAsSoonAsItArrives) {
  Gate firstSeen, secondSeen;
  bool firstSeenWhileHeld = false, secondSeenWhileHeld = false;
  LoopbackServer server([&](Exchange& exchange) {
    exchange.begin(200);
    exchange.chunk("{\"n\":1}\n{\"n\"");  // a line, and the start of the next
    firstSeenWhileHeld = firstSeen.wait();
    exchange.chunk(":2}\r\n");
    secondSeenWhileHeld = secondSeen.wait();
    exchange.chunk("\n{\"n\":3}");  // an empty line, and a last line without its end
    exchange.end();
  });
  auto transport = transportTo(server);
  std::vector<std::string> lines;
  auto reply = transport->stream({"GET", "/watch"}, [&](std::string_view line) {
    lines.emplace_back(line);
    if (lines.size() == 1) firstSeen.open();
    if (lines.size() == 2) secondSeen.open();
    return true;
  });
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->status, 200);
  EXPECT_TRUE(firstSeenWhileHeld) << "the first line waited for more of the stream";
  EXPECT_TRUE(secondSeenWhileHeld) << "a line split across chunks waited for more";
  EXPECT_EQ(lines, (std::vector<std::string>{R"({"n":1})", R"({"n":2})", R"({"n":3})"}));
}

TEST(HttpTransport, HandlerEndsTheStreamWhileTheServerHoldsIt) {
  Gate finish;
  LoopbackServer server([&](Exchange& exchange) {
    exchange.begin(200);
    exchange.chunk("{\"type\":\"ERROR\"}\n{\"type\":\"ADDED\"}\n");
    finish.wait();
    exchange.end();
  });
  auto transport = transportTo(server);
  std::vector<std::string> lines;
  auto reply = transport->stream({"GET", "/watch"}, [&](std::string_view line) {
    lines.emplace_back(line);
    return false;
  });
  finish.open();
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(lines, std::vector<std::string>{R"({"type":"ERROR"})"}) << "nothing after the last";
}

TEST(HttpTransport, OverLongLineEndsTheStreamUnread) {
  Flood result;
  LoopbackServer server(
      [&](Exchange& exchange) { flood(exchange, result, "{\"type\":\"ADDED\"}\n{\"type\":\""); });
  auto transport = transportTo(server);
  const size_t rssBefore = peakRssBytes();
  std::vector<std::string> lines;
  auto reply = transport->stream({"GET", "/watch"}, [&](std::string_view line) {
    lines.emplace_back(line);
    return true;
  });
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, EMSGSIZE);
  EXPECT_NE(reply.error().message.find("line larger than"), std::string::npos)
      << reply.error().message;
  EXPECT_EQ(lines, std::vector<std::string>{R"({"type":"ADDED"})"}) << "lines before it delivered";
  ASSERT_TRUE(result.done.wait());
  std::lock_guard lock(result.mutex);
  EXPECT_TRUE(result.closedByClient) << "the client read all " << result.sent << " bytes";
  EXPECT_LT(result.sent, kHostileBytes);
  const size_t growth = peakRssBytes() - rssBefore;
  RecordProperty("sent_before_close_bytes", std::to_string(result.sent));
  RecordProperty("peak_rss_growth_bytes", std::to_string(growth));
  if (!test::kSanitized) {
    EXPECT_LT(growth, kMaxLineBytes + (size_t{16} << 20));
  }
}

TEST(HttpTransport, ReplyOverTheCapIsAnErrorUnread) {
  Flood result;
  LoopbackServer server([&](Exchange& exchange) { flood(exchange, result, "{\"items\":\""); });
  auto transport = transportTo(server);
  const size_t rssBefore = peakRssBytes();
  auto reply = transport->send({"GET", "/api/v1/pods"});
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, EMSGSIZE);
  ASSERT_TRUE(result.done.wait());
  std::lock_guard lock(result.mutex);
  EXPECT_TRUE(result.closedByClient) << "the client read all " << result.sent << " bytes";
  const size_t growth = peakRssBytes() - rssBefore;
  RecordProperty("sent_before_close_bytes", std::to_string(result.sent));
  RecordProperty("peak_rss_growth_bytes", std::to_string(growth));
  if (!test::kSanitized) {
    EXPECT_LT(growth, kMaxReplyBytes + (size_t{16} << 20));
  }
}

// A body of known length is read in pieces (of up to 1 MiB): one that spans several, sent in
// uneven writes, arrives whole and in order; one of exactly the cap is no error.
TEST(HttpTransport, ReplyOfKnownLengthArrivesWholeUpToTheCap) {
  for (size_t size : {size_t{3} << 20 | 12345, kMaxReplyBytes}) {
    std::string body(size, '\0');
    for (size_t i = 0; i < size; ++i) body[i] = static_cast<char>('a' + (i * 7 + i / 4093) % 26);
    LoopbackServer server([&](Exchange& exchange) {
      bool open =
          exchange.write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n");
      for (size_t at = 0, piece = 1000; open && at < size; at += piece, piece = piece * 3 % 700001)
        open = exchange.write(std::string_view(body).substr(at, piece));
    });
    auto transport = transportTo(server);
    auto reply = transport->send({"GET", "/api/v1/pods"});
    ASSERT_TRUE(reply) << size << ": " << reply.error().message;
    EXPECT_EQ(reply->status, 200);
    EXPECT_TRUE(reply->body == body) << size << ": " << reply->body.size() << " bytes";
  }
}

TEST(HttpTransport, ReplyAnnouncedOverTheCapIsAnErrorUnread) {
  LoopbackServer server([&](Exchange& exchange) {
    exchange.write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kHostileBytes) +
                   "\r\n\r\n{");
  });
  auto transport = transportTo(server);
  auto reply = transport->send({"GET", "/api/v1/pods"});
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, EMSGSIZE);
}

TEST(HttpTransport, StreamAnsweredWithAnErrorStatusReturnsItsBody) {
  LoopbackServer server([&](Exchange& exchange) { exchange.reply(410, R"({"code":410})"); });
  auto transport = transportTo(server);
  int lines = 0;
  auto reply = transport->stream({"GET", "/watch"}, [&](std::string_view) { return ++lines > 0; });
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->status, 410);
  EXPECT_EQ(reply->body, R"({"code":410})");
  EXPECT_EQ(lines, 0);
}

TEST(HttpTransport, ReplySlowerThanTheTimeoutIsAnError) {
  Gate finished;
  LoopbackServer server([&](Exchange& exchange) {
    // Each byte comes well within the timeout; the whole reply does not (4 s).
    const std::string body(40, ' ');
    bool open = exchange.write("HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n");
    for (size_t i = 0; open && i < body.size() && !finished.wait(std::chrono::seconds(0)); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      open = exchange.write(body.substr(i, 1));
    }
  });
  auto transport = transportTo(server, core::Duration(1000));
  auto reply = transport->send({"GET", "/api/v2/version"});
  finished.open();
  EXPECT_FALSE(reply) << "a reply dripping in byte by byte holds the client no longer";
}

TEST(HttpTransport, RedirectIsReturnedNotFollowed) {
  LoopbackServer elsewhere([&](Exchange& exchange) { exchange.reply(200, "{}"); });
  LoopbackServer server([&](Exchange& exchange) {
    exchange.reply(302, "", "Location: " + elsewhere.url() + "/steal\r\n");
  });
  auto transport = transportTo(server);
  auto reply = transport->send({.method = "GET",
                                .target = "/api/v2/version",
                                .authorization = bearerAuthorization("secret")});
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->status, 302);
  EXPECT_TRUE(elsewhere.requests().empty()) << "the credentials went to another server";
}

TEST(HttpTransport, SendsTheRequestWithItsHeaders) {
  std::mutex mutex;
  std::map<std::string, std::string> headers;
  std::string method, target;
  LoopbackServer server([&](Exchange& exchange) {
    {
      std::lock_guard lock(mutex);
      headers = exchange.headers;
      method = exchange.method;
      target = exchange.target;
    }
    exchange.reply(201, R"({"ok":true})");
  });
  auto transport = transportTo(server);
  auto reply = transport->send({"PATCH", "/apis/x/status?a=1", R"({"status":{}})",
                                "application/merge-patch+json", basicAuthorization("admin", "pw")});
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->status, 201);
  EXPECT_EQ(reply->body, R"({"ok":true})");
  EXPECT_EQ(reply->contentType, "application/json");
  std::lock_guard lock(mutex);
  EXPECT_EQ(method, "PATCH");
  EXPECT_EQ(target, "/apis/x/status?a=1");
  EXPECT_EQ(headers["authorization"], "Basic YWRtaW46cHc=");
  EXPECT_EQ(headers["accept"], "application/json");
  EXPECT_EQ(headers["content-type"], "application/merge-patch+json");
  EXPECT_EQ(headers["content-length"], "13");
}

// cpprestsdk closes a sink that ended a transfer on a pool thread and waits there: with the
// agent's one pool thread, the sink must not need that thread again, or every later exchange
// hangs. Transfers ended by the handler and by the line cap, then a plain request.
TEST(HttpTransport, TransfersTheSinkEndedLeaveOnePoolThreadFree) {
  try {
    setHttpThreads(1);  // ctest runs each test in a process of its own: the pool is made here
  } catch (const std::exception&) {
    // Run together with other tests, the pool exists already: the test runs on it as it is.
  }
  Flood flooded;
  LoopbackServer server([&](Exchange& exchange) {
    if (exchange.target == "/watch") {
      exchange.begin(200);
      exchange.chunk("{\"type\":\"ERROR\"}\n{\"type\":\"ADDED\"}\n");
      exchange.end();
    } else if (exchange.target == "/flood") {
      flood(exchange, flooded, "{\"type\":\"");
    } else {
      exchange.reply(200, R"({"version":"3.1.0"})");
    }
  });
  auto transport = transportTo(server);
  for (int round = 0; round < 2; ++round) {
    auto ended = transport->stream({"GET", "/watch"}, [](std::string_view) { return false; });
    ASSERT_TRUE(ended) << ended.error().message;
    auto capped = transport->stream({"GET", "/flood"}, [](std::string_view) { return true; });
    ASSERT_FALSE(capped);
    EXPECT_EQ(capped.error().code, EMSGSIZE);
    auto reply = transport->send({"GET", "/api/v2/version"});
    ASSERT_TRUE(reply) << reply.error().message;
    EXPECT_EQ(reply->body, R"({"version":"3.1.0"})");
  }
}

// What the server saw of each request: the connection it came on and, for a reply the client
// ended early, whether the client then closed that connection.
class Sightings {
 public:
  void arrived(const Exchange& exchange) {
    std::lock_guard lock(mutex_);
    connections_[exchange.target] = exchange.connection;
  }
  void ended(const std::string& target, bool closed) {
    std::lock_guard lock(mutex_);
    closed_[target] = closed;
    changed_.notify_all();
  }
  std::optional<size_t> connection(const std::string& target) {
    std::lock_guard lock(mutex_);
    auto found = connections_.find(target);
    return found == connections_.end() ? std::nullopt : std::optional(found->second);
  }
  // Whether the client closed the connection of `target`'s ended reply (waits for the server to
  // tell).
  bool closed(const std::string& target) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::minutes(1), [&] { return closed_.contains(target); });
    return closed_.contains(target) && closed_[target];
  }
  size_t connectionCount() {
    std::lock_guard lock(mutex_);
    std::set<size_t> distinct;
    for (const auto& [target, connection] : connections_) distinct.insert(connection);
    return distinct.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, size_t> connections_;
  std::map<std::string, bool> closed_;
};

// How long a server waits for the client to close a connection whose reply the client ended: far
// longer than closing takes; far shorter than the 30 s for which cpprestsdk keeps an idle
// connection pooled and than kPatientTimeout, the timeouts of the transports that test it (a
// timeout closes a connection too).
constexpr std::chrono::seconds kClosePatience{20};
constexpr core::Duration kPatientTimeout{std::chrono::minutes(2)};

// A reply read to its end leaves its connection open for a later request (keep-alive). cpprestsdk
// pools a connection only once the I/O handler that completed the reply returned, so a request
// sent at once may still open another: some, not all, requests reuse one.
TEST(HttpTransport, RepliesReadWholeKeepTheirConnectionForLaterRequests) {
  Sightings sightings;
  LoopbackServer server([&](Exchange& exchange) {
    sightings.arrived(exchange);
    exchange.begin(200) && exchange.chunk(exchange.target + "\n") && exchange.end();
  });
  auto transport = transportTo(server);
  constexpr int kRequests = 20;
  for (int i = 0; i < kRequests; ++i) {
    const std::string target = "/send-" + std::to_string(i);
    auto reply = transport->send({"GET", target});
    ASSERT_TRUE(reply) << target << ": " << reply.error().message;
    EXPECT_EQ(reply->body, target + "\n");
  }
  const size_t sendConnections = sightings.connectionCount();
  EXPECT_LT(sendConnections, kRequests / 2);
  for (int i = 0; i < kRequests; ++i) {
    const std::string target = "/stream-" + std::to_string(i);
    std::vector<std::string> lines;
    auto reply = transport->stream({"GET", target}, [&](std::string_view line) {
      lines.emplace_back(line);
      return true;
    });
    ASSERT_TRUE(reply) << target << ": " << reply.error().message;
    EXPECT_EQ(lines, std::vector<std::string>{target});
  }
  const size_t streamConnections = sightings.connectionCount() - sendConnections;
  EXPECT_LT(streamConnections, kRequests / 2);
  RecordProperty("send_connections", std::to_string(sendConnections));
  RecordProperty("stream_connections", std::to_string(streamConnections));
}

// A reply the client ends before its end (a handler wants no more lines, a line or the reply over
// its cap) while the server holds the rest: the client closes that connection at once. Pooled, it
// would carry a later request, which would wait behind the unread rest until its timeout or take
// the rest as its own reply.
TEST(HttpTransport, ReplyEndedEarlyClosesItsConnection) {
  Sightings sightings;
  LoopbackServer server([&](Exchange& exchange) {
    sightings.arrived(exchange);
    if (exchange.target == "/watch") {
      exchange.begin(200) && exchange.chunk("{\"type\":\"ERROR\"}\n{\"type\":\"ADDED\"}\n");
    } else if (exchange.target == "/long-line") {
      exchange.begin(200) && exchange.chunk(std::string(kMaxLineBytes + 1, 'x'));
    } else if (exchange.target == "/long-reply") {
      exchange.begin(200) && exchange.chunk(std::string(kMaxReplyBytes + 1, 'x'));
    } else if (exchange.target == "/announced") {
      exchange.write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kMaxReplyBytes + 1) +
                     "\r\n\r\n{");
    } else {
      exchange.begin(200) && exchange.chunk(exchange.target + "\n") && exchange.end();
      return;
    }
    sightings.ended(exchange.target, exchange.closedByClient(kClosePatience));
  });
  auto transport = transportTo(server, kPatientTimeout, kPatientTimeout);
  // Each ended reply, then a request of the same kind, which gets its own reply.
  const auto expectClosedThenServed = [&](const std::string& ended, bool streamed) {
    EXPECT_TRUE(sightings.closed(ended)) << ended << ": the client kept the connection";
    const std::string next = "/after" + ended;
    std::vector<std::string> lines;
    auto reply = streamed ? transport->stream({"GET", next},
                                              [&](std::string_view line) {
                                                lines.emplace_back(line);
                                                return true;
                                              })
                          : transport->send({"GET", next});
    ASSERT_TRUE(reply) << next << ": " << reply.error().message;
    if (streamed) {
      EXPECT_EQ(lines, std::vector<std::string>{next});
    } else {
      EXPECT_EQ(reply->body, next + "\n");
    }
    EXPECT_NE(sightings.connection(next), sightings.connection(ended));
  };

  auto watch = transport->stream({"GET", "/watch"}, [](std::string_view) { return false; });
  ASSERT_TRUE(watch) << watch.error().message;
  expectClosedThenServed("/watch", true);
  auto longLine = transport->stream({"GET", "/long-line"}, [](std::string_view) { return true; });
  ASSERT_FALSE(longLine);
  EXPECT_EQ(longLine.error().code, EMSGSIZE);
  expectClosedThenServed("/long-line", true);
  auto longReply = transport->send({"GET", "/long-reply"});
  ASSERT_FALSE(longReply);
  EXPECT_EQ(longReply.error().code, EMSGSIZE);
  expectClosedThenServed("/long-reply", false);
  auto announced = transport->send({"GET", "/announced"});
  ASSERT_FALSE(announced);
  EXPECT_EQ(announced.error().code, EMSGSIZE);
  expectClosedThenServed("/announced", false);
}

// The first lines of a stream may reach the transport before it knows the status and passes them
// on: a handler that wants no more of them ends the stream then too, not when the server next
// sends or the stream's timeout. Head and line in one write, many times, to meet that order.
TEST(HttpTransport, HandlerEndsTheStreamOnItsFirstLine) {
  Sightings sightings;
  LoopbackServer server([&](Exchange& exchange) {
    sightings.arrived(exchange);
    exchange.beginWith(200, "{\"type\":\"ERROR\"}\n");
    sightings.ended(exchange.target, exchange.closedByClient(kClosePatience));
    exchange.end();  // frees a client that did not close
  });
  auto transport = transportTo(server, kPatientTimeout, kPatientTimeout);
  for (int round = 0; round < 50; ++round) {
    const std::string target = "/watch-" + std::to_string(round);
    auto reply = transport->stream({"GET", target}, [](std::string_view) { return false; });
    ASSERT_TRUE(reply) << target << ": " << reply.error().message;
    ASSERT_TRUE(sightings.closed(target)) << target << ": the stream waited for its server";
  }
}

TEST(HttpTransport, NoReplyIsAnError) {
  LoopbackServer server([&](Exchange& exchange) { exchange.close(); });
  auto transport = transportTo(server);
  EXPECT_FALSE(transport->send({"GET", "/"}));
}

}  // namespace
}  // namespace reaper::net
