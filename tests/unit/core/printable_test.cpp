#include "core/printable.h"

#include <gtest/gtest.h>

namespace reaper::core {
namespace {

struct Case {
  std::string input;
  std::string expected;
};

TEST(Printable, EscapesControlsAndInvalidUtf8) {
  const Case cases[] = {
      {"plain dag_id-1.x", "plain dag_id-1.x"},
      {"dag\nINFO forged line", "dag\\nINFO forged line"},
      {"a\rb\tc", "a\\rb\\tc"},
      {std::string("nul\0x", 5), "nul\\x00x"},
      {"\x1b[31mred", "\\x1b[31mred"},
      {"del\x7f", "del\\x7f"},
      {"byte\xff end", "byte\\xff end"},
      {"cut \xc3", "cut \\xc3"},                     // a sequence missing its last byte
      {"overlong \xc0\xaf", "overlong \\xc0\\xaf"},  // '/' spelled in two bytes
      {"surrogate \xed\xa0\x80", "surrogate \\xed\\xa0\\x80"},
      {"above \xf4\x90\x80\x80", "above \\xf4\\x90\\x80\\x80"},
      {"caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80"},
      {"c1 \xc2\x9b", "c1 \\u009b"},
      {"rtl \xe2\x80\xae txt", "rtl \\u202e txt"},
      {"ls \xe2\x80\xa8", "ls \\u2028"},
      {R"(kept "quotes" and \backslash)", R"(kept "quotes" and \backslash)"},
  };
  for (const auto& c : cases) EXPECT_EQ(printable(c.input), c.expected) << c.input;
}

TEST(Printable, TruncatesAtUnitBoundariesWithAnEllipsis) {
  EXPECT_EQ(printable("0123456789", 10), "0123456789");
  EXPECT_EQ(printable("0123456789a", 10), "0123456...");
  // An escape or a multi-byte character is never split.
  EXPECT_EQ(printable("012345\xff"
                      "789",
                      10),
            "012345...");
  EXPECT_EQ(printable("01234\xe2\x9c\x93xyz", 10), "01234...");
  EXPECT_EQ(printable("0123\xe2\x9c\x93xyzw", 10), "0123\xe2\x9c\x93...");
  EXPECT_EQ(printable(std::string(1 << 20, 'x'), 100).size(), 100u);
}

TEST(Quoted, EscapesQuotesAndBackslashesToo) {
  EXPECT_EQ(quoted(""), R"("")");
  EXPECT_EQ(quoted(R"(a "b" \c)"), R"("a \"b\" \\c")");
  EXPECT_EQ(quoted("x\" action=kill\n"), R"("x\" action=kill\n")");
  EXPECT_EQ(quoted("\xff"), R"("\xff")");
}

}  // namespace
}  // namespace reaper::core
