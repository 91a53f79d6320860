#include "os/pidfd_signaller.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "os/proc_stat.h"
#include "os/procfs_reader.h"

namespace reaper::os {
namespace {

core::Result<StatFields> readStat(const std::string& procRoot, core::Pid pid) {
  std::ifstream in(procRoot + "/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return core::makeError("stat unreadable pid=" + std::to_string(pid));
  return parseStat(line);
}

class PidfdHandle final : public ProcessHandle {
 public:
  PidfdHandle(int fd, core::ProcessIdentity identity) : fd_(fd), identity_(identity) {}
  ~PidfdHandle() override { ::close(fd_); }
  PidfdHandle(const PidfdHandle&) = delete;
  PidfdHandle& operator=(const PidfdHandle&) = delete;

  core::ProcessIdentity identity() const override { return identity_; }
  int fd() const { return fd_; }

 private:
  int fd_;
  core::ProcessIdentity identity_;
};

core::Error errnoError(const std::string& what, core::Pid pid) {
  const int code = errno;
  return core::makeError(what + " pid=" + std::to_string(pid) + ": " + std::strerror(code), code);
}

}  // namespace

PidfdSignaller::PidfdSignaller(std::string procRoot)
    : procRoot_(std::move(procRoot)), ownNamespace_(showsOwnPidNamespace(procRoot_)) {}

core::Result<std::unique_ptr<ProcessHandle>> PidfdSignaller::openCurrent(core::Pid pid) {
  if (pid <= 0) return core::makeError("invalid pid " + std::to_string(pid), EINVAL);
  if (!ownNamespace_) {
    return core::makeError("not opened pid=" + std::to_string(pid) + ": proc root " + procRoot_ +
                               " is another PID namespace than this agent's",
                           EPERM);
  }
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errnoError("pidfd_open", pid);
  // Read after the pidfd is open: if the pid was reused before, this is the new owner's start time,
  // and once open the pidfd cannot be redirected to a later owner.
  const auto stat = readStat(procRoot_, pid);
  if (!stat) {
    ::close(fd);
    return core::makeError("process gone pid=" + std::to_string(pid), ESRCH);
  }
  return std::unique_ptr<ProcessHandle>(new PidfdHandle(fd, {pid, stat->starttime}));
}

core::Result<std::unique_ptr<ProcessHandle>> PidfdSignaller::open(
    const core::ProcessIdentity& process) {
  auto handle = openCurrent(process.pid);
  if (!handle.ok()) return handle;
  if ((*handle)->identity() != process) {
    return core::makeError("pid reused pid=" + std::to_string(process.pid), ESRCH);
  }
  return handle;
}

core::Status PidfdSignaller::signal(ProcessHandle& process, int sig) {
  const int fd = static_cast<PidfdHandle&>(process).fd();
  if (::syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0) == 0 || errno == ESRCH)
    return core::Ok{};
  return errnoError("pidfd_send_signal", process.identity().pid);
}

bool PidfdSignaller::exited(ProcessHandle& process) {
  // A pidfd polls readable once the process has exited, zombie or reaped.
  pollfd waiting{static_cast<PidfdHandle&>(process).fd(), POLLIN, 0};
  return ::poll(&waiting, 1, 0) > 0;
}

char PidfdSignaller::state(ProcessHandle& process) {
  const auto stat = readStat(procRoot_, process.identity().pid);
  if (!stat || stat->starttime != process.identity().startTicks) return 'X';
  return stat->state;
}

}  // namespace reaper::os
