// Real process trees killed through real pidfds by the real kill worker: the decided members are a
// /proc scan for the tree's marker; the kill follows only what they fork.
#include "kill/tree_killer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "core/clock.h"
#include "kill/kill_worker.h"
#include "os/pidfd_signaller.h"
#include "os/procfs_reader.h"
#include "real_processes.h"
#include "support/test_support.h"

namespace reaper::kill {
namespace {

using testing::eventually;
using testing::identities;
using ::testing::IsEmpty;
using testing::MarkedTrees;
using testing::processesMarked;
using testing::RealProcess;
using testing::running;
using testing::spawnMarked;

constexpr uint64_t kSigTermBit = uint64_t{1} << (SIGTERM - 1);

class RealTreeKillTest : public ::testing::Test {
 protected:
  // Decides on the processes marked now and kills exactly those, plus what they fork meanwhile.
  // `whileKilling` runs once the kill has started.
  KillReport killMarked(const std::string& marker, core::Duration grace,
                        const std::function<void()>& whileKilling = {}) {
    core::SystemClock clock;
    os::PidfdSignaller signaller("/proc");
    os::ProcfsReader procfs("/proc");
    std::vector<core::ProcessIdentity> listed;
    for (const core::Pid pid : procfs.listPids()) {
      if (const auto process = testing::readProcess(pid)) listed.push_back(process->identity);
    }
    const auto decided = identities(processesMarked(marker));
    KillOptions options;
    options.gracePeriod = grace;
    options.pollStep = core::Duration{20};
    options.killWait = core::Duration{5000};
    KillWorker worker(procfs, clock, options.pollStep);
    worker.submit({}, std::make_unique<TreeKill>(marker, decided, signaller, clock, options),
                  makeBaseline(std::move(listed)));
    if (whileKilling) whileKilling();
    worker.waitIdle();
    return worker.takeFinished().at(0).report;
  }
  static bool isMember(const std::vector<RealProcess>& members, core::Pid pid) {
    return std::any_of(members.begin(), members.end(),
                       [&](const RealProcess& p) { return p.identity.pid == pid; });
  }
  static void expectAllGone(const std::vector<RealProcess>& before, const std::string& marker) {
    for (const auto& process : before)
      EXPECT_FALSE(running(process.identity)) << process.identity.pid;
    EXPECT_THAT(processesMarked(marker), IsEmpty());
  }

  MarkedTrees trees_;
};

TEST_F(RealTreeKillTest, EscapeeDaemonAndTermIgnorerDieWhileAGroupNeighbourSurvives) {
  const std::string victim = trees_.newMarker("victim");
  const std::string neighbour = trees_.newMarker("neighbour");
  // The neighbour is a child of the tree's root, in its process group and session, but not a
  // member: the Celery worker beside an Airflow 3 task process. A killpg would take it down.
  const core::Pid root = spawnMarked(
      "setsid sleep 1000 & "
      "sh -c 'sleep 1000 &' & "
      "sh -c 'trap \"\" TERM; exec sleep 1000' & " +
          std::string(testing::kMarkerVar) + "=" + neighbour + " sleep 1000 & wait",
      victim);
  std::vector<RealProcess> before;
  ASSERT_TRUE(eventually([&] {
    before = processesMarked(victim);
    const auto has = [&](auto pred) { return std::any_of(before.begin(), before.end(), pred); };
    const auto rootSid = ::getsid(root);
    return before.size() == 4 && processesMarked(neighbour).size() == 1 &&
           has([&](const RealProcess& p) { return p.identity.pid == root; }) &&
           has([&](const RealProcess& p) { return p.sid != rootSid; }) &&
           has([&](const RealProcess& p) {
             return p.ppid == ::getpid() && p.identity.pid != root;
           }) &&
           has([&](const RealProcess& p) { return (p.ignoredSignals & kSigTermBit) != 0; });
  })) << "tree never took shape";
  const auto outsider = processesMarked(neighbour).front();
  ASSERT_EQ(outsider.sid, ::getsid(root));

  const auto report = killMarked(victim, core::Duration{1000});

  expectAllGone(before, victim);
  EXPECT_TRUE(running(outsider.identity));
  EXPECT_EQ(report.signalled, 4u);
  EXPECT_TRUE(report.escalated);
  EXPECT_THAT(report.survivors, IsEmpty());
}

TEST_F(RealTreeKillTest, ProcessForkingThroughTheKillEndsDeadWithAllItsChildren) {
  const std::string victim = trees_.newMarker("forker");
  spawnMarked("trap '' TERM; while :; do sleep 1000 & sleep 0.05; done", victim);
  std::vector<RealProcess> before;
  ASSERT_TRUE(eventually([&] {
    before = processesMarked(victim);
    return before.size() >= 6;
  }));

  const auto report = killMarked(victim, core::Duration{500});

  expectAllGone(before, victim);
  // It kept forking through the grace period: more members were signalled than existed at the
  // start.
  EXPECT_GT(report.signalled, before.size());
  EXPECT_TRUE(report.escalated);
  EXPECT_THAT(report.survivors, IsEmpty());
}

TEST_F(RealTreeKillTest, ProcessStartedDuringTheKillByANonTargetIsNeverSignalled) {
  // A retry's root starting on the same worker while the old try dies carries the same marker
  // (the same key): it was not decided and no target forked it.
  const std::string victim = trees_.newMarker("old-try");
  spawnMarked("trap '' TERM; exec sleep 1000", victim);
  std::vector<RealProcess> before;
  ASSERT_TRUE(eventually([&] { return (before = processesMarked(victim)).size() == 1; }));
  core::Pid retry = 0;

  const auto report = killMarked(victim, core::Duration{1000},
                                 [&] { retry = spawnMarked("exec sleep 1000", victim); });

  for (const auto& process : before) EXPECT_FALSE(running(process.identity));
  const auto retried = processesMarked(victim);
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(retried.front().identity.pid, retry);
  EXPECT_EQ(report.signalled, 1u);
}

TEST_F(RealTreeKillTest, PidNamespaceWithDaemonReparentedToItsInit) {
  REAPER_REQUIRE_ROOT();
  const std::string victim = trees_.newMarker("pidns");
  const std::string neighbour = trees_.newMarker("pidns-neighbour");
  spawnMarked("exec sleep 1000", neighbour);
  // Inside, the namespace init is `sleep` (signals without a handler do not reach it, so only
  // SIGKILL ends it); the daemon's parent exits and the daemon is reparented to that init.
  spawnMarked(
      "exec unshare --pid --fork --mount-proc sh -c 'sh -c \"sleep 1000 &\"; exec sleep 1000'",
      victim);
  std::vector<RealProcess> before;
  core::Pid init = 0;
  ASSERT_TRUE(eventually([&] {
    before = processesMarked(victim);
    for (const auto& p : before) {
      if (p.nsPids.size() == 2 && p.nsPids.back() == "1") init = p.identity.pid;
    }
    return before.size() == 3 && init != 0 &&
           std::any_of(before.begin(), before.end(), [&](const RealProcess& p) {
             return p.ppid == init && p.identity.pid != init;
           });
  })) << "namespace tree never took shape";
  const auto outsider = processesMarked(neighbour);
  ASSERT_EQ(outsider.size(), 1u);

  const auto report = killMarked(victim, core::Duration{500});

  expectAllGone(before, victim);
  EXPECT_TRUE(running(outsider.front().identity));
  EXPECT_TRUE(report.escalated);
  EXPECT_THAT(report.survivors, IsEmpty());
}

}  // namespace
}  // namespace reaper::kill
