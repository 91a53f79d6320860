#pragma once
// Every process under a proc root, captured once per scan.
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "os/proc_fs.h"
#include "proc/process.h"

namespace reaper::proc {

// Bounds on what one scan reads per process. AIRFLOW_CTX_* are appended late to an environment, so
// the environ bound is generous (a pod's service variables can fill tens of KiB).
inline constexpr size_t kStatMaxBytes = 4096;
inline constexpr size_t kStatusMaxBytes = 16 * 1024;
inline constexpr size_t kCmdlineMaxBytes = 128 * 1024;
inline constexpr size_t kEnvironMaxBytes = 256 * 1024;
inline constexpr size_t kCgroupMaxBytes = 16 * 1024;

struct CaptureOptions {
  // Each /proc file costs a syscall round trip; host mode never looks at cgroup lines.
  bool cgroups = true;
};

class ProcessSnapshot {
 public:
  // Processes vanishing mid-read are skipped silently; an unreadable environ means no context.
  static ProcessSnapshot capture(os::ProcFs& fs, CaptureOptions options = {});
  // For tests and callers that already hold the processes.
  ProcessSnapshot(std::vector<Process> processes, double uptimeSeconds, long clockTicksPerSecond);

  const std::vector<Process>& processes() const { return processes_; }
  const Process* find(core::Pid pid) const;
  std::vector<const Process*> childrenOf(core::Pid pid) const;
  // Time since the process started, from /proc/uptime and its start time; 0 if it looks negative.
  core::Duration ageOf(const Process& process) const;

 private:
  std::vector<Process> processes_;
  std::unordered_map<core::Pid, size_t> byPid_;
  std::unordered_multimap<core::Pid, size_t> byParent_;
  double uptimeSeconds_ = 0;
  long clockTicksPerSecond_ = 100;
};

}  // namespace reaper::proc
