#include <gtest/gtest.h>

#include "report/status_server.h"
#include "support/fake_clock.h"

namespace reaper::report {
namespace {

using core::Duration;

TEST(Health, NotLiveBeforeTheFirstTick) {
  reaper::test::FakeClock clock;
  Health health;
  EXPECT_FALSE(health.live(clock.now(), Duration(10000)));
}

TEST(Health, LiveWhileTicksArriveWithinTolerance) {
  reaper::test::FakeClock clock;
  Health health;
  health.markTick(clock.now());
  clock.advance(Duration(10000));
  EXPECT_TRUE(health.live(clock.now(), Duration(10000)));
  clock.advance(Duration(1));
  EXPECT_FALSE(health.live(clock.now(), Duration(10000)));
  health.markTick(clock.now());
  EXPECT_TRUE(health.live(clock.now(), Duration(10000)));
}

TEST(Health, ReadyOnlyAfterFirstScanAndAirflowReached) {
  Health scannedFirst;
  scannedFirst.markFirstScan();
  EXPECT_FALSE(scannedFirst.ready());
  scannedFirst.markAirflowReached();
  EXPECT_TRUE(scannedFirst.ready());

  Health answeredFirst;
  answeredFirst.markAirflowReached();
  EXPECT_FALSE(answeredFirst.ready());
  answeredFirst.markFirstScan();
  EXPECT_TRUE(answeredFirst.ready());
}

}  // namespace
}  // namespace reaper::report
