#include "proc/snapshot.h"

#include <unistd.h>

#include <charconv>
#include <cmath>

namespace reaper::proc {
namespace {

double parseUptime(const core::Result<std::string>& text) {
  if (!text.ok()) return 0;
  double seconds = 0;
  const std::string& s = text.value();
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), seconds);
  return ec == std::errc() && std::isfinite(seconds) && seconds > 0 ? seconds : 0;
}

// Reads and parses one process; nullopt when it vanished or its stat/status did not parse.
std::optional<Process> readProcess(os::ProcFs& fs, core::Pid pid, const CaptureOptions& options) {
  auto statText = fs.read(pid, "stat", kStatMaxBytes);
  if (!statText.ok()) return std::nullopt;
  auto stat = parseStat(statText.value());
  if (!stat.ok()) return std::nullopt;
  auto statusText = fs.read(pid, "status", kStatusMaxBytes);
  if (!statusText.ok()) return std::nullopt;
  auto status = parseStatus(statusText.value());
  if (!status.ok()) return std::nullopt;

  Process p;
  p.pid = pid;
  p.ppid = stat->ppid;
  p.pgid = stat->pgrp;
  p.sid = stat->session;
  p.startTicks = stat->starttime;
  p.state = stat->state;
  p.comm = std::move(stat->comm);
  p.nsPids = std::move(status->nsPids);
  p.uid = status->realUid;
  p.kernelThread = status->kthread.value_or((stat->flags & kPfKthread) != 0);
  if (p.kernelThread || p.zombie()) return p;  // no user memory: nothing more to read

  if (auto cmdline = fs.read(pid, "cmdline", kCmdlineMaxBytes); cmdline.ok()) {
    p.argv = parseCmdline(cmdline.value());
  }
  if (auto environ = fs.read(pid, "environ", kEnvironMaxBytes); environ.ok()) {
    AirflowContext ctx = parseAirflowContext(environ.value());
    if (ctx.complete()) p.context = std::move(ctx);
  }
  if (!options.cgroups) return p;
  if (auto cgroup = fs.read(pid, "cgroup", kCgroupMaxBytes); cgroup.ok()) {
    p.cgroups = parseCgroup(cgroup.value());
  }
  return p;
}

}  // namespace

ProcessSnapshot ProcessSnapshot::capture(os::ProcFs& fs, CaptureOptions options) {
  std::vector<Process> processes;
  std::vector<core::Pid> pids = fs.listPids();
  processes.reserve(pids.size());
  for (core::Pid pid : pids) {
    if (auto p = readProcess(fs, pid, options)) processes.push_back(std::move(*p));
  }
  // Uptime read last, so no captured process looks younger than zero.
  double uptime = parseUptime(fs.readRoot("uptime"));
  return ProcessSnapshot(std::move(processes), uptime, ::sysconf(_SC_CLK_TCK));
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
