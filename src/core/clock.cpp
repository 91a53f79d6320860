#include "core/clock.h"

#include <thread>

namespace reaper::core {

SteadyTime SystemClock::now() const { return std::chrono::steady_clock::now(); }
WallTime SystemClock::wallNow() const { return std::chrono::system_clock::now(); }
void SystemClock::sleepFor(Duration d) { std::this_thread::sleep_for(d); }

}  // namespace reaper::core
