#include "proc/snapshot.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <functional>
#include <string_view>
#include <unordered_set>
#include <utility>

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

// The environment's TaskInstance: a try of 0 and a map index not exported are unknown.
PartialKey keyOf(AirflowContext context) {
  PartialKey key{std::move(context.dagId), std::move(context.taskId), std::move(context.runId),
                 std::nullopt, std::nullopt};
  if (context.hasMapIndex) key.mapIndex = context.mapIndex;
  if (context.tryNumber > 0) key.tryNumber = context.tryNumber;
  return key;
}

}  // namespace

struct ProcessTracker::Entry {
  size_t slot = 0;                        // of its process in the table
  std::unique_ptr<os::KeptFile> cmdline;  // null: none could be kept, so every poll re-reads
  size_t cmdlineHash = 0;
  // Kept open since the context was read through it: bound to the memory it was opened for, it
  // reads nothing once the process exec'd (or its memory is gone). Null: none kept, or an empty
  // environment, which cannot tell.
  std::unique_ptr<os::KeptFile> environ;
  uint64_t envStart = 0;  // stat fields 50-51 at the last read
  uint64_t envEnd = 0;
  // Null: none kept (the CPU clock alone tells a run), or runs are not counted (every poll checks).
  std::unique_ptr<os::KeptFile> schedstat;
  // When last probed or read: the first thread's counts, and with more threads than one at the
  // last read, the CPU time of all.
  os::RunCounts counts;
  std::optional<uint64_t> cpuTime;
  long threads = 0;
  // A run was under way when last probed or read: it may have changed the process after that.
  bool recheck = false;
  bool hasMemory = false;  // neither a kernel thread nor a zombie: it has a command line
  uint64_t seen = 0;       // the last poll that listed or read it
  uint64_t readAt = 0;     // the last poll that read it
};

struct ProcessTracker::Read {
  std::unique_ptr<Entry> entry;
  Process process;
};

ProcessSnapshot ProcessSnapshot::capture(os::ProcFs& fs, CaptureOptions options) {
  return ProcessTracker(fs, options, false).capture();
}

ProcessTracker::ProcessTracker(os::ProcFs& fs, CaptureOptions options)
    : ProcessTracker(fs, options, true) {}

ProcessTracker::ProcessTracker(os::ProcFs& fs, CaptureOptions options, bool keepFiles)
    : fs_(fs),
      options_(options),
      keepFiles_(keepFiles),
      table_(std::make_shared<std::vector<Process>>()),
      buffer_(std::max(kCmdlineMaxBytes, kEnvironMaxBytes)) {}

ProcessTracker::~ProcessTracker() = default;

ProcessSnapshot ProcessTracker::capture() {
  ++poll_;
  // A snapshot of an earlier poll still holds the table: it keeps its copy unchanged.
  if (table_.use_count() > 1) table_ = std::make_shared<std::vector<Process>>(*table_);
  std::vector<core::Pid> changedParents;  // died, replaced or turned zombie: children reparented
  if (!entries_.empty()) fs_.settleCpuTime();
  for (core::Pid pid : fs_.listPids()) {
    auto it = entries_.find(pid);
    if (it == entries_.end()) {
      if (auto fresh = read(pid, nullptr)) add(pid, std::move(*fresh));
      continue;
    }
    Entry& known = *it->second;
    const Probe result = probe(pid, known);
    if (result == Probe::Same) {
      known.seen = poll_;
      continue;
    }
    auto fresh = read(pid, result == Probe::Gone ? nullptr : &known);
    const bool sameProcess =
        result != Probe::Gone && fresh && fresh->process.startTicks == processOf(known).startTicks;
    if (!sameProcess || (known.hasMemory && !fresh->entry->hasMemory)) {
      changedParents.push_back(pid);
    }
    if (fresh) {
      replace(known, std::move(*fresh));
    } else {
      remove(pid);
    }
  }
  std::vector<core::Pid> unlisted;
  for (const auto& [pid, entry] : entries_) {
    if (entry->seen != poll_) unlisted.push_back(pid);
  }
  for (core::Pid pid : unlisted) remove(pid);
  changedParents.insert(changedParents.end(), unlisted.begin(), unlisted.end());
  refreshChildrenOf(changedParents);

  // Uptime read last, so no captured process looks younger than zero.
  double uptime = parseUptime(fs_.readRoot("uptime"));
  return ProcessSnapshot(table_, uptime, ::sysconf(_SC_CLK_TCK));
}

