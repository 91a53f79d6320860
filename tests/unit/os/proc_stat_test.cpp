#include "os/proc_stat.h"

#include <gtest/gtest.h>

#include <string>

namespace reaper::os {
namespace {

constexpr std::string_view kStatTail =
    " 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000 10 18446744073709551615";

TEST(ParseStat, PlainComm) {
  auto stat = parseStat("4321 (sleep) S" + std::string(kStatTail) + "\n");
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->pid, 4321);
  EXPECT_EQ(stat->comm, "sleep");
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->ppid, 1);
  EXPECT_EQ(stat->pgrp, 1234);
  EXPECT_EQ(stat->session, 1234);
  EXPECT_EQ(stat->flags, 4194560u);
  EXPECT_EQ(stat->threads, 1);
  EXPECT_EQ(stat->starttime, 987654u);
}

TEST(ParseStat, CommWithSpacesParenthesesAndCloseOpen) {
  auto stat = parseStat("77 (a) (b ) S 9 x) (c) R" + std::string(kStatTail));
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->comm, "a) (b ) S 9 x) (c");
  EXPECT_EQ(stat->state, 'R');
  EXPECT_EQ(stat->ppid, 1);
  EXPECT_EQ(stat->starttime, 987654u);
}

TEST(ParseStat, NoTrailingNewlineAndEmptyComm) {
  auto stat = parseStat("5 () Z" + std::string(kStatTail));
  ASSERT_TRUE(stat.ok());
  EXPECT_EQ(stat->comm, "");
  EXPECT_EQ(stat->state, 'Z');
}

TEST(ParseStat, MalformedIsAnError) {
  EXPECT_FALSE(parseStat("").ok());
  EXPECT_FALSE(parseStat("12 (x").ok());
  EXPECT_FALSE(parseStat("x (sleep) S 1 2 3").ok());
  EXPECT_FALSE(parseStat("12 (sleep) S 1 2").ok());
  EXPECT_FALSE(parseStat("12 (sleep) SS" + std::string(kStatTail)).ok());
  EXPECT_FALSE(parseStat("12 (sleep) S -x 1 1 0 -1 0 0 0 0 0 5 3 0 0 20 0 1 0 9 1 1").ok());
  EXPECT_FALSE(parseStat(")12 (sleep S" + std::string(kStatTail)).ok());
  EXPECT_FALSE(
      parseStat("12 (sleep) S 1 1 1 0 -1 0 0 0 0 0 5 3 0 0 20 0 1 0 99999999999999999999999").ok());
}

TEST(ParseSchedstat, RuntimeAndSwitches) {
  EXPECT_EQ(parseSchedstat("1311219 7238723 4\n"), (RunCounts{1311219, 4}));
  EXPECT_EQ(parseSchedstat("18446744073709551615 0 18446744073709551615"),
            (RunCounts{18446744073709551615u, 18446744073709551615u}));
  EXPECT_EQ(parseSchedstat("0 0 0\n"), RunCounts{})
      << "no scheduler statistics: the caller decides";
}

TEST(ParseSchedstat, MalformedIsNothing) {
  EXPECT_FALSE(parseSchedstat(""));
  EXPECT_FALSE(parseSchedstat("1 2\n"));
  EXPECT_FALSE(parseSchedstat("1 2 3 4\n"));
  EXPECT_FALSE(parseSchedstat("1 2 -3\n"));
  EXPECT_FALSE(parseSchedstat("x 2 3\n"));
  EXPECT_FALSE(parseSchedstat("1 2 3x\n"));
  EXPECT_FALSE(parseSchedstat("1 2 99999999999999999999999\n"));
}

}  // namespace
}  // namespace reaper::os
