#include "os/procfs_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "os/proc_stat.h"

namespace reaper::os {
namespace {

// Small files (stat, status, uptime) fit in one read; larger ones grow the buffer up to maxBytes.
constexpr size_t kInitialRead = 4096;
constexpr size_t kRootFileMax = 64 * 1024;
constexpr size_t kDirentBuffer = 32 * 1024;
// One thread's children file: about 8000 children (the kill follows no more per tree).
constexpr size_t kChildrenMax = 64 * 1024;
// Descriptors left for everything but kept files: the HTTP clients' sockets, logs, the status
// server, and the one-shot reads of the reap threads.
constexpr rlim_t kReservedDescriptors = 1024;
constexpr size_t kMaxPathName = 64;  // "<pid>/<file>": pids have at most 10 digits

// Where a file is, for messages only: built when an error is returned, never per read.
struct Where {
  std::string_view dir;
  const char* path;
};

core::Error errnoError(const char* what, Where where, int err) {
  return core::makeError(std::string(what) + " " + std::string(where.dir) + "/" + where.path +
                             ": " + std::strerror(err),
                         err);
}

bool parsePidName(const char* name, core::Pid& pid) {
  const char* end = name + std::strlen(name);
  auto [ptr, ec] = std::from_chars(name, end, pid);
  return ec == std::errc() && ptr == end && pid > 0;
}

// Calls `found` with each numeric directory entry of `dirFd` (consumed: read once).
template <typename Found>
void forEachPidEntry(int dirFd, Found found) {
  alignas(dirent64) char buffer[kDirentBuffer];
  for (;;) {
    long n = ::syscall(SYS_getdents64, dirFd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (long offset = 0; offset < n;) {
      const auto* entry = reinterpret_cast<const dirent64*>(buffer + offset);
      core::Pid pid = 0;
      const bool dir = entry->d_type == DT_DIR || entry->d_type == DT_UNKNOWN;
      if (dir && parsePidName(entry->d_name, pid)) found(pid);
      offset += entry->d_reclen;
    }
  }
}

// Reads a whole procfs file. A short read is its end: procfs fills every read as far as it can,
// so no extra read is spent to see end of file.
core::Result<std::string> readAll(int fd, Where where, size_t maxBytes) {
  std::string data;
  data.resize(std::min(kInitialRead, maxBytes));
  size_t used = 0;
  while (used < maxBytes) {
    if (used == data.size()) data.resize(std::min(data.size() * 2, maxBytes));
    const size_t want = data.size() - used;
    ssize_t n = ::read(fd, data.data() + used, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errnoError("read", where, errno);
    used += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < want) break;
  }
  data.resize(used);
  return data;
}

core::Result<std::string> readAt(int dirFd, Where where, size_t maxBytes) {
  int fd = ::openat(dirFd, where.path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errnoError("open", where, errno);
  auto data = readAll(fd, where, maxBytes);
  ::close(fd);
  return data;
}

// "<pid>" or "<pid>/<file>" into `out`; false when it does not fit.
bool pidPath(core::Pid pid, std::string_view file, char (&out)[kMaxPathName]) {
  auto [end, ec] = std::to_chars(out, out + kMaxPathName, pid);
  if (ec != std::errc()) return false;
  size_t used = static_cast<size_t>(end - out);
  if (!file.empty()) {
    if (used + 1 + file.size() + 1 > kMaxPathName) return false;
    out[used++] = '/';
    std::memcpy(out + used, file.data(), file.size());
    used += file.size();
  }
  out[used] = '\0';
  return true;
}

bool plainName(std::string_view file) {
  return !file.empty() && file.size() < kMaxPathName && file.find('/') == std::string_view::npos;
}

// The soft limit raised to the hard one; how many files may be kept.
size_t keptFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY) return 1 << 20;
  return limit.rlim_cur > kReservedDescriptors ? limit.rlim_cur - kReservedDescriptors : 0;
}

// clockid_t of a process's CPU clock (all threads, scheduler precision), as glibc's
// clock_getcpuclockid makes it: CPUCLOCK_SCHED (2) of pid in the bits above 3, inverted.
clockid_t processCpuClock(core::Pid pid) {
  return static_cast<clockid_t>((~static_cast<uint32_t>(pid) << 3) | 2u);
}

class FdKeptFile final : public KeptFile {
 public:
  FdKeptFile(int fd, std::shared_ptr<std::atomic<size_t>> count)
      : fd_(fd), count_(std::move(count)) {}
  ~FdKeptFile() override {
    ::close(fd_);
    --*count_;
  }
  FdKeptFile(const FdKeptFile&) = delete;
  FdKeptFile& operator=(const FdKeptFile&) = delete;

