#pragma once
// Which pod (and container) a cgroup path belongs to, for both kubelet cgroup drivers, and where a
// pod's cgroup directories are. Membership in kubernetes mode rests on this: a path that does not
// parse belongs to no pod, so its processes are never signalled.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reaper::kube {

enum class CgroupDriver { Systemd, Cgroupfs };

struct PodCgroupRef {
  std::string podUid;       // with dashes, as the API writes it
  std::string containerId;  // empty: the pod-level cgroup
  std::string qos;  // "guaranteed" | "burstable" | "besteffort" | "" (not in a relative path)
  CgroupDriver driver = CgroupDriver::Systemd;
  bool operator==(const PodCgroupRef&) const = default;
};

// Parses one /proc/PID/cgroup path (the part after the second ':'). Accepts kubepods nested under a
// kubelet --cgroup-root and paths relative to the reader's cgroup namespace (`/../../kubepods...`).
// Runtime helper cgroups (crio-conmon-<id>.scope) and anything unrecognised give nullopt.
std::optional<PodCgroupRef> parsePodCgroupPath(std::string_view path);

// Directories below `cgroupRoot` (the v2 unified root or one v1 hierarchy) of the pod's cgroup
// (`containerId` empty) or of one of its containers. Read-only, bounded walk; an unreadable or
// vanished directory is skipped.
std::vector<std::string> findPodCgroupDirs(const std::string& cgroupRoot, const std::string& podUid,
                                           const std::string& containerId);

}  // namespace reaper::kube
