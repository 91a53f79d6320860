#include "proc/tree.h"

#include <algorithm>
#include <deque>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "proc/airflow_process.h"

namespace reaper::proc {
namespace {

constexpr size_t kNone = static_cast<size_t>(-1);

std::optional<PartialKey> contextKey(const Process& p) {
  if (!p.context) return std::nullopt;
  const AirflowContext& c = *p.context;
  PartialKey key{c.dagId, c.taskId, c.runId, std::nullopt, std::nullopt};
  if (c.hasMapIndex) key.mapIndex = c.mapIndex;
  if (c.tryNumber > 0) key.tryNumber = c.tryNumber;
  return key;
}

std::string describe(const PartialKey& key) { return key.toKey().toString(); }

// A tree under construction.
struct Group {
  size_t root = kNone;
  std::vector<size_t> members;
  std::optional<PartialKey> key;
  std::string uuid;
  std::string ambiguity;
  bool fromEnvironment = false;  // no recognised root: formed by AIRFLOW_CTX_* carriers
};

// Processes waiting to be placed by their environment key: free carriers and split-off subtrees.
struct PoolEntry {
  PartialKey key;
  std::vector<size_t> members;
  bool needsDescendants = false;
};

class TreeBuilder {
 public:
  TreeBuilder(const ProcessSnapshot& snapshot, const IdentityOptions& options)
      : snapshot_(snapshot), procs_(snapshot.processes()) {
    size_t n = procs_.size();
    recognition_.resize(n);
    excluded_.resize(n);
    owner_.assign(n, kNone);
    for (size_t i = 0; i < n; ++i) index_.emplace(procs_[i].pid, i);
    for (size_t i = 0; i < n; ++i) {
      const Process& p = procs_[i];
      if (!p.kernelThread) recognition_[i] = recognize(p.argv);
      children_[p.ppid].push_back(i);
    }
    for (auto& [pid, kids] : children_) std::sort(kids.begin(), kids.end(), byStart());
    for (size_t i = 0; i < n; ++i) {
      recognisePreStartupFork(i);
      const Process& p = procs_[i];
      excluded_[i] = p.pid <= 1 || p.pid == options.selfPid || p.kernelThread ||
                     recognition_[i].role == ProcessRole::Worker ||
                     (options.eligible && !options.eligible(p));
    }
  }

  std::vector<TaskTree> build() {
    for (size_t root : findRoots()) {
      groups_.push_back(
          Group{root, {}, recognition_[root].key, recognition_[root].tiUuid, "", false});
      claim(groups_.size() - 1, {root}, nullptr);
      resolveIdentity(groups_.size() - 1);
    }
    collectFreeCarriers();
    placePool();
    std::vector<TaskTree> trees;
    for (size_t g = 0; g < groups_.size(); ++g) {
      if (!groups_[g].members.empty()) trees.push_back(toTree(g));
    }
    return trees;
  }

 private:
  bool earlier(size_t a, size_t b) const {
    return std::tie(procs_[a].startTicks, procs_[a].pid) <
           std::tie(procs_[b].startTicks, procs_[b].pid);
  }
  std::function<bool(size_t, size_t)> byStart() const {
    return [this](size_t a, size_t b) { return earlier(a, b); };
  }

  size_t parentOf(size_t i) const {
    auto it = index_.find(procs_[i].ppid);
    return it == index_.end() || it->second == i ? kNone : it->second;
  }

  // A LocalExecutor worker or Celery pool process forks the Airflow 3 task process, which keeps the
  // parent's title until it has read its StartupDetails: identical title, parent a task-forking
  // worker.
  void recognisePreStartupFork(size_t i) {
    size_t parent = parentOf(i);
    if (!recognition_[i].forksTasks || parent == kNone || !recognition_[parent].forksTasks ||
        procs_[parent].argv != procs_[i].argv) {
      return;
    }
    Recognition task;
    task.role = ProcessRole::TaskRoot;
    task.tiUuid = recognition_[i].tiUuid;
    task.supervised = true;
    recognition_[i] = task;
  }

  bool isRoot(size_t i) const {
    if (excluded_[i] || recognition_[i].role != ProcessRole::TaskRoot) return false;
    size_t q = parentOf(i);
    for (size_t steps = 0; q != kNone && steps < procs_.size(); ++steps, q = parentOf(q)) {
      if (excluded_[q]) return true;
      if (recognition_[q].role == ProcessRole::TaskRoot) return false;
    }
    return true;
  }

