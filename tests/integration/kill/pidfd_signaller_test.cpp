#include "os/pidfd_signaller.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "real_processes.h"

namespace reaper::os {
namespace {

using kill::testing::eventually;
using kill::testing::readFile;
using kill::testing::readProcess;

class PidfdSignallerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    child_ = ::fork();
    if (child_ == 0) {
      ::pause();
      ::_exit(0);
    }
    ASSERT_GT(child_, 0);
    const auto process = readProcess(child_);
    ASSERT_TRUE(process.has_value());
    identity_ = process->identity;
  }
  void TearDown() override {
    if (child_ <= 0) return;
    ::kill(child_, SIGKILL);  // our own child, not yet reaped: the pid cannot have been reused
    ::waitpid(child_, nullptr, 0);
  }

  PidfdSignaller signaller_{"/proc"};
  core::Pid child_ = 0;
  core::ProcessIdentity identity_;
};

TEST_F(PidfdSignallerTest, OpensTheProcessAndReadsItsState) {
  auto handle = signaller_.open(identity_);
  ASSERT_TRUE(handle.ok()) << handle.error().message;
  EXPECT_EQ((*handle)->identity(), identity_);
  EXPECT_FALSE(signaller_.exited(**handle));
  EXPECT_TRUE(eventually([&] { return signaller_.state(**handle) == 'S'; }));
}

TEST_F(PidfdSignallerTest, RefusesAnIdentityWhoseStartTimeDiffers) {
  const auto reused = signaller_.open({child_, identity_.startTicks + 1});
  ASSERT_FALSE(reused.ok());
  EXPECT_EQ(reused.error().code, ESRCH);
}

TEST_F(PidfdSignallerTest, SignalStopsAndKillsThroughThePidfd) {
  auto handle = signaller_.open(identity_);
  ASSERT_TRUE(handle.ok());
  ASSERT_TRUE(signaller_.signal(**handle, SIGSTOP).ok());
  EXPECT_TRUE(eventually([&] { return signaller_.state(**handle) == 'T'; }));
  ASSERT_TRUE(signaller_.signal(**handle, SIGKILL).ok());
  EXPECT_TRUE(eventually([&] { return signaller_.exited(**handle); }));
  EXPECT_EQ(signaller_.state(**handle), 'Z') << "exited, not reaped: it still holds its pid";
  ASSERT_EQ(::waitpid(child_, nullptr, 0), child_);
  child_ = 0;  // reaped: TearDown must not touch the pid again
  EXPECT_EQ(signaller_.state(**handle), 'X');
}

TEST_F(PidfdSignallerTest, SignallingAReapedProcessIsSuccessAndHitsNobody) {
  auto handle = signaller_.open(identity_);
  ASSERT_TRUE(handle.ok());
  ::kill(child_, SIGKILL);
  ASSERT_EQ(::waitpid(child_, nullptr, 0), child_);
  child_ = 0;  // reaped: TearDown must not touch the pid again

  EXPECT_TRUE(signaller_.exited(**handle));
  EXPECT_TRUE(signaller_.signal(**handle, SIGTERM).ok());
  EXPECT_FALSE(signaller_.open(identity_).ok());
}

// A proc root of another PID namespace (a container without hostPID reading the host's /proc) names
// other processes by the pids pidfd_open resolves here: its pid and start time must never open one.
TEST_F(PidfdSignallerTest, AProcRootOfAnotherPidNamespaceOpensNothing) {
  const std::string root = ::testing::TempDir() + kill::testing::uniqueName("foreign-proc");
  const std::string dir = root + "/" + std::to_string(child_);
  std::filesystem::create_directories(dir);
  std::filesystem::create_symlink("1", root + "/self");  // its reader is pid 1 there
  // There, the pid names a process that started later than ours.
  std::string stat = readFile("/proc/" + std::to_string(child_) + "/stat");
  const std::string start = " " + std::to_string(identity_.startTicks) + " ";
  const core::ProcessIdentity other{child_, identity_.startTicks + 1000};
  stat.replace(stat.find(start, stat.rfind(')')), start.size(),
               " " + std::to_string(other.startTicks) + " ");
  std::ofstream(dir + "/stat") << stat;

  PidfdSignaller foreign(root);
  auto opened = foreign.open(other);
  if (opened.ok()) {
    ASSERT_TRUE(foreign.signal(**opened, SIGKILL).ok());
  }
  EXPECT_FALSE(opened.ok());
  EXPECT_FALSE(foreign.openCurrent(child_).ok());
  EXPECT_TRUE(eventually([&] { return readProcess(child_)->state == 'S'; }))
      << "our process, not the other namespace's, was hit";
  std::filesystem::remove_all(root);
}

TEST(PidfdSignallerGoneTest, OpeningAFreePidFails) {
  PidfdSignaller signaller("/proc");
  const core::Pid child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  EXPECT_FALSE(signaller.openCurrent(child).ok());
  EXPECT_FALSE(signaller.openCurrent(0).ok());
}

// The stat parser is the one discovery uses: a name that mimics stat's own fields cannot shift
// the state or the start time the signaller reads.
TEST(PidfdSignallerNameTest, ANameThatMimicsStatFieldsChangesNothing) {
  PidfdSignaller signaller("/proc");
  const core::Pid child = ::fork();
  if (child == 0) {
    ::prctl(PR_SET_NAME, ") R 1 2 (x) Z");
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(child, 0);
  struct Reap {  // our own child, not yet reaped: the pid cannot have been reused
    core::Pid pid;
    ~Reap() {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reap{child};
  const std::string comm = "/proc/" + std::to_string(child) + "/comm";
  EXPECT_TRUE(eventually([&] { return readFile(comm) == ") R 1 2 (x) Z\n"; }));
  const auto process = readProcess(child);
  ASSERT_TRUE(process.has_value());
  auto handle = signaller.open(process->identity);
  ASSERT_TRUE(handle.ok()) << handle.error().message;
  EXPECT_TRUE(eventually([&] { return signaller.state(**handle) == 'S'; }));
}

}  // namespace
}  // namespace reaper::os
