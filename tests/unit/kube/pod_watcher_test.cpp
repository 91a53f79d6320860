#include "kube/pod_watcher.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "fakes.h"

namespace reaper::kube {
namespace {

using test::FakeTransport;
using Round = PodWatchSession::Round;

std::string podJson(const std::string& name, const std::string& uid, const std::string& rv) {
  return R"({"metadata":{"name":")" + name + R"(","namespace":"ns","uid":")" + uid +
         R"(","resourceVersion":")" + rv + R"("},"spec":{"nodeName":"node-a"}})";
}

std::string listJson(const std::string& rv, const std::vector<std::string>& pods) {
  std::string items;
  for (const auto& pod : pods) items += (items.empty() ? "" : ",") + pod;
  return R"({"kind":"PodList","metadata":{"resourceVersion":")" + rv + R"("},"items":[)" + items +
         "]}";
}

std::string line(const std::string& type, const std::string& object) {
  return R"({"type":")" + type + R"(","object":)" + object + "}";
}

std::vector<std::string> names(const std::vector<Pod>& pods) {
  std::vector<std::string> out;
  for (const auto& pod : pods) out.push_back(pod.ref.name);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(PodsTarget, ListAndWatchQueries) {
  EXPECT_EQ(podsTarget("", "node-a", "", 0), "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a");
  EXPECT_EQ(podsTarget("airflow", "node-a", "77", 300),
            "/api/v1/namespaces/airflow/pods?fieldSelector=spec.nodeName%3Dnode-a&watch=1"
            "&allowWatchBookmarks=true&resourceVersion=77&timeoutSeconds=300");
}

TEST(PodWatchSession, ListsThenWatchesFromListResourceVersion) {
  FakeTransport transport;
  transport.reply(200, listJson("100", {podJson("a", "u1", "90")}));
  transport.reply(
      200, "",
      {line("ADDED", podJson("b", "u2", "101")), line("MODIFIED", podJson("a", "u1", "102")),
       line("DELETED", podJson("a", "u1", "103"))});
  PodWatchSession session(transport, "node-a", "");
  EXPECT_FALSE(session.synced());

  EXPECT_EQ(session.runOnce(300), Round::Progress);
  EXPECT_TRUE(session.synced());
  EXPECT_EQ(names(session.pods()), (std::vector<std::string>{"a"}));

  EXPECT_EQ(session.runOnce(300), Round::Progress);
  EXPECT_EQ(transport.requests[1].target.find("resourceVersion=100") != std::string::npos, true);
  EXPECT_EQ(names(session.pods()), (std::vector<std::string>{"b"}));
  EXPECT_EQ(session.resourceVersion(), "103");
}

TEST(PodWatchSession, BookmarkAdvancesResourceVersionOnly) {
  FakeTransport transport;
  transport.reply(200, listJson("100", {}));
  transport.reply(200, "",
                  {line("BOOKMARK", R"({"kind":"Pod","metadata":{"resourceVersion":"150"}})")});
  transport.reply(200, "", {});
  PodWatchSession session(transport, "node-a", "");
  ASSERT_EQ(session.runOnce(300), Round::Progress);
  EXPECT_EQ(session.runOnce(300), Round::Progress);
  EXPECT_EQ(session.resourceVersion(), "150");
  EXPECT_TRUE(session.pods().empty());
  EXPECT_EQ(session.runOnce(300), Round::Idle) << "a watch that delivered nothing backs off";
  EXPECT_NE(transport.requests[2].target.find("resourceVersion=150"), std::string::npos);
}

TEST(PodWatchSession, ErrorGoneInStreamRelists) {
  FakeTransport transport;
  transport.reply(200, listJson("100", {podJson("a", "u1", "90")}));
  transport.reply(200, "",
                  {line("ERROR", R"({"kind":"Status","code":410,"reason":"Expired"})"),
                   line("ADDED", podJson("never", "u9", "999"))});
  transport.reply(200, listJson("500", {podJson("c", "u3", "480")}));
  PodWatchSession session(transport, "node-a", "");
  ASSERT_EQ(session.runOnce(300), Round::Progress);
  EXPECT_EQ(session.runOnce(300), Round::Progress);
  EXPECT_EQ(session.resourceVersion(), "");
  EXPECT_EQ(session.runOnce(300), Round::Progress);
  EXPECT_EQ(transport.requests[2].target.find("watch=1"), std::string::npos);
  EXPECT_EQ(names(session.pods()), (std::vector<std::string>{"c"}));
  EXPECT_TRUE(session.synced());
}

TEST(PodWatchSession, HttpGoneRelistsAndServerErrorsFail) {
  FakeTransport transport;
  transport.reply(200, listJson("100", {}));
  transport.reply(410, R"({"kind":"Status","code":410})");
  transport.reply(500, "boom");
  transport.fail();
  transport.reply(200, listJson("200", {}));
  PodWatchSession session(transport, "node-a", "");
  ASSERT_EQ(session.runOnce(300), Round::Progress);
  EXPECT_EQ(session.runOnce(300), Round::Progress);  // 410: relist at once
  EXPECT_EQ(session.runOnce(300), Round::Failed);    // list 500
  EXPECT_EQ(session.runOnce(300), Round::Failed);    // no reply
  EXPECT_TRUE(session.synced()) << "the last good cache stays usable";
  EXPECT_EQ(session.runOnce(300), Round::Progress);
  EXPECT_EQ(session.resourceVersion(), "200");
}

TEST(PodWatchSession, BadLinesAreCountedAndSkipped) {
  FakeTransport transport;
  transport.reply(200, listJson("100", {}));
  transport.reply(
      200, "",
      {"not json", line("ADDED", R"({"metadata":{}})"), line("ADDED", podJson("b", "u2", "101"))});
  PodWatchSession session(transport, "node-a", "");
  ASSERT_EQ(session.runOnce(300), Round::Progress);
  EXPECT_EQ(session.runOnce(300), Round::Progress);
  EXPECT_EQ(session.badLines(), 2u);
  EXPECT_EQ(names(session.pods()), (std::vector<std::string>{"b"}));
}

TEST(PodWatchSession, OverLongLineFailsTheRoundAndRelists) {
  FakeTransport transport;
  transport.reply(200, listJson("100", {podJson("a", "u1", "90")}));
  transport.script.push_back({core::makeError("line larger than 4194304 bytes", EMSGSIZE),
                              {line("ADDED", podJson("b", "u2", "101"))}});
  transport.reply(200, listJson("105", {podJson("a", "u1", "90"), podJson("c", "u3", "104")}));
  PodWatchSession session(transport, "node-a", "");
  ASSERT_EQ(session.runOnce(300), Round::Progress);
  EXPECT_EQ(session.runOnce(300), Round::Failed) << "the caller backs off";
  EXPECT_EQ(session.badLines(), 1u);
  EXPECT_EQ(names(session.pods()), (std::vector<std::string>{"a", "b"})) << "lines before it count";
  EXPECT_EQ(session.runOnce(300), Round::Progress);
  ASSERT_EQ(transport.requests.size(), 3u);
  EXPECT_EQ(transport.requests[2].target.find("watch=1"), std::string::npos) << "a new list";
  EXPECT_EQ(names(session.pods()), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(session.resourceVersion(), "105");
}

TEST(PodWatchSession, BrokenWatchResumesWhereItWas) {
  FakeTransport transport;
  transport.reply(200, listJson("100", {}));
  transport.script.push_back({core::makeError("HTTP request failed: connection reset"),
                              {line("ADDED", podJson("b", "u2", "101"))}});
  transport.reply(200, "", {});
  PodWatchSession session(transport, "node-a", "");
  ASSERT_EQ(session.runOnce(300), Round::Progress);
  EXPECT_EQ(session.runOnce(300), Round::Failed);
  EXPECT_EQ(session.runOnce(300), Round::Idle);
  ASSERT_EQ(transport.requests.size(), 3u);
  EXPECT_NE(
      transport.requests[2].target.find("watch=1&allowWatchBookmarks=true&resourceVersion=101"),
      std::string::npos);
  EXPECT_EQ(session.badLines(), 0u);
}

TEST(PodWatchSession, UnparsableListFails) {
  FakeTransport transport;
  transport.reply(200, "{}");
  PodWatchSession session(transport, "node-a", "ns");
  EXPECT_EQ(session.runOnce(300), Round::Failed);
  EXPECT_FALSE(session.synced());
  EXPECT_EQ(transport.requests[0].target.rfind("/api/v1/namespaces/ns/pods?", 0), 0u);
}

}  // namespace
}  // namespace reaper::kube
