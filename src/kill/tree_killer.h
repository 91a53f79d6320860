#pragma once
// Kills what was decided, and only that. A kill is a job advanced by step() from one thread (the
// kill worker), so any number of kills run at once without a thread each.
//
// TreeKill kills a process tree member by member: SIGTERM + SIGCONT, a grace period, then SIGSTOP
// (stopped processes cannot fork, so what they forked is found before) and SIGKILL;
// every signal through the member's own pidfd, never to a process group or session (those may hold
// non-members, e.g. the Celery worker that shares its group with an Airflow 3 task process). Its
// targets are the members the decision named, by (pid, start time), plus processes they fork while
// dying: a newcomer is adopted only when its parent is a live target that started before it. No
// process ever joins because of what it is called or what its environment says.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "core/types.h"
#include "kill/fork_watch.h"
#include "os/signaller.h"

namespace reaper::kill {

struct KillOptions {
  core::Duration gracePeriod{10000};
  // How long to wait for SIGKILLed processes to go before reporting them as survivors.
  core::Duration killWait{2000};
  // How often the kill worker steps its jobs.
  core::Duration pollStep{50};
  // Adopted newcomers per kill at most (a fork bomb must not exhaust the agent).
  size_t maxTargets = 8192;
  core::Pid selfPid = 0;  // 0: this process
};

struct KillReport {
  size_t signalled = 0;
  size_t killed = 0;
  std::vector<core::ProcessIdentity> survivors;
  bool escalated = false;
  core::Duration took{0};
  // The kill was refused or could not be carried out, or a member it was to signal was refused
  // (the first such reason).
  std::optional<core::Error> error;
};

class KillJob {
 public:
  virtual ~KillJob() = default;
  // Does what is due now: signals, exit checks, escalation once the grace period is over.
  // `forked`: children of parents() the discovery the kill was decided on did not list. True once
  // finished.
  virtual bool step(const std::vector<ForkedProcess>& forked) = 0;
  // The processes whose children the next step() is to see.
  virtual std::vector<core::Pid> parents() const { return {}; }
  // What happened; complete once step() returned true.
  virtual KillReport report() const = 0;
};

class TreeKill final : public KillJob {
 public:
  // `label` names the TaskInstance attempt in every log line.
  TreeKill(std::string label, std::vector<core::ProcessIdentity> members, os::Signaller& signaller,
           core::Clock& clock, KillOptions options);

  bool step(const std::vector<ForkedProcess>& forked) override;
  // Targets still alive.
  std::vector<core::Pid> parents() const override;
  KillReport report() const override { return report_; }

 private:
  enum class Phase { Starting, Terminating, Stopping, Killing, Done };
  struct Target {
    std::unique_ptr<os::ProcessHandle> handle;
    bool exited = false;
  };

  void start();
  size_t adopt(const std::vector<ForkedProcess>& forked);
  bool adoptable(const ForkedProcess& process);
  bool admit(const core::ProcessIdentity& process);
  void refuse(const core::ProcessIdentity& process, const std::string& reason);
  void signalFresh(Target& target);
  void signal(Target& target, int sig);
  size_t refreshExited();
  void stop();
  void escalate();
  void finish();

  std::string label_;
  std::vector<core::ProcessIdentity> decided_;
  os::Signaller& signaller_;
  core::Clock& clock_;
  KillOptions options_;

  Phase phase_ = Phase::Starting;
  core::SteadyTime started_{};
  core::SteadyTime deadline_{};
  std::map<core::ProcessIdentity, Target> targets_;
  std::unordered_map<core::Pid, core::ProcessIdentity> targetByPid_;
  std::set<core::ProcessIdentity> passed_;  // refused, gone or unopenable: never retried
  bool capped_ = false;
  KillReport report_;
};

}  // namespace reaper::kill
