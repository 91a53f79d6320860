#include "kube/event_recorder.h"

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

ReapEvent reaped(std::string note = "ti=d/t/r/-1/1 state=failed killed=3 orphans=1") {
  return {kPod, "OrphansReaped", std::move(note)};
}

struct Recorder {
  Recorder(EventRecorderOptions options = {}) {
    auto owned = std::make_unique<FakeTransport>();
    transport = owned.get();
    recorder = std::make_unique<EventRecorder>(std::move(owned), "node-a", clock, options);
  }
  Json body(size_t i) const { return parsed(transport->requests.at(i).body); }
  FakeClock clock;
  FakeTransport* transport;
  std::unique_ptr<EventRecorder> recorder;
};

TEST(EventRecorder, CreatesAValidEventsV1Event) {
  Recorder r;
  r.recorder->record(reaped());
  EXPECT_TRUE(r.transport->requests.empty()) << "record() never talks to the API server";
  r.transport->reply(201);
  r.recorder->flush();
  ASSERT_EQ(r.transport->requests.size(), 1u);
  const HttpRequest& request = r.transport->requests[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/apis/events.k8s.io/v1/namespaces/airflow/events");
  Json event = r.body(0);
  EXPECT_EQ(event.field("apiVersion").string(), "events.k8s.io/v1");
  EXPECT_EQ(event.field("kind").string(), "Event");
  EXPECT_EQ(event.field("metadata").field("namespace").string(), "airflow");
  EXPECT_EQ(
      event.field("metadata").field("name").string().value_or("").rfind("celery-worker-0.", 0), 0u);
  EXPECT_EQ(event.field("eventTime").string(), "2026-11-18T12:00:00.000000Z");
  EXPECT_EQ(event.field("reportingController").string(), "airflowreaper.io/agent");
  EXPECT_EQ(event.field("reportingInstance").string(), "airflow-reaper-node-a");
  EXPECT_EQ(event.field("action").string(), "Kill");
  EXPECT_EQ(event.field("type").string(), "Warning");
  EXPECT_EQ(event.field("reason").string(), "OrphansReaped");
  EXPECT_EQ(event.field("note").string(), "ti=d/t/r/-1/1 state=failed killed=3 orphans=1");
  EXPECT_EQ(event.field("regarding").field("kind").string(), "Pod");
  EXPECT_EQ(event.field("regarding").field("apiVersion").string(), "v1");
  EXPECT_EQ(event.field("regarding").field("uid").string(), kPod.uid);
  EXPECT_FALSE(event.has("series")) << "a single occurrence has no series";
  EXPECT_EQ(r.recorder->queued(), 0u);
}

TEST(EventRecorder, SendsTheEventsTypeAndAction) {
  Recorder r;
  r.recorder->record({kPod, "DryRunWouldReap", "would kill", EventType::Normal, "DryRun"});
  r.transport->reply(201);
  r.recorder->flush();
  Json event = r.body(0);
  EXPECT_EQ(event.field("type").string(), "Normal");
  EXPECT_EQ(event.field("action").string(), "DryRun");
  EXPECT_EQ(event.field("reason").string(), "DryRunWouldReap");
}

TEST(EventRecorder, RepeatsJoinASeriesPatchedAfterCreation) {
  Recorder r;
  r.recorder->record(reaped());
  r.transport->reply(201);
  r.recorder->flush();
  r.clock.advance(core::Duration(5000));
  r.recorder->record(reaped());
  r.clock.advance(core::Duration(5000));
  r.recorder->record(reaped());
  EXPECT_EQ(r.recorder->queued(), 1u) << "repeats are one pending update";
  r.transport->reply(200);
  r.recorder->flush();
  ASSERT_EQ(r.transport->requests.size(), 2u);
  const HttpRequest& patch = r.transport->requests[1];
  EXPECT_EQ(patch.method, "PATCH");
  EXPECT_EQ(patch.contentType, "application/merge-patch+json");
  EXPECT_EQ(patch.target, "/apis/events.k8s.io/v1/namespaces/airflow/events/" +
                              r.body(0).field("metadata").field("name").string().value_or(""));
  Json series = r.body(1).field("series");
  EXPECT_EQ(series.field("count").integer(), 3);
  EXPECT_EQ(series.field("lastObservedTime").string(), "2026-11-18T12:00:10.000000Z");
}

TEST(EventRecorder, RepeatBeforeFirstSendIsCreatedWithSeries) {
  Recorder r;
  r.recorder->record(reaped());
  r.recorder->record(reaped());
  r.transport->reply(201);
  r.recorder->flush();
  ASSERT_EQ(r.transport->requests.size(), 1u);
  EXPECT_EQ(r.body(0).field("series").field("count").integer(), 2);
}

TEST(EventRecorder, DifferentNotesAreDifferentEventsWithDistinctNames) {
  Recorder r;
  r.recorder->record(reaped("one"));
  r.recorder->record(reaped("two"));
  r.transport->reply(201);
  r.transport->reply(201);
  r.recorder->flush();
  ASSERT_EQ(r.transport->requests.size(), 2u);
  EXPECT_NE(r.body(0).field("metadata").field("name").string(),
            r.body(1).field("metadata").field("name").string());
}

TEST(EventRecorder, LongNotesAreTruncatedToTheApiLimit) {
  Recorder r;
  std::string note(3000, 'x');
  note.replace(1020, 2, "\xc3\xa9");  // a two-byte character across the cut
  r.recorder->record(reaped(note));
  r.transport->reply(201);
  r.recorder->flush();
  std::string sent = r.body(0).field("note").string().value_or("");
  EXPECT_LE(sent.size(), kNoteLimit);
  EXPECT_EQ(sent.substr(sent.size() - 3), "...");
}

TEST(EventRecorder, NotesArePrintable) {
  Recorder r;
  r.recorder->record(reaped("ti=d\nforged/t/r/-1/1 \xff\x1b[2J"));
  r.transport->reply(201);
  r.recorder->flush();
  EXPECT_EQ(r.body(0).field("note").string(), "ti=d\\nforged/t/r/-1/1 \\xff\\x1b[2J");
}

TEST(EventRecorder, NamesAndInstanceStayWithinApiLimits) {
  std::string longPod(253, 'p');
  std::string name = eventName(longPod, core::WallTime(std::chrono::seconds(1)), 3);
  EXPECT_LE(name.size(), 253u);
  EXPECT_NE(name.find('.'), std::string::npos);
  EXPECT_EQ(reportingInstance(std::string(300, 'n')).size(), 128u);
}

TEST(EventRecorder, RateLimitPerPodFoldsIntoTheLatestSeries) {
  Recorder r({.queueLimit = 100, .burstPerPod = 2, .refillPerPod = core::Duration(30000)});
  r.recorder->record(reaped("a"));
  r.recorder->record(reaped("b"));
  r.recorder->record(reaped("c"));  // over the burst: counted on "b"
  EXPECT_EQ(r.recorder->queued(), 2u);
  r.transport->fallback.response = HttpResponse{201, ""};
  r.recorder->flush();
  ASSERT_EQ(r.transport->requests.size(), 2u);
  EXPECT_EQ(r.body(1).field("note").string(), "b");
  EXPECT_EQ(r.body(1).field("series").field("count").integer(), 2);
  r.recorder->record({{"other", "pod", "uid-2"}, "TaskTreeReaped", "x"});
  EXPECT_EQ(r.recorder->queued(), 1u) << "the limit is per pod";
  r.clock.advance(core::Duration(30000));
  r.recorder->record(reaped("d"));
  EXPECT_EQ(r.recorder->queued(), 2u) << "a refilled token allows a new event";
}

TEST(EventRecorder, QueueIsBoundedWhileUnreachableAndFlushedWhenBack) {
  Recorder r({.queueLimit = 3, .burstPerPod = 100, .refillPerPod = core::Duration(1000)});
  for (int i = 0; i < 5; ++i) r.recorder->record(reaped("n" + std::to_string(i)));
  EXPECT_EQ(r.recorder->queued(), 3u);
  EXPECT_EQ(r.recorder->dropped(), 2u);
  r.transport->fail();
  r.recorder->flush();
  EXPECT_EQ(r.transport->requests.size(), 1u) << "stops at the first unreachable reply";
  r.transport->reply(503);
  r.recorder->flush();
  EXPECT_EQ(r.recorder->queued(), 3u);
  r.transport->fallback.response = HttpResponse{201, ""};
  r.recorder->flush();
  EXPECT_EQ(r.recorder->queued(), 0u);
  ASSERT_EQ(r.transport->requests.size(), 5u);
  EXPECT_EQ(r.body(2).field("note").string(), "n2") << "oldest kept first";
  EXPECT_EQ(r.body(4).field("note").string(), "n4");
}

TEST(EventRecorder, DestructionFlushesWhatIsQueued) {
  std::vector<HttpRequest> sent;
  Recorder r;
  r.transport->outlivingLog = &sent;
  r.transport->fallback.response = HttpResponse{201, ""};
  r.recorder->record(reaped());
  r.recorder.reset();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].method, "POST");
}

