#include "proc/tree.h"

#include <gtest/gtest.h>

#include <deque>
#include <set>
#include <stdexcept>

#include "unit/proc/fake_proc_fs.h"

namespace reaper::proc {
namespace {

using test::FakeProcess;
using test::FakeProcFs;

constexpr core::Pid kSelf = 99999;
const std::string kUuid = "0194c2e1-8f5a-7b3c-9d2e-1f0a2b3c4d5e";
const std::string kUuid2 = "0194c2e1-8f5a-7b3c-9d2e-aaaaaaaaaaaa";
const std::string kCeleryMain = "[celeryd: celery@w0:MainProcess] -active- (celery worker)";
const std::string kPool = "[celeryd: celery@w0:ForkPoolWorker-1]";

std::vector<std::string> ctx(const std::string& dag, const std::string& task,
                             const std::string& run, int tryNumber) {
  return {"PATH=/usr/bin", "AIRFLOW_CTX_DAG_ID=" + dag, "AIRFLOW_CTX_TASK_ID=" + task,
          "AIRFLOW_CTX_DAG_RUN_ID=" + run, "AIRFLOW_CTX_TRY_NUMBER=" + std::to_string(tryNumber)};
}

class TreeTest : public ::testing::Test {
 protected:
  // Adds a process in session/group 100 started at `start` ticks.
  FakeProcess& add(core::Pid pid, core::Pid ppid, std::vector<std::string> argv,
                   std::vector<std::string> env = {}, uint64_t start = 0) {
    FakeProcess p;
    p.pid = pid;
    p.ppid = ppid;
    p.pgid = 100;
    p.sid = 100;
    p.startTicks = start != 0 ? start : 1000 + pid;
    p.argv = std::move(argv);
    p.env = std::move(env);
    pending_.push_back(p);
    return pending_.back();
  }

  std::vector<TaskTree> scan(IdentityOptions options = {kSelf, {}}) {
    for (auto& p : pending_) fs_.add(p);
    pending_.clear();
    auto snapshot = ProcessSnapshot::capture(fs_);
    return identifyTrees(snapshot, options);
  }

  static const TaskTree* treeWith(const std::vector<TaskTree>& trees, core::Pid pid) {
    for (const auto& tree : trees) {
      for (const auto& m : tree.members) {
        if (m.id.pid == pid) return &tree;
      }
    }
    return nullptr;
  }

  static std::set<core::Pid> pids(const TaskTree& tree) {
    std::set<core::Pid> out;
    for (const auto& m : tree.members) out.insert(m.id.pid);
    return out;
  }

  static const TreeMember& member(const TaskTree& tree, core::Pid pid) {
    for (const auto& m : tree.members) {
      if (m.id.pid == pid) return m;
    }
    throw std::runtime_error("not a member");
  }

  // A Celery worker: main process 100 and pool process 101.
  void celeryWorker() {
    add(100, 1, {kCeleryMain});
    add(101, 100, {kPool});
  }

