#pragma once
// /proc/PID/stat, parsed once for the whole agent: discovery (proc) and the signaller's identity
// checks (os) read the same fields; and /proc/PID/schedstat. Malformed input gives an error, never
// a crash.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/types.h"

namespace reaper::os {

// The fields the agent needs (field numbers as in proc(5)).
struct StatFields {
  core::Pid pid = 0;
  std::string comm;
  char state = '?';
  core::Pid ppid = 0;
  core::Pid pgrp = 0;
  core::Pid session = 0;
  unsigned flags = 0;      // field 9; PF_KTHREAD marks kernel threads
  long threads = 0;        // field 20
  uint64_t starttime = 0;  // field 22, clock ticks after boot
  // Fields 50 and 51 (Linux 3.5+; 0 when absent or hidden): where the environment lies. An exec
  // maps a new one, so together with the start time they tell whether environ needs a re-read.
  uint64_t envStart = 0;
  uint64_t envEnd = 0;
};

inline constexpr unsigned kPfKthread = 0x00200000;

// `comm` may hold spaces, parentheses and ") (": it ends at the LAST ')'.
core::Result<StatFields> parseStat(std::string_view text);

// /proc/PID/schedstat ("<ns run> <ns waited> <switches>", CONFIG_SCHED_INFO), of the process's
// first thread: the CPU time charged to it, and how many times it was switched in to run. The
// switch count moves with every run, even one the scheduler charged no CPU time; the CPU time moves
// in a long run with no switch. A kernel without scheduler statistics shows "0 0 0".
struct RunCounts {
  uint64_t runtime = 0;
  uint64_t switches = 0;
  bool operator==(const RunCounts&) const = default;
};
std::optional<RunCounts> parseSchedstat(std::string_view text);
inline constexpr size_t kSchedstatMaxBytes = 128;

}  // namespace reaper::os
