#include "kill/fork_watch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/proc/fake_proc_fs.h"

namespace reaper::kill {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

std::vector<core::ProcessIdentity> ids(const std::vector<ForkedProcess>& forked) {
  std::vector<core::ProcessIdentity> out;
  for (const auto& process : forked) out.push_back(process.id);
  return out;
}

// A target (100) and its child (200), both listed by the deciding discovery, and a process that
// is no target's (300).
class ForkWatchTest : public ::testing::Test {
 protected:
  ForkWatchTest() {
    fs_.add({.pid = 100, .ppid = 1, .startTicks = 500});
    fs_.add({.pid = 200, .ppid = 100, .startTicks = 600});
    fs_.add({.pid = 300, .ppid = 1, .startTicks = 650});
  }
  std::vector<ForkedProcess> forked(std::vector<core::Pid> parents = {100}) {
    watch_.refresh();
    return watch_.forkedBy(parents, baseline_);
  }

  test::FakeProcFs fs_;
  ForkWatch watch_{fs_};
  Baseline baseline_ = makeBaseline({{300, 650}, {200, 600}, {100, 500}});
};

TEST_F(ForkWatchTest, WhatTheDiscoveryListedIsNotNew) { EXPECT_THAT(forked(), IsEmpty()); }

TEST_F(ForkWatchTest, ChildrenOfTheParentsOnlyAreNew) {
  fs_.add({.pid = 400, .ppid = 100, .startTicks = 700});
  fs_.add({.pid = 401, .ppid = 200, .startTicks = 701});
  fs_.add({.pid = 402, .ppid = 300, .startTicks = 702});
  const auto found = forked();
  EXPECT_THAT(ids(found), ElementsAre(core::ProcessIdentity{400, 700}));
  EXPECT_EQ(found.front().ppid, 100);
  EXPECT_THAT(ids(forked({100, 200})), UnorderedElementsAre(core::ProcessIdentity{400, 700},
                                                            core::ProcessIdentity{401, 701}));
}

// A tree forking fast turns the pid allocator over: its child may get a pid the discovery listed
// for a process that exited since. It is new all the same.
TEST_F(ForkWatchTest, AChildUnderAPidTheDiscoveryListedForAnotherProcessIsNew) {
  fs_.remove(300);
  fs_.add({.pid = 300, .ppid = 100, .startTicks = 900});
  EXPECT_THAT(ids(forked()), ElementsAre(core::ProcessIdentity{300, 900}));
}

// Between two steps a pid may change hands without ever being seen free.
TEST_F(ForkWatchTest, EachStepReadsWhatItReportsAgain) {
  fs_.add({.pid = 400, .ppid = 100, .startTicks = 700});
  EXPECT_THAT(ids(forked()), ElementsAre(core::ProcessIdentity{400, 700}));
  fs_.remove(400);
  fs_.add({.pid = 400, .ppid = 100, .startTicks = 800});
  EXPECT_THAT(ids(forked()), ElementsAre(core::ProcessIdentity{400, 800}));
}

}  // namespace
}  // namespace reaper::kill