  core::Result<size_t> readFromStart(std::span<char> buffer) override {
    for (;;) {
      ssize_t n = ::pread(fd_, buffer.data(), buffer.size(), 0);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return errnoError("pread", {"kept", "file"}, errno);
    }
  }

 private:
  int fd_;
  std::shared_ptr<std::atomic<size_t>> count_;
};

// A /proc/<pid> directory: files opened relative to it belong to the process it was opened for.
class ProcessDirectory final : public ProcessFiles {
 public:
  ProcessDirectory(int fd, std::string name, std::shared_ptr<std::atomic<size_t>> kept,
                   size_t limit)
      : fd_(fd), name_(std::move(name)), kept_(std::move(kept)), limit_(limit) {}
  ~ProcessDirectory() override { ::close(fd_); }
  ProcessDirectory(const ProcessDirectory&) = delete;
  ProcessDirectory& operator=(const ProcessDirectory&) = delete;

  core::Result<std::string> read(std::string_view file, size_t maxBytes) override {
    if (!plainName(file)) return core::makeError("bad proc file name", EINVAL);
    char path[kMaxPathName];
    std::memcpy(path, file.data(), file.size());
    path[file.size()] = '\0';
    return readAt(fd_, {name_, path}, maxBytes);
  }

  core::Result<std::unique_ptr<KeptFile>> keep(std::string_view file) override {
    if (!plainName(file)) return core::makeError("bad proc file name", EINVAL);
    if (kept_->fetch_add(1) >= limit_) {
      --*kept_;
      return core::makeError("no descriptor left to keep " + std::string(file), EMFILE);
    }
    char path[kMaxPathName];
    std::memcpy(path, file.data(), file.size());
    path[file.size()] = '\0';
    int fd = ::openat(fd_, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      --*kept_;
      return errnoError("open", {name_, path}, err);
    }
    return std::unique_ptr<KeptFile>(new FdKeptFile(fd, kept_));
  }

