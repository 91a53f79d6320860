#pragma once
// Task-runner trees: which processes run which TaskInstance attempt (contract: "What is a
// task-runner tree").
//
// Roots are processes whose command line or title names a task (Airflow 2 `tasks run`, runner and
// supervisor titles; Airflow 3 task process and KubernetesExecutor workload) and that have no such
// ancestor. Their descendants by parent chain are members. Processes whose environment carries
// AIRFLOW_CTX_* join the tree of that key however far they were reparented (orphans, setsid
// escapees, double-forked daemons); with no live tree of that key they form their own.
// Never members: long-lived workers (Celery main and pool processes, LocalExecutor workers, the
// scheduler and other daemons), the agent itself, kernel threads, pid <= 1, a namespace's pid 1
// whose parent is not a member (unless it is itself the task's root), processes not `eligible`.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/types.h"
#include "proc/snapshot.h"

namespace reaper::proc {

struct TreeMember {
  core::ProcessIdentity id;
  core::Pid ppid = 0;
  core::Pid pgid = 0;
  core::Pid sid = 0;
  std::vector<std::string> argv;
  bool orphan = false;   // its parent is not a member: it was reparented
  bool escapee = false;  // another session or process group than the root's
  bool dead = false;     // a zombie: its parent reaps it, nobody signals it
};

struct TaskTree {
  // From the environment, an Airflow 2 command line or a KubernetesExecutor workload. tryNumber 0:
  // no process told the try; mapIndex -1 also when no process told it.
  std::optional<core::TaskInstanceKey> key;
  // false: no process told the map index (most environments do not export it), so key's -1 may
  // stand for any index of a mapped task; tiUuid, when present, names the TI exactly.
  bool mapIndexKnown = false;
  std::string tiUuid;  // Airflow 3 title `airflow worker -- <uuid>` (may be the only identity)
  core::ProcessIdentity root;
  core::Duration age{0};            // of the oldest member
  std::vector<TreeMember> members;  // the root first
  bool ambiguous = false;           // never killed
  std::string ambiguity;
};

struct IdentityOptions {
  core::Pid selfPid = 0;
  // Extra confinement (kubernetes mode: in a pod); empty: every process is eligible.
  std::function<bool(const Process&)> eligible;
};

std::vector<TaskTree> identifyTrees(const ProcessSnapshot& snapshot,
                                    const IdentityOptions& options);

// The same attempt: by key when both have one, else by TI uuid, else by root process.
bool sameTree(const TaskTree& a, const TaskTree& b);

}  // namespace reaper::proc
