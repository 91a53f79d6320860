#include "os/cgroup_layout.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

namespace reaper::os {
namespace {

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(separator, start), text.size());
    if (end > start) parts.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

bool isOctal(char c) { return c >= '0' && c <= '7'; }

// The kernel escapes space, tab, newline and backslash in paths as \ooo.
std::string unescape(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && isOctal(field[i + 1]) &&
        isOctal(field[i + 2]) && isOctal(field[i + 3])) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                               (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

std::optional<MountInfoEntry> parseLine(std::string_view line) {
  const auto fields = split(line, ' ');
  // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
  const auto dash = std::find(fields.begin(), fields.end(), "-");
  if (fields.size() < 10 || dash - fields.begin() < 6 || fields.end() - dash < 4)
    return std::nullopt;
  return MountInfoEntry{unescape(fields[3]), unescape(fields[4]), *(dash + 1),
                        split(*(dash + 3), ',')};
}

std::string trimSlash(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::string joinPath(const std::string& root, const std::string& rest) {
  return trimSlash(root) == "/" ? rest : trimSlash(root) + rest;
}

bool directlyBelow(const std::string& path, const std::string& parent) {
  return path.size() > parent.size() + 1 && path.compare(0, parent.size() + 1, parent + "/") == 0 &&
         path.find('/', parent.size() + 1) == std::string::npos;
}

bool isController(const std::string& option) {
  static const std::vector<std::string> kFlags = {
      "rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "favordynmods"};
  if (option.starts_with("name=")) return true;
  return option.find('=') == std::string::npos &&
         std::find(kFlags.begin(), kFlags.end(), option) == kFlags.end();
}

CgroupMount legacyMount(const MountInfoEntry& entry) {
  CgroupMount mount{CgroupVersion::V1, entry.mountPoint, {}};
  std::copy_if(entry.superOptions.begin(), entry.superOptions.end(),
               std::back_inserter(mount.controllers), isController);
  return mount;
}

}  // namespace

std::optional<CgroupMount> CgroupLayout::legacyHierarchy(std::string_view controller) const {
  for (const auto& mount : legacy) {
    if (std::find(mount.controllers.begin(), mount.controllers.end(), controller) !=
        mount.controllers.end()) {
      return mount;
    }
  }
  return std::nullopt;
}

std::vector<MountInfoEntry> parseMountInfo(std::string_view text) {
  std::vector<MountInfoEntry> entries;
  for (const auto& line : split(text, '\n')) {
    if (auto entry = parseLine(line)) entries.push_back(std::move(*entry));
  }
  return entries;
}

core::Result<CgroupLayout> cgroupLayoutFromMounts(const std::vector<MountInfoEntry>& mounts,
                                                  const std::string& cgroupRoot) {
  const std::string root = trimSlash(cgroupRoot);
  CgroupLayout layout;
  for (const auto& entry : mounts) {
    const bool atRoot = entry.mountPoint == root;
    if (entry.fsType == "cgroup2" && (atRoot || entry.mountPoint == root + "/unified")) {
      // A later mount over the same point hides the earlier one.
      layout.unified = CgroupMount{CgroupVersion::V2, entry.mountPoint, {}};
    } else if (entry.fsType == "cgroup" && directlyBelow(entry.mountPoint, root)) {
      layout.legacy.push_back(legacyMount(entry));
    }
  }
  if (layout.unified && layout.unified->path == root) {
    layout.kind = CgroupLayoutKind::Unified;
    layout.legacy.clear();
  } else if (layout.unified) {
    layout.kind = CgroupLayoutKind::Hybrid;
  } else if (!layout.legacy.empty()) {
    layout.kind = CgroupLayoutKind::Legacy;
  } else {
    return core::makeError("no cgroup filesystem mounted at " + root);
  }
  return layout;
}

core::Result<CgroupLayout> detectCgroupLayout(const std::string& hostRoot,
                                              const std::string& mountInfoPath) {
  std::ifstream in(mountInfoPath);
  if (!in) return core::makeError("cannot read " + mountInfoPath);
  std::stringstream text;
  text << in.rdbuf();
  return cgroupLayoutFromMounts(parseMountInfo(text.str()), joinPath(hostRoot, "/sys/fs/cgroup"));
}

}  // namespace reaper::os