 private:
  int fd_;
  std::string name_;
  std::shared_ptr<std::atomic<size_t>> kept_;
  size_t limit_;
};

// Whether the kernel counts switches (CONFIG_SCHED_INFO): this process has been switched in.
bool countsSwitches(ProcFs& fs) {
  auto schedstat = fs.read(::getpid(), "schedstat", kSchedstatMaxBytes);
  if (!schedstat) return false;
  const auto counts = parseSchedstat(*schedstat);
  return counts && counts->switches > 0;
}

}  // namespace

bool showsOwnPidNamespace(const std::string& procRoot) {
  char target[32];
  ssize_t n = ::readlink((procRoot + "/self").c_str(), target, sizeof target - 1);
  if (n <= 0) return false;
  core::Pid pid = 0;
  auto [ptr, ec] = std::from_chars(target, target + n, pid);
  return ec == std::errc() && ptr == target + n && pid == ::getpid();
}

ProcfsReader::ProcfsReader(const std::string& procRoot)
    : rootFd_(::open(procRoot.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)),
      root_(procRoot),
      kept_(std::make_shared<std::atomic<size_t>>(0)),
      keptLimit_(keptFileLimit()) {
  const auto kernelCommandLine = readRoot("cmdline");
  runsCounted_ = rootFd_ >= 0 && showsOwnPidNamespace(procRoot) && kernelCommandLine &&
                 !cpusMayRunWithoutTicks(*kernelCommandLine) && countsSwitches(*this) &&
                 ::clock_getres(CLOCK_MONOTONIC_COARSE, &tick_) == 0;
}

std::optional<uint64_t> ProcfsReader::cpuTime(core::Pid pid) {
  timespec time{};
  if (!runsCounted_ || pid <= 0 || ::clock_gettime(processCpuClock(pid), &time) != 0)
    return std::nullopt;
  return static_cast<uint64_t>(time.tv_sec) * 1000000000u + static_cast<uint64_t>(time.tv_nsec);
}

void ProcfsReader::settleCpuTime() {
  if (!runsCounted_) return;
  for (int ticks = 0; ticks < 2; ++ticks) {
    timespec left = tick_;
    while (::nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
  }
}

bool cpusMayRunWithoutTicks(std::string_view kernelCommandLine) {
  size_t at = 0;
  while (at < kernelCommandLine.size()) {
    const size_t end =
        std::min(kernelCommandLine.find_first_of(" \n", at), kernelCommandLine.size());
    const std::string_view parameter = kernelCommandLine.substr(at, end - at);
    if (parameter.starts_with("nohz_full=")) return true;
    // isolcpus=[flag,...,]cpus, where the flag "nohz" stops the tick as nohz_full does
    if (parameter.starts_with("isolcpus=") && parameter.find("nohz") != std::string_view::npos)
      return true;
    if (parameter == "--") return false;  // what follows is for init
    at = end + 1;
  }
  return false;
}

ProcfsReader::~ProcfsReader() {
  if (rootFd_ >= 0) ::close(rootFd_);
}

std::vector<core::Pid> ProcfsReader::listPids() {
  std::vector<core::Pid> pids;
  int fd = ::openat(rootFd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return pids;
  forEachPidEntry(fd, [&](core::Pid pid) { pids.push_back(pid); });
  ::close(fd);
  return pids;
}

std::vector<core::Pid> ProcfsReader::children(core::Pid pid) {
  std::vector<core::Pid> found;
  char path[kMaxPathName];
  if (!pidPath(pid, "task", path)) return found;
  const int taskFd = ::openat(rootFd_, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (taskFd < 0) return found;
  forEachPidEntry(taskFd, [&](core::Pid tid) {
    char file[kMaxPathName];
    if (!pidPath(tid, "children", file)) return;
    const auto text = readAt(taskFd, {path, file}, kChildrenMax);
    if (!text.ok()) return;
    const char* at = text->data();
    const char* end = at + text->size();
    while (at < end) {
      core::Pid child = 0;
      const auto [next, ec] = std::from_chars(at, end, child);
      if (ec == std::errc() && child > 0) found.push_back(child);
      at = next == at ? at + 1 : next;
    }
  });
  ::close(taskFd);
  return found;
}

bool ProcfsReader::listsChildren() const {
  return ::faccessat(rootFd_, "1/task/1/children", F_OK, 0) == 0;  // pid 1: in every namespace
}

core::Result<std::string> ProcfsReader::read(core::Pid pid, std::string_view file,
                                             size_t maxBytes) {
  char path[kMaxPathName];
  if (!plainName(file) || !pidPath(pid, file, path))
    return core::makeError("bad proc file name", EINVAL);
  return readAt(rootFd_, {root_, path}, maxBytes);
}

core::Result<std::string> ProcfsReader::readRoot(std::string_view file) {
  char path[kMaxPathName];
  if (!plainName(file)) return core::makeError("bad proc file name", EINVAL);
  std::memcpy(path, file.data(), file.size());
  path[file.size()] = '\0';
  return readAt(rootFd_, {root_, path}, kRootFileMax);
}

core::Result<std::unique_ptr<ProcessFiles>> ProcfsReader::openProcess(core::Pid pid) {
  char path[kMaxPathName];
  if (!pidPath(pid, {}, path)) return core::makeError("bad pid", EINVAL);
  int fd = ::openat(rootFd_, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errnoError("open", {root_, path}, errno);
  return std::unique_ptr<ProcessFiles>(
      new ProcessDirectory(fd, root_ + "/" + path, kept_, keptLimit_));
}

}  // namespace reaper::os
