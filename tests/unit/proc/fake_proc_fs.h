#pragma once
// An in-memory /proc for tests: processes are described by their fields and rendered into the text
// the kernel would produce. Stateful: a process can vanish between listPids() and its reads.
#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "os/proc_fs.h"

namespace reaper::test {

struct FakeProcess {
  core::Pid pid = 0;
  core::Pid ppid = 1;
  core::Pid pgid = 0;  // 0: the pid
  core::Pid sid = 0;   // 0: the pid
  uint64_t startTicks = 1000;
  char state = 'S';
  std::string comm = "proc";
  std::vector<std::string> argv;
  std::vector<std::string> env;   // "NAME=value"
  std::vector<core::Pid> nsPids;  // empty: {pid}
  uid_t uid = 1000;
  bool kernelThread = false;
  std::string cgroup = "0::/system.slice/airflow.service\n";
  bool environReadable = true;
  int image = 1;  // which exec of the process this is: each exec maps its environment elsewhere
  long threads = 1;
};

inline std::string joinNul(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out.append(item).push_back('\0');
  return out;
}

class FakeProcFs final : public os::ProcFs {
 public:
  FakeProcFs& add(FakeProcess p) {
    if (p.pgid == 0) p.pgid = p.pid;
    if (p.sid == 0) p.sid = p.pid;
    if (p.nsPids.empty()) p.nsPids = {p.pid};
    cpu_[p.pid] = runtime_[p.pid] = ++clock_;
    switches_[p.pid] = 1;
    processes_[p.pid] = std::move(p);
    return *this;
  }
  void remove(core::Pid pid) { processes_.erase(pid); }
  // The process exits right after the next listPids().
  void vanishAfterListing(core::Pid pid) { vanishing_.insert(pid); }
  void setUptime(std::string text) { uptime_ = std::move(text); }
  // Replaces what one file of one process reads as.
  void overrideFile(core::Pid pid, std::string file, std::string text) {
    overrides_[{pid, std::move(file)}] = std::move(text);
  }
  // The process as it is now, to change in place (retitle, exec, exit). A process changes only by
  // running: its first thread is switched in (its switch count moves) and charged CPU time.
  FakeProcess& process(core::Pid pid) {
    run(pid);
    return processes_.at(pid);
  }
  // It ran without changing.
  void run(core::Pid pid) {
    cpu_[pid] = runtime_[pid] = ++clock_;
    ++switches_[pid];
  }
  // The process as it is now, to change in place while it runs on: as the kernel does, its CPU time
  // moves only at the next settleCpuTime() (its CPU's tick); the switch into the run is counted.
  FakeProcess& processRunningOn(core::Pid pid) {
    ++switches_[pid];
    uncounted_.insert(pid);
    return processes_.at(pid);
  }
  // The process as it is now, to change in place in a run the scheduler charged no CPU time (seen
  // on a VM: a short run can be charged 0 ns); the switch into the run is counted.
  FakeProcess& processInAnUnchargedRun(core::Pid pid) {
    ++switches_[pid];
    return processes_.at(pid);
  }
  // The process as it is now, to change in place later in the run that last switched it in, the
  // rest of which is charged nothing: no count moves.
  FakeProcess& processStillInItsRun(core::Pid pid) { return processes_.at(pid); }
  // The process as it is now, to change in place in a long run of its first thread that met no
  // switch (a busy CPU-bound loop): ticks charge it, the switch count stays.
  FakeProcess& processInALongRun(core::Pid pid) {
    cpu_[pid] = runtime_[pid] = ++clock_;
    return processes_.at(pid);
  }
  // The process as it is now, to change in place by a thread other than its first: only the CPU
  // time of the whole process moves.
  FakeProcess& processInAnotherThread(core::Pid pid) {
    cpu_[pid] = ++clock_;
    return processes_.at(pid);
  }
  // Whether runs are counted (see os::ProcFs::countsRuns).
  void countRuns(bool counted) { countsRuns_ = counted; }
  // Nothing counted yet for the process, as for every process that has not run yet.
  void uncounted(core::Pid pid) { cpu_[pid] = runtime_[pid] = switches_[pid] = 0; }
  // keep() fails as when no descriptor is left.
  void refuseToKeep(bool refuse) { refuseToKeep_ = refuse; }
  // Files read whole, by path or through an open process directory.
  int reads() const { return reads_; }
  // Re-reads of kept files.
  int keptReads() const { return keptReads_; }
  // Kept files still open.
  int keptOpen() const { return *keptOpen_; }

