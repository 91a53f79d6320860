#pragma once
// The agent's HTTP endpoint: GET /metrics (Prometheus text), /healthz (200 while the main loop
// ticks), /readyz (200 once the first scan is done and Airflow answered a probe); anything else
// 404. A small HTTP/1.1 server of its own on one thread, so that every byte a client sends is
// bounded (ServerLimits): a general-purpose listener buffers whole bodies and keeps every idle
// connection open.
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>

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
  // Airflow answered the start-up probe (the agent can ask it about trees).
  void markAirflowReached();
  // True when the loop ticked within `tolerance` before `now` (false before the first tick).
  bool live(core::SteadyTime now, core::Duration tolerance) const;
  // True once the first scan finished and Airflow was reached. Later API failures do not change
  // it: they are metrics and alerts.
  bool ready() const;

 private:
  std::atomic<core::SteadyTime::rep> lastTick_{0};
  std::atomic<bool> ticked_{false};
  std::atomic<bool> scanned_{false};
  std::atomic<bool> airflowReached_{false};
};

// Prometheus scrapes and kubelet probes need a handful of connections and tiny GET requests.
inline constexpr size_t kMaxStatusConnections = 64;
inline constexpr size_t kMaxRequestHeadBytes = 8 * 1024;
inline constexpr size_t kMaxRequestBodyBytes = 0;  // GET has no body
inline constexpr core::Duration kStatusIdleTimeout{10000};

// What one client can make the server hold.
struct ServerLimits {
  // Open connections; accepting one more closes the one idle the longest.
  size_t maxConnections = kMaxStatusConnections;
  // Request line and headers; a longer head is answered 431 and the connection closed.
  size_t maxRequestHeadBytes = kMaxRequestHeadBytes;
  // A request announcing a longer body (or a chunked one) is answered 413 and the connection
  // closed before any of the body is read.
  size_t maxRequestBodyBytes = kMaxRequestBodyBytes;
  // A connection that completes no request (or does not take its reply) for this long is closed.
  core::Duration idleTimeout = kStatusIdleTimeout;
};

class StatusServer {
 public:
  // `bindAddress` is host:port (an IPv6 host with or without brackets); port 0 picks a free port
  // (see port()). A tick older than `liveTolerance` makes /healthz answer 503.
  StatusServer(std::string bindAddress, const Metrics& metrics, const Health& health,
               core::Clock& clock, core::Duration liveTolerance, ServerLimits limits = {});
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // Starts serving on a thread of its own; fails when the address cannot be bound.
  core::Status start();
  // The port being served (the chosen one when the address asked for port 0).
  int port() const;
  // Stops serving and closes every connection; idempotent.
  void stop();

  struct Response {
    int status;
    const char* contentType;
    std::string body;
  };

 private:
  class Connections;  // the poll loop and its connections

  Response respond(const std::string& method, const std::string& path) const;

  std::string bindAddress_;
  const Metrics& metrics_;
  const Health& health_;
  core::Clock& clock_;
  core::Duration liveTolerance_;
  ServerLimits limits_;
  std::unique_ptr<Connections> connections_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace reaper::report
