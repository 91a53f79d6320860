#include "os/proc_stat.h"

#include <iterator>

#include "os/proc_text.h"

namespace reaper::os {

using proc_text::nextField;
using proc_text::toNumber;
using proc_text::trim;

core::Result<StatFields> parseStat(std::string_view text) {
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return core::makeError("stat: no (comm)");
  }
  StatFields stat;
  if (!toNumber(trim(text.substr(0, open)), stat.pid)) return core::makeError("stat: bad pid");
  stat.comm = text.substr(open + 1, close - open - 1);
  std::string_view rest = text.substr(close + 1);
  // Fields 3.. after the comm; index 0 here is field 3 (state). Up to field 22 they are required.
  constexpr size_t kRequired = 20;
  std::string_view fields[49];
  for (size_t i = 0; i < std::size(fields); ++i) {
    fields[i] = nextField(rest);
    if (fields[i].empty() && i < kRequired) return core::makeError("stat: too few fields");
  }
  if (fields[0].size() != 1) return core::makeError("stat: bad state");
  stat.state = fields[0][0];
  bool ok = toNumber(fields[1], stat.ppid) && toNumber(fields[2], stat.pgrp) &&
            toNumber(fields[3], stat.session) && toNumber(fields[6], stat.flags) &&
            toNumber(fields[17], stat.threads) && toNumber(fields[19], stat.starttime);
  if (!ok) return core::makeError("stat: bad number");
  // Absent on old kernels, 0 when the reader may not see them: then no exec is told apart by them.
  if (!toNumber(fields[47], stat.envStart) || !toNumber(fields[48], stat.envEnd)) {
    stat.envStart = stat.envEnd = 0;
  }
  return stat;
}

std::optional<RunCounts> parseSchedstat(std::string_view text) {
  std::string_view rest = text;
  std::string_view fields[3];
  for (std::string_view& field : fields) field = nextField(rest);
  RunCounts counts;
  const bool nothingAfter = rest.find_first_not_of(" \t\n") == std::string_view::npos;
  if (!nothingAfter || !toNumber(fields[0], counts.runtime) ||
      !toNumber(fields[2], counts.switches)) {
    return std::nullopt;
  }
  return counts;
}

}  // namespace reaper::os
