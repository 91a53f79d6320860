#include "loop/pod_target_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "unit/proc/fake_proc_fs.h"

namespace reaper::loop {
namespace {

namespace fs = std::filesystem;
using reaper::test::FakeProcess;
using reaper::test::FakeProcFs;

constexpr const char* kCeleryUid = "8d3b2c1a-1111-4222-8333-444455556666";
constexpr const char* kExecutorUid = "0a0b0c0d-aaaa-4bbb-8ccc-ddddeeeeffff";
const std::string kWorkerContainer(64, 'a');
const std::string kTaskContainer(64, 'b');
const std::string kSandbox(64, 'c');

std::string underscored(std::string uid) {
  std::replace(uid.begin(), uid.end(), '-', '_');
  return uid;
}

std::string systemdCgroup(const std::string& uid, const std::string& container) {
  return "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + underscored(uid) +
         ".slice/cri-containerd-" + container + ".scope\n";
}

std::vector<std::string> ctxEnv(const std::string& task) {
  return {"AIRFLOW_CTX_DAG_ID=etl", "AIRFLOW_CTX_TASK_ID=" + task,
          "AIRFLOW_CTX_DAG_RUN_ID=manual__1", "AIRFLOW_CTX_TRY_NUMBER=1"};
}

kube::Pod pod(const char* uid, const std::string& name, std::vector<std::string> containerIds) {
  kube::Pod p;
  p.ref = {"airflow", name, uid};
  p.nodeName = "node-1";
  for (auto& id : containerIds) p.containers.push_back({"c", id, "containerd", false});
  return p;
}

class PodTargetSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("reaper-pod-targets-" + std::to_string(::getpid()));
    fs::create_directories(root_);
    procfs_.setUptime("10000.00 100.00\n");
  }
  void TearDown() override { fs::remove_all(root_); }

  std::vector<Target> discover() {
    PodTargetSource source(
        procfs_, [this] { return pods_; }, {root_.string()}, 99999);
    return source.discover().targets;
  }

  fs::path root_;
  FakeProcFs procfs_;
  std::vector<kube::Pod> pods_;
};

TEST_F(PodTargetSourceTest, TreeInAPodIsConfinedToThatPod) {
  pods_ = {pod(kCeleryUid, "worker-0", {kWorkerContainer})};
  const std::string inPod = systemdCgroup(kCeleryUid, kWorkerContainer);
  procfs_.add({.pid = 100, .argv = {"[celeryd: w@h:MainProcess]"}, .cgroup = inPod});
  procfs_.add({.pid = 200,
               .ppid = 100,
               .argv = {"bash", "-c", "dbt run"},
               .env = ctxEnv("load"),
               .cgroup = inPod});
  procfs_.add(
      {.pid = 201, .ppid = 200, .argv = {"dbt", "run"}, .env = ctxEnv("load"), .cgroup = inPod});
  // Same environment, but outside every pod: never a member in kubernetes mode.
  procfs_.add({.pid = 300, .argv = {"sleep", "99"}, .env = ctxEnv("load")});

  const auto targets = discover();
  ASSERT_EQ(targets.size(), 1u);
  ASSERT_TRUE(targets[0].pod.has_value());
  EXPECT_EQ(targets[0].pod->uid, kCeleryUid);
  std::vector<core::Pid> pids;
  for (const auto& m : targets[0].tree.members) pids.push_back(m.id.pid);
  std::sort(pids.begin(), pids.end());
  EXPECT_EQ(pids, (std::vector<core::Pid>{200, 201}));
  EXPECT_TRUE(targets[0].cgroupDirs.empty());
}

