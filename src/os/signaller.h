#pragma once
// Race-free signalling: every signal goes through a handle (a pidfd) opened to exactly one process,
// so a pid reused after its owner died is never hit.
#include <memory>

#include "core/result.h"
#include "core/types.h"

namespace reaper::os {

// An open reference to one process; it keeps referring to that process even after its pid is
// reused.
class ProcessHandle {
 public:
  virtual ~ProcessHandle() = default;
  virtual core::ProcessIdentity identity() const = 0;
};

class Signaller {
 public:
  virtual ~Signaller() = default;
  // Opens a handle to exactly this process: fails if it is gone or the pid now belongs to another
  // process (start time differs, checked after the handle is open).
  virtual core::Result<std::unique_ptr<ProcessHandle>> open(
      const core::ProcessIdentity& process) = 0;
  // Opens a handle to whatever process holds `pid` now and reads its start time after opening. The
  // caller must confirm membership (e.g. still listed in cgroup.procs) after this returns.
  virtual core::Result<std::unique_ptr<ProcessHandle>> openCurrent(core::Pid pid) = 0;
  // Sends `sig`; a process that is already gone counts as success.
  virtual core::Status signal(ProcessHandle& process, int sig) = 0;
  // True once the process has exited (a zombie has exited: its parent reaps it, not us).
  virtual bool exited(ProcessHandle& process) = 0;
  // The state letter of /proc/PID/stat ('D' uninterruptible, 'T' stopped, 'Z' exited but not yet
  // reaped, so still holding its pid), 'X' once gone.
  virtual char state(ProcessHandle& process) = 0;
};

}  // namespace reaper::os
