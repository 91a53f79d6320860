#include "kube/custom_resources.h"

#include "core/json.h"
#include "core/log.h"
#include "core/printable.h"
#include "kube/api_time.h"

namespace reaper::kube {
namespace {

using core::Json;

constexpr size_t kPodNamePrefix = 40;
constexpr size_t kLabelValueLimit = 63;
constexpr size_t kMessageLimit = 1024;  // the CRD's maxLength
const std::string kTreesBase = "/apis/airflowreaper.io/v1alpha1";

std::string treesPath(const std::string& nspace) {
  return kTreesBase + "/namespaces/" + encodeQueryValue(nspace) + "/taskrunnertrees";
}

std::string reportsPath() { return kTreesBase + "/nodereapreports"; }

// Every string leaves the agent printable: dag and run ids are foreign bytes.
Json str(const std::string& s) { return core::printable(s); }

Json labels(const std::string& nodeName) {
  Json out = Json::object();
  out[std::string(kManagedByLabel)] = str(std::string(kManagedByValue));
  out["app.kubernetes.io/name"] = str("airflow-reaper");
  out[std::string(kNodeLabel)] = str(nodeLabelValue(nodeName));
  return out;
}

Json tiValue(const core::TaskInstanceKey& ti) {
  Json out = Json::object();
  out["dagId"] = str(ti.dagId);
  out["taskId"] = str(ti.taskId);
  out["runId"] = str(ti.runId);
  out["mapIndex"] = ti.mapIndex;
  out["tryNumber"] = ti.tryNumber;
  return out;
}

core::Status statusOf(const core::Result<HttpResponse>& reply, const std::string& what,
                      std::initializer_list<int> okCodes) {
  if (!reply) return core::makeError(what + ": " + reply.error().message);
  for (int code : okCodes) {
    if (reply->status == code) return core::Ok{};
  }
  return core::makeError(
      what + ": HTTP " + std::to_string(reply->status) + " " + reply->body.substr(0, 200),
      reply->status);
}

std::string stringAt(const Json& object, const char* key) {
  return object.field(key).string().value_or("");
}

int intAt(const Json& object, const char* key, int fallback) {
  const auto value = object.field(key).integer();
  if (!value || *value < INT32_MIN || *value > INT32_MAX) return fallback;
  return static_cast<int>(*value);
}

// A phase this version does not know (a newer agent's) is not terminal: an adopted object in it
// is marked Gone when its tree is not found.
TreePhase parsePhase(std::string_view name) {
  for (auto phase : {TreePhase::Reaping, TreePhase::Reaped, TreePhase::Gone, TreePhase::KillFailed})
    if (name == treePhaseName(phase)) return phase;
  return TreePhase::Running;
}

// A TaskRunnerTree as listed back from the apiserver (adoption).
TreeStatus treeFromValue(const Json& item) {
  const Json& metadata = item.field("metadata");
  const Json& spec = item.field("spec");
  const Json& status = item.field("status");
  TreeStatus tree;
  tree.nodeName = stringAt(spec, "nodeName");
  tree.pod = {stringAt(metadata, "namespace"), stringAt(spec, "podName"), stringAt(spec, "podUID")};
  tree.ti = {stringAt(spec, "dagId"), stringAt(spec, "taskId"), stringAt(spec, "runId"),
             intAt(spec, "mapIndex", -1), intAt(spec, "tryNumber", 0)};
  tree.phase = parsePhase(stringAt(status, "phase"));
  tree.taskInstanceState = stringAt(status, "taskInstanceState");
  tree.message = stringAt(status, "message");
  if (auto t = parseTime(stringAt(status, "firstSeen"))) tree.firstSeen = *t;
  if (auto t = parseTime(stringAt(status, "lastSeen"))) tree.lastSeen = *t;
  tree.reapedAt = parseTime(stringAt(status, "reapedAt"));
  return tree;
}

// A NodeReapReport result as read back (adoption); the pod's uid is not in it.
std::optional<ReapResult> resultFromValue(const Json& item) {
  ReapResult result;
  const std::string pod = stringAt(item, "pod");
  const auto slash = pod.find('/');
  const std::string outcome = stringAt(item, "outcome");
  const auto time = parseTime(stringAt(item, "time"));
  if (slash == std::string::npos || !time) return std::nullopt;
  result.time = *time;
  result.pod = {pod.substr(0, slash), pod.substr(slash + 1), ""};
  const Json& ti = item.field("taskInstance");
  result.ti = {stringAt(ti, "dagId"), stringAt(ti, "taskId"), stringAt(ti, "runId"),
               intAt(ti, "mapIndex", -1), intAt(ti, "tryNumber", 0)};
  result.state = stringAt(item, "state");
  result.killed = intAt(item, "killed", 0);
  result.orphans = intAt(item, "orphans", 0);
  for (auto candidate :
       {core::ReapOutcome::Killed, core::ReapOutcome::Failed, core::ReapOutcome::DryRun}) {
    if (outcome == core::reapOutcomeName(candidate)) result.outcome = candidate;
  }
  result.reason = stringAt(item, "reason");
  return result;
}

bool sameStatus(const TreeStatus& a, const TreeStatus& b) {
  return a.phase == b.phase && a.taskInstanceState == b.taskInstanceState && a.message == b.message;
}

}  // namespace

std::string_view treePhaseName(TreePhase phase) {
  switch (phase) {
    case TreePhase::Running:
      return "Running";
    case TreePhase::Reaping:
      return "Reaping";
    case TreePhase::Reaped:
      return "Reaped";
    case TreePhase::Gone:
      return "Gone";
    case TreePhase::KillFailed:
      return "KillFailed";
  }
  return "Running";
}

bool terminalPhase(TreePhase phase) {
  return phase == TreePhase::Reaped || phase == TreePhase::Gone || phase == TreePhase::KillFailed;
}

std::string treeName(const core::PodRef& pod, const core::TaskInstanceKey& ti) {
  std::string prefix = pod.name.substr(0, kPodNamePrefix);
  while (!prefix.empty() && (prefix.back() == '-' || prefix.back() == '.')) prefix.pop_back();
  std::string hash = stableHash(pod.uid + "\n" + ti.toString(), 12);
  return prefix.empty() ? "tree-" + hash : prefix + "-" + hash;
}

std::string nodeLabelValue(const std::string& nodeName) {
  if (nodeName.size() <= kLabelValueLimit) return nodeName;
  return nodeName.substr(0, 50) + "-" + stableHash(nodeName, 12);
}

std::string treeObject(const TreeStatus& tree) {
  Json body;
  body["apiVersion"] = str(std::string(kCrGroupVersion));
  body["kind"] = str("TaskRunnerTree");
  body["metadata"]["name"] = str(treeName(tree.pod, tree.ti));
  body["metadata"]["namespace"] = str(tree.pod.namespaceName);
  body["metadata"]["labels"] = labels(tree.nodeName);
  Json owner;
  owner["apiVersion"] = str("v1");
  owner["kind"] = str("Pod");
  owner["name"] = str(tree.pod.name);
  owner["uid"] = str(tree.pod.uid);
  body["metadata"]["ownerReferences"] = Json::Array{owner};
  Json spec = tiValue(tree.ti);
  spec["nodeName"] = str(tree.nodeName);
  spec["podName"] = str(tree.pod.name);
  spec["podUID"] = str(tree.pod.uid);
  body["spec"] = spec;
  return body.dump();
}

std::string treeStatusPatch(const TreeStatus& tree) {
  Json status;
  status["phase"] = str(std::string(treePhaseName(tree.phase)));
  status["taskInstanceState"] = str(tree.taskInstanceState);
  status["rootPid"] = tree.rootPid;
  status["processes"] = tree.processes;
  status["orphans"] = tree.orphans;
  status["escapees"] = tree.escapees;
  status["firstSeen"] = str(formatTime(tree.firstSeen));
  status["lastSeen"] = str(formatTime(tree.lastSeen));
  status["reapedAt"] = tree.reapedAt ? str(formatTime(*tree.reapedAt)) : Json();
  status["message"] = core::printable(tree.message, kMessageLimit);
  Json patch;
  patch["status"] = status;
  return patch.dump();
}

std::string reportObject(const std::string& nodeName) {
  Json body;
  body["apiVersion"] = str(std::string(kCrGroupVersion));
  body["kind"] = str("NodeReapReport");
  body["metadata"]["name"] = str(nodeName);
  body["metadata"]["labels"] = labels(nodeName);
  return body.dump();
}

std::string reportStatusPatch(const NodeSummary& summary, const std::deque<ReapResult>& results) {
  Json s;
  s["trackedTrees"] = summary.trackedTrees;
  s["trackedProcesses"] = summary.trackedProcesses;
  s["reapedTrees"] = static_cast<int64_t>(summary.reapedTrees);
  s["killedProcesses"] = static_cast<int64_t>(summary.killedProcesses);
  s["orphansReaped"] = static_cast<int64_t>(summary.orphansReaped);
  s["killFailures"] = static_cast<int64_t>(summary.killFailures);
  Json list = Json::Array{};
  for (const auto& r : results) {
    Json entry;
    entry["time"] = str(formatTime(r.time));
    entry["pod"] = str(r.pod.namespaceName + "/" + r.pod.name);
    entry["taskInstance"] = tiValue(r.ti);
    entry["state"] = str(r.state);
    entry["killed"] = r.killed;
    entry["orphans"] = r.orphans;
    entry["outcome"] = str(std::string(core::reapOutcomeName(r.outcome)));
    if (!r.reason.empty()) entry["reason"] = core::printable(r.reason, kMessageLimit);
    list.push(std::move(entry));
  }
  Json patch;
  patch["status"]["summary"] = s;
  patch["status"]["results"] = list;
  return patch.dump();
}

CustomResources::CustomResources(std::unique_ptr<HttpTransport> transport, std::string nodeName,
                                 core::Clock& clock, CustomResourceOptions options)
    : transport_(std::move(transport)),
      nodeName_(std::move(nodeName)),
      clock_(clock),
      options_(options) {}

core::Result<std::unique_ptr<CustomResources>> CustomResources::create(
    const ClientOptions& options, std::string nodeName, core::Clock& clock,
    RequestObserver observer, CustomResourceOptions crOptions) {
  auto transport = makeApiTransport(options, std::move(observer));
  if (!transport) return transport.error();
  return std::make_unique<CustomResources>(std::move(*transport), std::move(nodeName), clock,
                                           crOptions);
}

core::Status CustomResources::adopt() {
  std::string selector = std::string(kManagedByLabel) + "=" + std::string(kManagedByValue) + "," +
                         std::string(kNodeLabel) + "=" + nodeLabelValue(nodeName_);
  auto reply = transport_->send(
      {"GET", kTreesBase + "/taskrunnertrees?labelSelector=" + encodeQueryValue(selector), "", ""});
  if (auto status = statusOf(reply, "list taskrunnertrees", {200}); !status) return status;
  auto list = Json::parse(reply->body);
  if (!list) return core::makeError("list taskrunnertrees: " + list.error().message);
  const Json& items = list->field("items");
  if (!items.isArray()) return core::makeError("list taskrunnertrees: no items");
  for (const Json& item : items.items()) {
    TreeStatus tree = treeFromValue(item);
    if (tree.pod.namespaceName.empty() || tree.pod.uid.empty()) continue;
    Known known{tree, true, false, clock_.wallNow()};
    if (terminalPhase(tree.phase)) known.terminalSince = tree.reapedAt.value_or(tree.lastSeen);
    trees_[tree.pod.namespaceName + "/" + treeName(tree.pod, tree.ti)] = known;
  }
  core::Logger("kube").info("adopted", {{"taskrunnertrees", trees_.size()}});
  return core::Ok{};
}

core::Status CustomResources::upsertTree(const TreeStatus& tree) {
  std::string key = tree.pod.namespaceName + "/" + treeName(tree.pod, tree.ti);
  auto [it, inserted] = trees_.try_emplace(key);
  Known& known = it->second;
  known.seen = true;
  if (!known.created) {
    if (auto status = createTree(tree); !status) return status;
    known.created = true;
  } else if (sameStatus(known.written, tree)) {
    return core::Ok{};
  }
  return writeStatus(known, tree);
}

core::Status CustomResources::markGone(const core::PodRef& pod, const core::TaskInstanceKey& ti) {
  auto it = trees_.find(pod.namespaceName + "/" + treeName(pod, ti));
  if (it == trees_.end() || terminalPhase(it->second.written.phase)) return core::Ok{};
  TreeStatus gone = it->second.written;
  gone.phase = TreePhase::Gone;
  gone.lastSeen = clock_.wallNow();
  return writeStatus(it->second, gone);
}

core::Status CustomResources::cleanup() {
  core::Status result = core::Ok{};
  core::WallTime now = clock_.wallNow();
  for (auto it = trees_.begin(); it != trees_.end();) {
    Known& known = it->second;
    const std::string& nspace = known.written.pod.namespaceName;
    std::string name = it->first.substr(nspace.size() + 1);
    if (!known.seen && !terminalPhase(known.written.phase)) {
      result = markGone(known.written.pod, known.written.ti);
    } else if (terminalPhase(known.written.phase) &&
               now - known.terminalSince >= options_.treeRetention) {
      if (auto status = deleteTree(name, nspace); !status) {
        result = status;
      } else {
        it = trees_.erase(it);
        continue;
      }
    }
    known.seen = false;
    ++it;
  }
  return result;
}

core::Status CustomResources::createTree(const TreeStatus& tree) {
  auto reply = transport_->send(
      {"POST", treesPath(tree.pod.namespaceName), treeObject(tree), "application/json"});
  return statusOf(reply, "create taskrunnertree", {200, 201, 409});
}

core::Status CustomResources::writeStatus(Known& known, const TreeStatus& tree) {
  std::string path =
      treesPath(tree.pod.namespaceName) + "/" + treeName(tree.pod, tree.ti) + "/status";
  auto reply =
      transport_->send({"PATCH", path, treeStatusPatch(tree), "application/merge-patch+json"});
  if (reply && reply->status == 404) known.created = false;  // deleted (its Pod went): recreate
  if (auto status = statusOf(reply, "write taskrunnertree status", {200}); !status) return status;
  if (terminalPhase(tree.phase) && !terminalPhase(known.written.phase)) {
    known.terminalSince = tree.reapedAt.value_or(clock_.wallNow());
  }
  known.written = tree;
  return core::Ok{};
}

core::Status CustomResources::deleteTree(const std::string& name, const std::string& nspace) {
  auto reply = transport_->send({"DELETE", treesPath(nspace) + "/" + name, "", ""});
  return statusOf(reply, "delete taskrunnertree", {200, 202, 404});
}

void CustomResources::setSummary(const NodeSummary& summary) {
  if (summary.trackedTrees == summary_.trackedTrees &&
      summary.trackedProcesses == summary_.trackedProcesses &&
      summary.reapedTrees == summary_.reapedTrees &&
      summary.killedProcesses == summary_.killedProcesses &&
      summary.orphansReaped == summary_.orphansReaped &&
      summary.killFailures == summary_.killFailures) {
    return;
  }
  summary_ = summary;
  reportDirty_ = true;
}

void CustomResources::recordResult(const ReapResult& result) {
  results_.push_back(result);
  while (results_.size() > kReportResults) results_.pop_front();
  reportDirty_ = true;
}

core::Status CustomResources::flushReport() {
  core::SteadyTime now = clock_.now();
  if (!reportDirty_) return core::Ok{};
  if (reportWritten_ && now - *reportWritten_ < options_.reportInterval) return core::Ok{};
  if (!reportCreated_) {
    if (auto status = createReport(); !status) return status;
    reportCreated_ = true;
  }
  NodeSummary total = summary_;
  total.reapedTrees += carried_.reapedTrees;
  total.killedProcesses += carried_.killedProcesses;
  total.orphansReaped += carried_.orphansReaped;
  total.killFailures += carried_.killFailures;
  auto reply =
      transport_->send({"PATCH", reportsPath() + "/" + nodeName_ + "/status",
                        reportStatusPatch(total, results_), "application/merge-patch+json"});
  reportWritten_ = now;  // also after a failure: a struggling apiserver is not retried sooner
  if (reply && reply->status == 404) reportCreated_ = false;
  if (auto status = statusOf(reply, "write nodereapreport status", {200}); !status) return status;
  reportDirty_ = false;
  return core::Ok{};
}

// An existing report (409) is an earlier agent's: adopted before this one writes over it.
core::Status CustomResources::createReport() {
  auto reply =
      transport_->send({"POST", reportsPath(), reportObject(nodeName_), "application/json"});
  if (auto status = statusOf(reply, "create nodereapreport", {200, 201, 409}); !status)
    return status;
  if (reply->status != 409 || reportAdopted_) return core::Ok{};
  return adoptReport();
}

core::Status CustomResources::adoptReport() {
  auto reply = transport_->send({"GET", reportsPath() + "/" + nodeName_, "", ""});
  if (auto status = statusOf(reply, "read nodereapreport", {200}); !status) return status;
  auto report = Json::parse(reply->body);
  if (!report) return core::makeError("read nodereapreport: " + report.error().message);
  const Json& status = report->field("status");
  const Json& summary = status.field("summary");
  const auto counter = [&](const char* key) { return summary.field(key).integer().value_or(0); };
  carried_.reapedTrees = counter("reapedTrees");
  carried_.killedProcesses = counter("killedProcesses");
  carried_.orphansReaped = counter("orphansReaped");
  carried_.killFailures = counter("killFailures");
  std::deque<ReapResult> earlier;
  if (status.field("results").isArray()) {
    for (const Json& item : status.field("results").items()) {
      if (auto result = resultFromValue(item)) earlier.push_back(std::move(*result));
    }
  }
  results_.insert(results_.begin(), earlier.begin(), earlier.end());
  while (results_.size() > kReportResults) results_.pop_front();
  reportAdopted_ = true;
  core::Logger("kube").info("adopted",
                            {{"nodereapreport", nodeName_}, {"results", earlier.size()}});
  return core::Ok{};
}

}  // namespace reaper::kube
