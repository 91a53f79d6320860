#pragma once
// Exponential backoff with jitter, for every retry of the network clients.
#include <cstdint>
#include <random>

#include "core/clock.h"

namespace reaper::net {

class Backoff {
 public:
  Backoff(core::Duration base, core::Duration cap, uint32_t seed);
  // The wait before retry number `attempt` (1, 2, ...): `base` doubled per attempt after the first
  // and capped at `cap`, then drawn from [half of that, all of it] so that clients do not retry in
  // step.
  core::Duration delay(int attempt);
  // delay() of the attempt after the previous next() since the last reset().
  core::Duration next() { return delay(++attempts_); }
  void reset() { attempts_ = 0; }

 private:
  core::Duration base_, cap_;
  int attempts_ = 0;
  std::mt19937 random_;
};

}  // namespace reaper::net
