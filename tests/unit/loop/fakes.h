#pragma once
// Stateful fakes for the loop's collaborators.
#include <map>
#include <mutex>

#include "airflow/task_instance_source.h"
#include "loop/reaper.h"
#include "loop/target.h"
#include "support/fake_clock.h"

namespace reaper::test {

inline core::TaskInstanceKey tiKey(std::string task, int tryNumber = 1) {
  return {"etl", std::move(task), "manual__1", -1, tryNumber};
}

inline loop::Target treeTarget(core::TaskInstanceKey key, std::vector<core::Pid> pids,
                               core::Duration age = std::chrono::minutes(5)) {
  loop::Target target;
  target.tree.key = std::move(key);
  target.tree.age = age;
  for (core::Pid pid : pids)
    target.tree.members.push_back(proc::TreeMember{{pid, 100u + pid}, 1, pid, pid, {"sleep"}});
  target.tree.root = target.tree.members.front().id;
  return target;
}

class FakeTargets final : public loop::TargetSource {
 public:
  std::vector<loop::Target> targets;
  std::vector<loop::Target> discover() override { return targets; }
  std::vector<core::ProcessIdentity> currentMembers(const loop::Target& t) override {
    std::vector<core::ProcessIdentity> ids;
    for (const auto& m : t.tree.members) ids.push_back(m.id);
    return ids;
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

class FakeReaper final : public loop::Reaper {
 public:
  std::vector<std::string> reaped;  // labels, in order
  std::vector<core::ProcessIdentity> survivors;
  kill::KillReport reap(const loop::Target& target) override {
    std::lock_guard lock(mutex_);
    reaped.push_back(target.label());
    kill::KillReport report;
    report.signalled = target.tree.members.size();
    report.killed = target.tree.members.size() - survivors.size();
    report.survivors = survivors;
    return report;
  }
  size_t count() {
    std::lock_guard lock(mutex_);
    return reaped.size();
  }

 private:
  std::mutex mutex_;
};

}  // namespace reaper::test
