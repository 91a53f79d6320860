#include "agent/wiring.h"

#include <unistd.h>

#include "core/clock.h"
#include "kill/cgroup_killer.h"
#include "kill/tree_killer.h"
#include "loop/host_target_source.h"
#include "loop/reaper.h"
#include "os/pidfd_signaller.h"
#include "os/procfs_reader.h"
#include "report/metrics.h"
#include "report/status_server.h"

namespace reaper::agent {
namespace {

airflow::ClientOptions airflowOptions(const config::AirflowConfig& c) {
  airflow::ClientOptions options;
  options.baseUrl = c.baseUrl;
  options.apiVersion = c.apiVersion;
  options.authType = c.auth.type;
  options.username = c.auth.username;
  options.passwordFile = c.auth.passwordFile;
  options.tokenFile = c.auth.tokenFile;
  options.caFile = c.caFile;
  options.insecureSkipVerify = c.insecureSkipVerify;
  options.timeout = c.timeout;
  options.pageSize = c.pageSize;
  return options;
}

loop::LoopOptions loopOptions(const config::Config& c) {
  loop::LoopOptions options;
  options.pollInterval = c.pollInterval;
  options.dryRun = c.dryRun;
  options.policy.startupGrace = c.startupGrace;
  options.policy.killMissing = c.kill.onMissingTaskInstance == "kill";
  return options;
}

kill::KillOptions killOptions(const config::Config& c) {
  kill::KillOptions options;
  options.gracePeriod = c.kill.gracePeriod;
  options.selfPid = ::getpid();
  return options;
}

// What the agent's parts share; built first, so the Airflow client can report to it.
struct Telemetry {
  core::SystemClock clock;
  report::Metrics metrics;
  report::Health health;
};

// Host mode: every tree under the proc root, killed member by member.
class HostAgent final : public Agent {
 public:
  HostAgent(const config::Config& config, std::unique_ptr<Telemetry> telemetry,
            std::unique_ptr<airflow::TaskInstanceSource> airflow)
      : config_(config),
        telemetry_(std::move(telemetry)),
        procfs_(config.procRoot),
        signaller_(config.procRoot),
        airflow_(std::move(airflow)),
        targets_(procfs_, ::getpid()),
        treeKiller_(signaller_, telemetry_->clock, killOptions(config)),
        reaper_(targets_, treeKiller_, nullptr),
        loop_(targets_, *airflow_, reaper_, telemetry_->clock, telemetry_->metrics,
              telemetry_->health, loopOptions(config)) {}

  loop::ReapLoop& loop() override { return loop_; }

  core::Status start(bool serveStatus) override {
    if (!serveStatus) return core::Ok{};
    // Not live once the loop has missed three polls (a reap may hold one for its grace period).
    const core::Duration tolerance = config_.pollInterval * 3 + config_.kill.gracePeriod;
    server_ = std::make_unique<report::StatusServer>(
        config_.server.bindAddress, telemetry_->metrics, telemetry_->health, telemetry_->clock,
        tolerance);
    return server_->start();
  }

  void stop() override {
    if (server_) server_->stop();
  }

 private:
  config::Config config_;
  std::unique_ptr<Telemetry> telemetry_;
  os::ProcfsReader procfs_;
  os::PidfdSignaller signaller_;
  std::unique_ptr<airflow::TaskInstanceSource> airflow_;
  loop::HostTargetSource targets_;
  kill::TreeKiller treeKiller_;
  loop::KillingReaper reaper_;
  loop::ReapLoop loop_;
  std::unique_ptr<report::StatusServer> server_;
};

}  // namespace

core::Result<std::unique_ptr<Agent>> buildAgent(const config::Config& config) {
  auto telemetry = std::make_unique<Telemetry>();
  Telemetry* shared = telemetry.get();
  auto client = airflow::makeRestClient(
      airflowOptions(config.airflow), shared->clock, [shared](int code, double seconds) {
        shared->metrics.countAirflowRequest(code, seconds);
        if (code >= 200 && code < 500) shared->health.markFirstApiAnswer();
      });
  if (!client) return core::makeError("airflow client: " + client.error().message);
  return std::unique_ptr<Agent>(
      std::make_unique<HostAgent>(config, std::move(telemetry), std::move(client).value()));
}

}  // namespace reaper::agent
