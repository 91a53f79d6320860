#pragma once
// The only place that knows every concrete class: builds the agent for a configuration.
#include <memory>

#include "config/config.h"
#include "core/result.h"
#include "loop/reap_loop.h"

namespace reaper::agent {

// Everything a running agent owns, built once at start-up.
class Agent {
 public:
  virtual ~Agent() = default;
  virtual loop::ReapLoop& loop() = 0;
  // Starts discovery's background parts (Kubernetes watches) and, for `run` (not `scan`, which
  // only looks), the /metrics, /healthz and /readyz server and the Kubernetes reports.
  virtual core::Status start(bool run) = 0;
  virtual void stop() = 0;
};

// Errors are start-up errors (exit 1) with a message saying what is missing.
core::Result<std::unique_ptr<Agent>> buildAgent(const config::Config& config);

}  // namespace reaper::agent
