#pragma once
// Log output for every spdlog logger, including those core::logger() creates later.
//   text: 2026-11-25T12:00:00.000Z info kill killed ti=dag/task/run/-1/1 pid=42 sig=TERM
//   json: {"time":"2026-11-25T12:00:00.000Z","level":"info","logger":"kill","msg":"killed ti=...",
//          "ti":"dag/task/run/-1/1","pid":"42","sig":"TERM"}
// In JSON the message's key=value fields are repeated as top-level string fields.
#include <string_view>

#include "core/result.h"

namespace reaper::report {

// `level`: trace | debug | info | warn | error; `format`: text | json.
core::Status configureLogging(std::string_view level, std::string_view format);

}  // namespace reaper::report
