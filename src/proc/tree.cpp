#include "proc/tree.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <span>
#include <tuple>
#include <unordered_map>

namespace reaper::proc {
namespace {

constexpr size_t kNone = static_cast<size_t>(-1);
const std::string kOnePlacement;  // host mode's

std::string describe(const PartialKey& key) {
  return key.dagId + "/" + key.taskId + "/" + key.runId + "/" +
         (key.mapIndex ? std::to_string(*key.mapIndex) : "?") + "/" +
         (key.tryNumber ? std::to_string(*key.tryNumber) : "?");
}

std::string describe(const Claim& claim) {
  if (claim.key.dagId.empty()) return "uuid " + claim.tiUuid;
  return describe(claim.key) + (claim.tiUuid.empty() ? "" : " uuid " + claim.tiUuid);
}

// The tree's attempt as a partial key (unknown parts as nullopt).
std::optional<PartialKey> partialKeyOf(const TaskTree& tree) {
  if (!tree.key) return std::nullopt;
  const core::TaskInstanceKey& k = *tree.key;
  PartialKey key{k.dagId, k.taskId, k.runId, std::nullopt, std::nullopt};
  if (tree.mapIndexKnown) key.mapIndex = k.mapIndex;
  if (k.tryNumber > 0) key.tryNumber = k.tryNumber;
  return key;
}

void setKey(TaskTree& tree, const PartialKey& key) {
  tree.key = key.toKey();
  tree.mapIndexKnown = key.mapIndex.has_value();
}

// True when the claim names another attempt than the tree's: another TI uuid, another task or run,
// another map index or try where both are known.
bool contradicts(const TaskTree& tree, const Claim& claim) {
  if (!claim.tiUuid.empty() && !tree.tiUuid.empty() && claim.tiUuid != tree.tiUuid) return true;
  const auto key = partialKeyOf(tree);
  if (!key || claim.key.dagId.empty()) return false;
  return !key->compatible(claim.key);
}

// Moves contradicting members, with their descendants, out of `tree` into ambiguous trees. Members
// are ordered parents before children.
std::vector<TaskTree> splitContradicting(TaskTree& tree) {
  std::vector<TaskTree> splits;
  std::unordered_map<core::Pid, size_t> splitOf;  // moved pid -> index in splits
  std::vector<TreeMember> kept;
  for (size_t i = 0; i < tree.members.size(); ++i) {
    TreeMember& m = tree.members[i];
    auto parentSplit = splitOf.find(m.ppid);
    if (i > 0 && parentSplit != splitOf.end()) {
      splitOf.emplace(m.id.pid, parentSplit->second);
      splits[parentSplit->second].members.push_back(std::move(m));
      continue;
    }
    if (i == 0 || !m.claim || !contradicts(tree, *m.claim)) {
      kept.push_back(std::move(m));
      continue;
    }
    TaskTree split;
    split.origin = Origin::Split;
    split.root = m.id;
    split.placement = tree.placement;
    split.age = tree.age;
    split.attemptAge = tree.attemptAge;
    split.ambiguous = true;
    split.ambiguity = "pid " + std::to_string(m.id.pid) + " names " + describe(*m.claim) +
                      " but descends from pid " + std::to_string(tree.root.pid) + " of " +
                      (tree.key ? tree.key->toString() : "uuid " + tree.tiUuid);
    splitOf.emplace(m.id.pid, splits.size());
    split.members.push_back(std::move(m));
    splits.push_back(std::move(split));
  }
  tree.members = std::move(kept);
  return splits;
}

// Fills what the root's title left unknown from its members' claims, when they all agree; claims
// that disagree among themselves make the tree ambiguous.
void completeFromClaims(TaskTree& tree) {
  std::optional<PartialKey> key = partialKeyOf(tree);
  std::set<int> tries, mapIndexes;
  std::set<std::string> uuids;
  for (size_t i = 1; i < tree.members.size(); ++i) {
    const auto& claim = tree.members[i].claim;
    if (!claim) continue;
    if (!claim->tiUuid.empty()) uuids.insert(claim->tiUuid);
    if (!key || claim->key.dagId.empty()) continue;
    if (claim->key.tryNumber) tries.insert(*claim->key.tryNumber);
    if (claim->key.mapIndex) mapIndexes.insert(*claim->key.mapIndex);
  }
  auto disagree = [&tree](const char* what, size_t count) {
    if (count < 2) return false;
    tree.ambiguous = true;
    tree.ambiguity = "members name " + std::to_string(count) + " different " + what;
    return true;
  };
  if (disagree("TI uuids", uuids.size()) || disagree("tries", tries.size()) ||
      disagree("map indexes", mapIndexes.size())) {
    return;
  }
  if (tree.tiUuid.empty() && !tree.key && !uuids.empty()) tree.tiUuid = *uuids.begin();
  if (!key) return;
  if (!key->tryNumber && !tries.empty()) key->tryNumber = *tries.begin();
  if (!key->mapIndex && !mapIndexes.empty()) key->mapIndex = *mapIndexes.begin();
  setKey(tree, *key);
}

// A tree under construction.
struct Group {
  Origin origin = Origin::Root;
  std::vector<size_t> members;  // parents before children
  std::optional<PartialKey> key;
  std::string uuid;
  std::string placement;
  std::vector<size_t> fixers;  // whose own evidence fixed the attempt: the root, or the carriers
};

// Builds every tree of one snapshot. Processes are known by their index in the snapshot; what
// their command lines say was recognised when they were read.
class TreeBuilder {
 public:
  TreeBuilder(const ProcessSnapshot& snapshot, const IdentityOptions& options)
      : snapshot_(snapshot), procs_(snapshot.processes()) {
    const size_t n = procs_.size();
    recognition_.resize(n);
    placement_.resize(n);
    excluded_.resize(n);
    rawParent_.resize(n);
    parent_.assign(n, kNone);
    owner_.assign(n, kNone);
    for (size_t i = 0; i < n; ++i) {
      const Process& p = procs_[i];
      recognition_[i] = &p.commandLine.recognition();
      placement_[i] = options.placement ? options.placement(p) : &kOnePlacement;
      const Process* parent = snapshot.find(p.ppid);
      rawParent_[i] = parent == nullptr || parent == &p ? kNone : parent - procs_.data();
    }
    for (size_t i = 0; i < n; ++i) {
      recognisePreStartupFork(i);
      const Process& p = procs_[i];
      excluded_[i] = p.pid <= 1 || p.pid == options.selfPid || p.kernelThread ||
                     recognition_[i]->role == ProcessRole::Worker || !placement_[i];
    }
    for (size_t i = 0; i < n; ++i) {
      const size_t parent = rawParent_[i];
      if (parent != kNone && placement_[i] && placement_[parent] &&
          *placement_[parent] == *placement_[i]) {
        parent_[i] = parent;
      }
    }
    linkChildren();
  }