const Process& ProcessTracker::processOf(const Entry& entry) const { return (*table_)[entry.slot]; }

void ProcessTracker::add(core::Pid pid, Read fresh) {
  fresh.entry->slot = table_->size();
  table_->push_back(std::move(fresh.process));
  entries_.emplace(pid, std::move(fresh.entry));
}

void ProcessTracker::replace(Entry& entry, Read fresh) {
  fresh.entry->slot = entry.slot;
  (*table_)[entry.slot] = std::move(fresh.process);
  entry = std::move(*fresh.entry);
}

// The last slot's process moves into the freed one.
void ProcessTracker::remove(core::Pid pid) {
  auto it = entries_.find(pid);
  const size_t slot = it->second->slot;
  std::vector<Process>& table = *table_;
  if (slot + 1 != table.size()) {
    table[slot] = std::move(table.back());
    entries_.at(table[slot].pid)->slot = slot;
  }
  table.pop_back();
  entries_.erase(it);
}

ProcessTracker::Probe ProcessTracker::probe(core::Pid pid, Entry& entry) {
  const Run run = runSince(pid, entry);
  if (run == Run::Gone) return Probe::Gone;
  const bool secondLook = std::exchange(entry.recheck, run == Run::Some) && run == Run::None;
  if (run == Run::None && !secondLook) return Probe::Same;
  // What kept files cannot tell takes a read by path: for a run, not for a second look, which a
  // read asks for and which would otherwise come back at every poll.
  const Probe untold = secondLook ? Probe::Same : Probe::Changed;
  if (!entry.cmdline) return untold;
  auto read = entry.cmdline->readFromStart(std::span(buffer_).first(kCmdlineMaxBytes));
  if (!read) return gone(read.error()) ? Probe::Gone : Probe::Changed;
  const std::string_view bytes(buffer_.data(), *read);
  if (!entry.hasMemory) return bytes.empty() ? Probe::Same : Probe::Changed;
  if (bytes.empty()) return Probe::Changed;  // its memory is gone: exiting
  if (hashOf(bytes) != entry.cmdlineHash) return Probe::Changed;
  if (!entry.environ) return untold;
  return imageKept(entry) ? Probe::Same : Probe::Changed;  // an exec that kept every argv byte
}

// Whether the process ran since its counts were last taken, which this takes again: before the
// command line is read, so that a change after it shows at the next poll. The switch count tells a
// run the scheduler charged nothing; the CPU time of its first thread, a long run with no switch;
// the CPU time of all its threads, another thread's run. The kept schedstat is the process's own:
// it fails once the process is gone, even when its pid is reused.
ProcessTracker::Run ProcessTracker::runSince(core::Pid pid, Entry& entry) {
  if (!fs_.countsRuns()) return Run::Some;
  os::RunCounts counts;
  if (entry.schedstat) {
    const auto read = readCounts(*entry.schedstat);
    if (!read) return gone(read.error()) ? Run::Gone : Run::Some;
    counts = *read;
  }
  const auto cpuTime = needsCpuClock(entry) ? fs_.cpuTime(pid) : std::nullopt;
  // Without a kept schedstat nothing ties the clock to the process: 0 (nothing counted yet) is
  // every new process's, a reused pid's too.
  if (!entry.schedstat && (!cpuTime || *cpuTime == 0)) return Run::Some;
  const bool ran = counts != entry.counts || cpuTime != entry.cpuTime;
  entry.counts = counts;
  entry.cpuTime = cpuTime;
  return ran ? Run::Some : Run::None;
}

// Another thread's run shows only in the CPU clock of the whole process; without a kept schedstat
// (no descriptor left), the CPU clock is all there is, and it misses a run charged nothing.
bool ProcessTracker::needsCpuClock(const Entry& entry) {
  return entry.threads > 1 || !entry.schedstat;
}

core::Result<os::RunCounts> ProcessTracker::readCounts(os::KeptFile& schedstat) {
  auto read = schedstat.readFromStart(std::span(buffer_).first(os::kSchedstatMaxBytes));
  if (!read) return read.error();
  const auto counts = os::parseSchedstat(std::string_view(buffer_.data(), *read));
  if (!counts) return core::makeError("schedstat: not three counts");
  return *counts;
}

// Whether the process still runs the image its context was read from; false when it cannot tell.
bool ProcessTracker::imageKept(const Entry& entry) {
  if (!entry.environ) return false;
  char byte;
  auto read = entry.environ->readFromStart({&byte, 1});
  return read && *read == 1;
}

