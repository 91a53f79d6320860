#include "loop/scan_output.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <map>

#include "core/json.h"
#include "core/printable.h"
#include "core/redact.h"

namespace reaper::loop {
namespace {

using core::Json;
constexpr size_t kMaxCommandLine = 512;
constexpr size_t kTableCommandLine = 160;

// Dag ids, run ids and reasons are foreign bytes: printable, as everything that leaves the agent.
Json text(const std::string& s) { return core::printable(s); }

Json podJson(const Target& target) {
  if (!target.pod) return nullptr;
  Json pod;
  pod["namespace"] = text(target.pod->namespaceName);
  pod["name"] = text(target.pod->name);
  pod["uid"] = text(target.pod->uid);
  return pod;
}

Json tiJson(const Target& target) {
  if (!target.tree.key) return nullptr;
  const auto& key = *target.tree.key;
  Json ti;
  ti["dag_id"] = text(key.dagId);
  ti["task_id"] = text(key.taskId);
  ti["run_id"] = text(key.runId);
  ti["map_index"] = key.mapIndex;
  ti["try_number"] = key.tryNumber;
  return ti;
}

Json stateJson(const airflow::TaskInstanceStatus& status) {
  if (status.lookup != airflow::Lookup::Found || !status.state) return nullptr;
  return text(*status.state);
}

Json processesJson(const Target& target) {
  Json processes = Json::Array{};
  for (const auto& member : target.tree.members) {
    Json process;
    process["pid"] = member.id.pid;
    process["ppid"] = member.ppid;
    process["pgid"] = member.pgid;
    process["sid"] = member.sid;
    process["cmdline"] = core::redactedCommandLine(member.commandLine.words(), kMaxCommandLine);
    process["orphan"] = member.orphan;
    process["escapee"] = member.escapee;
    processes.push(std::move(process));
  }
  return processes;
}

Json treeJson(const Assessment& assessment) {
  Json tree;
  tree["pod"] = podJson(assessment.target);
  tree["ti"] = tiJson(assessment.target);
  tree["ti_uuid"] =
      assessment.target.tree.tiUuid.empty() ? Json() : text(assessment.target.tree.tiUuid);
  tree["state"] = stateJson(assessment.status);
  tree["processes"] = processesJson(assessment.target);
  tree["action"] = reconcile::actionName(assessment.decision.action);
  tree["reason"] = text(assessment.decision.reason);
  return tree;
}

using Rows = std::vector<std::vector<std::string>>;

// Each row's cells padded to their column's widest cell, three spaces apart (as kubectl prints);
// the last column is not padded.
std::vector<std::string> alignColumns(const Rows& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::vector<std::string> lines;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size() + 3, ' ');
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

std::string podLabel(const core::PodRef& pod) { return pod.namespaceName + "/" + pod.name; }

void appendMembers(const Target& target, Rows& rows) {
  for (const auto& m : target.tree.members) {
    std::string flags = m.orphan ? "orphan" : "";
    if (m.escapee) flags += flags.empty() ? "escapee" : ",escapee";
    rows.push_back({"pid=" + std::to_string(m.id.pid), "ppid=" + std::to_string(m.ppid),
                    "pgid=" + std::to_string(m.pgid), "sid=" + std::to_string(m.sid),
                    flags.empty() ? "-" : flags,
                    core::redactedCommandLine(m.commandLine.words(), kTableCommandLine)});
  }
}

}  // namespace

bool matches(const ScanFilter& filter, const Assessment& assessment) {
  const Target& target = assessment.target;
  if (filter.state && *filter.state != stateLabel(assessment.status)) return false;
  if (filter.dag && (!target.tree.key || target.tree.key->dagId != *filter.dag)) return false;
  if (filter.pod) {
    if (!target.pod) return false;
    const bool qualified = filter.pod->find('/') != std::string::npos;
    if (*filter.pod != (qualified ? podLabel(*target.pod) : target.pod->name)) return false;
  }
  return true;
}

std::string scanJson(const std::vector<Assessment>& assessments) {
  Json trees = Json::Array{};
  for (const auto& assessment : assessments) trees.push(treeJson(assessment));
  Json document;
  document["trees"] = std::move(trees);
  return document.dump() + "\n";
}

std::string scanTable(const std::vector<Assessment>& assessments, bool processes, size_t total) {
  Rows rows{{"POD", "TI", "STATE", "ACTION", "PROCESSES", "ORPHANS", "REASON"}};
  Rows members;
  std::vector<size_t> firstMember;  // per tree: its first row in `members`
  std::map<std::string, size_t> byAction;
  size_t processCount = 0, orphanCount = 0;
  for (const auto& a : assessments) {
    const auto& target = a.target;
    const std::string action(reconcile::actionName(a.decision.action));
    rows.push_back({core::printable(target.pod ? podLabel(*target.pod) : "-"),
                    core::printable(target.label()), core::printable(stateLabel(a.status)), action,
                    std::to_string(target.tree.members.size()),
                    std::to_string(target.orphanCount()), core::printable(a.decision.reason)});
    ++byAction[action];
    processCount += target.tree.members.size();
    orphanCount += target.orphanCount();
    firstMember.push_back(members.size());
    if (processes) appendMembers(target, members);
  }
  const std::vector<std::string> treeLines = alignColumns(rows);
  const std::vector<std::string> memberLines = alignColumns(members);
  std::string out = treeLines[0] + "\n";
  for (size_t i = 0; i < assessments.size(); ++i) {
    out += treeLines[i + 1] + "\n";
    const size_t end = i + 1 < firstMember.size() ? firstMember[i + 1] : memberLines.size();
    for (size_t m = firstMember[i]; m < end; ++m) out += "    " + memberLines[m] + "\n";
  }
  out += fmt::format("{} tree{}", assessments.size(), assessments.size() == 1 ? "" : "s");
  if (assessments.size() != total) out += fmt::format(" (of {} on this node)", total);
  out += fmt::format(": {} kill, {} keep, {} unknown; {} processes, {} orphans or escapees\n",
                     byAction["kill"], byAction["keep"], byAction["unknown"], processCount,
                     orphanCount);
  return out;
}

}  // namespace reaper::loop
