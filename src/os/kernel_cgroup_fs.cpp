#include "os/kernel_cgroup_fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace reaper::os {
namespace {

constexpr core::Duration kFreezePollStep{5};

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// One write() per value: cgroupfs acts on each write, and reports failure from it (not from close).
core::Status writeValue(const std::string& path, const std::string& value) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    const int code = errno;
    return core::makeError("open " + path + ": " + std::strerror(code), code);
  }
  const ssize_t written = ::write(fd, value.data(), value.size());
  const int code = errno;
  ::close(fd);
  if (written < 0) return core::makeError("write " + path + ": " + std::strerror(code), code);
  return core::Ok{};
}

std::string readAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

KernelCgroupFs::KernelCgroupFs(core::Clock& clock, core::Duration freezeTimeout)
    : clock_(clock), freezeTimeout_(freezeTimeout) {}

std::vector<core::Pid> KernelCgroupFs::procs(const std::string& cgroupDir) {
  std::ifstream in(cgroupDir + "/cgroup.procs");
  std::vector<core::Pid> pids;
  for (core::Pid pid = 0; in >> pid;) pids.push_back(pid);
  return pids;
}

core::Status KernelCgroupFs::killAll(const std::string& cgroupDir) {
  if (!exists(cgroupDir)) return core::Ok{};
  const std::string file = cgroupDir + "/cgroup.kill";
  if (!exists(file)) return core::makeError("no cgroup.kill in " + cgroupDir, ENOTSUP);
  return writeValue(file, "1");
}

core::Status KernelCgroupFs::setFrozen(const std::string& cgroupDir, bool frozen) {
  const std::string v2 = cgroupDir + "/cgroup.freeze";
  if (exists(v2)) {
    if (auto written = writeValue(v2, frozen ? "1" : "0"); !written.ok()) return written;
    return waitUntil(cgroupDir + "/cgroup.events", frozen ? "frozen 1" : "frozen 0");
  }
  const std::string v1 = cgroupDir + "/freezer.state";
  if (!exists(v1)) return core::makeError("no freezer for " + cgroupDir, ENOTSUP);
  // v1 passes through FREEZING until every task has stopped; THAWED takes effect at once.
  if (auto written = writeValue(v1, frozen ? "FROZEN" : "THAWED"); !written.ok()) return written;
  return waitUntil(v1, frozen ? "FROZEN" : "THAWED");
}

core::Status KernelCgroupFs::waitUntil(const std::string& file, const std::string& expected) {
  const auto deadline = clock_.now() + freezeTimeout_;
  while (readAll(file).find(expected) == std::string::npos) {
    if (clock_.now() >= deadline)
      return core::makeError("timed out waiting for " + expected + " in " + file, ETIMEDOUT);
    clock_.sleepFor(kFreezePollStep);
  }
  return core::Ok{};
}

}  // namespace reaper::os