TEST_F(PodTargetSourceTest, AProcessOfAnotherPodNeverLendsItsIdentity) {
  // Pod A runs map index 3 of a task; a process of pod B that exports map index 7 hangs below it
  // (a shared PID namespace): it neither joins pod A's tree nor re-keys it.
  const char* otherUid = "0b0b0b0b-1111-4222-8333-444444444444";
  pods_ = {pod(kCeleryUid, "worker-a", {kWorkerContainer}),
           pod(otherUid, "worker-b", {kWorkerContainer})};
  const std::string inA = systemdCgroup(kCeleryUid, kWorkerContainer);
  procfs_.add({.pid = 200,
               .argv = {"airflow", "tasks", "run", "etl", "load", "manual__1", "--local",
                        "--map-index", "3"},
               .cgroup = inA});
  procfs_.add({.pid = 201, .ppid = 200, .argv = {"bash"}, .env = ctxEnv("load"), .cgroup = inA});
  auto env = ctxEnv("load");
  env.push_back("AIRFLOW_CTX_MAP_INDEX=7");
  procfs_.add({.pid = 202,
               .ppid = 201,
               .argv = {"intruder"},
               .env = env,
               .cgroup = systemdCgroup(otherUid, kWorkerContainer)});

  const auto targets = discover();
  ASSERT_EQ(targets.size(), 2u);
  const Target& a = targets[0].pod->uid == kCeleryUid ? targets[0] : targets[1];
  const Target& b = &a == &targets[0] ? targets[1] : targets[0];
  EXPECT_EQ(a.tree.key->mapIndex, 3);
  EXPECT_EQ(a.tree.members.size(), 2u);
  EXPECT_EQ(b.pod->uid, otherUid);
  ASSERT_EQ(b.tree.members.size(), 1u);
  EXPECT_EQ(b.tree.members[0].id.pid, 202);
  EXPECT_EQ(b.tree.key->mapIndex, 7);
}

TEST_F(PodTargetSourceTest, ProcessesOfPodsOnOtherNodesAreIgnored) {
  procfs_.add({.pid = 200,
               .argv = {"dbt"},
               .env = ctxEnv("load"),
               .cgroup = systemdCgroup(kCeleryUid, kWorkerContainer)});
  EXPECT_TRUE(discover().empty());
}

TEST_F(PodTargetSourceTest, KubernetesExecutorPodIsOneAttemptOwningItsWorkloadCgroups) {
  kube::Pod executor = pod(kExecutorUid, "etl-extract-abc", {kTaskContainer});
  executor.labels = {{"kubernetes_executor", "True"}, {"airflow-worker", "7"}};
  executor.annotations = {
      {"dag_id", "etl"}, {"task_id", "extract"}, {"run_id", "manual__1"}, {"try_number", "2"}};
  pods_ = {executor};
  const fs::path podDir = root_ / "kubepods.slice" / "kubepods-burstable.slice" /
                          ("kubepods-burstable-pod" + underscored(kExecutorUid) + ".slice");
  fs::create_directories(podDir / ("cri-containerd-" + kTaskContainer + ".scope"));
  fs::create_directories(podDir / ("cri-containerd-" + kSandbox + ".scope"));
  procfs_.add({.pid = 400, .argv = {"/pause"}, .cgroup = systemdCgroup(kExecutorUid, kSandbox)});
  procfs_.add({.pid = 401,
               .argv = {"python", "-m", "airflow.sdk.execution_time.execute_workload"},
               .cgroup = systemdCgroup(kExecutorUid, kTaskContainer)});
  procfs_.add({.pid = 402,
               .ppid = 401,
               .argv = {"sleep", "9"},
               .cgroup = systemdCgroup(kExecutorUid, kTaskContainer)});

  const auto targets = discover();
  ASSERT_EQ(targets.size(), 1u);
  const Target& t = targets[0];
  EXPECT_EQ(t.tree.key, (core::TaskInstanceKey{"etl", "extract", "manual__1", -1, 2}));
  ASSERT_EQ(t.cgroupDirs.size(), 1u);
  EXPECT_TRUE(t.cgroupDirs[0].ends_with("cri-containerd-" + kTaskContainer + ".scope"));
  std::vector<core::Pid> pids;
  for (const auto& m : t.tree.members) pids.push_back(m.id.pid);
  std::sort(pids.begin(), pids.end());
  EXPECT_EQ(pids, (std::vector<core::Pid>{401, 402}));  // never the sandbox
  EXPECT_FALSE(t.tree.ambiguous);
}

TEST_F(PodTargetSourceTest, ExecutorPodWithoutAnnotationsIsNeverDecided) {
  kube::Pod executor = pod(kExecutorUid, "etl-extract-abc", {kTaskContainer});
  executor.labels = {{"kubernetes_executor", "True"}};
  pods_ = {executor};
  procfs_.add(
      {.pid = 401, .argv = {"sleep", "9"}, .cgroup = systemdCgroup(kExecutorUid, kTaskContainer)});
  const auto targets = discover();
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_TRUE(targets[0].tree.ambiguous);
  EXPECT_FALSE(targets[0].tree.key.has_value());
}

}  // namespace
}  // namespace reaper::loop
