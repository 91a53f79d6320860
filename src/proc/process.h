#pragma once
// One process as discovery saw it.
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/types.h"
#include "proc/airflow_process.h"
#include "proc/parsers.h"

namespace reaper::proc {

// A process's command line (its argv, or the title setproctitle wrote over it) and what it says
// about the process's role in Airflow, recognised once when it is read. Immutable and shared:
// a process is re-read only when its command line changes, and the trees of every poll refer to
// it instead of copying it.
class CommandLine {
 public:
  CommandLine() = default;
  explicit CommandLine(std::vector<std::string> words);

  const std::vector<std::string>& words() const;
  const Recognition& recognition() const;
  bool empty() const { return words().empty(); }
  bool operator==(const CommandLine& other) const;

 private:
  struct Recognised;
  std::shared_ptr<const Recognised> recognised_;  // null: empty
};

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
  CommandLine commandLine;
  // The TaskInstance its environment names (AIRFLOW_CTX_*), only when it names one.
  std::optional<PartialKey> context;
  std::vector<CgroupEntry> cgroups;
  bool kernelThread = false;

  core::ProcessIdentity identity() const { return {pid, startTicks}; }
  bool zombie() const { return state == 'Z' || state == 'X'; }
  // Pid 1 of a nested PID namespace (a container's init), as its innermost NSpid says.
  bool namespaceInit() const { return nsPids.size() > 1 && nsPids.back() == 1; }
  // Its pid in its own PID namespace: what os.getpid() tells the process (and Airflow records).
  core::Pid ownPid() const { return nsPids.empty() ? pid : nsPids.back(); }
};

}  // namespace reaper::proc