TEST(EventRecorder, RejectedEventIsDroppedNotRetried) {
  Recorder r;
  r.recorder->record(reaped());
  r.transport->reply(422, R"({"kind":"Status","code":422})");
  r.recorder->flush();
  EXPECT_EQ(r.recorder->queued(), 0u);
  EXPECT_EQ(r.recorder->dropped(), 1u);
}

TEST(EventRecorder, ExpiredSeriesEventIsRecreated) {
  Recorder r;
  r.recorder->record(reaped());
  r.transport->reply(201);
  r.recorder->flush();
  r.recorder->record(reaped());
  r.transport->reply(404);
  r.transport->reply(201);
  r.recorder->flush();
  ASSERT_EQ(r.transport->requests.size(), 3u);
  EXPECT_EQ(r.transport->requests[2].method, "POST");
  EXPECT_NE(r.body(2).field("metadata").field("name").string(),
            r.body(0).field("metadata").field("name").string().value_or(""));
  EXPECT_EQ(r.body(2).field("series").field("count").integer(), 2);
  EXPECT_EQ(r.recorder->queued(), 0u);
}

TEST(EventRecorder, OldSeriesEndAndANewEventStarts) {
  Recorder r;
  r.transport->fallback.response = HttpResponse{201, ""};
  r.recorder->record(reaped());
  r.recorder->flush();
  r.clock.advance(core::Duration(31 * 60 * 1000));
  r.recorder->record(reaped());
  r.recorder->flush();
  ASSERT_EQ(r.transport->requests.size(), 2u);
  EXPECT_EQ(r.transport->requests[1].method, "POST");
  EXPECT_FALSE(r.body(1).has("series"));
}

}  // namespace
}  // namespace reaper::kube
