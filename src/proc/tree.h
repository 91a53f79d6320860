#pragma once
// Task-runner trees: which processes run which TaskInstance attempt (contract: "What is a
// task-runner tree", "Identity").
//
// Identity is per attempt and never borrowed:
// - Roots are processes whose own command line or title names a task (Airflow 2 `tasks run`,
//   runner and supervisor titles; Airflow 3 task process and KubernetesExecutor workload) and that
//   have no such ancestor. A root's own title fixes its attempt; its own environment is ignored
//   (it may be inherited from a long-lived worker). Two live roots of one TI are two trees.
// - Descendants take the attempt of their nearest root. Their own evidence (an environment set by
//   the task process, a task title below the root) may fill what the root's title leaves unknown
//   (the try of an Airflow 2 `tasks run`, the uuid under a `--json-path` workload) when it all
//   agrees; evidence that contradicts the root's attempt makes that member and its descendants an
//   ambiguous tree of their own (never killed). Nothing ever re-keys a tree.
// - The environment (AIRFLOW_CTX_*) decides only for processes with no root ancestor: carriers
//   (orphans, setsid escapees, double-forked daemons) form trees of their own, one per
//   environment key and placement, with their descendants.
// - Parent links never cross placements (kubernetes mode: pods), so no identity crosses a pod.
// Never members: long-lived workers (Celery main and pool processes, LocalExecutor workers, the
// scheduler and other daemons), the agent itself, kernel threads, pid <= 1, a namespace's pid 1
// whose parent is not a member (unless it is itself the task's root), processes with no placement.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/types.h"
#include "proc/airflow_process.h"
#include "proc/snapshot.h"

namespace reaper::proc {

// What a member's own evidence says its attempt is (below a root: its environment or its own task
// title; a carrier: its environment), where it says more than, or other than, what fixed the tree.
struct Claim {
  PartialKey key;
  std::string tiUuid;
};

struct TreeMember {
  core::ProcessIdentity id;
  core::Pid ppid = 0;
  core::Pid pgid = 0;
  core::Pid sid = 0;
  CommandLine commandLine;
  bool orphan = false;   // its parent is not a member: it was reparented
  bool escapee = false;  // another session or process group than the root's
  bool dead = false;     // a zombie: its parent reaps it, nobody signals it
  std::optional<Claim> claim;
  core::Pid ownPid = 0;  // in its own PID namespace (Process::ownPid)
};

// Where the attempt's identity came from.
enum class Origin {
  Root,         // a root's own title or arguments
  Environment,  // AIRFLOW_CTX_* of carriers with no root ancestor
  Pod,          // a KubernetesExecutor pod's annotations
  Split,        // members whose evidence contradicted their root: ambiguous
};

struct TaskTree {
  // tryNumber 0: nothing told the try; mapIndex -1 also when nothing told it (mapIndexKnown).
  std::optional<core::TaskInstanceKey> key;
  bool mapIndexKnown = false;
  std::string tiUuid;  // Airflow 3 title `airflow worker -- <uuid>` (may be the only identity)
  Origin origin = Origin::Root;
  core::ProcessIdentity root;  // the tree's identity across polls
  std::string placement;       // the pod uid in kubernetes mode; empty in host mode
  core::Duration age{0};       // of the oldest member
  // Of the youngest process whose own evidence fixed the attempt (the root; the youngest carrier):
  // what the try rule compares with the API's queue time.
  core::Duration attemptAge{0};
  std::vector<TreeMember> members;  // the root first
  bool ambiguous = false;           // never killed
  std::string ambiguity;
};

struct IdentityOptions {
  core::Pid selfPid = 0;
  // Where a process is (kubernetes mode: its pod's uid), a string that outlives identifyTrees();
  // null: nowhere eligible, never a member. Parent links between placements are cut. Empty: every
  // process is eligible, in one placement.
  std::function<const std::string*(const Process&)> placement;
};

std::vector<TaskTree> identifyTrees(const ProcessSnapshot& snapshot,
                                    const IdentityOptions& options);

// Gives `tree` its now known `key` (an Airflow 3 uuid resolved through the API) and checks its
// members' claims against it: members whose evidence names another attempt move, with their
// descendants, into ambiguous trees, which are returned.
std::vector<TaskTree> settleKey(TaskTree& tree, const core::TaskInstanceKey& key);

}  // namespace reaper::proc
