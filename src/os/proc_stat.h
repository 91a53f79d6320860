#pragma once
// /proc/PID/stat, parsed once for the whole agent: discovery (proc) and the signaller's identity
// checks (os) read the same fields. Malformed input gives an error, never a crash.
#include <cstdint>
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
  uint64_t starttime = 0;  // field 22, clock ticks after boot
  // Fields 50 and 51 (Linux 3.5+; 0 when absent or hidden): where the environment lies. An exec
  // maps a new one, so together with the start time they tell whether environ needs a re-read.
  uint64_t envStart = 0;
  uint64_t envEnd = 0;
};

inline constexpr unsigned kPfKthread = 0x00200000;

// `comm` may hold spaces, parentheses and ") (": it ends at the LAST ')'.
core::Result<StatFields> parseStat(std::string_view text);

}  // namespace reaper::os
