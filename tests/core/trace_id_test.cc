#include "core/trace_id.h"

#include <gtest/gtest.h>

namespace spindle {
namespace {

TEST(TraceIdTest, ParsesFullLengthHexCaseInsensitively) {
  auto a = TraceId::parse_hex("0123456789ABCDEF0123456789abcdef");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->to_hex(), "0123456789abcdef0123456789abcdef");
}

TEST(TraceIdTest, ShortIdsAreLeftPadded) {
  auto a = TraceId::parse_hex("1b1ba462b409200d");
  auto b = TraceId::parse_hex("00000000000000001b1ba462b409200d");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->to_hex(), "00000000000000001b1ba462b409200d");
}

TEST(TraceIdTest, OddLengthGetsLeadingZero) {
  auto a = TraceId::parse_hex("abc");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->to_hex(), "00000000000000000000000000000abc");
}

TEST(TraceIdTest, RejectsNonHexWithTemposMessage) {
  auto a = TraceId::parse_hex("12x4");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::InvalidArgument);
  EXPECT_EQ(a.status().message(),
            "trace IDs can only contain hex characters: invalid character 'x' at position 3");
}

TEST(TraceIdTest, RejectsMoreThan128Bits) {
  auto a = TraceId::parse_hex(std::string(33, 'a'));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().message(), "trace IDs can't be larger than 128 bits");
  EXPECT_TRUE(TraceId::parse_hex(std::string(32, 'a')).ok());
}

TEST(TraceIdTest, RejectsEmpty) { EXPECT_FALSE(TraceId::parse_hex("").ok()); }

TEST(TraceIdTest, FromBytesPadsEightByteIdsAndRejectsOthers) {
  std::string eight("\x01\x02\x03\x04\x05\x06\x07\x08", 8);
  auto id = TraceId::from_bytes(eight);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->to_hex(), "00000000000000000102030405060708");
  EXPECT_FALSE(TraceId::from_bytes(std::string(16, '\0')).has_value());
  EXPECT_FALSE(TraceId::from_bytes(std::string(12, 'a')).has_value());
  EXPECT_FALSE(TraceId::from_bytes("").has_value());
}

TEST(TraceIdTest, ShardForIsStableAndSpreads) {
  int counts[4] = {0, 0, 0, 0};
  for (int i = 1; i <= 4000; ++i) {
    TraceId id;
    id.bytes[15] = static_cast<uint8_t>(i & 0xff);
    id.bytes[14] = static_cast<uint8_t>(i >> 8);
    uint32_t s = shard_for(id, 4);
    ASSERT_EQ(s, shard_for(id, 4));
    counts[s]++;
  }
  for (int c : counts) {
    EXPECT_GT(c, 800);  // roughly uniform: 1000 expected per shard
  }
}

}  // namespace
}  // namespace spindle
