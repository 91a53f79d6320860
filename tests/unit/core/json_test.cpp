#include "core/json.h"

#include <gtest/gtest.h>

#include "support/json_projection.h"

namespace reaper::core {
namespace {

TEST(Json, ReadsTypedFieldsAndNothingElse) {
  auto parsed = Json::parse(
      R"({"s":"text","i":-42,"big":9223372036854775808,"d":1.5,"whole":2.0,"b":true,"n":null,)"
      R"("a":[1,"x"],"o":{"k":"v"}})");
  ASSERT_TRUE(parsed) << parsed.error().message;
  const Json& root = *parsed;
  EXPECT_EQ(root.field("s").string(), "text");
  EXPECT_EQ(root.field("i").integer(), -42);
  EXPECT_EQ(root.field("big").integer(), std::nullopt) << "past int64: a number, not an integer";
  EXPECT_DOUBLE_EQ(*root.field("big").number(), 9223372036854775808.0);
  EXPECT_EQ(root.field("d").integer(), std::nullopt);
  EXPECT_EQ(root.field("whole").integer(), std::nullopt) << "written with a fraction";
  EXPECT_EQ(root.field("i").number(), -42.0);
  EXPECT_EQ(root.field("b").boolean(), true);
  EXPECT_TRUE(root.field("n").isNull());
  EXPECT_TRUE(root.has("n"));
  EXPECT_FALSE(root.has("absent"));
  EXPECT_TRUE(root.field("absent").isNull());
  EXPECT_TRUE(root.field("s").field("deeper").isNull()) << "a field of a string is null";
  EXPECT_EQ(root.field("s").integer(), std::nullopt);
  EXPECT_EQ(root.field("i").string(), std::nullopt);
  ASSERT_EQ(root.field("a").items().size(), 2u);
  EXPECT_EQ(root.field("a").items()[1].string(), "x");
  EXPECT_TRUE(root.field("o").items().empty());
  ASSERT_EQ(root.field("o").members().size(), 1u);
  EXPECT_EQ(root.field("o").members()[0].first, "k");
  EXPECT_TRUE(root.field("a").members().empty());
}

TEST(Json, RejectsWhatIsNotJson) {
  for (const char* text : {"", "{", R"({"a":1,})", "{'a':1}", R"({"a":1} x)", "[1,]", "nul",
                           R"({"a":"line)"
                           "\n"
                           R"("})"}) {
    EXPECT_FALSE(Json::parse(text)) << text;
  }
  using namespace std::string_view_literals;
  for (auto text : {"{\"a\":1}\0 trailing"sv, "{\"a\":\"b\0c\"}"sv, "\0"sv}) {
    auto parsed = Json::parse(text);
    ASSERT_FALSE(parsed) << "a zero byte, never the end of the text";
    EXPECT_NE(parsed.error().message.find("zero byte"), std::string::npos)
        << parsed.error().message;
  }
  auto escaped = Json::parse(R"({"a":"x\u0000y"})");
  ASSERT_TRUE(escaped) << escaped.error().message;
  EXPECT_EQ(escaped->field("a").string(), std::string("x\0y", 3));
}

TEST(Json, RejectsADuplicateKey) {
  auto parsed = Json::parse(R"({"state":"running","state":"failed"})");
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("state"), std::string::npos);
  EXPECT_FALSE(Json::parse(R"({"a":{"k":1,"k":2}})"));
}

TEST(Json, DeepNestingIsAnErrorNotACrash) {
  EXPECT_TRUE(Json::parse(std::string(100, '[') + std::string(100, ']')));
  const std::string deep(1'000'000, '[');
  EXPECT_FALSE(Json::parse(deep + std::string(deep.size(), ']')));
  EXPECT_FALSE(Json::parse(std::string(1'000'000, '{')));
}

const Json::Projection kItemsAC{.depth = 2, .keys = {"a", "c"}};

TEST(Json, ProjectionKeepsOnlyTheNamedMembersAtItsDepth) {
  auto parsed = Json::parse(
      R"({"items":[{"a":{"deeper":[1,{"b":2}]},"b":{"x":[1,2]},"c":"s"},{"c":"t","d":null},7],)"
      R"("b":"root members are 0 deep: all kept"})",
      kItemsAC);
  ASSERT_TRUE(parsed) << parsed.error().message;
  auto expected = Json::parse(R"({"items":[{"a":{"deeper":[1,{"b":2}]},"c":"s"},{"c":"t"},7],)"
                              R"("b":"root members are 0 deep: all kept"})");
  EXPECT_EQ(*parsed, *expected);
  auto root = Json::parse(R"({"a":1,"b":[{"a":2,"b":3}],"c":{"b":4}})",
                          Json::Projection{.depth = 0, .keys = {"a", "c"}});
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(root->dump(), R"({"a":1,"c":{"b":4}})");
}

