#include "kube/pod_watcher.h"

#include <algorithm>
#include <cerrno>

#include "core/log.h"

namespace reaper::kube {
namespace {

constexpr core::Duration kBackoffBase{500};
constexpr core::Duration kBackoffCap{30000};
constexpr core::Duration kStopPollSlice{100};
// Watches last 5-6 min, spread so that the watches of many agents do not end together; the
// transport's stream timeout (client.cpp) outlasts the longest.
constexpr int kMinWatchSeconds = 300;
constexpr int kWatchSpreadSeconds = 60;

}  // namespace

std::string podsTarget(const std::string& nspace, const std::string& nodeName,
                       const std::string& resourceVersion, int watchTimeoutSeconds) {
  std::string target =
      nspace.empty() ? "/api/v1/pods" : "/api/v1/namespaces/" + encodeQueryValue(nspace) + "/pods";
  target += "?fieldSelector=" + encodeQueryValue("spec.nodeName=" + nodeName);
  if (resourceVersion.empty()) return target;
  return target +
         "&watch=1&allowWatchBookmarks=true&resourceVersion=" + encodeQueryValue(resourceVersion) +
         "&timeoutSeconds=" + std::to_string(watchTimeoutSeconds);
}

PodWatchSession::PodWatchSession(HttpTransport& transport, std::string nodeName, std::string nspace)
    : transport_(transport), nodeName_(std::move(nodeName)), namespace_(std::move(nspace)) {}

PodWatchSession::Round PodWatchSession::runOnce(int watchTimeoutSeconds) {
  return resourceVersion_.empty() ? list() : watch(watchTimeoutSeconds);
}

PodWatchSession::Round PodWatchSession::list() {
  auto response = transport_.send({"GET", podsTarget(namespace_, nodeName_, "", 0), "", ""});
  const core::Logger log("kube");
  if (!response || response->status != 200) {
    log.warn("pod_list_failed", {{"ns", namespace_},
                                 {"code", response ? response->status : 0},
                                 {"err", response ? "" : response.error().message}});
    return Round::Failed;
  }
  auto parsed = parsePodList(response->body);
  if (!parsed || parsed->resourceVersion.empty()) {
    log.warn("pod_list_unparsable",
             {{"ns", namespace_}, {"err", parsed ? "no resourceVersion" : parsed.error().message}});
    return Round::Failed;
  }
  {
    std::lock_guard lock(mutex_);
    pods_.clear();
    for (auto& pod : parsed->items) pods_[pod.ref.uid] = std::move(pod);
  }
  resourceVersion_ = parsed->resourceVersion;
  synced_ = true;
  log.debug("pod_list",
            {{"ns", namespace_}, {"pods", parsed->items.size()}, {"rv", resourceVersion_}});
  return Round::Progress;
}

PodWatchSession::Round PodWatchSession::watch(int watchTimeoutSeconds) {
  bool progressed = false;
  auto response = transport_.stream(
      {"GET", podsTarget(namespace_, nodeName_, resourceVersion_, watchTimeoutSeconds), "", ""},
      [&](std::string_view line) { return apply(line, progressed); });
  if (!response && response.error().code == EMSGSIZE) {
    // The event of that line is lost: only a new list tells the pods as they are.
    core::Logger("kube").warn(
        "pod_watch_line_too_long",
        {{"ns", namespace_}, {"err", response.error().message}, {"then", "relist"}});
    ++badLines_;
    resourceVersion_.clear();
    return Round::Failed;
  }
  if (!response) {
    core::Logger("kube").warn("pod_watch_failed",
                              {{"ns", namespace_}, {"err", response.error().message}});
    return Round::Failed;
  }
  if (response->status == 410) resourceVersion_.clear();  // too old: relist
  if (response->status == 410 || resourceVersion_.empty()) return Round::Progress;
  if (response->status < 200 || response->status > 299) {
    core::Logger("kube").warn("pod_watch_failed", {{"ns", namespace_}, {"code", response->status}});
    return Round::Failed;
  }
  return progressed ? Round::Progress : Round::Idle;
}

bool PodWatchSession::apply(std::string_view line, bool& progressed) {
  auto event = parseWatchLine(line);
  if (!event) {
    ++badLines_;
    core::Logger("kube").warn("pod_watch_bad_line",
                              {{"ns", namespace_}, {"err", event.error().message}});
    return true;
  }
  if (event->type == WatchEventType::Error) {
    core::Logger("kube").info(
        "pod_watch_error",
        {{"ns", namespace_}, {"code", event->errorCode}, {"message", event->errorMessage}});
    if (event->errorCode == 410) resourceVersion_.clear();
    return false;
  }
  progressed = true;
  resourceVersion_ = event->resourceVersion;
  if (event->type == WatchEventType::Bookmark) return true;
  std::lock_guard lock(mutex_);
  if (event->type == WatchEventType::Deleted) {
    pods_.erase(event->pod.ref.uid);
  } else {
    pods_[event->pod.ref.uid] = std::move(event->pod);
  }
  return true;
}

std::vector<Pod> PodWatchSession::pods() const {
  std::lock_guard lock(mutex_);
  std::vector<Pod> out;
  out.reserve(pods_.size());
  for (const auto& [uid, pod] : pods_) out.push_back(pod);
  return out;
}

core::Result<std::unique_ptr<PodWatcher>> PodWatcher::start(const ClientOptions& options,
                                                            std::string nodeName,
                                                            std::vector<std::string> namespaces,
                                                            core::Clock& clock,
                                                            RequestObserver observer) {
  auto transport = makeApiTransport(options, std::move(observer));
  if (!transport) return transport.error();
  return start(std::move(*transport), std::move(nodeName), std::move(namespaces), clock);
}

std::unique_ptr<PodWatcher> PodWatcher::start(std::unique_ptr<HttpTransport> transport,
                                              std::string nodeName,
                                              std::vector<std::string> namespaces,
                                              core::Clock& clock) {
  std::unique_ptr<PodWatcher> watcher(new PodWatcher(std::move(transport), clock));
  if (namespaces.empty()) namespaces.push_back("");
  for (const auto& ns : namespaces) {
    watcher->sessions_.push_back(
        std::make_unique<PodWatchSession>(*watcher->transport_, nodeName, ns));
  }
  for (auto& session : watcher->sessions_) {
    watcher->threads_.emplace_back([w = watcher.get(), s = session.get()] { w->run(*s); });
  }
  return watcher;
}

PodWatcher::PodWatcher(std::unique_ptr<HttpTransport> transport, core::Clock& clock)
    : transport_(std::move(transport)), clock_(clock) {}

PodWatcher::~PodWatcher() { stop(); }

void PodWatcher::run(PodWatchSession& session) {
  net::Backoff backoff(kBackoffBase, kBackoffCap, std::random_device{}());
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> watchSeconds(kMinWatchSeconds,
                                                  kMinWatchSeconds + kWatchSpreadSeconds);
  while (!stopping_) {
    auto round = session.runOnce(watchSeconds(random));
    if (stopping_) return;
    if (round == PodWatchSession::Round::Progress) {
      backoff.reset();
    } else {
      sleepUnlessStopped(backoff.next());
    }
  }
}

void PodWatcher::sleepUnlessStopped(core::Duration d) {
  while (d.count() > 0 && !stopping_) {
    core::Duration slice = std::min(d, kStopPollSlice);
    clock_.sleepFor(slice);
    d -= slice;
  }
}

std::vector<Pod> PodWatcher::pods() const {
  std::vector<Pod> out;
  for (const auto& session : sessions_) {
    auto pods = session->pods();
    out.insert(out.end(), pods.begin(), pods.end());
  }
  return out;
}

bool PodWatcher::synced() const {
  return std::all_of(sessions_.begin(), sessions_.end(), [](const auto& s) { return s->synced(); });
}

size_t PodWatcher::badLines() const {
  size_t total = 0;
  for (const auto& session : sessions_) total += session->badLines();
  return total;
}

void PodWatcher::stop() {
  stopping_ = true;
  transport_->cancel();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

}  // namespace reaper::kube
