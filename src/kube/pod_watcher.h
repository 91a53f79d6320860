#pragma once
// The pods of this node, kept current by list + watch (fieldSelector=spec.nodeName=<node>).
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "kube/api_time.h"
#include "kube/client.h"
#include "kube/pod.h"
#include "net/backoff.h"

namespace reaper::kube {

// Query of a list (`resourceVersion` empty) or of a watch resuming from `resourceVersion`.
std::string podsTarget(const std::string& nspace, const std::string& nodeName,
                       const std::string& resourceVersion, int watchTimeoutSeconds);

// One namespace (or all: "") followed through list and watch, one round at a time and without
// threads of its own, so the protocol is tested on a fake transport.
class PodWatchSession {
 public:
  enum class Round { Progress, Idle, Failed };

  PodWatchSession(HttpTransport& transport, std::string nodeName, std::string nspace);

  // Lists when there is no usable resourceVersion (start, 410 Gone), else watches from it until the
  // stream ends. Failed: the caller backs off before the next round.
  Round runOnce(int watchTimeoutSeconds);

  std::vector<Pod> pods() const;
  bool synced() const { return synced_; }
  size_t badLines() const { return badLines_; }
  const std::string& resourceVersion() const { return resourceVersion_; }

 private:
  Round list();
  Round watch(int watchTimeoutSeconds);
  // Applies one watch line; false ends the stream.
  bool apply(std::string_view line, bool& progressed);

  HttpTransport& transport_;
  std::string nodeName_, namespace_;
  mutable std::mutex mutex_;
  std::map<std::string, Pod> pods_;  // by uid
  std::string resourceVersion_;
  std::atomic<bool> synced_{false};
  std::atomic<size_t> badLines_{0};
};

class PodWatcher {
 public:
  // Starts one background session per namespace (`namespaces` empty: every namespace).
  static core::Result<std::unique_ptr<PodWatcher>> start(const ClientOptions& options,
                                                         std::string nodeName,
                                                         std::vector<std::string> namespaces,
                                                         core::Clock& clock,
                                                         RequestObserver observer);
  static std::unique_ptr<PodWatcher> start(std::unique_ptr<HttpTransport> transport,
                                           std::string nodeName,
                                           std::vector<std::string> namespaces, core::Clock& clock);
  ~PodWatcher();
  PodWatcher(const PodWatcher&) = delete;
  PodWatcher& operator=(const PodWatcher&) = delete;

  // Snapshot of every pod of the node (thread-safe).
  std::vector<Pod> pods() const;
  // Every namespace has been listed at least once.
  bool synced() const;
  // Watch lines that did not parse (skipped).
  size_t badLines() const;
  void stop();

 private:
  PodWatcher(std::unique_ptr<HttpTransport> transport, core::Clock& clock);
  void run(PodWatchSession& session);
  void sleepUnlessStopped(core::Duration d);

  std::unique_ptr<HttpTransport> transport_;
  core::Clock& clock_;
  std::vector<std::unique_ptr<PodWatchSession>> sessions_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
};

}  // namespace reaper::kube
