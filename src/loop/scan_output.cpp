#include "loop/scan_output.h"

// fmt 9 (under spdlog) breaks when a cpprestsdk header comes first.
// clang-format off
#include <spdlog/fmt/fmt.h>
#include <cpprest/json.h>
// clang-format on

#include "core/redact.h"

namespace reaper::loop {
namespace {

using web::json::value;
constexpr size_t kMaxCommandLine = 512;

value podJson(const Target& target) {
  if (!target.pod) return value::null();
  value pod = value::object();
  pod["namespace"] = value::string(target.pod->namespaceName);
  pod["name"] = value::string(target.pod->name);
  pod["uid"] = value::string(target.pod->uid);
  return pod;
}

value tiJson(const Target& target) {
  if (!target.tree.key) return value::null();
  const auto& key = *target.tree.key;
  value ti = value::object();
  ti["dag_id"] = value::string(key.dagId);
  ti["task_id"] = value::string(key.taskId);
  ti["run_id"] = value::string(key.runId);
  ti["map_index"] = value::number(key.mapIndex);
  ti["try_number"] = value::number(key.tryNumber);
  return ti;
}

value stateJson(const airflow::TaskInstanceStatus& status) {
  if (status.lookup != airflow::Lookup::Found || !status.state) return value::null();
  return value::string(*status.state);
}

value processesJson(const Target& target) {
  value processes = value::array();
  size_t i = 0;
  for (const auto& member : target.tree.members) {
    value process = value::object();
    process["pid"] = value::number(member.id.pid);
    process["ppid"] = value::number(member.ppid);
    process["pgid"] = value::number(member.pgid);
    process["sid"] = value::number(member.sid);
    process["cmdline"] = value::string(core::redactedCommandLine(member.argv, kMaxCommandLine));
    process["orphan"] = value::boolean(member.orphan);
    process["escapee"] = value::boolean(member.escapee);
    processes[i++] = process;
  }
  return processes;
}

value treeJson(const Assessment& assessment) {
  value tree = value::object();
  tree["pod"] = podJson(assessment.target);
  tree["ti"] = tiJson(assessment.target);
  tree["ti_uuid"] = assessment.target.tree.tiUuid.empty()
                        ? value::null()
                        : value::string(assessment.target.tree.tiUuid);
  tree["state"] = stateJson(assessment.status);
  tree["processes"] = processesJson(assessment.target);
  tree["action"] = value::string(std::string(reconcile::actionName(assessment.decision.action)));
  tree["reason"] = value::string(assessment.decision.reason);
  return tree;
}

}  // namespace

std::string scanJson(const std::vector<Assessment>& assessments) {
  value trees = value::array();
  for (size_t i = 0; i < assessments.size(); ++i) trees[i] = treeJson(assessments[i]);
  value document = value::object();
  document["trees"] = trees;
  return document.serialize() + "\n";
}

std::string scanTable(const std::vector<Assessment>& assessments) {
  std::string out = fmt::format("{:<48} {:<24} {:<10} {:>5} {:>7}  {}\n", "TASK INSTANCE", "POD",
                                "STATE", "PROCS", "ACTION", "REASON");
  for (const auto& a : assessments) {
    const std::string pod =
        a.target.pod ? a.target.pod->namespaceName + "/" + a.target.pod->name : "-";
    out += fmt::format("{:<48} {:<24} {:<10} {:>5} {:>7}  {}\n", a.target.label(), pod,
                       stateLabel(a.status), a.target.tree.members.size(),
                       reconcile::actionName(a.decision.action), a.decision.reason);
    for (const auto& m : a.target.tree.members) {
      out += fmt::format("    pid={} ppid={} pgid={} sid={}{}{} {}\n", m.id.pid, m.ppid, m.pgid,
                         m.sid, m.orphan ? " orphan" : "", m.escapee ? " escapee" : "",
                         core::redactedCommandLine(m.argv, 160));
    }
  }
  if (assessments.empty()) out += "(no task-runner trees on this node)\n";
  return out;
}

}  // namespace reaper::loop