  std::vector<size_t> findRoots() const {
    std::vector<size_t> roots;
    for (size_t i = 0; i < procs_.size(); ++i) {
      if (isRoot(i)) roots.push_back(i);
    }
    std::sort(roots.begin(), roots.end(), byStart());
    return roots;
  }

  // Adds `start` and their unowned descendants to group `g`, breadth first. With `keyFilter`, a
  // descendant whose environment names another attempt is left for its own tree.
  void claim(size_t g, const std::vector<size_t>& start, const PartialKey* keyFilter) {
    std::deque<size_t> queue(start.begin(), start.end());
    for (size_t i : start) take(g, i);
    while (!queue.empty()) {
      size_t i = queue.front();
      queue.pop_front();
      auto it = children_.find(procs_[i].pid);
      if (it == children_.end()) continue;
      for (size_t c : it->second) {
        if (excluded_[c] || owner_[c] != kNone) continue;
        auto key = contextKey(procs_[c]);
        if (keyFilter && key && !keyFilter->compatible(*key)) continue;
        take(g, c);
        queue.push_back(c);
      }
    }
  }

  void take(size_t g, size_t i) {
    if (owner_[i] == g) return;
    owner_[i] = g;
    groups_[g].members.push_back(i);
  }

  // Settles the key of a tree found from its root; members whose environment names another try of
  // the same TaskInstance (an old try's processes under a subreaper) move to the pool.
  void resolveIdentity(size_t g) {
    Group& group = groups_[g];
    std::unordered_map<size_t, std::optional<PartialKey>> label;
    std::vector<size_t> claimants;
    for (size_t i : group.members) {
      noteUuid(group, i);
      auto own = contextKey(procs_[i]);
      if (!own && i != group.root && recognition_[i].key) own = recognition_[i].key;
      size_t parent = parentOf(i);
      label[i] =
          own ? own : (parent != kNone && label.count(parent) ? label[parent] : std::nullopt);
      if (own) claimants.push_back(i);
    }
    // A member started before the root cannot have been forked by it: it was reparented here, so
    // it speaks for the tree only when nothing else does.
    uint64_t rootStart = procs_[group.root].startTicks;
    std::stable_partition(claimants.begin(), claimants.end(),
                          [&](size_t i) { return procs_[i].startTicks >= rootStart; });
    for (size_t i : claimants) settleClaim(group, *label[i]);
    if (group.key) splitOtherTries(group, label);
  }

  void settleClaim(Group& group, const PartialKey& claim) {
    if (!group.key) {
      group.key = claim;
    } else if (group.key->compatible(claim)) {
      group.key->merge(claim);
    } else if (!group.key->sameTaskInstance(claim)) {
      group.ambiguity =
          "conflicting identities " + describe(*group.key) + " and " + describe(claim);
    }
  }

  void splitOtherTries(Group& group, std::unordered_map<size_t, std::optional<PartialKey>>& label) {
    std::unordered_map<std::string, size_t> split;
    std::vector<size_t> kept;
    for (size_t i : group.members) {
      const auto& l = label[i];
      if (!l || group.key->compatible(*l) || !group.key->sameTaskInstance(*l)) {
        kept.push_back(i);
        continue;
      }
      auto [it, fresh] = split.emplace(describe(*l), pool_.size());
      if (fresh) pool_.push_back(PoolEntry{*l, {}, false});
      pool_[it->second].members.push_back(i);
      owner_[i] = kNone;
    }
    group.members = std::move(kept);
  }

  void noteUuid(Group& group, size_t i) {
    const std::string& uuid = recognition_[i].tiUuid;
    if (uuid.empty() || recognition_[i].role != ProcessRole::TaskRoot) return;
    if (group.uuid.empty()) {
      group.uuid = uuid;
    } else if (group.uuid != uuid) {
      group.ambiguity = "two TI uuids " + group.uuid + " and " + uuid;
    }
  }

  // A namespace's pid 1 is the container's init: a member only through its parent (the tree made
  // the namespace) or as the task itself (a root), never by its environment.
  void collectFreeCarriers() {
    for (size_t i = 0; i < procs_.size(); ++i) {
      if (excluded_[i] || owner_[i] != kNone || !procs_[i].context) continue;
      if (procs_[i].namespaceInit()) continue;
      pool_.push_back(PoolEntry{*contextKey(procs_[i]), {i}, true});
    }
    std::stable_sort(pool_.begin(), pool_.end(), [this](const PoolEntry& a, const PoolEntry& b) {
      return earlier(a.members.front(), b.members.front());
    });
  }