// Reads `pid` through one open directory, so every file is of one process. With `known` (what the
// last read of the same pid gave), what cannot have changed for the same process is not re-read.
std::optional<ProcessTracker::Read> ProcessTracker::read(core::Pid pid, Entry* known) {
  auto files = fs_.openProcess(pid);
  if (!files) return std::nullopt;
  os::ProcessFiles& dir = **files;
  auto statText = dir.read("stat", kStatMaxBytes);
  if (!statText) return std::nullopt;
  auto stat = parseStat(*statText);
  if (!stat) return std::nullopt;
  const Process* before = known != nullptr ? &processOf(*known) : nullptr;
  const bool same = before != nullptr && before->startTicks == stat->starttime;

  Read fresh{std::make_unique<Entry>(), {}};
  Entry& entry = *fresh.entry;
  entry.seen = entry.readAt = poll_;
  entry.threads = stat->threads;
  if (fs_.countsRuns()) {
    entry.schedstat = keep(dir, "schedstat");
    if (entry.schedstat) {
      const auto counts = readCounts(*entry.schedstat);
      if (counts) {
        entry.counts = *counts;
      } else {
        entry.schedstat.reset();
      }
    }
    if (needsCpuClock(entry)) entry.cpuTime = fs_.cpuTime(pid);
  }
  entry.recheck = true;  // it may be running now
  Process& p = fresh.process;
  p.pid = pid;
  p.ppid = stat->ppid;
  p.pgid = stat->pgrp;
  p.sid = stat->session;
  p.startTicks = stat->starttime;
  p.state = stat->state;
  p.comm = std::move(stat->comm);
  if (same) {  // namespaces, kernel-thread-ness: fixed for a process's life
    p.nsPids = before->nsPids;
    p.uid = before->uid;
    p.kernelThread = before->kernelThread;
  } else {
    auto statusText = dir.read("status", kStatusMaxBytes);
    if (!statusText) return std::nullopt;
    auto status = parseStatus(*statusText);
    if (!status) return std::nullopt;
    p.nsPids = std::move(status->nsPids);
    p.uid = status->realUid;
    p.kernelThread = status->kthread.value_or((stat->flags & kPfKthread) != 0);
  }
  entry.envStart = stat->envStart;
  entry.envEnd = stat->envEnd;
  entry.hasMemory = !p.kernelThread && !p.zombie();
  if (entry.hasMemory) {
    // stat shows no environment address once the memory is gone (exiting): what it had stays.
    const bool memoryGone = stat->envStart == 0 && stat->envEnd == 0;
    const bool sameImage = same && known->hasMemory &&
                           (memoryGone || (known->environ ? imageKept(*known)
                                                          : known->envStart == stat->envStart &&
                                                                known->envEnd == stat->envEnd));
    if (sameImage) {
      p.context = before->context;
      p.cgroups = before->cgroups;
      entry.environ = std::move(known->environ);
    } else {
      readImage(dir, fresh);
    }
  }
  if (!readCommandLine(dir, fresh, same ? known : nullptr)) return std::nullopt;
  return fresh;
}

void ProcessTracker::readImage(os::ProcessFiles& dir, Read& fresh) {
  fresh.process.context = readContext(dir, *fresh.entry);
  if (!options_.cgroups) return;
  if (auto cgroup = dir.read("cgroup", kCgroupMaxBytes))
    fresh.process.cgroups = parseCgroup(*cgroup);
}

// Through a kept file when one can be kept, so that the file tells later whether the context read
// now is still the process's.
std::optional<PartialKey> ProcessTracker::readContext(os::ProcessFiles& dir, Entry& entry) {
  auto kept = keep(dir, "environ");
  std::string byPath;
  const auto environ = readFile(dir, kept.get(), "environ", kEnvironMaxBytes, byPath);
  if (!environ) return std::nullopt;
  if (kept && !environ->empty()) entry.environ = std::move(kept);
  AirflowContext context = parseAirflowContext(*environ);
  if (!context.complete()) return std::nullopt;
  return keyOf(std::move(context));
}

// The process's `file` kept open; null when files are not kept or none could be.
std::unique_ptr<os::KeptFile> ProcessTracker::keep(os::ProcessFiles& dir, std::string_view file) {
  if (!keepFiles_) return nullptr;
  auto kept = dir.keep(file);
  return kept ? std::move(*kept) : nullptr;
}

