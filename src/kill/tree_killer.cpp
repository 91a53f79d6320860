#include "kill/tree_killer.h"

#include <unistd.h>

#include <csignal>

#include "core/log.h"

namespace reaper::kill {
namespace {

const char* signalName(int sig) {
  switch (sig) {
    case SIGTERM:
      return "TERM";
    case SIGCONT:
      return "CONT";
    case SIGKILL:
      return "KILL";
    default:
      return "other";
  }
}

}  // namespace

TreeKiller::TreeKiller(os::Signaller& signaller, core::Clock& clock, KillOptions options)
    : signaller_(signaller), clock_(clock), options_(options) {
  if (options_.selfPid <= 0) options_.selfPid = ::getpid();
}

KillReport TreeKiller::kill(const MembershipSource& members) {
  const auto start = clock_.now();
  Sweep state;
  sweep(members, state, false);
  waitForExit(state, start + options_.gracePeriod);
  bool escalated = false;
  for (auto& [identity, target] : state.targets) {
    if (target.exited) continue;
    signalTarget(target, SIGKILL);
    escalated = true;
  }
  if (sweep(members, state, true) > 0) escalated = true;
  if (escalated) waitForExit(state, clock_.now() + options_.killWait);
  return summarize(state, start, escalated);
}

// One round per membership read; newcomers get SIGTERM + SIGCONT, or SIGKILL once the grace is
// over.
size_t TreeKiller::sweep(const MembershipSource& members, Sweep& state, bool final) {
  size_t added = 0;
  for (int round = 0; round < options_.maxMembershipRounds; ++round) {
    size_t fresh = 0;
    for (const auto& member : members()) {
      if (!admit(member, state)) continue;
      auto& target = state.targets.at(member);
      if (final) {
        signalTarget(target, SIGKILL);
      } else {
        signalTarget(target, SIGTERM);
        signalTarget(target, SIGCONT);
      }
      ++fresh;
    }
    if (fresh == 0) return added;
    added += fresh;
  }
  core::logger("kill")->warn("membership still growing after rounds={} signalled={}",
                             options_.maxMembershipRounds, state.targets.size());
  return added;
}

// Opens a handle to a member not seen before; false for known, refused or vanished members.
bool TreeKiller::admit(const core::ProcessIdentity& member, Sweep& state) {
  if (state.targets.contains(member) || state.passed.contains(member)) return false;
  if (member.pid <= 1 || member.pid == options_.selfPid) {
    core::logger("kill")->warn("refusing to signal pid={} reason={}", member.pid,
                               member.pid <= 1 ? "init" : "self");
    state.passed.insert(member);
    return false;
  }
  auto handle = signaller_.open(member);
  if (!handle.ok()) {
    core::logger("kill")->debug("not signalled pid={} reason=\"{}\"", member.pid,
                                handle.error().message);
    state.passed.insert(member);
    return false;
  }
  state.targets.emplace(member, Target{std::move(*handle)});
  return true;
}

void TreeKiller::signalTarget(Target& target, int sig) {
  const auto identity = target.handle->identity();
  if (auto sent = signaller_.signal(*target.handle, sig); !sent.ok()) {
    core::logger("kill")->warn("signal failed pid={} sig={} error=\"{}\"", identity.pid,
                               signalName(sig), sent.error().message);
    return;
  }
  if (sig != SIGCONT)
    core::logger("kill")->info("signalled pid={} sig={}", identity.pid, signalName(sig));
}

size_t TreeKiller::refreshExited(Sweep& state) {
  size_t alive = 0;
  for (auto& [identity, target] : state.targets) {
    if (!target.exited) target.exited = signaller_.exited(*target.handle);
    if (!target.exited) ++alive;
  }
  return alive;
}

void TreeKiller::waitForExit(Sweep& state, core::SteadyTime deadline) {
  while (refreshExited(state) > 0) {
    const auto now = clock_.now();
    if (now >= deadline) return;
    clock_.sleepFor(
        std::min(options_.pollStep, std::chrono::duration_cast<core::Duration>(deadline - now)));
  }
}

KillReport TreeKiller::summarize(Sweep& state, core::SteadyTime start, bool escalated) {
  KillReport report;
  report.escalated = escalated;
  report.signalled = state.targets.size();
  refreshExited(state);
  for (auto& [identity, target] : state.targets) {
    if (target.exited) continue;
    report.survivors.push_back(identity);
    core::logger("kill")->warn("survived SIGKILL pid={} state={}", identity.pid,
                               signaller_.state(*target.handle));
  }
  report.killed = report.signalled - report.survivors.size();
  report.took = std::chrono::duration_cast<core::Duration>(clock_.now() - start);
  core::logger("kill")->info(
      "tree kill done signalled={} killed={} survivors={} escalated={} took_ms={}",
      report.signalled, report.killed, report.survivors.size(), escalated, report.took.count());
  return report;
}

}  // namespace reaper::kill