  void placePool() {
    for (PoolEntry& entry : pool_) {
      std::erase_if(entry.members, [&](size_t i) { return owner_[i] != kNone; });
      if (entry.members.empty()) continue;
      size_t g = groupFor(entry.key);
      if (groups_[g].key) groups_[g].key->merge(entry.key);
      if (entry.needsDescendants) {
        claim(g, entry.members, &entry.key);
      } else {
        for (size_t i : entry.members) take(g, i);
      }
    }
  }

  // An existing tree of this attempt, or a new one. A tree that does not know its try does not take
  // processes that do: an old try's orphans must not join the running try. A process that does not
  // tell its map index does not join a mapped TI's tree: it may belong to any sibling index.
  size_t groupFor(const PartialKey& key) {
    for (size_t g = 0; g < groups_.size(); ++g) {
      const auto& k = groups_[g].key;
      if (!k || !k->compatible(key)) continue;
      bool tryKnownEnough = k->tryNumber || !key.tryNumber;
      bool mapKnownEnough = key.mapIndex || !k->mapIndex || *k->mapIndex == -1;
      if (tryKnownEnough && mapKnownEnough) return g;
    }
    Group group;
    group.key = key;
    group.fromEnvironment = true;
    groups_.push_back(std::move(group));
    return groups_.size() - 1;
  }

  size_t rootOf(const Group& group) const {
    if (!group.fromEnvironment) return group.root;
    std::unordered_set<core::Pid> pids;
    for (size_t i : group.members) pids.insert(procs_[i].pid);
    size_t best = kNone;
    for (size_t i : group.members) {
      if (pids.count(procs_[i].ppid)) continue;
      if (best == kNone || earlier(i, best)) best = i;
    }
    return best == kNone ? group.members.front() : best;
  }

  bool rootIsOrphan(const Group& group, size_t root) const {
    if (group.fromEnvironment) return true;  // carriers were started by a task that is gone
    size_t parent = parentOf(root);
    return recognition_[root].supervised &&
           (parent == kNone || recognition_[parent].role != ProcessRole::Worker);
  }

  TaskTree toTree(size_t g) {
    Group& group = groups_[g];
    size_t root = rootOf(group);
    std::stable_partition(group.members.begin(), group.members.end(),
                          [root](size_t i) { return i == root; });
    std::unordered_set<core::Pid> pids;
    for (size_t i : group.members) pids.insert(procs_[i].pid);

    TaskTree tree;
    if (group.key) {
      tree.key = group.key->toKey();
      tree.mapIndexKnown = group.key->mapIndex.has_value();
    }
    tree.tiUuid = group.uuid;
    tree.root = procs_[root].identity();
    for (size_t i : group.members) {
      const Process& p = procs_[i];
      TreeMember m{p.identity(), p.ppid, p.pgid, p.sid, p.argv};
      m.orphan = i == root ? rootIsOrphan(group, root) : pids.count(p.ppid) == 0;
      m.escapee = p.sid != procs_[root].sid || p.pgid != procs_[root].pgid;
      m.dead = p.zombie();
      tree.age = std::max(tree.age, snapshot_.ageOf(p));
      tree.members.push_back(std::move(m));
    }
    tree.ambiguity = group.ambiguity;
    if (tree.ambiguity.empty() && !tree.key && tree.tiUuid.empty()) {
      tree.ambiguity = "no TaskInstance identity yet";
    }
    tree.ambiguous = !tree.ambiguity.empty();
    return tree;
  }

  const ProcessSnapshot& snapshot_;
  const std::vector<Process>& procs_;
  std::unordered_map<core::Pid, size_t> index_;
  std::unordered_map<core::Pid, std::vector<size_t>> children_;
  std::vector<Recognition> recognition_;
  std::vector<bool> excluded_;
  std::vector<size_t> owner_;
  std::vector<Group> groups_;
  std::vector<PoolEntry> pool_;
};

}  // namespace

std::vector<TaskTree> identifyTrees(const ProcessSnapshot& snapshot,
                                    const IdentityOptions& options) {
  return TreeBuilder(snapshot, options).build();
}

bool sameTree(const TaskTree& a, const TaskTree& b) {
  if (a.key && b.key) return *a.key == *b.key;
  if (!a.tiUuid.empty() && !b.tiUuid.empty()) return a.tiUuid == b.tiUuid;
  return a.root == b.root;
}

}  // namespace reaper::proc
