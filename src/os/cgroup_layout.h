#pragma once
// Where the host's cgroup hierarchies are mounted: pure v2 at <hostRoot>/sys/fs/cgroup, hybrid (v2
// at
// ./unified with v1 controllers beside it), or pure v1.
//
// Detected from the agent's own mountinfo rather than libcgroup's cgroup_init(): libcgroup reads
// /proc/mounts into process-global state and reports every cgroup mount of the agent's namespace,
// with no notion of a host root. In the DaemonSet the container's own /sys/fs/cgroup and the host's
// at /host/sys/fs/cgroup are both listed, and only the latter is ours; filtering parsed mountinfo
// by the host root is exact, and the parser is pure so both layouts are tested on literal text.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace reaper::os {

enum class CgroupVersion { V1, V2 };

// A cgroup hierarchy: the unified root, or one v1 hierarchy (freezer, pids, name=systemd, ...).
struct CgroupMount {
  CgroupVersion version = CgroupVersion::V2;
  std::string path;
  std::vector<std::string> controllers;  // v1 only: "freezer", "cpu", "name=systemd", ...
};

enum class CgroupLayoutKind { Unified, Hybrid, Legacy };

struct CgroupLayout {
  CgroupLayoutKind kind = CgroupLayoutKind::Unified;
  std::optional<CgroupMount> unified;
  std::vector<CgroupMount> legacy;
  // The v1 hierarchy that carries `controller`, if mounted.
  std::optional<CgroupMount> legacyHierarchy(std::string_view controller) const;
};

// One line of /proc/PID/mountinfo, the fields used here.
struct MountInfoEntry {
  std::string root;
  std::string mountPoint;  // octal escapes (\040) decoded
  std::string fsType;
  std::vector<std::string> superOptions;
};

// Parses mountinfo text; malformed lines are skipped.
std::vector<MountInfoEntry> parseMountInfo(std::string_view text);

// Classifies the cgroup mounts at and below `cgroupRoot` (e.g. "/host/sys/fs/cgroup").
core::Result<CgroupLayout> cgroupLayoutFromMounts(const std::vector<MountInfoEntry>& mounts,
                                                  const std::string& cgroupRoot);

// Reads `mountInfoPath` (the agent's own mount table) and classifies <hostRoot>/sys/fs/cgroup.
core::Result<CgroupLayout> detectCgroupLayout(
    const std::string& hostRoot, const std::string& mountInfoPath = "/proc/self/mountinfo");

}  // namespace reaper::os