// `file`, at most `maxBytes`: through `kept` into buffer_, or without one by path into `byPath`.
std::optional<std::string_view> ProcessTracker::readFile(os::ProcessFiles& dir, os::KeptFile* kept,
                                                         std::string_view file, size_t maxBytes,
                                                         std::string& byPath) {
  if (kept != nullptr) {
    auto read = kept->readFromStart(std::span(buffer_).first(maxBytes));
    if (!read) return std::nullopt;
    return std::string_view(buffer_.data(), *read);
  }
  auto read = dir.read(file, maxBytes);
  if (!read) return std::nullopt;
  byPath = std::move(*read);
  return std::string_view(byPath);
}

// Read last: when it reads, the process lived through every read before it. The file is kept
// open for the next polls' checks.
bool ProcessTracker::readCommandLine(os::ProcessFiles& dir, Read& fresh, const Entry* known) {
  Entry& entry = *fresh.entry;
  entry.cmdline = keep(dir, "cmdline");
  if (!entry.hasMemory) return true;  // no command line; the kept file tells when it is gone
  std::string byPath;
  const auto read = readFile(dir, entry.cmdline.get(), "cmdline", kCmdlineMaxBytes, byPath);
  if (!read) return false;
  const std::string_view bytes = *read;
  if (bytes.empty() && known != nullptr && known->hasMemory) {  // exiting: it keeps its title
    fresh.process.commandLine = processOf(*known).commandLine;
    entry.cmdlineHash = known->cmdlineHash;
    return true;
  }
  fresh.process.commandLine = CommandLine(parseCmdline(bytes));
  entry.cmdlineHash = hashOf(bytes);
  return true;
}

void ProcessTracker::refreshChildrenOf(const std::vector<core::Pid>& changedParents) {
  const std::unordered_set<core::Pid> parents(changedParents.begin(), changedParents.end());
  std::vector<core::Pid> reparented;
  for (const auto& [pid, entry] : entries_) {
    if (entry->readAt == poll_) continue;
    const core::Pid ppid = processOf(*entry).ppid;
    if (parents.contains(ppid) || (ppid > 0 && !entries_.contains(ppid))) reparented.push_back(pid);
  }
  for (core::Pid pid : reparented) {
    Entry& known = *entries_.at(pid);
    if (auto fresh = read(pid, &known)) {
      replace(known, std::move(*fresh));
    } else {
      remove(pid);
    }
  }
}

ProcessSnapshot::ProcessSnapshot(std::vector<Process> processes, double uptimeSeconds,
                                 long clockTicksPerSecond)
    : ProcessSnapshot(std::make_shared<const std::vector<Process>>(std::move(processes)),
                      uptimeSeconds, clockTicksPerSecond) {}

ProcessSnapshot::ProcessSnapshot(std::shared_ptr<const std::vector<Process>> processes,
                                 double uptimeSeconds, long clockTicksPerSecond)
    : processes_(std::move(processes)),
      uptimeSeconds_(uptimeSeconds),
      clockTicksPerSecond_(clockTicksPerSecond > 0 ? clockTicksPerSecond : 100) {
  const std::vector<Process>& all = *processes_;
  byPid_.reserve(all.size());
  byParent_.reserve(all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    byPid_.emplace_back(all[i].pid, i);
    byParent_.emplace_back(all[i].ppid, i);
  }
  std::sort(byPid_.begin(), byPid_.end());
  std::sort(byParent_.begin(), byParent_.end());
}

const Process* ProcessSnapshot::find(core::Pid pid) const {
  auto it = std::lower_bound(byPid_.begin(), byPid_.end(), std::pair<core::Pid, size_t>{pid, 0});
  return it == byPid_.end() || it->first != pid ? nullptr : &(*processes_)[it->second];
}

std::vector<const Process*> ProcessSnapshot::childrenOf(core::Pid pid) const {
  std::vector<const Process*> children;
  auto it =
      std::lower_bound(byParent_.begin(), byParent_.end(), std::pair<core::Pid, size_t>{pid, 0});
  for (; it != byParent_.end() && it->first == pid; ++it) {
    children.push_back(&(*processes_)[it->second]);
  }
  return children;
}

core::Duration ProcessSnapshot::ageOf(const Process& process) const {
  double started = static_cast<double>(process.startTicks) / clockTicksPerSecond_;
  double age = uptimeSeconds_ - started;
  if (age <= 0) return core::Duration{0};
  return core::Duration{static_cast<int64_t>(age * 1000)};
}

}  // namespace reaper::proc