  std::vector<core::Pid> listPids() override {
    std::vector<core::Pid> pids;
    for (const auto& [pid, p] : processes_) pids.push_back(pid);
    for (core::Pid pid : vanishing_) processes_.erase(pid);
    vanishing_.clear();
    return pids;
  }

  core::Result<std::string> read(core::Pid pid, std::string_view file, size_t maxBytes) override {
    ++reads_;
    auto it = processes_.find(pid);
    if (it == processes_.end()) return core::makeError("no such process", ENOENT);
    std::string text;
    if (auto o = overrides_.find({pid, std::string(file)}); o != overrides_.end()) {
      text = o->second;
    } else {
      auto rendered = render(it->second, file);
      if (!rendered.ok()) return rendered;
      text = std::move(rendered.value());
    }
    if (text.size() > maxBytes) text.resize(maxBytes);
    return text;
  }

  core::Result<std::unique_ptr<os::ProcessFiles>> openProcess(core::Pid pid) override {
    auto it = processes_.find(pid);
    if (it == processes_.end()) return core::makeError("no such process", ENOENT);
    return std::unique_ptr<os::ProcessFiles>(new Files(*this, {pid, it->second.startTicks}));
  }

  std::vector<core::Pid> children(core::Pid pid) override {
    std::vector<core::Pid> found;
    for (const auto& [child, process] : processes_) {
      if (process.ppid == pid) found.push_back(child);
    }
    return found;
  }

  bool countsRuns() const override { return countsRuns_; }

  std::optional<uint64_t> cpuTime(core::Pid pid) override {
    if (!countsRuns_ || !processes_.count(pid)) return std::nullopt;
    return cpu_[pid];
  }

  void settleCpuTime() override {
    for (core::Pid pid : uncounted_) cpu_[pid] = runtime_[pid] = ++clock_;
    uncounted_.clear();
  }

  core::Result<std::string> readRoot(std::string_view file) override {
    if (file == "uptime") return uptime_;
    return core::makeError("no such file", ENOENT);
  }

  static std::string statText(const FakeProcess& p) {
    unsigned flags = p.kernelThread ? 0x00208040u : 0x00400100u;
    bool noMemory = p.kernelThread || p.state == 'Z';
    uint64_t envStart = noMemory ? 0 : 0x7ffd00000000 + 0x10000 * static_cast<uint64_t>(p.image);
    uint64_t envEnd = noMemory ? 0 : envStart + joinNul(p.env).size();
    return std::to_string(p.pid) + " (" + p.comm + ") " + p.state + " " + std::to_string(p.ppid) +
           " " + std::to_string(p.pgid) + " " + std::to_string(p.sid) + " 0 -1 " +
           std::to_string(flags) + " 10 0 0 0 5 3 0 0 20 0 " + std::to_string(p.threads) + " 0 " +
           std::to_string(p.startTicks) +
           " 1000000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 " +
           std::to_string(envStart) + " " + std::to_string(envEnd) + " 0\n";
  }

  static std::string statusText(const FakeProcess& p) {
    std::string ns;
    for (core::Pid n : p.nsPids) ns += "\t" + std::to_string(n);
    std::string uid = std::to_string(p.uid);
    return "Name:\t" + p.comm + "\nUmask:\t0022\nState:\t" + p.state + " (x)\nTgid:\t" +
           std::to_string(p.pid) + "\nNgid:\t0\nPid:\t" + std::to_string(p.pid) + "\nPPid:\t" +
           std::to_string(p.ppid) + "\nUid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid +
           "\nGid:\t0\t0\t0\t0\nNStgid:" + ns + "\nNSpid:" + ns + "\nKthread:\t" +
           (p.kernelThread ? "1" : "0") + "\nThreads:\t1\n";
  }

