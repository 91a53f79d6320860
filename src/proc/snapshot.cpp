#include "proc/snapshot.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <functional>
#include <string_view>
#include <unordered_set>

namespace reaper::proc {
namespace {

double parseUptime(const core::Result<std::string>& text) {
  if (!text.ok()) return 0;
  double seconds = 0;
  const std::string& s = text.value();
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), seconds);
  return ec == std::errc() && std::isfinite(seconds) && seconds > 0 ? seconds : 0;
}

size_t hashOf(std::string_view bytes) { return std::hash<std::string_view>{}(bytes); }

bool gone(const core::Error& error) { return error.code == ESRCH || error.code == ENOENT; }

}  // namespace

struct ProcessTracker::Entry {
  Process process;
  std::unique_ptr<os::KeptFile> cmdline;  // null: none could be kept, so every poll re-reads
  size_t cmdlineHash = 0;
  uint64_t envStart = 0;  // stat fields 50-51 at the last read
  uint64_t envEnd = 0;
  std::optional<uint64_t> cpuTime;  // when last probed: unchanged, the process has not run
  bool hasMemory = false;           // neither a kernel thread nor a zombie: it has a command line
  uint64_t seen = 0;                // the last poll that listed or read it
  uint64_t readAt = 0;              // the last poll that read it
};

ProcessSnapshot ProcessSnapshot::capture(os::ProcFs& fs, CaptureOptions options) {
  return ProcessTracker(fs, options, false).capture();
}

ProcessTracker::ProcessTracker(os::ProcFs& fs, CaptureOptions options)
    : ProcessTracker(fs, options, true) {}

ProcessTracker::ProcessTracker(os::ProcFs& fs, CaptureOptions options, bool keepFiles)
    : fs_(fs), options_(options), keepFiles_(keepFiles), buffer_(kCmdlineMaxBytes) {}

ProcessTracker::~ProcessTracker() = default;

ProcessSnapshot ProcessTracker::capture() {
  ++poll_;
  std::vector<core::Pid> changedParents;  // died, replaced or turned zombie: children reparented
  for (core::Pid pid : fs_.listPids()) {
    auto it = entries_.find(pid);
    if (it == entries_.end()) {
      if (auto entry = read(pid, nullptr)) entries_.emplace(pid, std::move(entry));
      continue;
    }
    Entry& known = *it->second;
    const Probe result = probe(known);
    if (result == Probe::Same) {
      known.seen = poll_;
      continue;
    }
    auto fresh = read(pid, result == Probe::Gone ? nullptr : &known);
    const bool sameProcess =
        result != Probe::Gone && fresh && fresh->process.startTicks == known.process.startTicks;
    if (!sameProcess || (known.hasMemory && !fresh->hasMemory)) changedParents.push_back(pid);
    if (fresh) {
      it->second = std::move(fresh);
    } else {
      entries_.erase(it);
    }
  }
  std::erase_if(entries_, [&](const auto& item) {
    if (item.second->seen == poll_) return false;
    changedParents.push_back(item.first);
    return true;
  });
  refreshChildrenOf(changedParents);

  std::vector<Process> processes;
  processes.reserve(entries_.size());
  for (const auto& [pid, entry] : entries_) processes.push_back(entry->process);
  // Uptime read last, so no captured process looks younger than zero.
  double uptime = parseUptime(fs_.readRoot("uptime"));
  return ProcessSnapshot(std::move(processes), uptime, ::sysconf(_SC_CLK_TCK));
}

ProcessTracker::Probe ProcessTracker::probe(Entry& entry) {
  // Taken before the command line is read, so that a change after it shows at the next poll.
  const auto cpuTime = fs_.cpuTime(entry.process.pid);
  if (cpuTime && cpuTime == entry.cpuTime) return Probe::Same;
  entry.cpuTime = cpuTime;
  if (!entry.cmdline) return Probe::Changed;
  auto read = entry.cmdline->readFromStart(buffer_);
  if (!read) return gone(read.error()) ? Probe::Gone : Probe::Changed;
  const std::string_view bytes(buffer_.data(), *read);
  if (!entry.hasMemory) return bytes.empty() ? Probe::Same : Probe::Changed;
  if (bytes.empty()) return Probe::Changed;  // its memory is gone: exiting
  return hashOf(bytes) == entry.cmdlineHash ? Probe::Same : Probe::Changed;
}

