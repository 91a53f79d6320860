#pragma once
// Pure parsers for the /proc files discovery reads. They take the raw bytes and never trust them:
// malformed input gives an error (or an empty result), never a crash.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/types.h"
#include "os/proc_stat.h"

namespace reaper::proc {

// /proc/PID/stat is parsed in os, whose signaller reads it too.
using os::kPfKthread;
using os::parseStat;
using os::StatFields;

// /proc/PID/status fields discovery needs.
struct StatusFields {
  core::Pid tgid = 0;
  uid_t realUid = 0;
  uid_t effectiveUid = 0;
  std::vector<core::Pid> nsPids;  // outermost (the reader's namespace) first, innermost last
  std::optional<bool> kthread;    // "Kthread:" line (Linux 6.x); absent on older kernels
};

// The AIRFLOW_CTX_* values of one environment. Nothing else of the environment is kept.
struct AirflowContext {
  std::string dagId;
  std::string taskId;
  std::string runId;
  int tryNumber = 0;  // 0: not exported
  int mapIndex = -1;
  bool hasMapIndex = false;  // AIRFLOW_CTX_MAP_INDEX was exported
  // Enough to name a TaskInstance: dag, task and run ids.
  bool complete() const { return !dagId.empty() && !taskId.empty() && !runId.empty(); }
  core::TaskInstanceKey key() const;
};

// One /proc/PID/cgroup line: "hierarchy-id:controllers:path" (cgroup v2: "0::/path").
struct CgroupEntry {
  int hierarchyId = 0;
  std::string controllers;
  std::string path;
  bool operator==(const CgroupEntry&) const = default;
};

core::Result<StatusFields> parseStatus(std::string_view text);
// NUL-separated arguments; a missing trailing NUL is tolerated, the NUL padding setproctitle leaves
// is dropped, and a title rewritten with spaces stays one argument. Empty for kernel
// threads/zombies.
std::vector<std::string> parseCmdline(std::string_view text);
// Tolerates non-UTF-8 bytes anywhere; an AIRFLOW_CTX_* value that is not valid UTF-8 is dropped.
AirflowContext parseAirflowContext(std::string_view environ);
// Malformed lines are skipped.
std::vector<CgroupEntry> parseCgroup(std::string_view text);

}  // namespace reaper::proc
