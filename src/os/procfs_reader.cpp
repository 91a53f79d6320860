#include "os/procfs_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace reaper::os {
namespace {

// Small files (stat, status, uptime) fit in one read; larger ones grow the buffer up to maxBytes.
constexpr size_t kInitialRead = 4096;
constexpr size_t kRootFileMax = 64 * 1024;

bool parsePidName(const char* name, core::Pid& pid) {
  const char* end = name + std::strlen(name);
  auto [ptr, ec] = std::from_chars(name, end, pid);
  return ec == std::errc() && ptr == end && pid > 0;
}

}  // namespace

ProcfsReader::ProcfsReader(std::string procRoot) : root_(std::move(procRoot)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::vector<core::Pid> ProcfsReader::listPids() {
  std::vector<core::Pid> pids;
  DIR* dir = ::opendir(root_.c_str());
  if (dir == nullptr) return pids;
  while (const dirent* entry = ::readdir(dir)) {
    core::Pid pid = 0;
    if (parsePidName(entry->d_name, pid)) pids.push_back(pid);
  }
  ::closedir(dir);
  return pids;
}

core::Result<std::string> ProcfsReader::read(core::Pid pid, std::string_view file,
                                             size_t maxBytes) {
  char pidText[16];
  auto [end, ec] = std::to_chars(pidText, pidText + sizeof pidText, pid);
  path_.assign(root_).append("/").append(pidText, end).append("/").append(file);
  return readPath(path_.c_str(), maxBytes);
}

core::Result<std::string> ProcfsReader::readRoot(std::string_view file) {
  path_.assign(root_).append("/").append(file);
  return readPath(path_.c_str(), kRootFileMax);
}

core::Result<std::string> ProcfsReader::readPath(const char* path, size_t maxBytes) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return core::makeError(std::string("open ") + path + ": " + std::strerror(err), err);
  }
  std::string data;
  data.resize(std::min(kInitialRead, maxBytes));
  size_t used = 0;
  while (used < maxBytes) {
    if (used == data.size()) data.resize(std::min(data.size() * 2, maxBytes));
    ssize_t n = ::read(fd, data.data() + used, data.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return core::makeError(std::string("read ") + path + ": " + std::strerror(err), err);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  ::close(fd);
  data.resize(used);
  return data;
}

}  // namespace reaper::os
