#pragma once
// Reports what the loop saw and did to the Kubernetes API: Events on the pod, a TaskRunnerTree per
// tree and the node's NodeReapReport. The loop never waits on the API server: events are queued by
// the recorder, and custom resources are written by a thread of their own from the latest
// snapshot and a bounded queue of results.
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "kube/custom_resources.h"
#include "kube/event_recorder.h"
#include "loop/reap_loop.h"

namespace reaper::agent {

// The Event a reap result raises (nullopt: the tree is in no pod). Normal for a reap, Warning when
// the tree had orphans or escapees or the kill failed; a dry run raises DryRunWouldReap (action
// DryRun) and signals nothing. The note says what was decided and why, what was done, and which
// processes (redacted).
std::optional<kube::ReapEvent> reapEvent(const loop::ReapResult& result);

// A TaskRunnerTree is one attempt in one pod, which may be several trees: the root's, and one per
// carrier of its orphans. Adds `tree`'s counts to `attempt`; the root's tree names the root pid
// (else the first tree's root stands), and a kill decided for any of them makes the attempt
// Reaping.
void addTree(kube::TreeStatus& attempt, const kube::TreeStatus& tree, bool rootsTree);

class KubeReports final : public loop::ReapObserver {
 public:
  // Either of `events` and `resources` may be null (disabled in the configuration); with
  // `resources`, `writeTrees` and `writeReport` say which of the two kinds it writes.
  KubeReports(std::unique_ptr<kube::EventRecorder> events,
              std::unique_ptr<kube::CustomResources> resources, bool writeTrees, bool writeReport,
              std::string nodeName, core::Clock& clock);
  ~KubeReports() override;

  void observed(const std::vector<loop::Assessment>& assessments) override;
  void reaped(const loop::ReapResult& result) override;

  // Attempts with state kept here (first sight, reaped for good): those still on the node.
  size_t attemptsRemembered();

 private:
  struct Reaped {
    kube::TreeStatus tree;
    kube::ReapResult result;
  };

  kube::TreeStatus treeStatus(const loop::Target& target, const std::string& state);
  static std::string attemptOf(const loop::Target& target);
  void forgetGone(const std::set<std::string>& present);
  void work();
  void writeSnapshot(const std::vector<kube::TreeStatus>& trees);
  void queueReaped(Reaped reaped);
  void writeUnwritten();

  std::unique_ptr<kube::EventRecorder> events_;
  std::unique_ptr<kube::CustomResources> resources_;
  bool writeTrees_;
  bool writeReport_;
  std::string nodeName_;
  core::Clock& clock_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<std::vector<kube::TreeStatus>> latest_;
  std::deque<Reaped> reaped_;
  kube::NodeSummary summary_;
  std::map<std::string, core::WallTime> firstSeen_;  // by attempt (attemptOf)
  std::set<std::string> finished_;  // attempts reaped (or not) for good: their phase stays
  bool stopping_ = false;
  std::deque<kube::TreeStatus> unwritten_;  // reaped trees not yet taken (worker thread only)
  std::thread worker_;
};

}  // namespace reaper::agent
