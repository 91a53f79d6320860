#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>

namespace reaper::core {

std::shared_ptr<spdlog::logger> logger(const std::string& module) {
  static std::mutex creating;
  std::lock_guard lock(creating);
  if (auto existing = spdlog::get(module)) return existing;
  return spdlog::stderr_logger_mt(module);
}

}  // namespace reaper::core