  FakeProcFs fs_;
  std::deque<FakeProcess> pending_;
};

TEST_F(TreeTest, Airflow2CeleryLocalRawAndRunner) {
  celeryWorker();
  add(200, 101,
      {"/usr/bin/python3", "/usr/local/bin/airflow", "tasks", "run", "etl", "load", "r1",
       "--job-id", "5", "--local"});
  add(201, 200, {"airflow task runner: etl load r1 5"});
  add(202, 201, {"/bin/bash", "-c", "sleep 60"}, ctx("etl", "load", "r1", 1));
  add(203, 202, {"sleep", "60"}, ctx("etl", "load", "r1", 1));
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  const TaskTree& tree = trees[0];
  ASSERT_TRUE(tree.key);
  EXPECT_EQ(tree.key->toString(), "etl/load/r1/-1/1");
  EXPECT_EQ(tree.root.pid, 200);
  EXPECT_EQ(tree.members.front().id.pid, 200);
  EXPECT_EQ(pids(tree), (std::set<core::Pid>{200, 201, 202, 203}));
  EXPECT_FALSE(tree.ambiguous) << tree.ambiguity;
  for (const auto& m : tree.members) {
    EXPECT_FALSE(m.orphan) << m.id.pid;
    EXPECT_FALSE(m.escapee) << m.id.pid;
  }
}

TEST_F(TreeTest, Airflow2CeleryForkedSupervisorAndRawSubprocess) {
  celeryWorker();
  add(200, 101,
      {"airflow task supervisor: ['airflow', 'tasks', 'run', 'etl', 'load', 'r1', '--local', "
       "'--map-index', '4']"});
  add(201, 200,
      {"python", "/opt/airflow", "tasks", "run", "etl", "load", "r1", "--raw", "--map-index", "4"});
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(trees[0].key->toString(), "etl/load/r1/4/0");
  EXPECT_EQ(pids(trees[0]), (std::set<core::Pid>{200, 201}));
}

TEST_F(TreeTest, OrphanedRawProcessIsAnOrphanRoot) {
  add(201, 1, {"airflow", "tasks", "run", "etl", "load", "r1", "--raw"});
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_TRUE(trees[0].members[0].orphan);
}

TEST_F(TreeTest, Airflow3CeleryTaskProcessSharesTheWorkersGroup) {
  celeryWorker();
  add(300, 101, {"airflow worker -- " + kUuid});
  add(301, 300, {"bash", "-c", "python job.py"}, ctx("etl", "load", "r1", 2));
  add(302, 301, {"python", "job.py"}, ctx("etl", "load", "r1", 2));
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  const TaskTree& tree = trees[0];
  EXPECT_EQ(tree.tiUuid, kUuid);
  EXPECT_FALSE(tree.key) << "the uuid names the attempt; the API resolves it";
  EXPECT_EQ(pids(tree), (std::set<core::Pid>{300, 301, 302}));
  EXPECT_FALSE(member(tree, 300).orphan);
  EXPECT_FALSE(treeWith(trees, 100));
  EXPECT_FALSE(treeWith(trees, 101)) << "the pool process is the worker's own";
}

TEST_F(TreeTest, Airflow3TaskWithoutEnvironmentHasOnlyItsUuid) {
  celeryWorker();
  add(300, 101, {"airflow worker -- " + kUuid});
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_FALSE(trees[0].key);
  EXPECT_EQ(trees[0].tiUuid, kUuid);
  EXPECT_FALSE(trees[0].ambiguous);
}

TEST_F(TreeTest, CeleryPoolProcessIsNeverAMemberEvenWithContext) {
  add(100, 1, {kCeleryMain});
  add(101, 100, {kPool}, ctx("etl", "load", "r1", 1));
  EXPECT_TRUE(scan().empty());
}

TEST_F(TreeTest, LocalExecutorWorkerNeverAMember) {
  add(10, 1, {"airflow scheduler"});
  add(20, 10, {"airflow worker -- LocalExecutor: " + kUuid});
  add(21, 10, {"airflow worker -- LocalExecutor: <idle>"});
  add(30, 20, {"airflow worker -- " + kUuid});
  add(31, 30, {"sh", "-c", "x"}, ctx("d", "t", "r", 1));
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(trees[0].root.pid, 30);
  EXPECT_EQ(pids(trees[0]), (std::set<core::Pid>{30, 31}));
  EXPECT_FALSE(trees[0].members[0].orphan);
}

TEST_F(TreeTest, ForkOfLocalExecutorWorkerBeforeRetitleIsTheTaskProcess) {
  add(10, 1, {"airflow scheduler"});
  add(20, 10, {"airflow worker -- LocalExecutor: " + kUuid2});
  add(30, 20, {"airflow worker -- LocalExecutor: " + kUuid2});
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(trees[0].tiUuid, kUuid2);
  EXPECT_EQ(pids(trees[0]), std::set<core::Pid>{30});
}

TEST_F(TreeTest, ForkOfCeleryPoolBeforeRetitleIsAmbiguous) {
  celeryWorker();
  add(300, 101, {kPool});
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(pids(trees[0]), std::set<core::Pid>{300});
  EXPECT_TRUE(trees[0].ambiguous);
}

TEST_F(TreeTest, SetsidEscapeeStaysAndDaemonReparentedToInitIsCarriedByItsEnvironment) {
  celeryWorker();
  add(300, 101, {"airflow worker -- " + kUuid});
  add(301, 300, {"bash", "run.sh"}, ctx("etl", "load", "r1", 2));
  FakeProcess& escapee = add(302, 301, {"setsid", "sleep", "1000"}, ctx("etl", "load", "r1", 2));
  escapee.sid = 302;
  escapee.pgid = 302;
  FakeProcess& daemon = add(303, 1, {"mydaemon"}, ctx("etl", "load", "r1", 2));
  daemon.sid = 303;
  daemon.pgid = 303;
  add(304, 303, {"mydaemon-child"});
  auto trees = scan();
  ASSERT_EQ(trees.size(), 2u);
  const TaskTree& tree = *treeWith(trees, 300);
  EXPECT_EQ(pids(tree), (std::set<core::Pid>{300, 301, 302}));
  EXPECT_TRUE(member(tree, 302).escapee);
  EXPECT_FALSE(member(tree, 302).orphan);
  EXPECT_FALSE(member(tree, 301).escapee);
  const TaskTree& carried = *treeWith(trees, 303);
  EXPECT_EQ(pids(carried), (std::set<core::Pid>{303, 304}));
  EXPECT_EQ(carried.key->toString(), "etl/load/r1/-1/2");
  EXPECT_TRUE(member(carried, 303).orphan);
  EXPECT_FALSE(member(carried, 304).orphan);
}

TEST_F(TreeTest, DoubleForkedDaemonOfAGoneTaskIsItsOwnTree) {
  add(400, 1, {"daemon"}, ctx("etl", "load", "r1", 1), 5000);
  add(401, 400, {"env", "-i", "worker"});
  add(402, 1, {"daemon2"}, ctx("etl", "load", "r1", 1), 6000);
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  const TaskTree& tree = trees[0];
  EXPECT_EQ(tree.key->toString(), "etl/load/r1/-1/1");
  EXPECT_EQ(tree.root.pid, 400);
  EXPECT_EQ(pids(tree), (std::set<core::Pid>{400, 401, 402}));
  EXPECT_TRUE(member(tree, 400).orphan);
  EXPECT_TRUE(member(tree, 402).orphan);
  EXPECT_FALSE(member(tree, 401).orphan);
  EXPECT_FALSE(tree.ambiguous);
}

TEST_F(TreeTest, OldTryOrphansAreTheirOwnTree) {
  celeryWorker();
  add(300, 101, {"airflow worker -- " + kUuid});
  add(301, 300, {"bash"}, ctx("etl", "load", "r1", 2));
  add(500, 1, {"leftover"}, ctx("etl", "load", "r1", 1), 10);
  auto trees = scan();
  ASSERT_EQ(trees.size(), 2u);
  const TaskTree* current = treeWith(trees, 300);
  const TaskTree* old = treeWith(trees, 500);
  ASSERT_TRUE(current && old);
  EXPECT_NE(current, old);
  EXPECT_FALSE(current->key);
  EXPECT_EQ(old->key->tryNumber, 1);
  EXPECT_EQ(old->origin, Origin::Environment);
}

TEST_F(TreeTest, OrphanWithKnownTryDoesNotJoinATreeThatDoesNotKnowItsTry) {
  add(600, 1, {"airflow", "tasks", "run", "d2", "t", "r", "--local"});
  add(610, 1, {"leftover"}, ctx("d2", "t", "r", 1));
  auto trees = scan();
  ASSERT_EQ(trees.size(), 2u);
  EXPECT_NE(treeWith(trees, 600), treeWith(trees, 610));
}

TEST_F(TreeTest, OrphanThatDoesNotTellItsMapIndexDoesNotJoinAMappedTree) {
  add(600, 1, {"airflow", "tasks", "run", "d", "t", "r", "--local", "--map-index", "3"});
  add(601, 600, {"bash"}, ctx("d", "t", "r", 1));
  add(610, 1, {"daemon"}, ctx("d", "t", "r", 1));
  auto trees = scan();
  ASSERT_EQ(trees.size(), 2u);
  const TaskTree* mapped = treeWith(trees, 600);
  ASSERT_TRUE(mapped);
  EXPECT_EQ(mapped->key->toString(), "d/t/r/3/1");
  EXPECT_TRUE(mapped->mapIndexKnown);
  EXPECT_EQ(pids(*mapped), (std::set<core::Pid>{600, 601}));
  EXPECT_FALSE(treeWith(trees, 610)->mapIndexKnown);
}

TEST_F(TreeTest, OrphanNeverJoinsALiveRootsTree) {
  add(600, 1, {"airflow", "tasks", "run", "d", "t", "r", "--local"});
  add(601, 600, {"bash"}, ctx("d", "t", "r", 1));
  add(610, 1, {"daemon"}, ctx("d", "t", "r", 1));
  auto trees = scan();
  ASSERT_EQ(trees.size(), 2u);
  const TaskTree* rooted = treeWith(trees, 600);
  const TaskTree* carried = treeWith(trees, 610);
  EXPECT_EQ(pids(*rooted), (std::set<core::Pid>{600, 601}));
  EXPECT_EQ(rooted->key->toString(), "d/t/r/-1/1") << "the try comes from its own child";
  EXPECT_TRUE(rooted->mapIndexKnown);
  EXPECT_EQ(pids(*carried), std::set<core::Pid>{610});
  EXPECT_FALSE(carried->mapIndexKnown);
  EXPECT_TRUE(member(*carried, 610).orphan);
}

TEST_F(TreeTest, OldTryUnderASubreaperIsSplitOffAsAmbiguousOnceTheUuidIsResolved) {
  celeryWorker();
  add(700, 101, {"airflow worker -- " + kUuid});
  add(701, 700, {"bash"}, ctx("etl", "load", "r1", 3));
  add(702, 700, {"old"}, ctx("etl", "load", "r1", 2), 10);
  add(703, 702, {"old-child"});
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  TaskTree current = trees[0];
  auto splits = settleKey(current, {"etl", "load", "r1", -1, 3});
  EXPECT_EQ(pids(current), (std::set<core::Pid>{700, 701}));
  EXPECT_FALSE(current.ambiguous);
  ASSERT_EQ(splits.size(), 1u);
  EXPECT_EQ(pids(splits[0]), (std::set<core::Pid>{702, 703}));
  EXPECT_TRUE(splits[0].ambiguous);
  EXPECT_FALSE(splits[0].key);
  EXPECT_EQ(splits[0].root.pid, 702);
}

TEST_F(TreeTest, DescendantNamingAnotherTaskIsSplitOffAndTheRootKeepsItsKey) {
  add(200, 1, {"airflow", "tasks", "run", "etl", "load", "r1", "--local"});
  add(201, 200, {"bash"}, ctx("other_dag", "x", "r9", 1));
  add(202, 201, {"sleep"});
  add(203, 200, {"bash"}, ctx("etl", "load", "r1", 2));
  auto trees = scan();
  ASSERT_EQ(trees.size(), 2u);
  const TaskTree* rooted = treeWith(trees, 200);
  const TaskTree* split = treeWith(trees, 201);
  EXPECT_EQ(pids(*rooted), (std::set<core::Pid>{200, 203}));
  EXPECT_EQ(rooted->key->toString(), "etl/load/r1/-1/2");
  EXPECT_FALSE(rooted->ambiguous);
  EXPECT_EQ(pids(*split), (std::set<core::Pid>{201, 202}));
  EXPECT_TRUE(split->ambiguous);
  EXPECT_EQ(split->origin, Origin::Split);
}

TEST_F(TreeTest, DescendantsThatDisagreeOnTheTryMakeTheTreeAmbiguous) {
  add(200, 1, {"airflow", "tasks", "run", "etl", "load", "r1", "--local"});
  add(201, 200, {"bash"}, ctx("etl", "load", "r1", 1));
  add(202, 200, {"bash"}, ctx("etl", "load", "r1", 2));
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_TRUE(trees[0].ambiguous);
  EXPECT_EQ(trees[0].key->tryNumber, 0);
}

TEST_F(TreeTest, InheritedEnvironmentNeverOverridesATitle) {
  // A Celery pool process carrying the environment of a finished maintenance task forks the task
  // process of a running TI; its first child inherits that stale environment too.
  add(100, 1, {kCeleryMain});
  add(101, 100, {kPool}, ctx("maintenance", "vacuum", "r0", 1));
  add(300, 101, {"airflow worker -- " + kUuid}, ctx("maintenance", "vacuum", "r0", 1));
  add(301, 300, {"python"}, ctx("maintenance", "vacuum", "r0", 1));
  add(302, 300, {"bash"}, ctx("etl", "load", "r1", 1));
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  TaskTree tree = trees[0];
  EXPECT_FALSE(tree.key) << "the title's uuid decides, not the inherited environment";
  EXPECT_FALSE(tree.ambiguous) << tree.ambiguity;
  EXPECT_TRUE(settleKey(tree, {"etl", "load", "r1", -1, 1}).empty());
  EXPECT_EQ(pids(tree), (std::set<core::Pid>{300, 301, 302}));
  EXPECT_EQ(tree.key->dagId, "etl");
}

TEST_F(TreeTest, ChildCarryingItsWorkersOwnEnvironmentIsNoCarrier) {
  add(100, 1, {kCeleryMain});
  add(101, 100, {kPool}, ctx("maintenance", "vacuum", "r0", 1));
  add(102, 101, {"sleep", "1"}, ctx("maintenance", "vacuum", "r0", 1));
  add(103, 101, {"bash"}, ctx("etl", "load", "r1", 1));  // its own: a carrier
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(pids(trees[0]), std::set<core::Pid>{103});
}

TEST_F(TreeTest, WorkersEnvironmentInheritedThroughItsOwnChildrenNamesNoTask) {
  // A webserver started under a finished task's environment: its gunicorn master inherits it
  // from the webserver, and the gunicorn workers from the master.
  add(100, 1, {"/usr/bin/python3", "/usr/local/bin/airflow", "webserver"},
      ctx("maintenance", "vacuum", "r0", 1));
  add(101, 100, {"gunicorn: master [airflow-webserver]"}, ctx("maintenance", "vacuum", "r0", 1));
  add(102, 101, {"[ready] gunicorn: worker [airflow-webserver]"},
      ctx("maintenance", "vacuum", "r0", 1));
  add(103, 101, {"bash"}, ctx("etl", "load", "r1", 1));  // its own: a carrier
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(pids(trees[0]), std::set<core::Pid>{103});
}

TEST_F(TreeTest, TwoLiveRootsOfOneTaskInstanceAreTwoTrees) {
  // A retry started while the old try is still dying; neither tells its try.
  add(200, 1, {"airflow", "tasks", "run", "etl", "load", "r1", "--local"}, {}, 1000);
  add(201, 200, {"sleep"}, {}, 1001);
  add(300, 1, {"airflow", "tasks", "run", "etl", "load", "r1", "--local"}, {}, 9000);
  auto trees = scan();
  ASSERT_EQ(trees.size(), 2u);
  EXPECT_EQ(pids(*treeWith(trees, 200)), (std::set<core::Pid>{200, 201}));
  EXPECT_EQ(pids(*treeWith(trees, 300)), std::set<core::Pid>{300});
  EXPECT_EQ(*trees[0].key, *trees[1].key);
  EXPECT_NE(trees[0].root, trees[1].root);
}

TEST_F(TreeTest, NoIdentityCrossesAPlacement) {
  // Pod A runs map index 3; a process of pod B below it (a shared pid namespace) exports map
  // index 7: it neither joins nor re-keys pod A's tree.
  add(600, 1, {"airflow", "tasks", "run", "d", "t", "r", "--local", "--map-index", "3"});
  add(601, 600, {"bash"}, ctx("d", "t", "r", 1));
  std::vector<std::string> env = ctx("d", "t", "r", 1);
  env.push_back("AIRFLOW_CTX_MAP_INDEX=7");
  add(602, 601, {"intruder"}, env);
  static const std::string kPodA = "pod-a", kPodB = "pod-b";
  IdentityOptions options{kSelf, [](const Process& p) { return p.pid == 602 ? &kPodB : &kPodA; }};
  auto trees = scan(options);
  ASSERT_EQ(trees.size(), 2u);
  const TaskTree* a = treeWith(trees, 600);
  EXPECT_EQ(a->key->toString(), "d/t/r/3/1");
  EXPECT_EQ(a->placement, "pod-a");
  EXPECT_EQ(pids(*a), (std::set<core::Pid>{600, 601}));
  const TaskTree* b = treeWith(trees, 602);
  EXPECT_EQ(b->placement, "pod-b");
  EXPECT_EQ(b->key->toString(), "d/t/r/7/1");
  EXPECT_EQ(b->origin, Origin::Environment);
}

TEST_F(TreeTest, TwoUuidsInOneTreeAreAmbiguous) {
  add(50, 1, {"python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-path", "/w"});
  add(51, 50, {"airflow worker -- " + kUuid});
  add(52, 50, {"airflow worker -- " + kUuid2});
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_TRUE(trees[0].ambiguous);
}

TEST_F(TreeTest, KubernetesExecutorPod) {
  std::string json =
      R"({"token":"t","ti":{"id":")" + kUuid +
      R"(","dag_id":"etl","task_id":"load","run_id":"r1","try_number":1,"map_index":2}})";
  add(50, 1, {"containerd-shim-runc-v2", "-namespace", "k8s.io"});
  FakeProcess& init = add(51, 50, {"/usr/bin/dumb-init", "--", "python"});
  init.nsPids = {51, 1};
  FakeProcess& workload =
      add(52, 51,
          {"/usr/python/bin/python", "-m", "airflow.sdk.execution_time.execute_workload",
           "--json-string", json});
  workload.nsPids = {52, 7};
  add(53, 52, {"airflow worker -- " + kUuid});
  add(54, 53, {"bash"}, ctx("etl", "load", "r1", 1));
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(trees[0].key->toString(), "etl/load/r1/2/1");
  EXPECT_EQ(trees[0].tiUuid, kUuid);
  EXPECT_EQ(trees[0].root.pid, 52);
  EXPECT_EQ(pids(trees[0]), (std::set<core::Pid>{52, 53, 54}));
  EXPECT_FALSE(trees[0].ambiguous) << trees[0].ambiguity;
}

