#pragma once
// One process as discovery saw it.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/types.h"
#include "proc/parsers.h"

namespace reaper::proc {

struct Process {
  core::Pid pid = 0;
  core::Pid ppid = 0;
  core::Pid pgid = 0;
  core::Pid sid = 0;
  uint64_t startTicks = 0;
  char state = '?';
  std::string comm;
  std::vector<core::Pid> nsPids;  // outermost first; innermost last
  uid_t uid = 0;                  // real uid
  std::vector<std::string> argv;
  std::optional<AirflowContext> context;  // only when the environment names a TaskInstance
  std::vector<CgroupEntry> cgroups;
  bool kernelThread = false;

  core::ProcessIdentity identity() const { return {pid, startTicks}; }
  bool zombie() const { return state == 'Z' || state == 'X'; }
  // Pid 1 of a nested PID namespace (a container's init), as its innermost NSpid says.
  bool namespaceInit() const { return nsPids.size() > 1 && nsPids.back() == 1; }
};

}  // namespace reaper::proc
