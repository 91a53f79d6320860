#pragma once
// The agent's HTTP endpoint: GET /metrics (Prometheus text), /healthz (200 while the main loop
// ticks), /readyz (200 after the first scan and the first API answer); anything else 404.
#include <atomic>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/result.h"
#include "report/metrics.h"

namespace reaper::report {

// Liveness and readiness, marked by the main loop and read by the status server. Thread-safe.
class Health {
 public:
  // The main loop completed one iteration at `now`.
  void markTick(core::SteadyTime now);
  void markFirstScan();
  void markFirstApiAnswer();
  // True when the loop ticked within `tolerance` before `now` (false before the first tick).
  bool live(core::SteadyTime now, core::Duration tolerance) const;
  // True once the first scan finished and the API answered once.
  bool ready() const;

 private:
  std::atomic<core::SteadyTime::rep> lastTick_{0};
  std::atomic<bool> ticked_{false};
  std::atomic<bool> scanned_{false};
  std::atomic<bool> apiAnswered_{false};
};

class StatusServer {
 public:
  // `bindAddress` is host:port; port 0 picks a free port (see port()). A tick older than
  // `liveTolerance` makes /healthz answer 503.
  StatusServer(std::string bindAddress, const Metrics& metrics, const Health& health,
               core::Clock& clock, core::Duration liveTolerance);
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // Starts serving in the background; fails when the address cannot be bound.
  core::Status start();
  // The port being served (the chosen one when the address asked for port 0).
  int port() const;
  // Stops serving; idempotent.
  void stop();

 private:
  class Listener;  // hides cpprestsdk from includers
  struct Response {
    int status;
    const char* contentType;
    std::string body;
  };

  Response respond(const std::string& method, const std::string& path) const;

  std::string bindAddress_;
  const Metrics& metrics_;
  const Health& health_;
  core::Clock& clock_;
  core::Duration liveTolerance_;
  std::unique_ptr<Listener> listener_;
  int port_ = 0;
};

}  // namespace reaper::report
