#pragma once
// A clock for hermetic tests: it moves only when a test advances it or code sleeps on it, and it
// records those sleeps. Thread-safe. Steady time starts well after zero (zero means "never" to
// some callers); wall time starts at a fixed date.
#include <atomic>
#include <mutex>
#include <vector>

#include "core/clock.h"

namespace reaper::test {

class FakeClock final : public core::Clock {
 public:
  core::SteadyTime now() const override { return core::SteadyTime(kSteadyStart + elapsed()); }
  core::WallTime wallNow() const override { return kWallStart + elapsed(); }
  void sleepFor(core::Duration d) override {
    {
      std::lock_guard lock(mutex_);
      slept_.push_back(d);
    }
    advance(d);
  }

  void advance(core::Duration d) { millis_ += d.count(); }
  // Time advanced since construction.
  core::Duration elapsed() const { return core::Duration(millis_.load()); }
  std::vector<core::Duration> slept() const {
    std::lock_guard lock(mutex_);
    return slept_;
  }

  static constexpr core::Duration kSteadyStart{1'000'000};
  static constexpr core::WallTime kWallStart{
      std::chrono::seconds(1'795'003'200)};  // 2026-11-18T12:00:00Z

 private:
  std::atomic<long long> millis_{0};
  mutable std::mutex mutex_;
  std::vector<core::Duration> slept_;
};

}  // namespace reaper::test
