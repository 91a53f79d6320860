#include "agent/kube_reports.h"

#include <algorithm>

#include "core/log.h"
#include "core/redact.h"

namespace reaper::agent {
namespace {

constexpr size_t kMaxQueuedResults = 1000;
constexpr size_t kOrphansInNote = 5;
constexpr size_t kCommandLineInNote = 120;

std::string processCount(size_t n) {
  return std::to_string(n) + (n == 1 ? " process" : " processes");
}

std::string processText(const proc::TreeMember& member) {
  return std::to_string(member.id.pid) + " " +
         core::redactedCommandLine(member.commandLine.words(), kCommandLineInNote);
}

// What was done to how many processes.
std::string outcomeText(const loop::ReapResult& result) {
  const auto& report = result.report;
  const std::string members = processCount(result.target.tree.members.size());
  if (result.outcome == core::ReapOutcome::DryRun)
    return "Dry run: would kill " + members + " (none signalled)";
  std::string text = "Killed " + processCount(report.killed) + " (tree of " + members + ")";
  if (!report.survivors.empty()) {
    text += "; " + std::to_string(report.survivors.size()) + " survived SIGKILL (pids";
    for (const auto& survivor : report.survivors) text += " " + std::to_string(survivor.pid);
    text += ", uninterruptible?)";
  }
  if (report.error) text += "; kill failed: " + report.error->message;
  return text;
}

// What was decided and why, what was done, and which processes: the root and the orphans or
// escapees (the processes nobody expects to outlive their task), command lines redacted.
std::string noteFor(const loop::ReapResult& result) {
  const auto& tree = result.target.tree;
  std::string note = outcomeText(result) + " of TaskInstance " + result.target.label() +
                     ", because " + result.reason + " (TaskInstance state " + result.state + ").";
  const auto root = std::find_if(tree.members.begin(), tree.members.end(),
                                 [&](const proc::TreeMember& m) { return m.id == tree.root; });
  if (root != tree.members.end()) note += " Root: " + processText(*root) + ".";
  const size_t orphans = result.target.orphanCount();
  if (orphans == 0) return note;
  note += " Orphans or escapees (" + std::to_string(orphans) + "):";
  size_t listed = 0;
  for (const auto& member : tree.members) {
    if (!(member.orphan || member.escapee) || listed == kOrphansInNote) continue;
    note += (listed++ == 0 ? " " : "; ") + processText(member);
  }
  if (orphans > listed) note += "; +" + std::to_string(orphans - listed) + " more";
  return note;
}

}  // namespace

std::optional<kube::ReapEvent> reapEvent(const loop::ReapResult& result) {
  if (!result.target.pod) return std::nullopt;  // Events regard a pod
  const bool orphans = result.target.orphanCount() > 0;
  kube::ReapEvent event{*result.target.pod, "TaskTreeReaped", noteFor(result),
                        orphans ? kube::EventType::Warning : kube::EventType::Normal, "Kill"};
  if (result.outcome == core::ReapOutcome::DryRun) {
    event.reason = "DryRunWouldReap";
    event.action = "DryRun";
  } else if (result.outcome == core::ReapOutcome::Failed) {
    event.reason = "TaskTreeKillFailed";
    event.type = kube::EventType::Warning;
  } else if (orphans) {
    event.reason = "OrphansReaped";
  }
  return event;
}

void addTree(kube::TreeStatus& attempt, const kube::TreeStatus& tree, bool rootsTree) {
  attempt.processes += tree.processes;
  attempt.orphans += tree.orphans;
  attempt.escapees += tree.escapees;
  if (rootsTree) attempt.rootPid = tree.rootPid;
  if (tree.phase == kube::TreePhase::Reaping && attempt.phase != kube::TreePhase::Reaping) {
    attempt.phase = tree.phase;
    attempt.message = tree.message;
  }
}

KubeReports::KubeReports(std::unique_ptr<kube::EventRecorder> events,
                         std::unique_ptr<kube::CustomResources> resources, bool writeTrees,
                         bool writeReport, std::string nodeName, core::Clock& clock)
    : events_(std::move(events)),
      resources_(std::move(resources)),
      writeTrees_(writeTrees),
      writeReport_(writeReport),
      nodeName_(std::move(nodeName)),
      clock_(clock) {
  if (resources_) worker_ = std::thread([this] { work(); });
}

KubeReports::~KubeReports() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  if (events_) events_->flush();
}

kube::TreeStatus KubeReports::treeStatus(const loop::Target& target, const std::string& state) {
  kube::TreeStatus status;
  status.nodeName = nodeName_;
  status.pod = *target.pod;
  status.ti = *target.tree.key;
  status.taskInstanceState = state;
  status.rootPid = target.tree.root.pid;
  status.processes = static_cast<int>(target.tree.members.size());
  for (const auto& m : target.tree.members) {
    status.orphans += m.orphan ? 1 : 0;
    status.escapees += m.escapee ? 1 : 0;
  }
  status.lastSeen = clock_.wallNow();
  status.firstSeen = firstSeen_.try_emplace(attemptOf(target), status.lastSeen).first->second;
  return status;
}

// The TaskRunnerTree object an attempt in a pod is written to.
std::string KubeReports::attemptOf(const loop::Target& target) {
  return kube::treeName(*target.pod, *target.tree.key);
}

