#include "os/cgroup_layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace reaper::os {
namespace {

using ::testing::ElementsAre;

// This test machine: v1 controllers beside cgroup2 at ./unified.
constexpr std::string_view kHybrid =
    "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
    "36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate";

// Production DaemonSet: the container's own cgroup2 and the host's at /host/sys/fs/cgroup.
constexpr std::string_view kDaemonSet =
    "1200 1100 0:300 / / ro,relatime - overlay overlay rw,lowerdir=/a:/b\n"
    "1210 1200 0:29 /../../kubepods/pod1 /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw\n"
    "1220 1200 0:29 / /host/sys/fs/cgroup rw,nosuid,nodev shared:4 master:2 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

constexpr std::string_view kLegacy =
    "30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
    "36 30 0:33 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n"
    "38 30 0:35 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";

TEST(MountInfoTest, ParsesFieldsAroundOptionalTags) {
  const auto entries = parseMountInfo(kDaemonSet);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[2].mountPoint, "/host/sys/fs/cgroup");
  EXPECT_EQ(entries[2].fsType, "cgroup2");
  EXPECT_EQ(entries[1].root, "/../../kubepods/pod1");
  EXPECT_THAT(entries[2].superOptions, ElementsAre("rw", "nsdelegate", "memory_recursiveprot"));
}

TEST(MountInfoTest, DecodesOctalEscapesAndSkipsMalformedLines) {
  const auto entries = parseMountInfo(
      "garbage line\n"
      "41 30 0:38 / /mnt/with\\040space rw - cgroup2 cgroup2 rw\n"
      "42 30 0:39 / /no/dash rw cgroup2 cgroup2 rw");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].mountPoint, "/mnt/with space");
}

TEST(CgroupLayoutTest, HybridHasUnifiedAndLegacyControllers) {
  const auto layout = cgroupLayoutFromMounts(parseMountInfo(kHybrid), "/sys/fs/cgroup");
  ASSERT_TRUE(layout.ok()) << layout.error().message;
  EXPECT_EQ(layout->kind, CgroupLayoutKind::Hybrid);
  ASSERT_TRUE(layout->unified.has_value());
  EXPECT_EQ(layout->unified->path, "/sys/fs/cgroup/unified");
  ASSERT_TRUE(layout->legacyHierarchy("freezer").has_value());
  EXPECT_EQ(layout->legacyHierarchy("freezer")->path, "/sys/fs/cgroup/freezer");
  EXPECT_EQ(layout->legacyHierarchy("cpuacct")->path, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(layout->legacyHierarchy("name=systemd")->path, "/sys/fs/cgroup/systemd");
  EXPECT_FALSE(layout->legacyHierarchy("xattr").has_value());
}

TEST(CgroupLayoutTest, PureV2UnderTheHostRootIgnoresTheContainersOwnMount) {
  const auto layout = cgroupLayoutFromMounts(parseMountInfo(kDaemonSet), "/host/sys/fs/cgroup/");
  ASSERT_TRUE(layout.ok()) << layout.error().message;
  EXPECT_EQ(layout->kind, CgroupLayoutKind::Unified);
  EXPECT_EQ(layout->unified->path, "/host/sys/fs/cgroup");
  EXPECT_TRUE(layout->legacy.empty());
}

TEST(CgroupLayoutTest, PureV1) {
  const auto layout = cgroupLayoutFromMounts(parseMountInfo(kLegacy), "/sys/fs/cgroup");
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->kind, CgroupLayoutKind::Legacy);
  EXPECT_FALSE(layout->unified.has_value());
  EXPECT_EQ(layout->legacyHierarchy("pids")->path, "/sys/fs/cgroup/pids");
}

TEST(CgroupLayoutTest, NothingMountedThereIsAnError) {
  EXPECT_FALSE(cgroupLayoutFromMounts(parseMountInfo(kDaemonSet), "/elsewhere").ok());
  EXPECT_FALSE(cgroupLayoutFromMounts({}, "/sys/fs/cgroup").ok());
}

}  // namespace
}  // namespace reaper::os