TEST_F(TreeTest, TaskThatIsItsContainersInitOwnsTheNamespace) {
  FakeProcess& root = add(60, 50, {"airflow", "tasks", "run", "d", "t", "r", "--local"});
  root.nsPids = {60, 1};
  add(61, 60, {"airflow task runner: d t r 1"}).nsPids = {61, 2};
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(pids(trees[0]), (std::set<core::Pid>{60, 61}));
  std::set<core::Pid> ownPids;
  for (const auto& member : trees[0].members) ownPids.insert(member.ownPid);
  EXPECT_EQ(ownPids, (std::set<core::Pid>{1, 2})) << "as the container's processes know them";
}

TEST_F(TreeTest, NeverMembers) {
  add(1, 0, {"/sbin/init"}, ctx("d", "t", "r", 1));
  FakeProcess& kthread = add(2, 0, {}, ctx("d", "t", "r", 1));
  kthread.kernelThread = true;
  add(kSelf, 1, {"airflow-reaper"}, ctx("d", "t", "r", 1));
  FakeProcess& foreignInit = add(70, 50, {"tini", "--"}, ctx("d", "t", "r", 1));
  foreignInit.nsPids = {70, 1};
  add(80, 1, {"outside-the-pod"}, ctx("d", "t", "r", 1));
  add(81, 1, {"inside"}, ctx("d", "t", "r", 1));
  static const std::string kPod;
  IdentityOptions options{kSelf, [](const Process& p) { return p.pid == 80 ? nullptr : &kPod; }};
  auto trees = scan(options);
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(pids(trees[0]), std::set<core::Pid>{81});
}

