#include "kube/custom_resources.h"

#include <spdlog/spdlog.h>  // before cpprest: fmt 9 clashes otherwise
//
#include <cpprest/json.h>

#include "core/log.h"
#include "core/printable.h"
#include "kube/api_time.h"

namespace reaper::kube {
namespace {

using web::json::value;

constexpr size_t kPodNamePrefix = 40;
constexpr size_t kLabelValueLimit = 63;
constexpr size_t kMessageLimit = 1024;  // the CRD's maxLength
const std::string kTreesBase = "/apis/airflowreaper.io/v1alpha1";

std::string treesPath(const std::string& nspace) {
  return kTreesBase + "/namespaces/" + encodeQueryValue(nspace) + "/taskrunnertrees";
}

std::string reportsPath() { return kTreesBase + "/nodereapreports"; }

// Every string leaves the agent printable: dag and run ids are foreign bytes.
value str(const std::string& s) { return value::string(core::printable(s)); }

value labels(const std::string& nodeName) {
  value out = value::object();
  out[std::string(kManagedByLabel)] = str(std::string(kManagedByValue));
  out["app.kubernetes.io/name"] = str("airflow-reaper");
  out[std::string(kNodeLabel)] = str(nodeLabelValue(nodeName));
  return out;
}

value tiValue(const core::TaskInstanceKey& ti) {
  value out = value::object();
  out["dagId"] = str(ti.dagId);
  out["taskId"] = str(ti.taskId);
  out["runId"] = str(ti.runId);
  out["mapIndex"] = value::number(ti.mapIndex);
  out["tryNumber"] = value::number(ti.tryNumber);
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

std::string stringAt(const value& object, const char* key) {
  if (!object.is_object() || !object.has_field(key) || !object.at(key).is_string()) return "";
  return object.at(key).as_string();
}

int intAt(const value& object, const char* key, int fallback) {
  if (!object.is_object() || !object.has_field(key) || !object.at(key).is_integer()) {
    return fallback;
  }
  return object.at(key).as_integer();
}

const value& fieldOrNull(const value& object, const char* key) {
  static const value kNull;
  return object.is_object() && object.has_field(key) ? object.at(key) : kNull;
}

// A TaskRunnerTree as listed back from the apiserver (adoption).
TreeStatus treeFromValue(const value& item) {
  const value& metadata = fieldOrNull(item, "metadata");
  const value& spec = fieldOrNull(item, "spec");
  const value& status = fieldOrNull(item, "status");
  TreeStatus tree;
  tree.nodeName = stringAt(spec, "nodeName");
  tree.pod = {stringAt(metadata, "namespace"), stringAt(spec, "podName"), stringAt(spec, "podUID")};
  tree.ti = {stringAt(spec, "dagId"), stringAt(spec, "taskId"), stringAt(spec, "runId"),
             intAt(spec, "mapIndex", -1), intAt(spec, "tryNumber", 0)};
  tree.phase = stringAt(status, "phase");
  tree.taskInstanceState = stringAt(status, "taskInstanceState");
  tree.message = stringAt(status, "message");
  if (auto t = parseTime(stringAt(status, "firstSeen"))) tree.firstSeen = *t;
  if (auto t = parseTime(stringAt(status, "lastSeen"))) tree.lastSeen = *t;
  tree.reapedAt = parseTime(stringAt(status, "reapedAt"));
  return tree;
}

bool sameStatus(const TreeStatus& a, const TreeStatus& b) {
  return a.phase == b.phase && a.taskInstanceState == b.taskInstanceState && a.message == b.message;
}

}  // namespace

bool terminalPhase(const std::string& phase) {
  return phase == "Reaped" || phase == "Gone" || phase == "KillFailed";
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
  value body = value::object();
  body["apiVersion"] = str(std::string(kCrGroupVersion));
  body["kind"] = str("TaskRunnerTree");
  body["metadata"]["name"] = str(treeName(tree.pod, tree.ti));
  body["metadata"]["namespace"] = str(tree.pod.namespaceName);
  body["metadata"]["labels"] = labels(tree.nodeName);
  value owner = value::object();
  owner["apiVersion"] = str("v1");
  owner["kind"] = str("Pod");
  owner["name"] = str(tree.pod.name);
  owner["uid"] = str(tree.pod.uid);
  body["metadata"]["ownerReferences"] = value::array({owner});
  value spec = tiValue(tree.ti);
  spec["nodeName"] = str(tree.nodeName);
  spec["podName"] = str(tree.pod.name);
  spec["podUID"] = str(tree.pod.uid);
  body["spec"] = spec;
  return body.serialize();
}

std::string treeStatusPatch(const TreeStatus& tree) {
  value status = value::object();
  status["phase"] = str(tree.phase);
  status["taskInstanceState"] = str(tree.taskInstanceState);
  status["rootPid"] = value::number(tree.rootPid);
  status["processes"] = value::number(tree.processes);
  status["orphans"] = value::number(tree.orphans);
  status["escapees"] = value::number(tree.escapees);
  status["firstSeen"] = str(formatTime(tree.firstSeen));
  status["lastSeen"] = str(formatTime(tree.lastSeen));
  status["reapedAt"] = tree.reapedAt ? str(formatTime(*tree.reapedAt)) : value::null();
  status["message"] = value::string(core::printable(tree.message, kMessageLimit));
  value patch = value::object();
  patch["status"] = status;
  return patch.serialize();
}

std::string reportObject(const std::string& nodeName) {
  value body = value::object();
  body["apiVersion"] = str(std::string(kCrGroupVersion));
  body["kind"] = str("NodeReapReport");
  body["metadata"]["name"] = str(nodeName);
  body["metadata"]["labels"] = labels(nodeName);
  return body.serialize();
}

std::string reportStatusPatch(const NodeSummary& summary, const std::deque<ReapResult>& results) {
  value s = value::object();
  s["trackedTrees"] = value::number(summary.trackedTrees);
  s["trackedProcesses"] = value::number(summary.trackedProcesses);
  s["reapedTrees"] = value::number(static_cast<int64_t>(summary.reapedTrees));
  s["killedProcesses"] = value::number(static_cast<int64_t>(summary.killedProcesses));
  s["orphansReaped"] = value::number(static_cast<int64_t>(summary.orphansReaped));
  s["killFailures"] = value::number(static_cast<int64_t>(summary.killFailures));
  value list = value::array();
  size_t i = 0;
  for (const auto& r : results) {
    value entry = value::object();
    entry["time"] = str(formatTime(r.time));
    entry["pod"] = str(r.pod.namespaceName + "/" + r.pod.name);
    entry["taskInstance"] = tiValue(r.ti);
    entry["state"] = str(r.state);
    entry["killed"] = value::number(r.killed);
    entry["orphans"] = value::number(r.orphans);
    entry["outcome"] = str(std::string(core::reapOutcomeName(r.outcome)));
    if (!r.reason.empty())
      entry["reason"] = value::string(core::printable(r.reason, kMessageLimit));
    list[i++] = entry;
  }
  value patch = value::object();
  patch["status"]["summary"] = s;
  patch["status"]["results"] = list;
  return patch.serialize();
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
  try {
    value list = value::parse(reply->body);
    const value& items = fieldOrNull(list, "items");
    if (!items.is_array()) return core::makeError("list taskrunnertrees: no items");
    for (const value& item : items.as_array()) {
      TreeStatus tree = treeFromValue(item);
      if (tree.pod.namespaceName.empty() || tree.pod.uid.empty()) continue;
      Known known{tree, true, false, clock_.wallNow()};
      if (terminalPhase(tree.phase)) known.terminalSince = tree.reapedAt.value_or(tree.lastSeen);
      trees_[tree.pod.namespaceName + "/" + treeName(tree.pod, tree.ti)] = known;
    }
  } catch (const std::exception& e) {
    return core::makeError(std::string("list taskrunnertrees: ") + e.what());
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
  gone.phase = "Gone";
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
  auto reply =
      transport_->send({"PATCH", reportsPath() + "/" + nodeName_ + "/status",
                        reportStatusPatch(summary_, results_), "application/merge-patch+json"});
  reportWritten_ = now;  // also after a failure: a struggling apiserver is not retried sooner
  if (reply && reply->status == 404) reportCreated_ = false;
  if (auto status = statusOf(reply, "write nodereapreport status", {200}); !status) return status;
  reportDirty_ = false;
  return core::Ok{};
}

core::Status CustomResources::createReport() {
  auto reply =
      transport_->send({"POST", reportsPath(), reportObject(nodeName_), "application/json"});
  return statusOf(reply, "create nodereapreport", {200, 201, 409});
}

}  // namespace reaper::kube
