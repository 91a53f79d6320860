#pragma once
// Log output for every spdlog logger, including those core::Logger creates later.
//   text: 2026-11-25T12:00:00.000Z info kill signalled ti=dag/task/run/-1/1 pid=42 sig=TERM
//   json: {"time":"2026-11-25T12:00:00.000Z","level":"info","logger":"kill","msg":"signalled",
//          "ti":"dag/task/run/-1/1","pid":42,"sig":"TERM"}
// The fields are core::Logger's typed fields (core/log.h); every line is printable UTF-8.
#include <string_view>

#include "core/result.h"

namespace reaper::report {

// `level`: trace | debug | info | warn | error; `format`: text | json.
core::Status configureLogging(std::string_view level, std::string_view format);

}  // namespace reaper::report
