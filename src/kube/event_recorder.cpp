#include "kube/event_recorder.h"

#include <algorithm>
#include <cstdio>

#include "core/json.h"
#include "core/log.h"
#include "core/printable.h"
#include "kube/api_time.h"

namespace reaper::kube {
namespace {

using core::Json;

constexpr size_t kInstanceLimit = 128;
constexpr size_t kNameLimit = 253;
constexpr core::Duration kStopPollSlice{100};
constexpr core::Duration kFlushInterval{1000};

bool unreachable(const core::Result<HttpResponse>& reply) {
  return !reply || reply->status == 429 || reply->status >= 500;
}

Json seriesValue(const EventState& state) {
  Json series;
  series["count"] = state.count;
  series["lastObservedTime"] = formatMicroTime(state.lastObserved);
  return series;
}

std::string eventsPath(const std::string& nspace) {
  return "/apis/events.k8s.io/v1/namespaces/" + encodeQueryValue(nspace) + "/events";
}

}  // namespace

std::string_view eventTypeName(EventType type) {
  return type == EventType::Normal ? "Normal" : "Warning";
}

std::string reportingInstance(const std::string& nodeName) {
  return ("airflow-reaper-" + nodeName).substr(0, kInstanceLimit);
}

std::string eventName(const std::string& podName, core::WallTime when, uint32_t sequence) {
  char suffix[40];
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch());
  std::snprintf(suffix, sizeof suffix, ".%llx%04x", static_cast<unsigned long long>(nanos.count()),
                sequence & 0xFFFF);
  std::string prefix = podName.substr(0, kNameLimit - std::string_view(suffix).size());
  while (!prefix.empty() && (prefix.back() == '-' || prefix.back() == '.')) prefix.pop_back();
  return prefix + suffix;
}

std::string eventBody(const EventState& state, const std::string& nodeName) {
  Json body;
  body["apiVersion"] = "events.k8s.io/v1";
  body["kind"] = "Event";
  body["metadata"]["name"] = state.name;
  body["metadata"]["namespace"] = state.event.pod.namespaceName;
  body["eventTime"] = formatMicroTime(state.eventTime);
  body["reportingController"] = kReportingController;
  body["reportingInstance"] = reportingInstance(nodeName);
  body["action"] = state.event.action;
  body["reason"] = state.event.reason;
  body["type"] = eventTypeName(state.event.type);
  body["note"] = core::printable(state.event.note, kNoteLimit);
  Json regarding;
  regarding["apiVersion"] = "v1";
  regarding["kind"] = "Pod";
  regarding["namespace"] = state.event.pod.namespaceName;
  regarding["name"] = state.event.pod.name;
  regarding["uid"] = state.event.pod.uid;
  body["regarding"] = regarding;
  if (state.count >= 2) body["series"] = seriesValue(state);
  return body.dump();
}

std::string seriesPatch(const EventState& state) {
  Json patch;
  patch["series"] = seriesValue(state);
  return patch.dump();
}

EventRecorder::EventRecorder(std::unique_ptr<HttpTransport> transport, std::string nodeName,
                             core::Clock& clock, EventRecorderOptions options)
    : transport_(std::move(transport)),
      nodeName_(std::move(nodeName)),
      clock_(clock),
      options_(options) {}

core::Result<std::unique_ptr<EventRecorder>> EventRecorder::create(const ClientOptions& options,
                                                                   std::string nodeName,
                                                                   core::Clock& clock,
                                                                   RequestObserver observer) {
  auto transport = makeApiTransport(options, std::move(observer));
  if (!transport) return transport.error();
  auto recorder =
      std::make_unique<EventRecorder>(std::move(*transport), std::move(nodeName), clock);
  recorder->startFlusher(kFlushInterval);
  return recorder;
}

EventRecorder::~EventRecorder() {
  stopping_ = true;
  if (flusher_.joinable()) flusher_.join();
  flush();  // last chance for what is queued; stops at the first sign of an unreachable server
}

void EventRecorder::record(const ReapEvent& event) {
  if (event.pod.namespaceName.empty() || event.pod.name.empty()) return;  // regards no pod
  std::lock_guard lock(mutex_);
  core::SteadyTime now = clock_.now();
  forgetOld(now);
  Key key{event.pod.uid, event.reason, core::printable(event.note, kNoteLimit)};
  auto existing = states_.find(key);
  if (existing != states_.end()) {
    aggregate(existing->second, now);
    enqueue(key);
    return;
  }
  if (!takeToken(event.pod.uid, now)) {
    auto latest = latest_.find({event.pod.uid, event.reason});
    if (latest == latest_.end() || !states_.contains(latest->second)) {
      ++dropped_;
      return;
    }
    aggregate(states_.at(latest->second), now);
    enqueue(latest->second);
    return;
  }
  core::WallTime wall = clock_.wallNow();
  EventState state{eventName(event.pod.name, wall, sequence_++), event, wall, wall, now};
  state.event.note = std::get<2>(key);
  state.dirty = false;
  states_[key] = std::move(state);
  latest_[{event.pod.uid, event.reason}] = key;
  enqueue(key);
}

