#pragma once
// Read access to a /proc tree under a configurable root (the host's /proc is mounted at /host/proc
// in the DaemonSet). Everything above this interface is tested against an in-memory fake.
//
// Threads: a ProcFs may be shared by threads (the real one keeps no mutable state); a
// ProcessFiles or KeptFile belongs to whoever opened it.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/types.h"

namespace reaper::os {

// One file of one process kept open, re-read from offset 0 without a path lookup. It stays bound to
// the process it was opened for: once that process is gone, even if its pid is reused, reads fail
// with ESRCH (or ENOENT).
class KeptFile {
 public:
  virtual ~KeptFile() = default;
  // Reads from offset 0 into `buffer`, at most its size, in one read: the count of bytes read.
  virtual core::Result<size_t> readFromStart(std::span<char> buffer) = 0;
};

// The files of one process, all of the process the directory was opened for: after that process
// is gone, reads fail (ENOENT or ESRCH) rather than read a later process that reused its pid.
class ProcessFiles {
 public:
  virtual ~ProcessFiles() = default;
  // Reads <file>, at most `maxBytes`.
  virtual core::Result<std::string> read(std::string_view file, size_t maxBytes) = 0;
  virtual core::Result<std::unique_ptr<KeptFile>> keep(std::string_view file) = 0;
};

class ProcFs {
 public:
  virtual ~ProcFs() = default;
  // Pids of the numeric entries of the root (thread-group leaders), in no particular order.
  virtual std::vector<core::Pid> listPids() = 0;
  // Reads <root>/<pid>/<file> ("stat", "status", "cmdline", "environ", "cgroup"), at most
  // `maxBytes`. A process that exited gives an error with code ENOENT or ESRCH.
  virtual core::Result<std::string> read(core::Pid pid, std::string_view file, size_t maxBytes) = 0;
  // The children of every thread of the process now (<root>/<pid>/task/*/children), in no
  // particular order; empty when it has none or is gone.
  virtual std::vector<core::Pid> children(core::Pid pid) = 0;
  // Reads <root>/<file>, e.g. "uptime".
  virtual core::Result<std::string> readRoot(std::string_view file) = 0;
  // Opens <root>/<pid>/; ENOENT when there is no such process.
  virtual core::Result<std::unique_ptr<ProcessFiles>> openProcess(core::Pid pid) = 0;
  // Whether the runs of the root's processes can be told from their schedstat files and CPU
  // clocks (see cpuTime()): false for a proc root of another PID namespace, where a CPU may run a
  // process without ticks (nohz_full), or where the kernel counts no switches ("0 0 0").
  virtual bool countsRuns() const = 0;
  // CPU time counted for every thread of the process, in nanoseconds. The kernel counts a run when
  // the thread leaves its CPU or at its CPU's scheduler tick: a process running now may have run
  // for up to a tick more than counted, and a short run may be charged nothing (seen on a VM).
  // A charged run before settleCpuTime() shows once it returns. nullopt when there is no such
  // process, or when runs are not counted.
  virtual std::optional<uint64_t> cpuTime(core::Pid pid) = 0;
  // Returns once every run before the call is counted in cpuTime() (a scheduler tick later).
  virtual void settleCpuTime() = 0;
};

}  // namespace reaper::os
