#pragma once
// One thread that advances every kill in progress. Kills mostly wait (a grace period, a process
// exiting), so one thread stepping each job every pollStep serves hundreds at once, and no kill's
// grace period delays another's. Jobs, the fork watch and the signaller are touched by this thread
// only; submissions and results cross under a mutex.
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "kill/fork_watch.h"
#include "kill/tree_killer.h"

namespace reaper::kill {

struct FinishedKill {
  core::ProcessIdentity id;
  KillReport report;
};

class KillWorker {
 public:
  // `procfs` is used by this worker's thread alone.
  KillWorker(os::ProcFs& procfs, core::Clock& clock, core::Duration pollStep);
  ~KillWorker();  // finishes every job, then joins
  KillWorker(const KillWorker&) = delete;
  KillWorker& operator=(const KillWorker&) = delete;

  // Starts `job` (known as `id`); it adopts children of its parents() outside `baseline`.
  void submit(core::ProcessIdentity id, std::unique_ptr<KillJob> job, Baseline baseline);
  // Kills finished since the last call.
  std::vector<FinishedKill> takeFinished();
  // Blocks until every submitted kill has finished.
  void waitIdle();

 private:
  struct Active {
    core::ProcessIdentity id;
    std::unique_ptr<KillJob> job;
    Baseline baseline;
  };

  void run();
  void stepAll(std::vector<Active>& active);

  ForkWatch forks_;
  core::Clock& clock_;
  core::Duration pollStep_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Active> submitted_;
  std::vector<FinishedKill> finished_;
  size_t unfinished_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace reaper::kill
