#include "proto/wire.h"

#include <gtest/gtest.h>

#include <random>

namespace spindle {
namespace {

TEST(WireTest, VarintRoundTripAndSizes) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 2000; ++i) {
    uint64_t v = rng() >> (rng() % 64);
    std::string buf;
    WireWriter(buf).put_varint(v);
    EXPECT_EQ(buf.size(), WireWriter::varint_size(v));
    WireReader r(buf);
    auto got = r.read_varint();
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, v);
    EXPECT_TRUE(r.done());
  }
}

TEST(WireTest, StrictVarints) {
  WireReader over(std::string_view("\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x02", 10));
  EXPECT_EQ(over.read_varint().status().message(), "varint overflows 64 bits at offset 0");
  WireReader max(std::string_view("\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x01", 10));
  EXPECT_EQ(*max.read_varint(), UINT64_MAX);
  WireReader trunc(std::string_view("\x80\x80", 2));
  EXPECT_EQ(trunc.read_varint().status().message(), "truncated varint at offset 0");
}

TEST(WireTest, TagsFixedAndLengthDelimited) {
  std::string buf;
  WireWriter w(buf);
  w.put_varint_field(1, 150);
  w.put_fixed32_field(16, 0xDEADBEEF);
  w.put_fixed64_field(7, 0x0102030405060708ull);
  w.put_len_field(5, "hello");
  w.put_double_field(4, 2.5);
  EXPECT_EQ(buf.substr(0, 3), std::string("\x08\x96\x01", 3));
  WireReader r(buf);
  auto t = r.read_tag();
  EXPECT_EQ(t->field, 1u);
  EXPECT_EQ(*r.read_varint(), 150u);
  t = r.read_tag();
  EXPECT_EQ(t->field, 16u);
  EXPECT_EQ(t->type, WireType::Fixed32);
  EXPECT_EQ(*r.read_fixed32(), 0xDEADBEEFu);
  t = r.read_tag();
  EXPECT_EQ(*r.read_fixed64(), 0x0102030405060708ull);
  t = r.read_tag();
  EXPECT_EQ(*r.read_length_delimited(), "hello");
  t = r.read_tag();
  EXPECT_EQ(t->type, WireType::Fixed64);
  ASSERT_TRUE(r.skip_field(t->type).is_ok());
  EXPECT_TRUE(r.done());
}

TEST(WireTest, Errors) {
  EXPECT_EQ(WireReader(std::string_view("\x00", 1)).read_tag().status().message(),
            "field number 0 at offset 0");
  EXPECT_EQ(WireReader(std::string_view("\x0F", 1)).read_tag().status().message(),
            "invalid wire type 7 at offset 0");
  EXPECT_EQ(WireReader(std::string_view("\x80\x80\x80\x80\x80\x01", 6)).read_tag().status().message(),
            "tag exceeds 32 bits at offset 0");
  WireReader g(std::string_view("\x0B", 1));
  auto t = g.read_tag();
  EXPECT_FALSE(g.skip_field(t->type).is_ok());
  WireReader len(std::string_view("\x0A\x05\x01", 3), 100);
  len.read_tag().status().ignore();
  EXPECT_EQ(len.read_length_delimited().status().message(),
            "length 5 exceeds the 1 remaining bytes at offset 101");
  EXPECT_EQ(WireReader(std::string_view("\x01\x02", 2)).read_fixed32().status().message(),
            "truncated fixed32 at offset 0");
  // Nested readers report absolute offsets.
  std::string outer = std::string("\x0A\x02\x08\x80", 4);
  WireReader r(outer);
  r.read_tag().status().ignore();
  auto inner = r.read_length_delimited();
  WireReader n = r.nested(*inner);
  n.read_tag().status().ignore();
  EXPECT_EQ(n.read_varint().status().message(), "truncated varint at offset 3");
}

TEST(WireTest, BackPatchedNestedMessages) {
  for (size_t len : {0u, 1u, 127u, 128u, 300u, 20000u}) {
    std::string buf = "x";
    WireWriter w(buf);
    size_t outer = w.begin_message(3);
    size_t inner = w.begin_message(1);
    buf.append(len, 'a');
    w.end_message(inner);
    w.end_message(outer);
    WireReader r(std::string_view(buf).substr(1));
    EXPECT_EQ(r.read_tag()->field, 3u);
    auto o = r.read_length_delimited();
    ASSERT_TRUE(o.ok());
    EXPECT_TRUE(r.done());
    WireReader ir(*o);
    EXPECT_EQ(ir.read_tag()->field, 1u);
    EXPECT_EQ(ir.read_length_delimited()->size(), len);
  }
}

}  // namespace
}  // namespace spindle