void KubeReports::observed(const std::vector<loop::Assessment>& assessments) {
  if (!resources_) return;
  std::map<std::string, kube::TreeStatus> attempts;
  size_t processes = 0;
  std::set<std::string> present;
  std::lock_guard lock(mutex_);
  for (const auto& a : assessments) {
    processes += a.target.tree.members.size();
    if (!a.target.pod || !a.target.tree.key) continue;
    const std::string attempt = attemptOf(a.target);
    present.insert(attempt);
    if (finished_.contains(attempt)) continue;
    const std::string state =
        a.status.lookup == airflow::Lookup::Found ? a.status.state.value_or("") : "";
    kube::TreeStatus status = treeStatus(a.target, state);
    status.phase = a.decision.action == reconcile::Action::Kill ? kube::TreePhase::Reaping
                                                                : kube::TreePhase::Running;
    status.message =
        std::string(reconcile::actionName(a.decision.action)) + ": " + a.decision.reason;
    const bool rootsTree = a.target.tree.origin != proc::Origin::Environment;
    auto [it, fresh] = attempts.try_emplace(attempt, status);
    if (!fresh) addTree(it->second, status, rootsTree);
  }
  forgetGone(present);
  summary_.trackedTrees = static_cast<int>(assessments.size());
  summary_.trackedProcesses = static_cast<int>(processes);
  std::vector<kube::TreeStatus> trees;
  for (auto& [attempt, status] : attempts) trees.push_back(std::move(status));
  latest_ = std::move(trees);
  wake_.notify_all();
}

// An attempt the scan no longer finds is gone for good (a new try is a new attempt): what was
// kept about it goes too, or the maps grow with every attempt the node ever ran.
void KubeReports::forgetGone(const std::set<std::string>& present) {
  std::erase_if(firstSeen_, [&](const auto& entry) { return !present.contains(entry.first); });
  std::erase_if(finished_, [&](const std::string& label) { return !present.contains(label); });
}

size_t KubeReports::attemptsRemembered() {
  std::lock_guard lock(mutex_);
  return firstSeen_.size() + finished_.size();
}

void KubeReports::reaped(const loop::ReapResult& result) {
  if (events_) {
    if (auto event = reapEvent(result)) events_->record(*event);
  }
  if (!resources_ || !result.target.pod || !result.target.tree.key) return;
  std::lock_guard lock(mutex_);
  kube::TreeStatus tree = treeStatus(result.target, result.state);
  const bool failed = result.outcome == core::ReapOutcome::Failed;
  tree.phase = result.outcome == core::ReapOutcome::DryRun ? kube::TreePhase::Running
               : failed                                    ? kube::TreePhase::KillFailed
                                                           : kube::TreePhase::Reaped;
  if (result.outcome != core::ReapOutcome::DryRun) tree.reapedAt = result.at;
  tree.message = std::string(core::reapOutcomeName(result.outcome)) + ": " + result.reason;
  kube::ReapResult row{result.at,
                       *result.target.pod,
                       *result.target.tree.key,
                       result.state,
                       static_cast<int>(result.report.killed),
                       static_cast<int>(result.target.orphanCount()),
                       result.outcome,
                       result.reason};
  if (result.outcome != core::ReapOutcome::DryRun) {
    finished_.insert(attemptOf(result.target));
    summary_.reapedTrees += failed ? 0 : 1;
    summary_.killedProcesses += row.killed;
    summary_.orphansReaped += row.orphans;
    summary_.killFailures += failed ? 1 : 0;
  }
  if (reaped_.size() == kMaxQueuedResults) reaped_.pop_front();
  reaped_.push_back(Reaped{std::move(tree), std::move(row)});
  wake_.notify_all();
}

void KubeReports::work() {
  const core::Logger log("kube");
  if (writeTrees_) {
    if (auto adopted = resources_->adopt(); !adopted)
      log.warn("adopting earlier TaskRunnerTrees failed", {{"error", adopted.error().message}});
  }
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::seconds(1));
    std::deque<Reaped> reaped;
    reaped.swap(reaped_);
    auto latest = std::exchange(latest_, std::nullopt);
    const kube::NodeSummary summary = summary_;
    lock.unlock();
    for (auto& r : reaped) queueReaped(std::move(r));
    if (writeTrees_) {
      writeUnwritten();
      if (latest) writeSnapshot(*latest);
    }
    if (writeReport_) {
      resources_->setSummary(summary);
      if (auto flushed = resources_->flushReport(); !flushed)
        log.warn("NodeReapReport write failed", {{"error", flushed.error().message}});
    }
    lock.lock();
  }
}

void KubeReports::queueReaped(Reaped reaped) {
  resources_->recordResult(reaped.result);
  if (!writeTrees_) return;
  if (unwritten_.size() == kMaxQueuedResults) unwritten_.pop_front();
  unwritten_.push_back(std::move(reaped.tree));
}

// A reaped tree's final phase is retried every round until the API server takes it: written only
// once, it would be lost to an outage and later marked Gone. Retrying also keeps the tree "seen",
// so cleanup() does not mark it Gone meanwhile.
void KubeReports::writeUnwritten() {
  std::deque<kube::TreeStatus> failed;
  std::string error;
  for (auto& tree : unwritten_) {
    if (auto written = resources_->upsertTree(tree); !written) {
      error = written.error().message;
      failed.push_back(std::move(tree));
    }
  }
  if (!failed.empty())
    core::Logger("kube").warn("TaskRunnerTree write failed",
                              {{"pending", failed.size()}, {"error", error}});
  unwritten_ = std::move(failed);
}

void KubeReports::writeSnapshot(const std::vector<kube::TreeStatus>& trees) {
  for (const auto& tree : trees) {
    if (auto written = resources_->upsertTree(tree); !written)
      core::Logger("kube").warn("TaskRunnerTree write failed",
                                {{"error", written.error().message}});
  }
  if (auto cleaned = resources_->cleanup(); !cleaned)
    core::Logger("kube").warn("TaskRunnerTree cleanup failed",
                              {{"error", cleaned.error().message}});
}

}  // namespace reaper::agent