void EventRecorder::aggregate(EventState& state, core::SteadyTime now) {
  ++state.count;
  state.lastObserved = clock_.wallNow();
  state.lastObservedSteady = now;
}

void EventRecorder::enqueue(const Key& key) {
  EventState& state = states_.at(key);
  if (state.dirty) return;  // already pending: it is sent with its latest count
  state.dirty = true;
  pending_.push_back(key);
  if (pending_.size() <= options_.queueLimit) return;
  Key oldest = pending_.front();
  pending_.pop_front();
  ++dropped_;
  EventState& lost = states_.at(oldest);
  if (lost.created) {
    lost.dirty = false;  // keeps its count: a later repeat patches it
  } else {
    states_.erase(oldest);
  }
}

bool EventRecorder::takeToken(const std::string& podUid, core::SteadyTime now) {
  auto [it, inserted] = buckets_.try_emplace(podUid, Bucket{double(options_.burstPerPod), now});
  Bucket& bucket = it->second;
  double refill = std::chrono::duration<double>(now - bucket.refilled) /
                  std::chrono::duration<double>(options_.refillPerPod);
  bucket.tokens = std::min<double>(options_.burstPerPod, bucket.tokens + refill);
  bucket.refilled = now;
  if (bucket.tokens < 1.0) return false;
  bucket.tokens -= 1.0;
  return true;
}

void EventRecorder::forgetOld(core::SteadyTime now) {
  std::erase_if(states_, [&](const auto& entry) {
    return !entry.second.dirty && now - entry.second.lastObservedSteady > options_.seriesWindow;
  });
  std::erase_if(latest_, [&](const auto& entry) { return !states_.contains(entry.second); });
  std::erase_if(buckets_, [&](const auto& entry) {
    double refill = std::chrono::duration<double>(now - entry.second.refilled) /
                    std::chrono::duration<double>(options_.refillPerPod);
    return entry.second.tokens + refill >= options_.burstPerPod;
  });
}

void EventRecorder::flush() {
  std::lock_guard flushing(flushing_);
  while (true) {
    Key key;
    {
      std::lock_guard lock(mutex_);
      if (pending_.empty()) return;
      key = pending_.front();
    }
    if (!send(key)) return;
  }
}

bool EventRecorder::send(const Key& key) {
  EventState sent;
  {
    std::lock_guard lock(mutex_);
    auto it = states_.find(key);
    if (it == states_.end()) {
      finish(key);
      return true;
    }
    sent = it->second;
  }
  const std::string path = eventsPath(sent.event.pod.namespaceName);
  if (!sent.created) {
    auto reply = transport_->send({"POST", path, eventBody(sent, nodeName_), "application/json"});
    return settle(key, sent, true, reply);
  }
  auto reply = transport_->send(
      {"PATCH", path + "/" + sent.name, seriesPatch(sent), "application/merge-patch+json"});
  return settle(key, sent, false, reply);
}

bool EventRecorder::settle(const Key& key, const EventState& sent, bool create,
                           const core::Result<HttpResponse>& reply) {
  if (unreachable(reply)) return false;
  std::lock_guard lock(mutex_);
  auto it = states_.find(key);
  if (it == states_.end()) return true;
  EventState& state = it->second;
  int code = reply->status;
  bool done = code == 200 || code == 201 || (create && code == 409);
  if (done) {
    state.created = true;
    // An existing object (409) has an unknown count: patch it with ours.
    bool existed = create && code == 409 && state.count >= 2;
    if (state.count == sent.count && !existed) finish(key);
    return true;
  }
  if (!create && code == 404) {  // expired (events live about an hour): start a new one
    state.created = false;
    state.name = eventName(state.event.pod.name, clock_.wallNow(), sequence_++);
    return true;
  }
  core::Logger("kube").warn("event_rejected",
                            {{"pod", sent.event.pod.namespaceName + "/" + sent.event.pod.name},
                             {"reason", sent.event.reason},
                             {"code", code},
                             {"body", reply->body.substr(0, 200)}});
  ++dropped_;
  finish(key);
  if (create) states_.erase(key);
  return true;
}

void EventRecorder::finish(const Key& key) {
  auto it = std::find(pending_.begin(), pending_.end(), key);
  if (it != pending_.end()) pending_.erase(it);
  auto state = states_.find(key);
  if (state != states_.end()) state->second.dirty = false;
}

void EventRecorder::startFlusher(core::Duration interval) {
  flusher_ = std::thread([this, interval] {
    while (!stopping_) {
      flush();
      for (core::Duration left = interval; left.count() > 0 && !stopping_; left -= kStopPollSlice) {
        clock_.sleepFor(std::min(left, kStopPollSlice));
      }
    }
  });
}

size_t EventRecorder::queued() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

}  // namespace reaper::kube