 private:
  // Files of the process that had `id` when opened: once it is gone (or its pid reused) they fail.
  class Files final : public os::ProcessFiles {
   public:
    Files(FakeProcFs& fs, core::ProcessIdentity id) : fs_(fs), id_(id) {}
    core::Result<std::string> read(std::string_view file, size_t maxBytes) override {
      if (!fs_.alive(id_)) return core::makeError("no such process", ENOENT);
      return fs_.read(id_.pid, file, maxBytes);
    }
    core::Result<std::unique_ptr<os::KeptFile>> keep(std::string_view file) override {
      if (!fs_.alive(id_)) return core::makeError("no such process", ENOENT);
      if (fs_.refuseToKeep_) return core::makeError("no descriptor left", EMFILE);
      return std::unique_ptr<os::KeptFile>(
          new Kept(fs_, id_, std::string(file), fs_.processes_.at(id_.pid).image));
    }

   private:
    FakeProcFs& fs_;
    core::ProcessIdentity id_;
  };

  class Kept final : public os::KeptFile {
   public:
    Kept(FakeProcFs& fs, core::ProcessIdentity id, std::string file, int image)
        : fs_(fs), id_(id), file_(std::move(file)), image_(image), open_(fs.keptOpen_) {
      ++*open_;
    }
    ~Kept() override { --*open_; }
    core::Result<size_t> readFromStart(std::span<char> buffer) override {
      ++fs_.keptReads_;
      if (!fs_.alive(id_)) return core::makeError("no such process", ESRCH);
      const FakeProcess& process = fs_.processes_.at(id_.pid);
      // As the kernel's: an environ file is bound to the memory it was opened for.
      if (file_ == "environ" && process.image != image_) return 0;
      auto text = fs_.render(process, file_);
      if (!text.ok()) return text.error();
      size_t n = std::min(buffer.size(), text->size());
      std::copy_n(text->data(), n, buffer.data());
      return n;
    }

   private:
    FakeProcFs& fs_;
    core::ProcessIdentity id_;
    std::string file_;
    int image_;
    std::shared_ptr<int> open_;
  };

  bool alive(core::ProcessIdentity id) const {
    auto it = processes_.find(id.pid);
    return it != processes_.end() && it->second.startTicks == id.startTicks;
  }

  core::Result<std::string> render(const FakeProcess& p, std::string_view file) const {
    bool noMemory = p.kernelThread || p.state == 'Z';
    if (file == "stat") return statText(p);
    if (file == "schedstat") {
      return std::to_string(runtime_.at(p.pid)) + " 0 " + std::to_string(switches_.at(p.pid)) +
             "\n";
    }
    if (file == "status") return statusText(p);
    if (file == "cmdline") return noMemory ? std::string() : joinNul(p.argv);
    if (file == "environ") {
      if (!p.environReadable) return core::makeError("permission denied", EACCES);
      return noMemory ? std::string() : joinNul(p.env);
    }
    if (file == "cgroup") return p.cgroup;
    return core::makeError("no such file", ENOENT);
  }

  std::map<core::Pid, FakeProcess> processes_;
  std::set<core::Pid> vanishing_;
  std::map<std::pair<core::Pid, std::string>, std::string> overrides_;
  std::string uptime_ = "1000.00 2000.00\n";
  int reads_ = 0;
  int keptReads_ = 0;
  std::map<core::Pid, uint64_t> cpu_;       // of every thread of each process
  std::map<core::Pid, uint64_t> runtime_;   // of each process's first thread
  std::map<core::Pid, uint64_t> switches_;  // of each process's first thread
  std::set<core::Pid> uncounted_;           // ran since the last settleCpuTime()
  uint64_t clock_ = 0;
  bool refuseToKeep_ = false;
  bool countsRuns_ = true;
  std::shared_ptr<int> keptOpen_ = std::make_shared<int>(0);
};

}  // namespace reaper::test
