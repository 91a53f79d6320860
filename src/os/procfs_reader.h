#pragma once
// ProcFs over a real procfs mount. Thread-safe: it holds only a descriptor of the root, opened
// once, and every read opens its own file relative to it (no path is rebuilt from the root, and
// nothing mutable is shared), so the loop and reap threads may share one reader.
//
// Kept files cost one descriptor each. The reader raises the soft RLIMIT_NOFILE to the hard limit
// and refuses to keep more files than that limit less a reserve for sockets and logs (keep() then
// fails with EMFILE and discovery reads that process by path instead).
#include <time.h>

#include <atomic>
#include <memory>
#include <string>

#include "os/proc_fs.h"

namespace reaper::os {

class ProcfsReader final : public ProcFs {
 public:
  explicit ProcfsReader(const std::string& procRoot);
  ~ProcfsReader() override;
  ProcfsReader(const ProcfsReader&) = delete;
  ProcfsReader& operator=(const ProcfsReader&) = delete;

  std::vector<core::Pid> listPids() override;
  core::Result<std::string> read(core::Pid pid, std::string_view file, size_t maxBytes) override;
  std::vector<core::Pid> children(core::Pid pid) override;
  // Whether the kernel lists children (CONFIG_PROC_CHILDREN): without, children() finds none.
  bool listsChildren() const;
  core::Result<std::string> readRoot(std::string_view file) override;
  core::Result<std::unique_ptr<ProcessFiles>> openProcess(core::Pid pid) override;
  // From the kernel's per-process CPU clock (clock_gettime, one syscall and no file; any process
  // may read any other's, as /proc/PID/stat shows it to all).
  std::optional<uint64_t> cpuTime(core::Pid pid) override;
  // When false, discovery re-reads every known process's command line at every poll.
  bool countsRuns() const override { return runsCounted_; }
  // Sleeps two scheduler ticks (the tick from CLOCK_MONOTONIC_COARSE's resolution; one more for a
  // tick the CPU serves late).
  void settleCpuTime() override;

 private:
  int rootFd_ = -1;
  std::string root_;  // for messages
  // Files kept by every ProcessFiles of this reader; each kept file holds the counter, which may
  // outlive the reader.
  std::shared_ptr<std::atomic<size_t>> kept_;
  size_t keptLimit_ = 0;
  // The root's pids are this process's (its "self" is getpid()), every CPU ticks while it runs a
  // process, and the kernel counts switches: the runs of the root's processes can be told.
  bool runsCounted_ = false;
  timespec tick_{};
};

// Whether `procRoot` is the proc mount of this process's PID namespace (its "self" is this
// process's pid): only there do its pids name the processes this process reaches by pid.
bool showsOwnPidNamespace(const std::string& procRoot);

// Whether the kernel's command line lets a CPU run a process without scheduler ticks (nohz_full, or
// isolcpus with its nohz flag): the CPU time of a process running there is not counted for up to
// a second.
bool cpusMayRunWithoutTicks(std::string_view kernelCommandLine);

}  // namespace reaper::os
