// libFuzzer harness for cgroup input: mountinfo text (and the layout classified from it) and
// /proc/PID/cgroup paths of pods.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kube/pod_cgroup.h"
#include "os/cgroup_layout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto mounts = reaper::os::parseMountInfo(text);
  (void)reaper::os::cgroupLayoutFromMounts(mounts, "/sys/fs/cgroup");
  (void)reaper::os::cgroupLayoutFromMounts(mounts, "/host/sys/fs/cgroup");
  (void)reaper::kube::parsePodCgroupPath(text);
  return 0;
}
