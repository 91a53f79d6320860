// airflow-reaper: reaps the process trees of Airflow TaskInstances that are no longer running.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "agent/wiring.h"
#include "config/config.h"
#include "core/log.h"
#include "core/version.h"
#include "loop/scan_output.h"
#include "report/logging.h"

namespace {

using reaper::config::CommandLine;
using reaper::config::Config;

constexpr int kExitFatal = 1;
constexpr int kExitUsage = 2;

std::string hostName() {
  char name[256] = {};
  return gethostname(name, sizeof(name) - 1) == 0 ? name : "";
}

std::optional<std::string> environment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return value != nullptr ? std::optional<std::string>(value) : std::nullopt;
}

// SIGTERM and SIGINT are blocked in every thread and taken by sigwait on one: a clean shutdown.
sigset_t shutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

// Builds and starts the agent (for `run`, with its status server and reports); null after printing
// why it could not.
std::unique_ptr<reaper::agent::Agent> startAgent(const Config& config, bool run) {
  auto agent = reaper::agent::buildAgent(config);
  if (!agent) {
    std::cerr << "airflow-reaper: " << agent.error().message << "\n";
    return nullptr;
  }
  if (auto started = (*agent)->start(run); !started) {
    std::cerr << "airflow-reaper: " << started.error().message << "\n";
    return nullptr;
  }
  return std::move(agent).value();
}

int scan(const Config& config, const CommandLine& commandLine) {
  auto agent = startAgent(config, false);
  if (!agent) return kExitFatal;
  const auto assessments = agent->loop().assess();
  const reaper::loop::ScanFilter filter{commandLine.state, commandLine.pod, commandLine.dag};
  std::vector<reaper::loop::Assessment> shown;
  std::copy_if(assessments.begin(), assessments.end(), std::back_inserter(shown),
               [&](const auto& a) { return reaper::loop::matches(filter, a); });
  std::cout << (commandLine.output == "json"
                    ? reaper::loop::scanJson(shown)
                    : reaper::loop::scanTable(shown, commandLine.processes, assessments.size()));
  agent->stop();
  return 0;
}

int run(const Config& config) {
  const sigset_t signals = shutdownSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts

  auto agent = startAgent(config, true);
  if (!agent) return kExitFatal;
  std::atomic<bool> stop{false};
  std::thread waiter([&] {
    int received = 0;
    sigwait(&signals, &received);
    reaper::core::Logger("agent").info("shutdown", {{"signal", strsignal(received)}});
    stop = true;
  });
  waiter.detach();
  reaper::core::Logger("agent").info("started", {{"version", reaper::core::kVersion},
                                                 {"mode", reaper::config::modeName(config.mode)},
                                                 {"node", config.nodeName},
                                                 {"dry_run", config.dryRun},
                                                 {"poll_interval_ms", config.pollInterval.count()},
                                                 {"grace_ms", config.kill.gracePeriod.count()}});
  agent->loop().run(stop);
  agent->stop();
  reaper::core::Logger("agent").info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto commandLine = reaper::config::parseCommandLine(args);
  if (!commandLine) {
    std::cerr << "airflow-reaper: " << commandLine.error().message << "\n";  // carries the usage
    return kExitUsage;
  }
  using reaper::config::Command;
  if (commandLine->command == Command::Help) {
    std::cout << reaper::config::usage() << "\n";
    return 0;
  }
  if (commandLine->command == Command::Version) {
    std::cout << "airflow-reaper " << reaper::core::kVersion << "\n";
    return 0;
  }
  auto config = reaper::config::resolveConfig(*commandLine, environment, hostName());
  if (!config) {
    std::cerr << "airflow-reaper: invalid configuration: " << config.error().message << "\n";
    return kExitUsage;
  }
  if (auto logging = reaper::report::configureLogging(config->logLevel, config->logFormat);
      !logging) {
    std::cerr << "airflow-reaper: " << logging.error().message << "\n";
    return kExitUsage;
  }
  return commandLine->command == Command::Scan ? scan(*config, *commandLine) : run(*config);
}