  std::vector<TaskTree> build() {
    for (size_t root : findRoots()) addRootGroup(root);
    addCarrierGroups();
    std::vector<TaskTree> trees;
    for (size_t g = 0; g < groups_.size(); ++g) {
      if (groups_[g].members.empty()) continue;
      TaskTree tree = toTree(g);
      auto splits = splitContradicting(tree);
      if (tree.origin == Origin::Root) completeFromClaims(tree);
      trees.push_back(std::move(tree));
      std::move(splits.begin(), splits.end(), std::back_inserter(trees));
    }
    return trees;
  }

 private:
  bool earlier(size_t a, size_t b) const {
    return std::tie(procs_[a].startTicks, procs_[a].pid) <
           std::tie(procs_[b].startTicks, procs_[b].pid);
  }
  void sortByStart(std::span<size_t> indexes) const {
    std::sort(indexes.begin(), indexes.end(), [this](size_t a, size_t b) { return earlier(a, b); });
  }

  // The children of each linked parent, oldest first: children_[childStart_[i] ..
  // childStart_[i+1]).
  void linkChildren() {
    const size_t n = procs_.size();
    childStart_.assign(n + 1, 0);
    for (size_t i = 0; i < n; ++i) {
      if (parent_[i] != kNone) ++childStart_[parent_[i] + 1];
    }
    for (size_t i = 0; i < n; ++i) childStart_[i + 1] += childStart_[i];
    children_.resize(childStart_[n]);
    std::vector<size_t> next(childStart_.begin(), childStart_.end() - 1);
    for (size_t i = 0; i < n; ++i) {
      if (parent_[i] != kNone) children_[next[parent_[i]]++] = i;
    }
    for (size_t i = 0; i < n; ++i) sortByStart(childrenOf(i));
  }

