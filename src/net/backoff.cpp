#include "net/backoff.h"

#include <algorithm>

namespace reaper::net {

Backoff::Backoff(core::Duration base, core::Duration cap, uint32_t seed)
    : base_(base), cap_(cap), random_(seed) {}

core::Duration Backoff::delay(int attempt) {
  core::Duration d = base_;
  for (int i = 1; i < attempt && d < cap_; ++i) d *= 2;
  d = std::min(d, cap_);
  std::uniform_int_distribution<long long> jitter(d.count() / 2, d.count());
  return core::Duration(jitter(random_));
}

}  // namespace reaper::net
