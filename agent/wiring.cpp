#include "agent/wiring.h"

#include <unistd.h>

#include "agent/kube_reports.h"
#include "core/clock.h"
#include "core/log.h"
#include "kill/cgroup_killer.h"
#include "kill/kill_worker.h"
#include "kill/tree_killer.h"
#include "kube/pod_watcher.h"
#include "loop/host_target_source.h"
#include "loop/pod_target_source.h"
#include "loop/reaper.h"
#include "net/http.h"
#include "os/cgroup_layout.h"
#include "os/kernel_cgroup_fs.h"
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

kube::ClientOptions kubeOptions(const config::KubernetesConfig& c) {
  kube::ClientOptions options;
  options.apiServer = c.apiServer;
  options.tokenFile = c.tokenFile;
  options.caFile = c.caFile;
  options.insecureSkipVerify = c.insecureSkipVerify;
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

// Where container cgroups are looked for: the configured root, else the host's unified (v2) mount
// and then its v1 freezer hierarchy, whichever exist.
core::Result<std::vector<std::string>> cgroupRoots(const config::Config& c) {
  if (!c.cgroupRoot.empty()) return std::vector<std::string>{c.cgroupRoot};
  auto layout = os::detectCgroupLayout(c.hostRoot);
  if (!layout) return core::makeError("cgroupRoot: " + layout.error().message);
  std::vector<std::string> roots;
  if (layout->unified) roots.push_back(layout->unified->path);
  if (auto freezer = layout->legacyHierarchy("freezer")) roots.push_back(freezer->path);
  if (roots.empty()) return core::makeError("cgroupRoot: no cgroup2 or v1 freezer mount found");
  return roots;
}

constexpr core::Duration kPodListWait{10000};
constexpr size_t kHttpThreads = 1;

// What every part reports to; built first so the API clients can count their requests.
struct Telemetry {
  core::SystemClock clock;
  report::Metrics metrics;
  report::Health health;
};

class NodeAgent final : public Agent {
 public:
  NodeAgent(const config::Config& config, std::unique_ptr<Telemetry> telemetry,
            std::unique_ptr<airflow::TaskInstanceSource> airflow)
      : config_(config),
        telemetry_(std::move(telemetry)),
        procfs_(config.procRoot),
        killProcfs_(config.procRoot),
        signaller_(config.procRoot),
        cgroups_(telemetry_->clock),
        airflow_(std::move(airflow)),
        cgroupKiller_(cgroups_, signaller_, telemetry_->clock, killOptions(config)),
        killer_(killProcfs_, telemetry_->clock, killOptions(config).pollStep) {}

  // Host mode: every tree under the proc root, killed member by member.
  void useHostDiscovery() {
    targets_ = std::make_unique<loop::HostTargetSource>(procfs_, ::getpid());
    buildLoop(nullptr);
  }

  // Kubernetes mode: trees confined to this node's pods, whole cgroups for KubernetesExecutor.
  core::Status useKubernetesDiscovery() {
    auto roots = cgroupRoots(config_);
    if (!roots) return roots.error();
    const auto kube = kubeOptions(config_.kubernetes);
    auto watcher = kube::PodWatcher::start(kube, config_.nodeName, config_.kubernetes.namespaces,
                                           telemetry_->clock, countKubeRequests());
    if (!watcher) return core::makeError("kubernetes: " + watcher.error().message);
    pods_ = std::move(watcher).value();
    targets_ = std::make_unique<loop::PodTargetSource>(
        procfs_, [this] { return pods_->pods(); }, std::move(roots).value(), ::getpid());
    buildLoop(&cgroupKiller_);
    kube_ = kube;
    return core::Ok{};
  }

  loop::ReapLoop& loop() override { return *loop_; }

  core::Status start(bool run) override {
    if (pods_) waitForPods();
    if (!run) return core::Ok{};
    if (!killProcfs_.listsChildren())
      core::Logger("agent").warn(
          "the kernel lists no children (CONFIG_PROC_CHILDREN): what a tree forks while it is "
          "killed is not followed; such processes are found as trees of their own at a later poll");
    if (!config_.dryRun && !os::showsOwnPidNamespace(config_.procRoot))
      core::Logger("agent").warn(
          "the proc root is another PID namespace than the agent's: its pids name other processes "
          "here, so nothing is signalled (run in the host's PID namespace: hostPID)",
          {{"procRoot", config_.procRoot}});
    if (!procfs_.countsRuns())
      core::Logger("agent").info(
          "the runs of the proc root's processes cannot be told (another PID namespace, "
          "nohz_full/isolcpus=nohz on the kernel command line, or no scheduler statistics): every "
          "poll re-reads the command line of every known process, about 5 us each");
    if (kube_) {
      if (auto reports = buildKubeReports(); !reports) return reports;
    }
    telemetry_->health.markTick(telemetry_->clock.now());
    // Not live once the loop has missed three polls (a reap may hold one for its grace period).
    const core::Duration tolerance = config_.pollInterval * 3 + config_.kill.gracePeriod;
    server_ =
        std::make_unique<report::StatusServer>(config_.server.bindAddress, telemetry_->metrics,
                                               telemetry_->health, telemetry_->clock, tolerance);
    return server_->start();
  }

  void stop() override {
    if (server_) server_->stop();
    loop_.reset();
    reports_.reset();
    if (pods_) pods_->stop();
  }

 private:
  void buildLoop(kill::CgroupKiller* cgroupKiller) {
    reaper_ = std::make_unique<loop::KillingReaper>(signaller_, telemetry_->clock,
                                                    killOptions(config_), cgroupKiller);
    loop_ = std::make_unique<loop::ReapLoop>(*targets_, *airflow_, *reaper_, killer_,
                                             telemetry_->clock, telemetry_->metrics,
                                             telemetry_->health, loopOptions(config_));
  }

  kube::RequestObserver countKubeRequests() {
    return [t = telemetry_.get()](int code, std::optional<double> seconds) {
      t->metrics.countKubeRequest(code, seconds);
    };
  }

  core::Status buildKubeReports() {
    const auto& k = config_.kubernetes;
    const kube::ClientOptions& kube = *kube_;
    const kube::RequestObserver count = countKubeRequests();
    std::unique_ptr<kube::EventRecorder> events;
    std::unique_ptr<kube::CustomResources> resources;
    if (k.events) {
      auto recorder = kube::EventRecorder::create(kube, config_.nodeName, telemetry_->clock, count);
      if (!recorder) return core::makeError("kubernetes events: " + recorder.error().message);
      events = std::move(recorder).value();
    }
    if (k.taskTrees || k.nodeReport) {
      auto created = kube::CustomResources::create(kube, config_.nodeName, telemetry_->clock, count,
                                                   {k.treeRetention, core::Duration{10000}});
      if (!created) return core::makeError("kubernetes resources: " + created.error().message);
      resources = std::move(created).value();
    }
    reports_ = std::make_unique<KubeReports>(std::move(events), std::move(resources), k.taskTrees,
                                             k.nodeReport, config_.nodeName, telemetry_->clock);
    loop_->addObserver(*reports_);
    return core::Ok{};
  }

  // The first scan should see the node's pods: wait a little for the first list.
  void waitForPods() {
    const auto deadline = telemetry_->clock.now() + kPodListWait;
    while (!pods_->synced() && telemetry_->clock.now() < deadline)
      telemetry_->clock.sleepFor(core::Duration{50});
    if (!pods_->synced())
      core::Logger("agent").warn("pods not listed yet; trees in pods are found once they are");
  }

  config::Config config_;
  std::unique_ptr<Telemetry> telemetry_;
  os::ProcfsReader procfs_;      // discovery, on the loop's thread
  os::ProcfsReader killProcfs_;  // fork watching, on the kill worker's thread
  // The signaller and the cgroup killer are used by kill jobs, on the kill worker's thread only.
  os::PidfdSignaller signaller_;
  os::KernelCgroupFs cgroups_;
  std::unique_ptr<airflow::TaskInstanceSource> airflow_;
  kill::CgroupKiller cgroupKiller_;
  kill::KillWorker killer_;
  std::optional<kube::ClientOptions> kube_;  // kubernetes mode
  std::unique_ptr<kube::PodWatcher> pods_;
  std::unique_ptr<loop::TargetSource> targets_;
  std::unique_ptr<loop::KillingReaper> reaper_;
  std::unique_ptr<loop::ReapLoop> loop_;
  std::unique_ptr<KubeReports> reports_;
  std::unique_ptr<report::StatusServer> server_;
};

}  // namespace

core::Result<std::unique_ptr<Agent>> buildAgent(const config::Config& config) {
  // cpprestsdk's default pool has 40 threads; the agent makes a few requests at a time, and its
  // I/O is asynchronous: one thread runs it. Each further idle thread is woken for every handler
  // and continuation (at 2,000 processes: 274 futex calls per poll with 4 threads, 52 with 1).
  net::setHttpThreads(kHttpThreads);
  auto telemetry = std::make_unique<Telemetry>();
  Telemetry* shared = telemetry.get();
  auto client = airflow::makeRestClient(
      airflowOptions(config.airflow), shared->clock,
      [shared](int code, double seconds) { shared->metrics.countAirflowRequest(code, seconds); });
  if (!client) return core::makeError("airflow client: " + client.error().message);
  auto agent = std::make_unique<NodeAgent>(config, std::move(telemetry), std::move(client).value());
  if (config.mode == config::Mode::Host) {
    agent->useHostDiscovery();
  } else if (auto built = agent->useKubernetesDiscovery(); !built) {
    return built.error();
  }
  return std::unique_ptr<Agent>(std::move(agent));
}

}  // namespace reaper::agent
