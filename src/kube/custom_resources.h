#pragma once
// The agent's custom resources (airflowreaper.io/v1alpha1): one TaskRunnerTree per registered tree
// (namespaced, owned by its Pod) and one NodeReapReport per node (cluster-scoped). Writes are kept
// few: a tree's status only when its phase, TI state or message changes; the report at most every
// reportInterval.
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "core/types.h"
#include "kube/client.h"

namespace reaper::kube {

inline constexpr std::string_view kCrGroupVersion = "airflowreaper.io/v1alpha1";
inline constexpr std::string_view kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr std::string_view kManagedByValue = "airflow-reaper";
inline constexpr std::string_view kNodeLabel = "airflowreaper.io/node";
inline constexpr size_t kReportResults = 50;

// A TaskRunnerTree's status.phase.
enum class TreePhase { Running, Reaping, Reaped, Gone, KillFailed };
std::string_view treePhaseName(TreePhase phase);
// Reaped, Gone and KillFailed: the tree is finished with, its object kept for treeRetention.
bool terminalPhase(TreePhase phase);

struct TreeStatus {
  // spec
  std::string nodeName;
  core::PodRef pod;
  core::TaskInstanceKey ti;
  // status
  TreePhase phase = TreePhase::Running;
  std::string taskInstanceState;  // empty: unknown or no state
  int rootPid = 0;
  int processes = 0, orphans = 0, escapees = 0;
  core::WallTime firstSeen{}, lastSeen{};
  std::optional<core::WallTime> reapedAt;
  std::string message;
};

struct ReapResult {
  core::WallTime time{};
  core::PodRef pod;
  core::TaskInstanceKey ti;
  std::string state;
  int killed = 0, orphans = 0;
  core::ReapOutcome outcome = core::ReapOutcome::Failed;
  std::string reason;  // the kill decision's reason, as logged
};

struct NodeSummary {
  int trackedTrees = 0, trackedProcesses = 0;
  long long reapedTrees = 0, killedProcesses = 0, orphansReaped = 0, killFailures = 0;
};

struct CustomResourceOptions {
  core::Duration treeRetention{3600000};
  core::Duration reportInterval{10000};
};

// A stable object name for the tree: <pod name prefix>-<hash of pod uid and TI key>.
std::string treeName(const core::PodRef& pod, const core::TaskInstanceKey& ti);
// Label value for the node (label values are limited to 63 characters).
std::string nodeLabelValue(const std::string& nodeName);
std::string treeObject(const TreeStatus& tree);
std::string treeStatusPatch(const TreeStatus& tree);
std::string reportObject(const std::string& nodeName);
std::string reportStatusPatch(const NodeSummary& summary, const std::deque<ReapResult>& results);

// Not thread-safe: call from one thread (the reporting loop). Requests are synchronous.
class CustomResources {
 public:
  CustomResources(std::unique_ptr<HttpTransport> transport, std::string nodeName,
                  core::Clock& clock, CustomResourceOptions options = {});
  static core::Result<std::unique_ptr<CustomResources>> create(const ClientOptions& options,
                                                               std::string nodeName,
                                                               core::Clock& clock,
                                                               RequestObserver observer,
                                                               CustomResourceOptions crOptions);

  // Lists the TaskRunnerTrees this node's agent wrote before (by label) so they are adopted: a
  // tree registered again is updated in place, one that is not becomes Gone at the next cleanup().
  core::Status adopt();
  // Creates the tree's object if needed and writes its status when phase, TI state or message
  // changed since the last write.
  core::Status upsertTree(const TreeStatus& tree);
  // The tree's processes are gone without a reap.
  core::Status markGone(const core::PodRef& pod, const core::TaskInstanceKey& ti);
  // Non-terminal trees not upserted since the previous cleanup() become Gone; terminal ones older
  // than treeRetention are deleted. Call once per scan, after its upserts.
  core::Status cleanup();

  void setSummary(const NodeSummary& summary);
  void recordResult(const ReapResult& result);
  // Writes the NodeReapReport when it changed and reportInterval has passed since the last write.
  // A report an earlier agent of the node wrote is adopted first: its counters carry on and its
  // results stay, older than this agent's.
  core::Status flushReport();

  size_t trackedObjects() const { return trees_.size(); }

 private:
  struct Known {
    TreeStatus written;  // what the apiserver holds
    bool created = false;
    bool seen = false;  // upserted since the last cleanup()
    core::WallTime terminalSince{};
  };

  core::Status createTree(const TreeStatus& tree);
  core::Status writeStatus(Known& known, const TreeStatus& tree);
  core::Status deleteTree(const std::string& name, const std::string& nspace);
  core::Status createReport();
  core::Status adoptReport();

  std::unique_ptr<HttpTransport> transport_;
  std::string nodeName_;
  core::Clock& clock_;
  CustomResourceOptions options_;
  std::map<std::string, Known> trees_;  // by "<namespace>/<name>"
  NodeSummary summary_;
  std::deque<ReapResult> results_;
  bool reportDirty_ = true;
  bool reportCreated_ = false;
  bool reportAdopted_ = false;
  NodeSummary carried_;  // the reaps an earlier agent counted (tracked* unused)
  std::optional<core::SteadyTime> reportWritten_;
};

}  // namespace reaper::kube
