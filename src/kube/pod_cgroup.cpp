#include "kube/pod_cgroup.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <system_error>

namespace reaper::kube {
namespace {

namespace fs = std::filesystem;

// kubepods(.slice) at most this deep below the cgroup root (kubelet --cgroup-root nesting), plus
// qos, pod and container levels.
constexpr int kMaxWalkDepth = 7;

bool isHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Pod UIDs are UUIDs; static pods use a 32-hex config hash.
bool isPodUid(std::string_view uid) {
  if (uid.size() != 32 && uid.size() != 36) return false;
  return std::all_of(uid.begin(), uid.end(), [](char c) {
    return c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

bool isContainerId(std::string_view id) { return id.size() >= 12 && id.size() <= 64 && isHex(id); }

std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (!part.empty() && part != ".") parts.push_back(part);
    start = end + 1;
  }
  return parts;
}

bool removeSuffix(std::string_view& s, std::string_view suffix) {
  if (!s.ends_with(suffix)) return false;
  s.remove_suffix(suffix.size());
  return true;
}

bool removePrefix(std::string_view& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return false;
  s.remove_prefix(prefix.size());
  return true;
}

std::string qosOf(std::string_view name) {
  if (name == "burstable" || name == "besteffort") return std::string(name);
  return "guaranteed";
}

// `[<root>-]kubepods[-<qos>]-pod<uid_with_underscores>.slice`
std::optional<PodCgroupRef> parseSystemdPodSlice(std::string_view part) {
  if (!removeSuffix(part, ".slice")) return std::nullopt;
  size_t kubepods = part.rfind("kubepods");
  if (kubepods == std::string_view::npos) return std::nullopt;
  if (kubepods != 0 && part[kubepods - 1] != '-') return std::nullopt;
  part.remove_prefix(kubepods + std::string_view("kubepods").size());
  std::string qos = "guaranteed";
  for (std::string_view q : {"burstable", "besteffort"}) {
    std::string prefix = "-" + std::string(q);
    if (removePrefix(part, prefix)) qos = std::string(q);
  }
  if (!removePrefix(part, "-pod")) return std::nullopt;
  std::string uid(part);
  std::replace(uid.begin(), uid.end(), '_', '-');
  if (!isPodUid(uid)) return std::nullopt;
  return PodCgroupRef{uid, "", qos, CgroupDriver::Systemd};
}

// `cri-containerd-<id>.scope`, `crio-<id>.scope`, `docker-<id>.scope`.
std::optional<std::string> parseSystemdContainerScope(std::string_view part) {
  if (!removeSuffix(part, ".scope")) return std::nullopt;
  for (std::string_view prefix : {"cri-containerd-", "crio-", "docker-"}) {
    std::string_view id = part;
    if (removePrefix(id, prefix) && isContainerId(id)) return std::string(id);
  }
  return std::nullopt;
}

// `.../kubepods[/<qos>]/pod<uid>[/<id>|/crio-<id>]` from the `kubepods` component (or the `..` in
// its place).
std::optional<PodCgroupRef> parseCgroupfs(const std::vector<std::string_view>& parts, size_t at) {
  size_t next = at + 1;
  std::string qos = parts[at] == ".." ? "" : "guaranteed";  // relative: the qos level is above us
  if (next < parts.size() && (parts[next] == "burstable" || parts[next] == "besteffort")) {
    qos = qosOf(parts[next]);
    ++next;
  }
  if (next >= parts.size()) return std::nullopt;
  std::string_view pod = parts[next];
  if (!removePrefix(pod, "pod") || !isPodUid(pod)) return std::nullopt;
  PodCgroupRef ref{std::string(pod), "", qos, CgroupDriver::Cgroupfs};
  if (next + 1 < parts.size()) {
    std::string_view id = parts[next + 1];
    removePrefix(id, "crio-");  // CRI-O's cgroupfs naming; crio-conmon-<id> stays invalid
    if (!isContainerId(id)) return std::nullopt;
    ref.containerId = std::string(id);
  }
  return ref;
}

std::optional<PodCgroupRef> parseSystemd(const std::vector<std::string_view>& parts, size_t at) {
  auto ref = parseSystemdPodSlice(parts[at]);
  if (!ref) return std::nullopt;
  if (at + 1 < parts.size()) {
    auto id = parseSystemdContainerScope(parts[at + 1]);
    if (!id) return std::nullopt;
    ref->containerId = *id;
  }
  return ref;
}

}  // namespace

std::optional<PodCgroupRef> parsePodCgroupPath(std::string_view path) {
  auto parts = splitPath(path);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == "kubepods") return parseCgroupfs(parts, i);
    // Relative to the agent's cgroup namespace, a cgroupfs path climbs to the qos or kubepods
    // level and names no `kubepods`: `/../../pod<uid>/<id>`, `/../../../besteffort/pod<uid>/<id>`.
    if (parts[i] == ".." && i + 1 < parts.size() && parts[i + 1] != "..") {
      if (auto ref = parseCgroupfs(parts, i)) return ref;
      continue;
    }
    if (parts[i].find("-pod") != std::string_view::npos && parts[i].ends_with(".slice")) {
      if (auto ref = parseSystemd(parts, i)) return ref;
    }
  }
  return std::nullopt;
}

namespace {

void walk(const fs::path& root, const fs::path& relative, int depth, const std::string& podUid,
          const std::string& containerId, std::vector<std::string>& found) {
  std::error_code ec;
  fs::directory_iterator it(root / relative, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code typeEc;
    if (!it->is_directory(typeEc) || it->is_symlink(typeEc)) continue;
    fs::path child = relative / it->path().filename();
    auto ref = parsePodCgroupPath(child.string());
    if (ref && ref->podUid != podUid) continue;  // another pod: nothing of ours below
    if (ref && ref->containerId == containerId) {
      found.push_back((root / child).string());
      continue;
    }
    if (ref && !ref->containerId.empty()) continue;
    if (depth + 1 < kMaxWalkDepth) walk(root, child, depth + 1, podUid, containerId, found);
  }
}

}  // namespace

std::vector<std::string> findPodCgroupDirs(const std::string& cgroupRoot, const std::string& podUid,
                                           const std::string& containerId) {
  std::vector<std::string> found;
  if (!isPodUid(podUid)) return found;
  walk(fs::path(cgroupRoot), fs::path(), 0, podUid, containerId, found);
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace reaper::kube
