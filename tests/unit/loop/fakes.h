#pragma once
// Stateful fakes for the loop's collaborators.
#include <atomic>
#include <map>
#include <memory>

#include "airflow/task_instance_source.h"
#include "loop/reaper.h"
#include "loop/target.h"
#include "support/fake_clock.h"
#include "unit/proc/fake_proc_fs.h"

namespace reaper::test {

inline core::TaskInstanceKey tiKey(std::string task, int tryNumber = 1) {
  return {"etl", std::move(task), "manual__1", -1, tryNumber};
}

inline loop::Target treeTarget(core::TaskInstanceKey key, std::vector<core::Pid> pids,
                               core::Duration age = std::chrono::minutes(5)) {
  loop::Target target;
  target.tree.key = std::move(key);
  target.tree.age = age;
  target.tree.mapIndexKnown = true;
  for (core::Pid pid : pids)
    target.tree.members.push_back(
        proc::TreeMember{{pid, 100u + pid}, 1, pid, pid, proc::CommandLine({"sleep"})});
  target.tree.root = target.tree.members.front().id;
  return target;
}

class FakeTargets final : public loop::TargetSource {
 public:
  std::vector<loop::Target> targets;
  // Lists exactly the targets' members.
  loop::Discovery discover() override {
    std::vector<core::ProcessIdentity> listed;
    for (const auto& target : targets) {
      for (const auto& member : target.tree.members) listed.push_back(member.id);
    }
    return {targets, kill::makeBaseline(std::move(listed))};
  }
};

class FakeAirflow final : public airflow::TaskInstanceSource {
 public:
  std::map<core::TaskInstanceKey, airflow::TaskInstanceStatus> states;  // by key with try 0
  std::map<std::string, core::TaskInstanceKey> uuids;
  int fetches = 0, resolves = 0, probes = 0;
  core::Status probeResult = core::Ok{};

  void set(core::TaskInstanceKey key, std::string state, int tryNumber = 1) {
    key.tryNumber = 0;
    states[key] = airflow::TaskInstanceStatus{airflow::Lookup::Found, std::move(state), tryNumber};
  }
  std::map<core::TaskInstanceKey, airflow::TaskInstanceStatus> fetchStates(
      const std::vector<core::TaskInstanceKey>& keys) override {
    ++fetches;
    std::map<core::TaskInstanceKey, airflow::TaskInstanceStatus> out;
    for (const auto& key : keys) {
      auto found = states.find(key);
      out[key] = found != states.end() ? found->second : airflow::TaskInstanceStatus{};
    }
    return out;
  }
  std::map<std::string, core::TaskInstanceKey> resolveUuids(
      const std::vector<std::string>& asked) override {
    ++resolves;
    std::map<std::string, core::TaskInstanceKey> out;
    for (const auto& uuid : asked)
      if (uuids.contains(uuid)) out[uuid] = uuids[uuid];
    return out;
  }
  core::Status probe() override {
    ++probes;
    return probeResult;
  }
};

// A kill job that finishes at its first step with a prepared report.
class FinishedKill final : public kill::KillJob {
 public:
  explicit FinishedKill(kill::KillReport report) : report_(std::move(report)) {}
  bool step(const std::vector<kill::ForkedProcess>&) override { return true; }
  kill::KillReport report() const override { return report_; }

 private:
  kill::KillReport report_;
};

// A kill still in flight until released (from any thread).
class HeldKill final : public kill::KillJob {
 public:
  explicit HeldKill(std::shared_ptr<std::atomic<bool>> released) : released_(std::move(released)) {}
  bool step(const std::vector<kill::ForkedProcess>&) override { return *released_; }
  kill::KillReport report() const override { return {}; }

 private:
  std::shared_ptr<std::atomic<bool>> released_;
};

// Records what it was asked to kill (on the loop's thread); its jobs kill nothing.
class FakeReaper final : public loop::Reaper {
 public:
  std::vector<std::string> reaped;                          // labels, in order
  std::vector<std::vector<core::ProcessIdentity>> members;  // of each kill, in order
  std::vector<core::ProcessIdentity> survivors;
  // While set, kills stay in flight until release().
  bool hold = false;
  void release() { *released_ = true; }
  std::unique_ptr<kill::KillJob> start(const loop::Target& target) override {
    reaped.push_back(target.label());
    members.emplace_back();
    for (const auto& m : target.tree.members) members.back().push_back(m.id);
    if (hold) return std::make_unique<HeldKill>(released_);
    kill::KillReport report;
    report.signalled = target.tree.members.size();
    report.killed = target.tree.members.size() - survivors.size();
    report.survivors = survivors;
    return std::make_unique<FinishedKill>(std::move(report));
  }
  size_t count() const { return reaped.size(); }

 private:
  std::shared_ptr<std::atomic<bool>> released_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace reaper::test
