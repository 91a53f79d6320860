#include "net/backoff.h"

#include <gtest/gtest.h>

#include <vector>

namespace reaper::net {
namespace {

TEST(Backoff, GrowsToCapWithJitterAndResets) {
  Backoff backoff(core::Duration(500), core::Duration(4000), 7);
  std::vector<core::Duration> delays;
  for (int i = 0; i < 6; ++i) delays.push_back(backoff.next());
  EXPECT_GE(delays[0], core::Duration(250));
  EXPECT_LE(delays[0], core::Duration(500));
  for (int i = 3; i < 6; ++i) {
    EXPECT_GE(delays[i], core::Duration(2000));
    EXPECT_LE(delays[i], core::Duration(4000));
  }
  backoff.reset();
  EXPECT_LE(backoff.next(), core::Duration(500));
}

TEST(Backoff, DelayOfAnAttemptNeedsNoState) {
  Backoff backoff(core::Duration(100), core::Duration(10000), 1);
  EXPECT_GE(backoff.delay(3), core::Duration(200));
  EXPECT_LE(backoff.delay(3), core::Duration(400));
  EXPECT_LE(backoff.delay(1000), core::Duration(10000));
  EXPECT_GE(backoff.delay(1000), core::Duration(5000));
}

}  // namespace
}  // namespace reaper::net
