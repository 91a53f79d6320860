#include "kube/pod_cgroup.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace reaper::kube {
namespace {

const std::string kUid = "0f6b3c1e-2a4d-4e5f-9a8b-7c6d5e4f3a2b";
const std::string kUidUnderscored = "0f6b3c1e_2a4d_4e5f_9a8b_7c6d5e4f3a2b";
const std::string kId = "4b8c2f0e9d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c";

PodCgroupRef ref(std::string qos, CgroupDriver driver, std::string id = kId) {
  return {kUid, std::move(id), std::move(qos), driver};
}

TEST(ParsePodCgroupPath, SystemdContainerdBurstableV2) {
  auto got = parsePodCgroupPath("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                                kUidUnderscored + ".slice/cri-containerd-" + kId + ".scope");
  EXPECT_EQ(got, ref("burstable", CgroupDriver::Systemd));
}

TEST(ParsePodCgroupPath, SystemdCrioAndDockerScopes) {
  std::string pod = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" +
                    kUidUnderscored + ".slice/";
  EXPECT_EQ(parsePodCgroupPath(pod + "crio-" + kId + ".scope"),
            ref("besteffort", CgroupDriver::Systemd));
  EXPECT_EQ(parsePodCgroupPath(pod + "docker-" + kId + ".scope"),
            ref("besteffort", CgroupDriver::Systemd));
}

TEST(ParsePodCgroupPath, SystemdGuaranteedPodHasNoQosSlice) {
  auto got = parsePodCgroupPath("/kubepods.slice/kubepods-pod" + kUidUnderscored +
                                ".slice/cri-containerd-" + kId + ".scope");
  EXPECT_EQ(got, ref("guaranteed", CgroupDriver::Systemd));
}

TEST(ParsePodCgroupPath, PodLevelPathHasEmptyContainer) {
  auto got = parsePodCgroupPath("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                                kUidUnderscored + ".slice");
  EXPECT_EQ(got, ref("burstable", CgroupDriver::Systemd, ""));
  EXPECT_EQ(parsePodCgroupPath("/kubepods/pod" + kUid),
            ref("guaranteed", CgroupDriver::Cgroupfs, ""));
}

TEST(ParsePodCgroupPath, CgroupfsWithAndWithoutQos) {
  EXPECT_EQ(parsePodCgroupPath("/kubepods/burstable/pod" + kUid + "/" + kId),
            ref("burstable", CgroupDriver::Cgroupfs));
  EXPECT_EQ(parsePodCgroupPath("/kubepods/pod" + kUid + "/" + kId),
            ref("guaranteed", CgroupDriver::Cgroupfs));
}

TEST(ParsePodCgroupPath, CgroupfsCrioNaming) {
  EXPECT_EQ(parsePodCgroupPath("/kubepods/burstable/pod" + kUid + "/crio-" + kId),
            ref("burstable", CgroupDriver::Cgroupfs));
  EXPECT_EQ(parsePodCgroupPath("/kubepods/burstable/pod" + kUid + "/crio-conmon-" + kId),
            std::nullopt);
}

TEST(ParsePodCgroupPath, RelativeToAgentCgroupNamespace) {
  EXPECT_EQ(parsePodCgroupPath("/../../kubepods-besteffort-pod" + kUidUnderscored +
                               ".slice/cri-containerd-" + kId + ".scope"),
            ref("besteffort", CgroupDriver::Systemd));
  EXPECT_EQ(parsePodCgroupPath("/../../../besteffort/pod" + kUid + "/" + kId),
            ref("besteffort", CgroupDriver::Cgroupfs));
  EXPECT_EQ(parsePodCgroupPath("/../../pod" + kUid + "/" + kId), ref("", CgroupDriver::Cgroupfs));
  EXPECT_EQ(parsePodCgroupPath("/../../other/pod" + kUid + "/" + kId), std::nullopt);
  EXPECT_EQ(parsePodCgroupPath("/../kubepods/besteffort/pod" + kUid + "/" + kId),
            ref("besteffort", CgroupDriver::Cgroupfs));
}

TEST(ParsePodCgroupPath, NestedUnderKubeletCgroupRoot) {
  EXPECT_EQ(
      parsePodCgroupPath("/custom.slice/custom-kubepods.slice/custom-kubepods-burstable.slice/"
                         "custom-kubepods-burstable-pod" +
                         kUidUnderscored + ".slice/cri-containerd-" + kId + ".scope"),
      ref("burstable", CgroupDriver::Systemd));
  EXPECT_EQ(parsePodCgroupPath("/node-agent/k8s/kubepods/burstable/pod" + kUid + "/" + kId),
            ref("burstable", CgroupDriver::Cgroupfs));
}

TEST(ParsePodCgroupPath, ProcessInSubCgroupOfContainer) {
  EXPECT_EQ(parsePodCgroupPath("/kubepods/besteffort/pod" + kUid + "/" + kId + "/init"),
            ref("besteffort", CgroupDriver::Cgroupfs));
}

TEST(ParsePodCgroupPath, StaticPodHashUid) {
  auto got = parsePodCgroupPath("/kubepods/burstable/pod6d8b2c5f0e9a4b3c2d1e0f9a8b7c6d5e");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->podUid, "6d8b2c5f0e9a4b3c2d1e0f9a8b7c6d5e");
}

TEST(ParsePodCgroupPath, RejectsGarbageAndNonPods) {
  for (std::string path : {
           std::string(""),
           std::string("/"),
           std::string("/system.slice/containerd.service"),
           std::string("/user.slice/user-1000.slice/session-2.scope"),
           std::string("/kubepods.slice/kubepods-burstable.slice"),
           std::string("/kubepods"),
           std::string("/kubepods/burstable"),
           "/kubepods/burstable/pod" + kUid + "/not-hex!",
           "/kubepods/burstable/podnot-a-uid/" + kId,
           std::string("/kubepods.slice/kubepods-burstable-podZZZ.slice"),
           "/kubepods.slice/kubepods-burstable-pod" + kUidUnderscored + ".slice/crio-conmon-" +
               kId + ".scope",
           "/kubepods.slice/kubepods-burstable-pod" + kUidUnderscored + ".slice/cri-containerd-" +
               kId.substr(0, 5) + ".scope",
           "/notkubepods-burstable-pod" + kUidUnderscored + ".slice",
       }) {
    EXPECT_EQ(parsePodCgroupPath(path), std::nullopt) << path;
  }
}

class FindPodCgroupDirs : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("reaper-kube-cgroups-" + std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string make(const std::string& relative) {
    std::filesystem::create_directories(root_ / relative);
    return (root_ / relative).string();
  }
  std::filesystem::path root_;
};

TEST_F(FindPodCgroupDirs, FindsPodAndContainerUnderNestedSystemdRoot) {
  std::string pod =
      "custom.slice/custom-kubepods.slice/custom-kubepods-burstable.slice/"
      "custom-kubepods-burstable-pod" +
      kUidUnderscored + ".slice";
  std::string podDir = make(pod);
  std::string containerDir = make(pod + "/cri-containerd-" + kId + ".scope");
  make(pod + "/cri-containerd-" + std::string(64, 'a') + ".scope");
  make("custom.slice/custom-kubepods.slice/custom-kubepods-pod" +
       std::string("11111111_2222_3333_4444_555555555555") + ".slice");
  make("system.slice/containerd.service");

  EXPECT_EQ(findPodCgroupDirs(root_.string(), kUid, ""), std::vector<std::string>{podDir});
  EXPECT_EQ(findPodCgroupDirs(root_.string(), kUid, kId), std::vector<std::string>{containerDir});
  EXPECT_TRUE(findPodCgroupDirs(root_.string(), kUid, std::string(64, 'b')).empty());
}

TEST_F(FindPodCgroupDirs, FindsCgroupfsLayoutAndIgnoresOtherPods) {
  std::string containerDir = make("kubepods/besteffort/pod" + kUid + "/" + kId);
  make("kubepods/besteffort/pod11111111-2222-3333-4444-555555555555/" + kId);
  EXPECT_EQ(findPodCgroupDirs(root_.string(), kUid, kId), std::vector<std::string>{containerDir});
  EXPECT_TRUE(findPodCgroupDirs(root_.string(), "not-a-uid", "").empty());
  EXPECT_TRUE(findPodCgroupDirs((root_ / "missing").string(), kUid, "").empty());
}

}  // namespace
}  // namespace reaper::kube
