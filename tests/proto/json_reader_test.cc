#include "proto/json_reader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "proto/base64.h"
#include "proto/json_writer.h"

namespace spindle {
namespace {

TEST(JsonReaderTest, ParsesAllTypes) {
  auto v = JsonReader::parse(
      R"( {"a": [1, -2.5e3, "x\"y\u00e9\ud83d\ude80", true, false, null, {}], "b": {"c": "d"}} )");
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  ASSERT_TRUE(v->is_object());
  const JsonValue* a = v->find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->items().size(), 7u);
  EXPECT_EQ(a->items()[0].as_int64(), 1);
  EXPECT_EQ(a->items()[1].as_double(), -2500.0);
  EXPECT_EQ(a->items()[1].as_int64(), -2500);
  EXPECT_EQ(a->items()[2].text(), "x\"y\xC3\xA9\xF0\x9F\x9A\x80");
  EXPECT_TRUE(a->items()[3].bool_value());
  EXPECT_FALSE(a->items()[4].bool_value());
  EXPECT_TRUE(a->items()[5].is_null());
  EXPECT_TRUE(a->items()[6].is_object());
  EXPECT_EQ(a->offset(), 7u);
  EXPECT_EQ(v->find("b")->find("c")->text(), "d");
  EXPECT_EQ(v->find("zzz"), nullptr);
}

TEST(JsonReaderTest, UnescapedStringsAreViewsIntoTheInput) {
  std::string input = R"(["plain"])";
  auto v = JsonReader::parse(input);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->items()[0].text().data(), input.data() + 2);
  // Moving the tree keeps owned (escaped) strings valid.
  auto w = JsonReader::parse(R"(["a\nb"])");
  ASSERT_TRUE(w.ok());
  JsonValue moved = std::move(*w);
  EXPECT_EQ(moved.items()[0].text(), "a\nb");
}

TEST(JsonReaderTest, ExactSixtyFourBitIntegers) {
  auto v = JsonReader::parse(R"([18446744073709551615, "9223372036854775807", -9223372036854775808, 1e3, 1.5,
                                 "-1", 18446744073709551616])");
  ASSERT_TRUE(v.ok());
  const auto& i = v->items();
  EXPECT_EQ(i[0].as_uint64(), 18446744073709551615ull);
  EXPECT_EQ(i[0].as_int64(), std::nullopt);
  EXPECT_EQ(i[1].as_int64(), INT64_MAX);
  EXPECT_EQ(i[1].as_int64(/*allow_string=*/false), std::nullopt);
  EXPECT_EQ(i[2].as_int64(), INT64_MIN);
  EXPECT_EQ(i[3].as_uint64(), 1000u);
  EXPECT_EQ(i[4].as_int64(), std::nullopt);
  EXPECT_EQ(i[5].as_int64(), -1);
  EXPECT_EQ(i[5].as_uint64(), std::nullopt);
  EXPECT_EQ(i[6].as_uint64(), std::nullopt);
}

TEST(JsonReaderTest, SpecialDoubleStrings) {
  auto v = JsonReader::parse(R"(["NaN", "Infinity", "-Infinity", "2.5", "x"])");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(std::isnan(*v->items()[0].as_double()));
  EXPECT_EQ(v->items()[1].as_double(), INFINITY);
  EXPECT_EQ(v->items()[2].as_double(), -INFINITY);
  EXPECT_EQ(v->items()[3].as_double(), 2.5);
  EXPECT_EQ(v->items()[4].as_double(), std::nullopt);
}

TEST(JsonReaderTest, ErrorsCarryOffsets) {
  struct Case {
    std::string input;
    std::string message;
  };
  std::vector<Case> cases = {
      {"", "unexpected end of JSON at offset 0"},
      {"[1,]", "unexpected character ']' at offset 3"},
      {"{\"a\" 1}", "expected ':' at offset 5"},
      {"[01]", "invalid number at offset 1"},
      {"[1] x", "unexpected data after the JSON value at offset 4"},
      {"\"abc", "unterminated string at offset 0"},
      {"\"a\x01\"", "control character in string at offset 2"},
      {"\"\\x\"", "invalid escape at offset 1"},
      {"\"\\ud800\"", "high surrogate escape without its pair at offset 1"},
      {"\"\\udc00\"", "lone low surrogate escape at offset 1"},
      {"\"\xC3\x28\"", "invalid UTF-8 in string at offset 1"},
      {"{1:2}", "expected a string key at offset 1"},
      {"tru", "invalid literal at offset 0"},
      {"// c\n1", "unexpected character '/' at offset 0"},
  };
  for (const auto& c : cases) {
    auto v = JsonReader::parse(c.input);
    ASSERT_FALSE(v.ok()) << c.input;
    EXPECT_EQ(v.status().code(), StatusCode::InvalidArgument);
    EXPECT_EQ(v.status().message(), c.message) << c.input;
  }
}

