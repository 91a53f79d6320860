#pragma once
// Time behind an interface so decisions and escalation are tested with a fake clock.
#include <chrono>

namespace reaper::core {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using Duration = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for intervals and deadlines.
  virtual SteadyTime now() const = 0;
  // Wall-clock time, for reports.
  virtual WallTime wallNow() const = 0;
  // Blocks the caller for `d` (a fake clock advances instead).
  virtual void sleepFor(Duration d) = 0;
};

class SystemClock final : public Clock {
 public:
  SteadyTime now() const override;
  WallTime wallNow() const override;
  void sleepFor(Duration d) override;
};

}  // namespace reaper::core