  std::span<size_t> childrenOf(size_t i) {
    return {children_.data() + childStart_[i], childStart_[i + 1] - childStart_[i]};
  }

  // A LocalExecutor worker or Celery pool process forks the Airflow 3 task process, which keeps the
  // parent's title until it has read its StartupDetails: identical title, parent a task-forking
  // worker.
  void recognisePreStartupFork(size_t i) {
    const size_t parent = rawParent_[i];
    if (!recognition_[i]->forksTasks || parent == kNone || !recognition_[parent]->forksTasks ||
        procs_[parent].commandLine != procs_[i].commandLine) {
      return;
    }
    Recognition& task = preStartupForks_.emplace_back();
    task.role = ProcessRole::TaskRoot;
    task.tiUuid = recognition_[i]->tiUuid;
    task.supervised = true;
    recognition_[i] = &task;
  }

  // A task process with no task process above it (the walk stops at workers and placements).
  bool isRoot(size_t i) const {
    if (excluded_[i] || recognition_[i]->role != ProcessRole::TaskRoot) return false;
    size_t q = parent_[i];
    for (size_t steps = 0; q != kNone && steps < procs_.size(); ++steps, q = parent_[q]) {
      if (excluded_[q]) return true;
      if (recognition_[q]->role == ProcessRole::TaskRoot) return false;
    }
    return true;
  }

  std::vector<size_t> findRoots() const {
    std::vector<size_t> roots;
    for (size_t i = 0; i < procs_.size(); ++i) {
      if (isRoot(i)) roots.push_back(i);
    }
    sortByStart(roots);
    return roots;
  }

  void addRootGroup(size_t root) {
    Group group;
    group.origin = Origin::Root;
    group.key = recognition_[root]->key;
    group.uuid = recognition_[root]->tiUuid;
    group.placement = *placement_[root];
    group.fixers = {root};
    groups_.push_back(std::move(group));
    claim(groups_.size() - 1, root);
  }

  // Carriers: processes that name an attempt in their environment and have no root ancestor (else
  // a root's tree owns them already). One tree per environment key and placement.
  void addCarrierGroups() {
    std::vector<size_t> carriers;
    for (size_t i = 0; i < procs_.size(); ++i) {
      if (excluded_[i] || owner_[i] != kNone || !procs_[i].context) continue;
      // A namespace's pid 1 is the container's init: a member only through its parent.
      if (procs_[i].namespaceInit() || inheritedFromWorker(i)) continue;
      carriers.push_back(i);
    }
    sortByStart(carriers);
    using CarrierKey = std::tuple<std::string_view, std::string_view, std::string_view,
                                  std::string_view, std::optional<int>, std::optional<int>>;
    std::map<CarrierKey, size_t> byKey;
    for (size_t i : carriers) {
      if (owner_[i] != kNone) continue;  // a descendant of an earlier carrier
      const PartialKey& key = *procs_[i].context;
      const CarrierKey carrierKey{*placement_[i], key.dagId,    key.taskId,
                                  key.runId,      key.mapIndex, key.tryNumber};
      auto [it, fresh] = byKey.try_emplace(carrierKey, groups_.size());
      if (fresh) {
        Group group;
        group.origin = Origin::Environment;
        group.key = key;
        group.placement = *placement_[i];
        groups_.push_back(std::move(group));
      }
      groups_[it->second].fixers.push_back(i);
      claim(it->second, i);
    }
  }

  // An environment identical to that of a long-lived worker above it, and of every process between,
  // came from the worker (a Celery pool process can carry a finished task's AIRFLOW_CTX_*): it
  // names no task of its own.
  bool inheritedFromWorker(size_t i) const {
    size_t q = rawParent_[i];
    for (size_t steps = 0; q != kNone && steps < procs_.size(); ++steps, q = rawParent_[q]) {
      if (procs_[q].context != procs_[i].context) return false;
      if (recognition_[q]->role == ProcessRole::Worker) return true;
    }
    return false;
  }

