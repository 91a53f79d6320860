#pragma once
// Durations as the config file writes them: "500ms", "2s", "1m", "1h", or a sum such as "1m30s".
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"

namespace reaper::core {

Result<Duration> parseDuration(std::string_view text);
std::string formatDuration(Duration d);

}  // namespace reaper::core