TEST(JsonReaderTest, DepthLimit) {
  std::string ok(128, '[');
  ok += std::string(128, ']');
  EXPECT_TRUE(JsonReader::parse(ok).ok());
  std::string deep(129, '[');
  deep += std::string(129, ']');
  auto v = JsonReader::parse(deep);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "JSON nested too deeply at offset 128");
  // Very deep input fails fast instead of overflowing the stack.
  EXPECT_FALSE(JsonReader::parse(std::string(1000000, '[')).ok());
}

TEST(JsonReaderTest, GarbageNeverCrashes) {
  std::mt19937_64 rng(1);
  const std::string alphabet = "{}[]\":,0123456789.eE+-tfnrul\\ x\xC3\xA9";
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 24, ' ');
    for (auto& c : s) c = alphabet[rng() % alphabet.size()];
    auto v = JsonReader::parse(s);
    if (!v.ok()) {
      EXPECT_NE(v.status().message().find(" at offset "), std::string::npos);
    }
  }
}

TEST(JsonWriterTest, WritesEscapedStructure) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.key("s");
  w.string(std::string("a\"\\\n\r\t\x01<>&\xE2\x80\xA8\xC3\xA9\xFFz", 17));
  w.key("arr");
  w.begin_array();
  w.int_value(-5);
  w.uint_value(18446744073709551615ull);
  w.int_string(-7);
  w.uint_string(9);
  w.bool_value(true);
  w.null_value();
  w.raw("{\"r\":1}");
  w.begin_object();
  w.end_object();
  w.begin_array();
  w.end_array();
  w.end_array();
  w.key("b64");
  w.base64("\x01\x02");
  w.end_object();
  EXPECT_EQ(out,
            "{\"s\":\"a\\\"\\\\\\n\\r\\t\\u0001\\u003c\\u003e\\u0026\\u2028\xC3\xA9\\ufffdz\","
            "\"arr\":[-5,18446744073709551615,\"-7\",\"9\",true,null,{\"r\":1},{},[]],\"b64\":\"AQI=\"}");
  EXPECT_TRUE(JsonReader::parse(out).ok());
}

TEST(JsonWriterTest, DoublesLikeGo) {
  auto render = [](double d) {
    std::string out;
    JsonWriter(out).double_value(d);
    return out;
  };
  EXPECT_EQ(render(1.0), "1");
  EXPECT_EQ(render(-2.5), "-2.5");
  EXPECT_EQ(render(0.1), "0.1");
  EXPECT_EQ(render(1e21), "1e+21");
  EXPECT_EQ(render(1e20), "100000000000000000000");
  EXPECT_EQ(render(1e-7), "1e-7");
  EXPECT_EQ(render(1.5e-300), "1.5e-300");
  EXPECT_EQ(render(0.000001), "0.000001");
  EXPECT_EQ(render(NAN), "\"NaN\"");
  EXPECT_EQ(render(INFINITY), "\"Infinity\"");
  EXPECT_EQ(render(-INFINITY), "\"-Infinity\"");
  std::mt19937_64 rng(3);
  for (int i = 0; i < 10000; ++i) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isfinite(d)) continue;
    const std::string text = render(d);  // the parsed tree borrows it
    auto v = JsonReader::parse(text);
    ASSERT_TRUE(v.ok()) << text;
    EXPECT_EQ(*v->as_double(), d) << text;
  }
}

TEST(Base64Test, RoundTripsAndAcceptsUrlSafeUnpadded) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  std::string out;
  ASSERT_TRUE(append_base64_decoded("Zg", out).is_ok());
  EXPECT_EQ(out, "f");
  out.clear();
  ASSERT_TRUE(append_base64_decoded("-_8=", out).is_ok());
  EXPECT_EQ(out, "\xFB\xFF");
  EXPECT_FALSE(append_base64_decoded("Z", out).is_ok());
  EXPECT_FALSE(append_base64_decoded("Zm9v!", out).is_ok());
  std::mt19937_64 rng(5);
  for (int i = 0; i < 200; ++i) {
    std::string s(rng() % 20, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    std::string back;
    ASSERT_TRUE(append_base64_decoded(base64_encode(s), back).is_ok());
    EXPECT_EQ(back, s);
  }
}

}  // namespace
}  // namespace spindle
