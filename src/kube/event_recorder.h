#pragma once
// Kubernetes Events (events.k8s.io/v1) about reaps, regarding the Pod. record() only queues;
// flush() (or the background flusher) talks to the API server, so the caller never waits on it.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/types.h"
#include "kube/client.h"

namespace reaper::kube {

inline constexpr std::string_view kReportingController = "airflowreaper.io/agent";
inline constexpr size_t kNoteLimit = 1024;  // the apiserver rejects longer notes

enum class EventType { Normal, Warning };
std::string_view eventTypeName(EventType type);

struct ReapEvent {
  core::PodRef pod;
  std::string reason;  // TaskTreeReaped | OrphansReaped | TaskTreeKillFailed | DryRunWouldReap
  std::string note;    // already redacted; made printable and cut to kNoteLimit here
  EventType type = EventType::Warning;
  std::string action = "Kill";  // what the agent did regarding the pod: Kill | DryRun
};

struct EventRecorderOptions {
  size_t queueLimit = 512;               // pending events kept while the API server is unreachable
  int burstPerPod = 10;                  // distinct events a pod may get at once...
  core::Duration refillPerPod{30000};    // ...and one more per this interval
  core::Duration seriesWindow{1800000};  // a repeat within this joins the earlier event's series
};

// One event's state as the apiserver should see it.
struct EventState {
  std::string name;  // metadata.name
  ReapEvent event;
  core::WallTime eventTime;
  core::WallTime lastObserved;
  core::SteadyTime lastObservedSteady;
  int count = 1;
  bool created = false;  // POSTed successfully
  bool dirty = true;     // the apiserver has not seen the latest count
};

// `reportingInstance`: airflow-reaper-<node>, at most 128 characters.
std::string reportingInstance(const std::string& nodeName);
// A valid event name (DNS subdomain) for the pod, unique per (`when`, `sequence`).
std::string eventName(const std::string& podName, core::WallTime when, uint32_t sequence);
// The JSON body that creates the event.
std::string eventBody(const EventState& state, const std::string& nodeName);
// The merge patch that updates its series.
std::string seriesPatch(const EventState& state);

class EventRecorder {
 public:
  EventRecorder(std::unique_ptr<HttpTransport> transport, std::string nodeName, core::Clock& clock,
                EventRecorderOptions options = {});
  // A recorder over the API server transport whose background flusher sends every second.
  static core::Result<std::unique_ptr<EventRecorder>> create(const ClientOptions& options,
                                                             std::string nodeName,
                                                             core::Clock& clock,
                                                             RequestObserver observer);
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // Queues the event; a repeat of a recent one (same pod, reason and note), or one over the pod's
  // rate limit, joins the series of the pod's latest event with that reason. Never blocks on I/O.
  void record(const ReapEvent& event);
  // Sends what is queued, in order; stops at the first sign that the API server is unreachable
  // (no reply, 429, 5xx) and keeps the rest for the next flush.
  void flush();
  // Flushes every `interval` on a thread of its own until destruction (which flushes once more).
  void startFlusher(core::Duration interval);

  size_t queued() const;
  size_t dropped() const { return dropped_; }

 private:
  using Key = std::tuple<std::string, std::string, std::string>;  // pod uid, reason, note
  struct Bucket {
    double tokens;
    core::SteadyTime refilled;
  };

  bool takeToken(const std::string& podUid, core::SteadyTime now);
  void aggregate(EventState& state, core::SteadyTime now);
  void enqueue(const Key& key);
  void forgetOld(core::SteadyTime now);
  // Sends one state; false when the API server looks unreachable.
  bool send(const Key& key);
  // Applies the reply to a POST (`create`) or PATCH of `sent`; false when unreachable.
  bool settle(const Key& key, const EventState& sent, bool create,
              const core::Result<HttpResponse>& reply);
  void finish(const Key& key);

  std::unique_ptr<HttpTransport> transport_;
  std::string nodeName_;
  core::Clock& clock_;
  EventRecorderOptions options_;

  mutable std::mutex mutex_;
  std::map<Key, EventState> states_;
  std::map<std::pair<std::string, std::string>, Key> latest_;  // (pod uid, reason) -> key
  std::map<std::string, Bucket> buckets_;
  std::deque<Key> pending_;
  std::atomic<size_t> dropped_{0};
  uint32_t sequence_ = 0;

  std::mutex flushing_;
  std::atomic<bool> stopping_{false};
  std::thread flusher_;
};

}  // namespace reaper::kube
