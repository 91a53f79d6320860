#include "core/duration.h"

#include <gtest/gtest.h>

using reaper::core::Duration;
using reaper::core::parseDuration;

TEST(ParseDuration, AcceptsEachUnitAndSums) {
  EXPECT_EQ(parseDuration("500ms").value(), Duration(500));
  EXPECT_EQ(parseDuration("2s").value(), Duration(2000));
  EXPECT_EQ(parseDuration("1m").value(), Duration(60000));
  EXPECT_EQ(parseDuration("1h").value(), Duration(3600000));
  EXPECT_EQ(parseDuration("1m30s").value(), Duration(90000));
}

TEST(ParseDuration, RejectsMalformedText) {
  for (const char* bad : {"", "2", "s", "-1s", "2 s", "2x", "1.5s", "99999999999999h"}) {
    auto result = parseDuration(bad);
    EXPECT_FALSE(result.ok()) << bad;
  }
  EXPECT_NE(parseDuration("2").error().message.find("unit"), std::string::npos);
}