// Reads `pid` through one open directory, so every file is of one process. With `known` (what the
// last read of the same pid gave), what cannot have changed for the same process is not re-read.
std::unique_ptr<ProcessTracker::Entry> ProcessTracker::read(core::Pid pid, const Entry* known) {
  const auto cpuTime = fs_.cpuTime(pid);
  auto files = fs_.openProcess(pid);
  if (!files) return nullptr;
  os::ProcessFiles& dir = **files;
  auto statText = dir.read("stat", kStatMaxBytes);
  if (!statText) return nullptr;
  auto stat = parseStat(*statText);
  if (!stat) return nullptr;
  const bool same = known != nullptr && known->process.startTicks == stat->starttime;

  auto entry = std::make_unique<Entry>();
  entry->seen = entry->readAt = poll_;
  entry->cpuTime = cpuTime;
  Process& p = entry->process;
  p.pid = pid;
  p.ppid = stat->ppid;
  p.pgid = stat->pgrp;
  p.sid = stat->session;
  p.startTicks = stat->starttime;
  p.state = stat->state;
  p.comm = std::move(stat->comm);
  if (same) {  // namespaces, kernel-thread-ness: fixed for a process's life
    p.nsPids = known->process.nsPids;
    p.uid = known->process.uid;
    p.kernelThread = known->process.kernelThread;
  } else {
    auto statusText = dir.read("status", kStatusMaxBytes);
    if (!statusText) return nullptr;
    auto status = parseStatus(*statusText);
    if (!status) return nullptr;
    p.nsPids = std::move(status->nsPids);
    p.uid = status->realUid;
    p.kernelThread = status->kthread.value_or((stat->flags & kPfKthread) != 0);
  }
  entry->envStart = stat->envStart;
  entry->envEnd = stat->envEnd;
  entry->hasMemory = !p.kernelThread && !p.zombie();
  if (entry->hasMemory) {
    // stat shows no environment address once the memory is gone (exiting): what it had stays.
    const bool memoryGone = stat->envStart == 0 && stat->envEnd == 0;
    const bool sameImage =
        same && known->hasMemory &&
        (memoryGone || (known->envStart == stat->envStart && known->envEnd == stat->envEnd));
    if (sameImage) {
      p.context = known->process.context;
      p.cgroups = known->process.cgroups;
    } else {
      readImage(dir, p);
    }
  }
  if (!readCommandLine(dir, *entry, same ? known : nullptr)) return nullptr;
  return entry;
}

void ProcessTracker::readImage(os::ProcessFiles& dir, Process& process) {
  if (auto environ = dir.read("environ", kEnvironMaxBytes)) {
    AirflowContext ctx = parseAirflowContext(*environ);
    if (ctx.complete()) process.context = std::move(ctx);
  }
  if (!options_.cgroups) return;
  if (auto cgroup = dir.read("cgroup", kCgroupMaxBytes)) process.cgroups = parseCgroup(*cgroup);
}

// Read last: when it reads, the process lived through every read before it. The file is kept
// open for the next polls' checks.
bool ProcessTracker::readCommandLine(os::ProcessFiles& dir, Entry& entry, const Entry* known) {
  if (keepFiles_) {
    if (auto kept = dir.keep("cmdline")) entry.cmdline = std::move(*kept);
  }
  if (!entry.hasMemory) return true;  // no command line; the kept file tells when it is gone
  std::string text;
  std::string_view bytes;
  if (entry.cmdline) {
    auto read = entry.cmdline->readFromStart(buffer_);
    if (!read) return false;
    bytes = std::string_view(buffer_.data(), *read);
  } else {
    auto read = dir.read("cmdline", kCmdlineMaxBytes);
    if (!read) return false;
    text = std::move(*read);
    bytes = text;
  }
  if (bytes.empty() && known != nullptr && known->hasMemory) {  // exiting: it keeps its title
    entry.process.argv = known->process.argv;
    entry.cmdlineHash = known->cmdlineHash;
    return true;
  }
  entry.process.argv = parseCmdline(bytes);
  entry.cmdlineHash = hashOf(bytes);
  return true;
}

void ProcessTracker::refreshChildrenOf(const std::vector<core::Pid>& changedParents) {
  const std::unordered_set<core::Pid> parents(changedParents.begin(), changedParents.end());
  std::vector<core::Pid> reparented;
  for (const auto& [pid, entry] : entries_) {
    if (entry->readAt == poll_) continue;
    const core::Pid ppid = entry->process.ppid;
    if (parents.contains(ppid) || (ppid > 0 && !entries_.contains(ppid))) reparented.push_back(pid);
  }
  for (core::Pid pid : reparented) {
    auto it = entries_.find(pid);
    if (auto fresh = read(pid, it->second.get())) {
      it->second = std::move(fresh);
    } else {
      entries_.erase(it);
    }
  }
}

ProcessSnapshot::ProcessSnapshot(std::vector<Process> processes, double uptimeSeconds,
                                 long clockTicksPerSecond)
    : processes_(std::move(processes)),
      uptimeSeconds_(uptimeSeconds),
      clockTicksPerSecond_(clockTicksPerSecond > 0 ? clockTicksPerSecond : 100) {
  byPid_.reserve(processes_.size());
  byParent_.reserve(processes_.size());
  for (size_t i = 0; i < processes_.size(); ++i) {
    byPid_.emplace(processes_[i].pid, i);
    byParent_.emplace(processes_[i].ppid, i);
  }
}

const Process* ProcessSnapshot::find(core::Pid pid) const {
  auto it = byPid_.find(pid);
  return it == byPid_.end() ? nullptr : &processes_[it->second];
}

std::vector<const Process*> ProcessSnapshot::childrenOf(core::Pid pid) const {
  std::vector<const Process*> children;
  auto [begin, end] = byParent_.equal_range(pid);
  for (auto it = begin; it != end; ++it) children.push_back(&processes_[it->second]);
  return children;
}

core::Duration ProcessSnapshot::ageOf(const Process& process) const {
  double started = static_cast<double>(process.startTicks) / clockTicksPerSecond_;
  double age = uptimeSeconds_ - started;
  if (age <= 0) return core::Duration{0};
  return core::Duration{static_cast<int64_t>(age * 1000)};
}

}  // namespace reaper::proc
