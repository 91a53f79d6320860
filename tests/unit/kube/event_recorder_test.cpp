#include "kube/event_recorder.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>  // before cpprest: fmt 9 clashes otherwise
//
#define _TURN_OFF_PLATFORM_STRING  // cpprest's U() macro breaks gtest templates
#include <cpprest/json.h>

#include "fakes.h"

namespace reaper::kube {
namespace {

using test::FakeClock;
using test::FakeTransport;
using web::json::value;

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
  value body(size_t i) const { return value::parse(transport->requests.at(i).body); }
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
  value event = r.body(0);
  EXPECT_EQ(event["apiVersion"].as_string(), "events.k8s.io/v1");
  EXPECT_EQ(event["kind"].as_string(), "Event");
  EXPECT_EQ(event["metadata"]["namespace"].as_string(), "airflow");
  EXPECT_EQ(event["metadata"]["name"].as_string().rfind("celery-worker-0.", 0), 0u);
  EXPECT_EQ(event["eventTime"].as_string(), "2026-11-18T12:00:00.000000Z");
  EXPECT_EQ(event["reportingController"].as_string(), "airflowreaper.io/agent");
  EXPECT_EQ(event["reportingInstance"].as_string(), "airflow-reaper-node-a");
  EXPECT_EQ(event["action"].as_string(), "Kill");
  EXPECT_EQ(event["type"].as_string(), "Warning");
  EXPECT_EQ(event["reason"].as_string(), "OrphansReaped");
  EXPECT_EQ(event["note"].as_string(), "ti=d/t/r/-1/1 state=failed killed=3 orphans=1");
  EXPECT_EQ(event["regarding"]["kind"].as_string(), "Pod");
  EXPECT_EQ(event["regarding"]["apiVersion"].as_string(), "v1");
  EXPECT_EQ(event["regarding"]["uid"].as_string(), kPod.uid);
  EXPECT_FALSE(event.has_field("series")) << "a single occurrence has no series";
  EXPECT_EQ(r.recorder->queued(), 0u);
}

TEST(EventRecorder, SendsTheEventsTypeAndAction) {
  Recorder r;
  r.recorder->record({kPod, "DryRunWouldReap", "would kill", EventType::Normal, "DryRun"});
  r.transport->reply(201);
  r.recorder->flush();
  value event = r.body(0);
  EXPECT_EQ(event["type"].as_string(), "Normal");
  EXPECT_EQ(event["action"].as_string(), "DryRun");
  EXPECT_EQ(event["reason"].as_string(), "DryRunWouldReap");
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
                              r.body(0)["metadata"]["name"].as_string());
  value series = r.body(1)["series"];
  EXPECT_EQ(series["count"].as_integer(), 3);
  EXPECT_EQ(series["lastObservedTime"].as_string(), "2026-11-18T12:00:10.000000Z");
}

TEST(EventRecorder, RepeatBeforeFirstSendIsCreatedWithSeries) {
  Recorder r;
  r.recorder->record(reaped());
  r.recorder->record(reaped());
  r.transport->reply(201);
  r.recorder->flush();
  ASSERT_EQ(r.transport->requests.size(), 1u);
  EXPECT_EQ(r.body(0)["series"]["count"].as_integer(), 2);
}

TEST(EventRecorder, DifferentNotesAreDifferentEventsWithDistinctNames) {
  Recorder r;
  r.recorder->record(reaped("one"));
  r.recorder->record(reaped("two"));
  r.transport->reply(201);
  r.transport->reply(201);
  r.recorder->flush();
  ASSERT_EQ(r.transport->requests.size(), 2u);
  EXPECT_NE(r.body(0)["metadata"]["name"].as_string(), r.body(1)["metadata"]["name"].as_string());
}

TEST(EventRecorder, LongNotesAreTruncatedToTheApiLimit) {
  Recorder r;
  std::string note(3000, 'x');
  note.replace(1020, 2, "\xc3\xa9");  // a two-byte character across the cut
  r.recorder->record(reaped(note));
  r.transport->reply(201);
  r.recorder->flush();
  std::string sent = r.body(0)["note"].as_string();
  EXPECT_LE(sent.size(), kNoteLimit);
  EXPECT_EQ(sent.substr(sent.size() - 3), "...");
}

TEST(EventRecorder, NotesArePrintable) {
  Recorder r;
  r.recorder->record(reaped("ti=d\nforged/t/r/-1/1 \xff\x1b[2J"));
  r.transport->reply(201);
  r.recorder->flush();
  EXPECT_EQ(r.body(0)["note"].as_string(), "ti=d\\nforged/t/r/-1/1 \\xff\\x1b[2J");
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
  EXPECT_EQ(r.body(1)["note"].as_string(), "b");
  EXPECT_EQ(r.body(1)["series"]["count"].as_integer(), 2);
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
  EXPECT_EQ(r.body(2)["note"].as_string(), "n2") << "oldest kept first";
  EXPECT_EQ(r.body(4)["note"].as_string(), "n4");
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
  EXPECT_NE(r.body(2)["metadata"]["name"].as_string(), r.body(0)["metadata"]["name"].as_string());
  EXPECT_EQ(r.body(2)["series"]["count"].as_integer(), 2);
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
  EXPECT_FALSE(r.body(1).has_field("series"));
}

}  // namespace
}  // namespace reaper::kube