TEST(Json, ProjectionBuildsWhatTheFullParseHoldsOfTheKeptMembers) {
  for (const char* text : {
           R"({"items":[{"a":1,"b":{"c":[{"a":0}]},"c":[[],{}]},{"b":[1,{"a":"x"}],"a":null}]})",
           R"([[{"c":1,"e":2}],{"a":{"a":{"b":1}}},[[{"a":1}]],"s",{"b":[]}])",
           R"({"items":{"x":{"a":true,"z":1.5},"y":[{"c":-1,"zz":"\u00e9"}]},"b":{"b":{"b":1}}})",
           R"("scalar")",
           "[]",
           "{}",
       }) {
    auto full = Json::parse(text);
    ASSERT_TRUE(full) << text << ": " << full.error().message;
    auto kept = Json::parse(text, kItemsAC);
    ASSERT_TRUE(kept) << text << ": " << kept.error().message;
    EXPECT_EQ(*kept, test::projected(*full, kItemsAC)) << text;
  }
}

TEST(Json, ProjectionStillChecksWhatItDrops) {
  const std::vector<std::string> invalid = {
      "[1,]", "{\"k\":1,}", "nul", "\"line\nbreak\"", "{'k':1}", "1.", "[", "\"\\x\"", "tru"};
  for (const auto& dropped : invalid) {
    const std::string text = R"({"items":[{"a":1,"b":)" + dropped + "}]}";
    EXPECT_FALSE(Json::parse(text)) << text;
    EXPECT_FALSE(Json::parse(text, kItemsAC)) << "a dropped member held " << dropped;
  }
  // Three containers around the member's value: 128 levels with 125 more, 129 with 126.
  for (const char* key : {"a", "b"}) {
    for (size_t more : {125, 126}) {
      const std::string text = R"({"items":[{")" + std::string(key) +
                               "\":" + std::string(more, '[') + std::string(more, ']') + "}]}";
      EXPECT_EQ(Json::parse(text, kItemsAC).ok(), more == 125) << key << " " << more;
      EXPECT_EQ(Json::parse(text).ok(), more == 125) << key << " " << more;
    }
  }
}

TEST(Json, ProjectionRejectsAKeptKeyTwice) {
  auto twice = Json::parse(R"({"items":[{"a":1,"b":0,"a":2}]})", kItemsAC);
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("\"a\""), std::string::npos) << twice.error().message;
  EXPECT_FALSE(Json::parse(R"({"items":[{"b":{"k":1,"k":2}}],"items":[]})", kItemsAC))
      << "above the projected depth every key is kept";
  EXPECT_TRUE(Json::parse(R"({"items":[{"a":1,"b":0,"b":{"k":1,"k":2}}]})", kItemsAC))
      << "a dropped member is not remembered, nor what it holds";
}

TEST(Json, BuildsAndWritesInOrder) {
  Json body;
  body["kind"] = "Event";
  body["metadata"]["name"] = std::string("pod.1");
  body["count"] = 3;
  body["big"] = int64_t{1} << 40;
  body["ratio"] = 0.25;
  body["on"] = false;
  body["none"] = nullptr;
  Json list;
  list.push("a");
  list.push(Json::object());
  body["list"] = list;
  body["empty"] = Json::Array{};
  body["kind"] = "Pod";  // replaces, keeps its place
  EXPECT_EQ(body.dump(),
            R"({"kind":"Pod","metadata":{"name":"pod.1"},"count":3,"big":1099511627776,)"
            R"("ratio":0.25,"on":false,"none":null,"list":["a",{}],"empty":[]})");
}

TEST(Json, WritesValidJsonWhateverTheStringsHold) {
  Json body;
  body["s"] = std::string("q\"b\\n\nt\tc\x01 \xC3\xA9 \xE2\x80\xA8 bad\xFF\xC3");
  const std::string text = body.dump();
  EXPECT_EQ(
      text,
      "{\"s\":\"q\\\"b\\\\n\\nt\\tc\\u0001 \xC3\xA9 \xE2\x80\xA8 bad\xEF\xBF\xBD\xEF\xBF\xBD\"}");
  auto back = Json::parse(text);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->field("s").string(),
            "q\"b\\n\nt\tc\x01 \xC3\xA9 \xE2\x80\xA8 bad\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(Json, RoundTripsWhatItReads) {
  const std::string text =
      R"({"a":[1,-2,0.5,"x\u00e9",true,null,{"b":{}}],"c":"\ud83d\ude00","d":-9223372036854775808})";
  auto parsed = Json::parse(text);
  ASSERT_TRUE(parsed) << parsed.error().message;
  auto again = Json::parse(parsed->dump());
  ASSERT_TRUE(again) << parsed->dump();
  EXPECT_EQ(*again, *parsed);
  EXPECT_EQ(parsed->field("c").string(), "\xF0\x9F\x98\x80");
  EXPECT_EQ(parsed->field("d").integer(), INT64_MIN);
}

}  // namespace
}  // namespace reaper::core
