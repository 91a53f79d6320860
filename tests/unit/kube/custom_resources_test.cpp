#include "kube/custom_resources.h"

#include <gtest/gtest.h>

#include "core/json.h"
//

#include "fakes.h"

namespace reaper::kube {
namespace {

using core::Json;
using test::FakeClock;
using test::FakeTransport;

Json parsed(const std::string& text) {
  auto json = Json::parse(text);
  EXPECT_TRUE(json) << text;
  return json ? *json : Json();
}

const core::PodRef kPod{"airflow", "celery-worker-0", "0f6b3c1e-2a4d-4e5f-9a8b-7c6d5e4f3a2b"};
const core::TaskInstanceKey kTi{"etl", "load", "scheduled__2026-11-18T00:00:00+00:00", -1, 2};

TreeStatus tree(TreePhase phase = TreePhase::Running) {
  TreeStatus t;
  t.nodeName = "node-a";
  t.pod = kPod;
  t.ti = kTi;
  t.phase = phase;
  t.taskInstanceState = "running";
  t.rootPid = 4242;
  t.processes = 4;
  t.orphans = 1;
  t.firstSeen = core::WallTime(std::chrono::seconds(1795003200));
  t.lastSeen = t.firstSeen;
  return t;
}

struct Resources {
  Resources() {
    auto owned = std::make_unique<FakeTransport>();
    transport = owned.get();
    transport->fallback.response = HttpResponse{200, "{}"};
    crs = std::make_unique<CustomResources>(std::move(owned), "node-a", clock);
  }
  Json body(size_t i) const { return parsed(transport->requests.at(i).body); }
  FakeClock clock;
  FakeTransport* transport;
  std::unique_ptr<CustomResources> crs;
};

TEST(TreeObject, SpecLabelsAndOwnerReference) {
  Json object = parsed(treeObject(tree()));
  EXPECT_EQ(object.field("apiVersion").string(), "airflowreaper.io/v1alpha1");
  EXPECT_EQ(object.field("kind").string(), "TaskRunnerTree");
  EXPECT_EQ(object.field("metadata").field("namespace").string(), "airflow");
  EXPECT_EQ(object.field("metadata").field("name").string(), treeName(kPod, kTi));
  EXPECT_EQ(object.field("metadata").field("labels").field("app.kubernetes.io/managed-by").string(),
            "airflow-reaper");
  EXPECT_EQ(object.field("metadata").field("labels").field("airflowreaper.io/node").string(),
            "node-a");
  Json owner = object.field("metadata").field("ownerReferences").items().at(0);
  EXPECT_EQ(owner.field("kind").string(), "Pod");
  EXPECT_EQ(owner.field("uid").string(), kPod.uid);
  Json spec = object.field("spec");
  EXPECT_EQ(spec.field("nodeName").string(), "node-a");
  EXPECT_EQ(spec.field("podName").string(), "celery-worker-0");
  EXPECT_EQ(spec.field("podUID").string(), kPod.uid);
  EXPECT_EQ(spec.field("dagId").string(), "etl");
  EXPECT_EQ(spec.field("taskId").string(), "load");
  EXPECT_EQ(spec.field("runId").string(), kTi.runId);
  EXPECT_EQ(spec.field("mapIndex").integer(), -1);
  EXPECT_EQ(spec.field("tryNumber").integer(), 2);
}

TEST(TreeObject, ForeignTextIsPrintable) {
  TreeStatus hostile = tree();
  hostile.ti.dagId = "etl\nforged";
  hostile.ti.runId = "run\xff";
  hostile.message = "kill: state=failed\x1b[2J";
  Json spec = parsed(treeObject(hostile)).field("spec");
  EXPECT_EQ(spec.field("dagId").string(), "etl\\nforged");
  EXPECT_EQ(spec.field("runId").string(), "run\\xff");
  EXPECT_EQ(parsed(treeStatusPatch(hostile)).field("status").field("message").string(),
            "kill: state=failed\\x1b[2J");
}

TEST(TreeName, StableValidAndDistinctPerAttempt) {
  std::string name = treeName(kPod, kTi);
  EXPECT_EQ(name, treeName(kPod, kTi));
  EXPECT_EQ(name.rfind("celery-worker-0-", 0), 0u);
  core::TaskInstanceKey next = kTi;
  next.tryNumber = 3;
  EXPECT_NE(name, treeName(kPod, next));
  EXPECT_LE(treeName({"ns", std::string(253, 'a'), "u"}, kTi).size(), 63u);
  EXPECT_LE(nodeLabelValue(std::string(200, 'n')).size(), 63u);
}

TEST(TreeStatusPatch, CarriesEveryStatusField) {
  TreeStatus reaped = tree(TreePhase::Reaped);
  reaped.reapedAt = reaped.firstSeen + std::chrono::seconds(90);
  Json status = parsed(treeStatusPatch(reaped)).field("status");
  EXPECT_EQ(status.field("phase").string(), "Reaped");
  EXPECT_EQ(status.field("taskInstanceState").string(), "running");
  EXPECT_EQ(status.field("rootPid").integer(), 4242);
  EXPECT_EQ(status.field("processes").integer(), 4);
  EXPECT_EQ(status.field("orphans").integer(), 1);
  EXPECT_EQ(status.field("escapees").integer(), 0);
  EXPECT_EQ(status.field("firstSeen").string(), "2026-11-18T12:00:00Z");
  EXPECT_EQ(status.field("reapedAt").string(), "2026-11-18T12:01:30Z");
  EXPECT_TRUE(status.has("message"));
}

TEST(CustomResources, CreatesThenWritesStatusOnlyOnChange) {
  Resources r;
  ASSERT_TRUE(r.crs->upsertTree(tree()));
  ASSERT_EQ(r.transport->requests.size(), 2u);
  EXPECT_EQ(r.transport->requests[0].method, "POST");
  EXPECT_EQ(r.transport->requests[0].target,
            "/apis/airflowreaper.io/v1alpha1/namespaces/airflow/taskrunnertrees");
  EXPECT_EQ(r.transport->requests[1].method, "PATCH");
  EXPECT_EQ(r.transport->requests[1].contentType, "application/merge-patch+json");
  EXPECT_EQ(r.transport->requests[1].target,
            "/apis/airflowreaper.io/v1alpha1/namespaces/airflow/taskrunnertrees/" +
                treeName(kPod, kTi) + "/status");

  TreeStatus later = tree();
  later.lastSeen += std::chrono::seconds(30);
  later.processes = 5;
  ASSERT_TRUE(r.crs->upsertTree(later));
  EXPECT_EQ(r.transport->requests.size(), 2u) << "no write without a phase or state change";

  TreeStatus reaping = later;
  reaping.phase = TreePhase::Reaping;
  reaping.taskInstanceState = "failed";
  ASSERT_TRUE(r.crs->upsertTree(reaping));
  ASSERT_EQ(r.transport->requests.size(), 3u);
  EXPECT_EQ(r.body(2).field("status").field("phase").string(), "Reaping");
}

TEST(CustomResources, ExistingObjectIsAdoptedOnConflict) {
  Resources r;
  r.transport->reply(409, R"({"kind":"Status","reason":"AlreadyExists"})");
  r.transport->reply(200, "{}");
  EXPECT_TRUE(r.crs->upsertTree(tree()));
}

TEST(CustomResources, MissingCrdIsAnError) {
  Resources r;
  r.transport->reply(404, "not found");
  auto status = r.crs->upsertTree(tree());
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, 404);
}

TEST(CustomResources, CleanupMarksVanishedTreesGoneAndDeletesAfterRetention) {
  Resources r;
  ASSERT_TRUE(r.crs->upsertTree(tree()));
  ASSERT_TRUE(r.crs->cleanup());  // seen this round: nothing
  EXPECT_EQ(r.transport->requests.size(), 2u);
  ASSERT_TRUE(r.crs->cleanup());  // not upserted since: Gone
  ASSERT_EQ(r.transport->requests.size(), 3u);
  EXPECT_EQ(r.body(2).field("status").field("phase").string(), "Gone");

  r.clock.advance(std::chrono::minutes(59));
  ASSERT_TRUE(r.crs->cleanup());
  EXPECT_EQ(r.transport->requests.size(), 3u);
  r.clock.advance(std::chrono::minutes(2));
  ASSERT_TRUE(r.crs->cleanup());
  ASSERT_EQ(r.transport->requests.size(), 4u);
  EXPECT_EQ(r.transport->requests[3].method, "DELETE");
  EXPECT_EQ(
      r.transport->requests[3].target,
      "/apis/airflowreaper.io/v1alpha1/namespaces/airflow/taskrunnertrees/" + treeName(kPod, kTi));
  EXPECT_EQ(r.crs->trackedObjects(), 0u);
}

TEST(CustomResources, ReapedTreeIsNotMarkedGone) {
  Resources r;
  TreeStatus reaped = tree(TreePhase::Reaped);
  reaped.reapedAt = r.clock.wallNow();
  ASSERT_TRUE(r.crs->upsertTree(reaped));
  ASSERT_TRUE(r.crs->markGone(kPod, kTi));
  ASSERT_TRUE(r.crs->cleanup());
  ASSERT_TRUE(r.crs->cleanup());
  EXPECT_EQ(r.transport->requests.size(), 2u);
}

TEST(CustomResources, AdoptsOwnObjectsAndSweepsThoseNotSeenAgain) {
  Resources r;
  TreeStatus old = tree();
  std::string item = treeObject(old);
  Json object = parsed(item);
  object["status"] = parsed(treeStatusPatch(old)).field("status");
  Json list;
  list["items"] = Json::Array{object};
  r.transport->reply(200, list.dump());
  ASSERT_TRUE(r.crs->adopt());
  EXPECT_EQ(r.transport->requests[0].target,
            "/apis/airflowreaper.io/v1alpha1/taskrunnertrees?labelSelector="
            "app.kubernetes.io%2Fmanaged-by%3Dairflow-reaper%2Cairflowreaper.io%2Fnode%3Dnode-a");
  EXPECT_EQ(r.crs->trackedObjects(), 1u);

  ASSERT_TRUE(r.crs->upsertTree(tree()));
  EXPECT_EQ(r.transport->requests.size(), 1u) << "adopted with the same status: no write";
  ASSERT_TRUE(r.crs->cleanup());
  ASSERT_TRUE(r.crs->cleanup());
  EXPECT_EQ(r.body(1).field("status").field("phase").string(), "Gone");
}

TEST(CustomResources, ReportWrittenAtMostEveryTenSecondsWithLastFiftyResults) {
  Resources r;
  for (int i = 0; i < 60; ++i) {
    r.crs->recordResult(
        {r.clock.wallNow(), kPod, kTi, "failed", i, 1, core::ReapOutcome::Killed, "state=failed"});
  }
  r.crs->setSummary({3, 12, 60, 120, 60, 0});
  ASSERT_TRUE(r.crs->flushReport());
  ASSERT_EQ(r.transport->requests.size(), 2u);
  EXPECT_EQ(r.transport->requests[0].method, "POST");
  EXPECT_EQ(r.transport->requests[0].target, "/apis/airflowreaper.io/v1alpha1/nodereapreports");
  EXPECT_EQ(r.body(0).field("metadata").field("name").string(), "node-a");
  EXPECT_EQ(r.transport->requests[1].target,
            "/apis/airflowreaper.io/v1alpha1/nodereapreports/node-a/status");
  Json status = r.body(1).field("status");
  EXPECT_EQ(status.field("summary").field("reapedTrees").integer(), 60);
  EXPECT_EQ(status.field("summary").field("trackedProcesses").integer(), 12);
  ASSERT_EQ(status.field("results").items().size(), 50u);
  EXPECT_EQ(status.field("results").items().at(0).field("killed").integer(), 10)
      << "the oldest ten are gone";
  EXPECT_EQ(status.field("results").items().at(0).field("pod").string(), "airflow/celery-worker-0");
  EXPECT_EQ(status.field("results").items().at(0).field("taskInstance").field("dagId").string(),
            "etl");
  EXPECT_EQ(status.field("results").items().at(0).field("outcome").string(), "killed");
  EXPECT_EQ(status.field("results").items().at(0).field("reason").string(), "state=failed");

  r.crs->recordResult({r.clock.wallNow(), kPod, kTi, "failed", 1, 0, core::ReapOutcome::Killed});
  r.clock.advance(core::Duration(9000));
  ASSERT_TRUE(r.crs->flushReport());
  EXPECT_EQ(r.transport->requests.size(), 2u);
  r.clock.advance(core::Duration(1000));
  ASSERT_TRUE(r.crs->flushReport());
  EXPECT_EQ(r.transport->requests.size(), 3u);
  r.clock.advance(core::Duration(60000));
  ASSERT_TRUE(r.crs->flushReport());
  EXPECT_EQ(r.transport->requests.size(), 3u) << "unchanged: not written";
}

// An agent restarted on the node (a crash, a rolling update) carries on the report its
// predecessor wrote: the counters go on from there and the earlier results stay, oldest first.
TEST(CustomResources, AnEarlierAgentsReportIsAdoptedBeforeItIsWritten) {
  Resources r;
  r.transport->reply(409);
  r.transport->reply(200, R"({"status": {"summary": {"reapedTrees": 7, "killedProcesses": 20,
      "orphansReaped": 3, "killFailures": 1, "trackedTrees": 9},
      "results": [{"time": "2026-11-30T01:00:00Z", "pod": "airflow/celery-worker-0",
                   "taskInstance": {"dagId": "etl", "taskId": "extract", "runId": "r",
                                    "mapIndex": -1, "tryNumber": 1},
                   "state": "failed", "killed": 4, "orphans": 1, "outcome": "killed",
                   "reason": "state=failed"}]}})");
  r.crs->recordResult({r.clock.wallNow(), kPod, kTi, "failed", 2, 0, core::ReapOutcome::Failed});
  r.crs->setSummary({2, 5, 0, 2, 0, 1});
  ASSERT_TRUE(r.crs->flushReport());
  ASSERT_EQ(r.transport->requests.size(), 3u);
  EXPECT_EQ(r.transport->requests[1].method, "GET");
  EXPECT_EQ(r.transport->requests[1].target,
            "/apis/airflowreaper.io/v1alpha1/nodereapreports/node-a");
  Json status = r.body(2).field("status");
  EXPECT_EQ(status.field("summary").field("reapedTrees").integer(), 7);
  EXPECT_EQ(status.field("summary").field("killedProcesses").integer(), 22);
  EXPECT_EQ(status.field("summary").field("killFailures").integer(), 2);
  EXPECT_EQ(status.field("summary").field("trackedTrees").integer(), 2) << "a gauge: now's";
  const auto& results = status.field("results").items();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].field("taskInstance").field("taskId").string(), "extract");
  EXPECT_EQ(results[0].field("killed").integer(), 4);
  EXPECT_EQ(results[0].field("outcome").string(), "killed");
  EXPECT_EQ(results[0].field("time").string(), "2026-11-30T01:00:00Z");
  EXPECT_EQ(results[1].field("outcome").string(), "failed");
}

// Unread, the earlier report is not written over: the next round tries again.
TEST(CustomResources, AReportThatCannotBeReadIsNotWrittenOver) {
  Resources r;
  r.transport->reply(409);
  r.transport->fail();
  r.crs->setSummary({1, 1, 1, 1, 0, 0});
  EXPECT_FALSE(r.crs->flushReport());
  EXPECT_EQ(r.transport->requests.size(), 2u);
  r.transport->reply(409);
  r.transport->reply(200, "{}");
  ASSERT_TRUE(r.crs->flushReport());
  EXPECT_EQ(r.transport->requests.size(), 5u);
  EXPECT_EQ(r.transport->requests[4].method, "PATCH");
}

}  // namespace
}  // namespace reaper::kube