TEST_F(TreeTest, NamespaceInitStartedByTheTaskIsAMember) {
  add(800, 1, {"airflow", "tasks", "run", "d", "t", "r", "--local"});
  add(801, 800, {"unshare", "--fork", "--pid", "bash"}, ctx("d", "t", "r", 1));
  add(802, 801, {"bash"}, ctx("d", "t", "r", 1)).nsPids = {802, 1};
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(pids(trees[0]), (std::set<core::Pid>{800, 801, 802}));
}

TEST_F(TreeTest, ZombiesAreListedDead) {
  add(800, 1, {"airflow", "tasks", "run", "d", "t", "r", "--local"});
  add(801, 800, {}).state = 'Z';
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_TRUE(member(trees[0], 801).dead);
  EXPECT_FALSE(member(trees[0], 800).dead);
}

TEST_F(TreeTest, ProcessVanishingMidScanIsNotAMember) {
  add(800, 1, {"airflow", "tasks", "run", "d", "t", "r", "--local"});
  add(801, 800, {"bash"});
  for (auto& p : pending_) fs_.add(p);
  pending_.clear();
  fs_.vanishAfterListing(801);
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(pids(trees[0]), std::set<core::Pid>{800});
}

TEST_F(TreeTest, AgeIsTheOldestMembersAndAttemptAgeTheRoots) {
  fs_.setUptime("100.00 0\n");
  add(800, 1, {"airflow", "tasks", "run", "d", "t", "r", "--local"}, {}, 5000);  // at 50 s
  add(801, 800, {"adopted"}, {}, 1000);  // started at 10 s, reparented to the root
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(trees[0].age, core::Duration{90000});
  EXPECT_EQ(trees[0].attemptAge, core::Duration{50000});
}

TEST_F(TreeTest, CarriersAttemptAgeIsTheYoungestCarriers) {
  fs_.setUptime("100.00 0\n");
  add(400, 1, {"daemon"}, ctx("d", "t", "r", 1), 2000);
  add(401, 1, {"daemon2"}, ctx("d", "t", "r", 1), 6000);
  auto trees = scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(trees[0].attemptAge, core::Duration{40000});
}

}  // namespace
}  // namespace reaper::proc
