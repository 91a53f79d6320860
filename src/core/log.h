#pragma once
// One named spdlog logger per module ("proc", "kill", "airflow", ...). Output format and level are
// set once at start-up (report/logging.h) and apply to every logger, including those created later.
// Messages are `key=value` fields: `logger("kill")->info("killed ti={} pid={} sig=TERM", ...)`.
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace reaper::core {

std::shared_ptr<spdlog::logger> logger(const std::string& module);

}  // namespace reaper::core
