#pragma once
// Read access to a /proc tree under a configurable root (the host's /proc is mounted at /host/proc
// in the DaemonSet). Everything above this interface is tested against an in-memory fake.
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/types.h"

namespace reaper::os {

class ProcFs {
 public:
  virtual ~ProcFs() = default;
  // Pids of the numeric entries of the root (thread-group leaders), in no particular order.
  virtual std::vector<core::Pid> listPids() = 0;
  // Reads <root>/<pid>/<file> ("stat", "status", "cmdline", "environ", "cgroup"), at most
  // `maxBytes`. A process that exited gives an error with code ENOENT or ESRCH.
  virtual core::Result<std::string> read(core::Pid pid, std::string_view file, size_t maxBytes) = 0;
  // Reads <root>/<file>, e.g. "uptime".
  virtual core::Result<std::string> readRoot(std::string_view file) = 0;
};

}  // namespace reaper::os
