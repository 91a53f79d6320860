#pragma once
// Signaller on pidfds (Linux 5.3+): pidfd_open, then pidfd_send_signal and poll for exit.
#include <string>

#include "os/signaller.h"

namespace reaper::os {

class PidfdSignaller final : public Signaller {
 public:
  // `procRoot` is the proc mount of the pid namespace this agent lives in (hostPID: the host's),
  // since pidfd_open resolves pids in the caller's namespace and start times must be read from the
  // same one. Over the proc root of another namespace nothing is opened.
  explicit PidfdSignaller(std::string procRoot);

  core::Result<std::unique_ptr<ProcessHandle>> open(const core::ProcessIdentity& process) override;
  core::Result<std::unique_ptr<ProcessHandle>> openCurrent(core::Pid pid) override;
  core::Status signal(ProcessHandle& process, int sig) override;
  bool exited(ProcessHandle& process) override;
  char state(ProcessHandle& process) override;

 private:
  std::string procRoot_;
  bool ownNamespace_;
};

}  // namespace reaper::os
