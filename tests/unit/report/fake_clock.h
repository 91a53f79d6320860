#pragma once
// A clock the test moves by hand; safe to read from the status server's threads.
#include <atomic>

#include "core/clock.h"

namespace reaper::report::test {

class FakeClock final : public core::Clock {
 public:
  core::SteadyTime now() const override { return core::SteadyTime(core::Duration(millis_.load())); }
  core::WallTime wallNow() const override { return core::WallTime(core::Duration(millis_.load())); }
  void sleepFor(core::Duration d) override { advance(d); }
  void advance(core::Duration d) { millis_ += d.count(); }

 private:
  std::atomic<long long> millis_{1'000'000};
};

}  // namespace reaper::report::test
