#include "kill/kill_worker.h"

namespace reaper::kill {

KillWorker::KillWorker(os::ProcFs& procfs, core::Clock& clock, core::Duration pollStep)
    : forks_(procfs), clock_(clock), pollStep_(pollStep), thread_([this] { run(); }) {}

KillWorker::~KillWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void KillWorker::submit(core::ProcessIdentity id, std::unique_ptr<KillJob> job, Baseline baseline) {
  {
    std::lock_guard lock(mutex_);
    submitted_.push_back(Active{id, std::move(job), std::move(baseline)});
    ++unfinished_;
  }
  wake_.notify_all();
}

std::vector<FinishedKill> KillWorker::takeFinished() {
  std::lock_guard lock(mutex_);
  return std::exchange(finished_, {});
}

void KillWorker::waitIdle() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return unfinished_ == 0; });
}

void KillWorker::run() {
  std::vector<Active> active;  // this thread's own
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !submitted_.empty() || !active.empty(); });
      while (!submitted_.empty()) {
        active.push_back(std::move(submitted_.front()));
        submitted_.pop_front();
      }
      if (stopping_ && active.empty()) return;
    }
    stepAll(active);
    if (!active.empty()) clock_.sleepFor(pollStep_);
  }
}

void KillWorker::stepAll(std::vector<Active>& active) {
  forks_.refresh();
  std::vector<FinishedKill> done;
  std::erase_if(active, [&](Active& a) {
    if (!a.job->step(forks_.forkedBy(a.job->parents(), a.baseline))) return false;
    done.push_back(FinishedKill{a.id, a.job->report()});
    return true;
  });
  if (done.empty()) return;
  {
    std::lock_guard lock(mutex_);
    unfinished_ -= done.size();
    std::move(done.begin(), done.end(), std::back_inserter(finished_));
  }
  idle_.notify_all();
}

}  // namespace reaper::kill
