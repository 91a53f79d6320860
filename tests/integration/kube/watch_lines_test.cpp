// The pod watcher over the real transport against a loopback apiserver that holds each watch open:
// events arrive one line at a time as they are sent, and an over-long line ends the watch with a
// log line, a bounded read and a new list.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <atomic>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "kube/pod_watcher.h"
#include "net/limits.h"
#include "support/loopback_server.h"

namespace reaper::kube {
namespace {

using test::Exchange;
using test::Gate;
using test::LoopbackServer;

std::string pod(const std::string& name, const std::string& rv) {
  return R"({"metadata":{"name":")" + name + R"(","namespace":"airflow","uid":"uid-)" + name +
         R"(","resourceVersion":")" + rv + R"("},"spec":{"nodeName":"node-a"}})";
}

std::string list(const std::vector<std::string>& pods, const std::string& rv) {
  std::string items;
  for (const auto& p : pods) items += (items.empty() ? "" : ",") + p;
  return R"({"metadata":{"resourceVersion":")" + rv + R"("},"items":[)" + items + "]}";
}

bool hasPod(const PodWatcher& watcher, const std::string& name) {
  auto pods = watcher.pods();
  return std::any_of(pods.begin(), pods.end(), [&](const Pod& p) { return p.ref.name == name; });
}

// Watches every namespace of the server for node-a's pods, without credentials.
auto startWatcher(const LoopbackServer& server, core::Clock& clock) {
  ClientOptions options;
  options.apiServer = server.url();
  options.tokenFile = "";
  options.caFile = "";
  return PodWatcher::start(options, "node-a", {}, clock, nullptr);
}

template <typename F>
bool eventually(F condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

TEST(WatchLines, DeliveredOneAtATimeAndAnOverLongLineRelists) {
  std::ostringstream logged;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(logged);
  auto log = core::logger("kube");
  log->sinks().push_back(sink);

  Gate firstSeen, secondSeen, finish;
  std::atomic<int> lists{0}, watches{0};
  std::atomic<bool> firstWhileHeld{false}, secondWhileHeld{false}, floodClosed{false};
  std::atomic<size_t> floodSent{0};
  LoopbackServer server([&](Exchange& exchange) {
    if (exchange.target.find("watch=1") == std::string::npos) {
      const int n = ++lists;
      exchange.reply(200, n == 1 ? list({pod("a", "10")}, "10")
                                 : list({pod("a", "10"), pod("b", "11"), pod("c", "12")}, "12"));
      return;
    }
    if (++watches > 1) {  // after the relist: quiet until the test ends
      exchange.begin(200);
      finish.wait();
      exchange.end();
      return;
    }
    exchange.begin(200);
    exchange.chunk(R"({"type":"ADDED","object":)" + pod("b", "11") + "}\n");
    firstWhileHeld = firstSeen.wait();
    exchange.chunk(R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"11"}}})"
                   "\n");
    exchange.chunk(R"({"type":"ADDED","object":)" + pod("c", "12") + "}\n");
    secondWhileHeld = secondSeen.wait();
    // A pod whose event is larger than any line the agent holds, sent until the agent hangs up.
    const std::string block(64 << 10, 'x');
    bool open = exchange.chunk(R"({"type":"MODIFIED","object":{"metadata":{"name":")");
    while (open && exchange.sent < (size_t{256} << 20)) open = exchange.chunk(block);
    floodSent = exchange.sent;
    floodClosed = !open;
  });

  core::SystemClock clock;
  auto started = startWatcher(server, clock);
  ASSERT_TRUE(started) << started.error().message;
  PodWatcher& watcher = **started;

  EXPECT_TRUE(eventually([&] { return hasPod(watcher, "b"); }));
  firstSeen.open();
  EXPECT_TRUE(eventually([&] { return hasPod(watcher, "c"); }));
  secondSeen.open();
  EXPECT_TRUE(eventually([&] { return lists.load() == 2; })) << "relisted after the long line";
  EXPECT_TRUE(eventually([&] { return watches.load() == 2; })) << "watching again";
  finish.open();
  watcher.stop();
  log->sinks().pop_back();

  EXPECT_TRUE(firstWhileHeld) << "the first event waited for more of the stream";
  EXPECT_TRUE(secondWhileHeld) << "the events after a bookmark waited for more of the stream";
  EXPECT_TRUE(floodClosed) << "the agent read all " << floodSent.load() << " bytes of the line";
  EXPECT_LT(floodSent.load(), size_t{256} << 20);
  EXPECT_NE(logged.str().find("pod_watch_line_too_long"), std::string::npos) << logged.str();
  EXPECT_NE(logged.str().find("line larger than 4194304 bytes"), std::string::npos) << logged.str();
  EXPECT_TRUE(hasPod(watcher, "a") && hasPod(watcher, "b") && hasPod(watcher, "c"));
}

// The apiserver tells a watch whose resourceVersion is too old with an ERROR event (410), which may
// come in one packet with the reply's head, before the transport knows the status. The watcher
// ends that watch at once and relists, whether or not the server then ends it: each watch's
// connection closed by the client, not left to the stream's timeout (7 min).
TEST(WatchLines, ExpiredWatchEndsAtOnceAndRelists) {
  constexpr int kExpiredWatches = 20;
  Gate finish;
  std::atomic<int> lists{0}, watches{0}, heldByClient{0};
  LoopbackServer server([&](Exchange& exchange) {
    if (exchange.target.find("watch=1") == std::string::npos) {
      exchange.reply(200, list({pod("a", std::to_string(10 + lists))}, std::to_string(10 + lists)));
      ++lists;
      return;
    }
    if (++watches > kExpiredWatches) {  // quiet until the test ends
      exchange.begin(200);
      finish.wait();
      exchange.end();
      return;
    }
    exchange.beginWith(
        200, R"({"type":"ERROR","object":{"kind":"Status","code":410,"message":"too old"}})"
             "\n");
    if (!exchange.closedByClient(std::chrono::seconds(20))) {
      ++heldByClient;
      exchange.end();
    }
  });

  core::SystemClock clock;
  auto started = startWatcher(server, clock);
  ASSERT_TRUE(started) << started.error().message;
  PodWatcher& watcher = **started;
  EXPECT_TRUE(eventually([&] { return watches.load() > kExpiredWatches; }))
      << watches.load() << " watches";
  finish.open();
  watcher.stop();
  EXPECT_EQ(heldByClient.load(), 0) << "expired watches the client left open";
  EXPECT_GE(lists.load(), kExpiredWatches + 1) << "a relist after each expired watch";
}

}  // namespace
}  // namespace reaper::kube
