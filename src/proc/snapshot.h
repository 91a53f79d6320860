#pragma once
// Every process under a proc root, captured once per poll.
//
// Threads: a ProcessSnapshot is an immutable value. A ProcessTracker belongs to one thread (the
// loop's): it is not thread-safe. The one-shot ProcessSnapshot::capture keeps nothing and may run
// on any thread whose ProcFs allows it.
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "os/proc_fs.h"
#include "os/proc_stat.h"
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
  // Reads every process once. Processes vanishing mid-read are skipped silently; an unreadable
  // environ means no context.
  static ProcessSnapshot capture(os::ProcFs& fs, CaptureOptions options = {});
  // For tests and callers that already hold the processes.
  ProcessSnapshot(std::vector<Process> processes, double uptimeSeconds, long clockTicksPerSecond);

  const std::vector<Process>& processes() const { return *processes_; }
  const Process* find(core::Pid pid) const;
  std::vector<const Process*> childrenOf(core::Pid pid) const;
  // Time since the process started, from /proc/uptime and its start time; 0 if it looks negative.
  core::Duration ageOf(const Process& process) const;

 private:
  friend class ProcessTracker;
  ProcessSnapshot(std::shared_ptr<const std::vector<Process>> processes, double uptimeSeconds,
                  long clockTicksPerSecond);

  // Shared with the tracker that captured it, which copies the table before changing it only
  // while a snapshot still holds it.
  std::shared_ptr<const std::vector<Process>> processes_;
  std::vector<std::pair<core::Pid, size_t>> byPid_;     // sorted
  std::vector<std::pair<core::Pid, size_t>> byParent_;  // sorted by parent pid
  double uptimeSeconds_ = 0;
  long clockTicksPerSecond_ = 100;
};

// Discovery that remembers what it read, so that a poll costs in proportion to what changed.
//
// A poll lists the proc root. A pid it has not seen is read in full (stat, status, cmdline,
// environ, cgroup) through one open /proc/<pid> directory, so that every file is of the same
// process; its schedstat and cmdline are kept open, and so is its environ, through which the
// environment was read. A known process is checked in cheap steps:
//   1. one pread of its kept schedstat: its first thread's switch count and charged CPU time,
//      and for a process with more threads at its last read, the CPU clock of all of them. None
//      moved: it has not run since the last poll, and a process that has not run has not
//      retitled, exec'd, exited or changed its session: nothing more is read. Most processes of a
//      node sleep through a poll. The switch count is what tells a short run: the scheduler may
//      charge one no CPU time at all (seen on a VM). The CPU clock counts a run when the thread
//      leaves its CPU or at the CPU's next tick, so a poll first waits out that tick
//      (ProcFs::settleCpuTime). A process read, or found to have run, is checked by step 2 at the
//      next poll too: the rest of a run seen under way may retitle, charged nothing. The kept
//      schedstat is the process's own: a reused pid reads ESRCH on it.
//   2. otherwise one pread of the kept cmdline:
//      - the same bytes: one byte of the kept environ tells the rest. That file is bound to the
//        memory it was opened for and reads nothing once the process exec'd: then it is read
//        again as below (an exec may keep every argv byte: a program re-executing itself under
//        another environment). Otherwise nothing changed that discovery uses;
//      - other bytes: retitled in place (setproctitle overwrites argv and sets comm to 15 bytes,
//        so only the title itself tells a LocalExecutor worker's next task) or exec'd: stat and
//        cmdline are read again, environ and cgroup too when its start time changed or the kept
//        environ reads nothing (without a kept environ: when the environment's address, stat
//        fields 50-51, changed);
//      - no bytes, for a process that had a command line: its memory is gone (exiting, or a
//        zombie): stat is read again until it is a zombie or gone;
//      - ESRCH: gone. The kept file is bound to the process, not the pid: a reused pid reads
//        ESRCH on the old file and is read in full as a new process.
// A process's parent changes only when the parent exits, so the children of a process that died
// or turned zombie (and of any parent it does not know) get their stat read again.
// Without a kept cmdline (no descriptor left) step 2 re-reads by path, and without a kept environ
// (none left, or an empty environment) a process that ran gets its stat read; a second look reads
// nothing by path. Without a kept schedstat (no descriptor left) step 1 is the CPU clock alone,
// where a CPU time of 0 (nothing counted yet, as for a reused pid's new process) proves nothing.
// Where runs cannot be counted (a proc root of another PID namespace, a kernel that may stop a
// running CPU's tick: nohz_full, or one without switch counts) every process takes step 2.
// What this cannot see: an exec that keeps the argv bytes exactly and, with address-space layout
// randomisation off, the environment's size, by a process whose environ could not be kept; memory
// rewritten by another process (a debugger); a change of session or process group without an exec
// (informs logs and scan output only).
class ProcessTracker {
 public:
  explicit ProcessTracker(os::ProcFs& fs, CaptureOptions options = {});
  ~ProcessTracker();
  ProcessTracker(const ProcessTracker&) = delete;
  ProcessTracker& operator=(const ProcessTracker&) = delete;

  ProcessSnapshot capture();

 private:
  struct Entry;
  // A process as one read saw it: what the tracker keeps of it, and what snapshots show.
  struct Read;
  enum class Probe { Same, Changed, Gone };
  enum class Run { None, Some, Gone };  // Some: it ran, or that cannot be told
  ProcessTracker(os::ProcFs& fs, CaptureOptions options, bool keepFiles);
  Probe probe(core::Pid pid, Entry& entry);
  Run runSince(core::Pid pid, Entry& entry);
  static bool needsCpuClock(const Entry& entry);
  core::Result<os::RunCounts> readCounts(os::KeptFile& schedstat);
  std::optional<Read> read(core::Pid pid, Entry* known);
  void readImage(os::ProcessFiles& dir, Read& fresh);
  std::optional<PartialKey> readContext(os::ProcessFiles& dir, Entry& entry);
  std::unique_ptr<os::KeptFile> keep(os::ProcessFiles& dir, std::string_view file);
  std::optional<std::string_view> readFile(os::ProcessFiles& dir, os::KeptFile* kept,
                                           std::string_view file, size_t maxBytes,
                                           std::string& byPath);
  static bool imageKept(const Entry& entry);
  bool readCommandLine(os::ProcessFiles& dir, Read& fresh, const Entry* known);
  void refreshChildrenOf(const std::vector<core::Pid>& changedParents);
  const Process& processOf(const Entry& entry) const;
  void add(core::Pid pid, Read fresh);
  void replace(Entry& entry, Read fresh);
  void remove(core::Pid pid);

  friend class ProcessSnapshot;
  os::ProcFs& fs_;
  CaptureOptions options_;
  bool keepFiles_ = true;
  std::unordered_map<core::Pid, std::unique_ptr<Entry>> entries_;
  // Every entry's process, at the entry's slot: a poll changes only the slots of what it read, and
  // a snapshot shares the table instead of copying every process.
  std::shared_ptr<std::vector<Process>> table_;
  std::vector<char> buffer_;  // kept files are read into it
  uint64_t poll_ = 0;
};

}  // namespace reaper::proc
