#include "net/base64.h"

#include <gtest/gtest.h>

namespace reaper::net {
namespace {

TEST(Base64, EncodesWithPadding) {
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(base64Encode("admin:pw"), "YWRtaW46cHc=");
  EXPECT_EQ(base64Encode("\xFB\xFF"), "+/8=");
}

TEST(Base64, DecodesUrlSafeWithOrWithoutPadding) {
  EXPECT_EQ(base64UrlDecode("Zm9v"), "foo");
  EXPECT_EQ(base64UrlDecode("Zm8"), "fo");
  EXPECT_EQ(base64UrlDecode("Zm8="), "fo");
  EXPECT_EQ(base64UrlDecode("-_8"), "\xFB\xFF");
  EXPECT_EQ(base64UrlDecode(""), "");
  EXPECT_EQ(base64UrlDecode("+/8="), std::nullopt) << "the standard alphabet is not a JWT's";
  EXPECT_EQ(base64UrlDecode("Zm9vY"), std::nullopt) << "no length leaves one character over";
  EXPECT_EQ(base64UrlDecode("Zm 9v"), std::nullopt);
}

}  // namespace
}  // namespace reaper::net