  // Adds `start` and its unowned descendants to group `g`, breadth first.
  void claim(size_t g, size_t start) {
    std::deque<size_t> queue{start};
    take(g, start);
    while (!queue.empty()) {
      const size_t i = queue.front();
      queue.pop_front();
      for (size_t c : childrenOf(i)) {
        if (excluded_[c] || owner_[c] != kNone) continue;
        take(g, c);
        queue.push_back(c);
      }
    }
  }

  void take(size_t g, size_t i) {
    owner_[i] = g;
    groups_[g].members.push_back(i);
  }

  // What a member's own evidence says, if anything. A root's own environment is never evidence
  // (it may be inherited from a long-lived worker), nor is a member's environment identical to
  // its root's (inherited from the same place).
  std::optional<Claim> claimOf(size_t i, size_t root) const {
    if (i == root) return std::nullopt;
    const Recognition& r = *recognition_[i];
    if (r.role == ProcessRole::TaskRoot && (r.key || !r.tiUuid.empty()))
      return Claim{r.key.value_or(PartialKey{}), r.tiUuid};
    const auto& own = procs_[i].context;
    if (!own || own == procs_[root].context) return std::nullopt;
    return Claim{*own, ""};
  }

  bool rootIsOrphan(const Group& group, size_t root) const {
    if (group.origin == Origin::Environment) return true;  // started by a task that is gone
    const size_t parent = rawParent_[root];
    return recognition_[root]->supervised &&
           (parent == kNone || recognition_[parent]->role != ProcessRole::Worker);
  }

  TaskTree toTree(size_t g) const {
    const Group& group = groups_[g];
    const size_t root = group.members.front();
    TaskTree tree;
    if (group.key) setKey(tree, *group.key);
    tree.tiUuid = group.uuid;
    tree.origin = group.origin;
    tree.root = procs_[root].identity();
    tree.placement = group.placement;
    tree.attemptAge = snapshot_.ageOf(procs_[group.fixers.front()]);
    for (size_t i : group.fixers)
      tree.attemptAge = std::min(tree.attemptAge, snapshot_.ageOf(procs_[i]));
    tree.members.reserve(group.members.size());
    for (size_t i : group.members) {
      const Process& p = procs_[i];
      TreeMember m{p.identity(), p.ppid, p.pgid, p.sid, p.commandLine};
      m.ownPid = p.ownPid();
      m.orphan = i == root ? rootIsOrphan(group, root)
                           : rawParent_[i] == kNone || owner_[rawParent_[i]] != g;
      m.escapee = p.sid != procs_[root].sid || p.pgid != procs_[root].pgid;
      m.dead = p.zombie();
      if (group.origin == Origin::Root) m.claim = claimOf(i, root);
      if (group.origin == Origin::Environment && p.context && p.context != group.key)
        m.claim = Claim{*p.context, ""};
      tree.age = std::max(tree.age, snapshot_.ageOf(p));
      tree.members.push_back(std::move(m));
    }
    if (!tree.key && tree.tiUuid.empty()) tree.ambiguity = "no TaskInstance identity yet";
    tree.ambiguous = !tree.ambiguity.empty();
    return tree;
  }

  const ProcessSnapshot& snapshot_;
  const std::vector<Process>& procs_;
  std::vector<const Recognition*> recognition_;
  std::deque<Recognition> preStartupForks_;  // what recognition_ says of them instead
  std::vector<const std::string*> placement_;
  std::vector<bool> excluded_;
  std::vector<size_t> rawParent_;  // the process's parent in the snapshot; kNone otherwise
  std::vector<size_t> parent_;     // linked parent: same placement; kNone otherwise
  std::vector<size_t> childStart_;
  std::vector<size_t> children_;  // by linked parent, see linkChildren()
  std::vector<size_t> owner_;
  std::vector<Group> groups_;
};

}  // namespace

std::vector<TaskTree> identifyTrees(const ProcessSnapshot& snapshot,
                                    const IdentityOptions& options) {
  return TreeBuilder(snapshot, options).build();
}

std::vector<TaskTree> settleKey(TaskTree& tree, const core::TaskInstanceKey& key) {
  tree.key = key;
  tree.mapIndexKnown = true;
  return splitContradicting(tree);
}

}  // namespace reaper::proc
