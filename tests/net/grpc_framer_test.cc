#include "net/grpc_framer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spindle {
namespace {

std::string frame(std::string_view message, bool compressed = false) {
  std::string out = encode_grpc_frame(message);
  if (compressed) out[0] = 1;
  return out;
}

// Three messages of different shapes, including an empty one and one with every byte value.
struct Stream {
  std::vector<GrpcMessage> expected;
  std::string wire;
};

Stream make_stream() {
  Stream s;
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  s.expected = {{false, "hello"}, {true, ""}, {false, all_bytes}};
  for (const auto& m : s.expected) s.wire += frame(m.data, m.compressed);
  return s;
}

void expect_same(const std::vector<GrpcMessage>& got, const std::vector<GrpcMessage>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].compressed, want[i].compressed) << i;
    EXPECT_EQ(got[i].data, want[i].data) << i;
  }
}

TEST(GrpcFramerTest, EncodeWritesFlagAndBigEndianLength) {
  const std::string f = encode_grpc_frame(std::string(0x010203, 'x'));
  ASSERT_EQ(f.size(), 5u + 0x010203);
  EXPECT_EQ(f.substr(0, 6), std::string("\x00\x00\x01\x02\x03x", 6));
  EXPECT_EQ(encode_grpc_frame(""), std::string(5, '\0'));
}

TEST(GrpcFramerTest, DecodesWholeStreamInOneSlice) {
  const Stream s = make_stream();
  GrpcFramer framer(1 << 20);
  std::vector<GrpcMessage> out;
  ASSERT_TRUE(framer.decode(s.wire, out).is_ok());
  expect_same(out, s.expected);
  EXPECT_TRUE(framer.at_message_boundary());
}

TEST(GrpcFramerTest, SplitAtEveryPositionDecodesIdentically) {
  const Stream s = make_stream();
  for (size_t cut = 0; cut <= s.wire.size(); ++cut) {
    GrpcFramer framer(1 << 20);
    std::vector<GrpcMessage> out;
    ASSERT_TRUE(framer.decode(std::string_view(s.wire).substr(0, cut), out).is_ok()) << cut;
    ASSERT_TRUE(framer.decode(std::string_view(s.wire).substr(cut), out).is_ok()) << cut;
    expect_same(out, s.expected);
    EXPECT_TRUE(framer.at_message_boundary()) << cut;
  }
}

TEST(GrpcFramerTest, ByteByByteDecodesIdentically) {
  const Stream s = make_stream();
  GrpcFramer framer(1 << 20);
  std::vector<GrpcMessage> out;
  for (size_t i = 0; i < s.wire.size(); ++i) {
    ASSERT_TRUE(framer.decode(std::string_view(s.wire).substr(i, 1), out).is_ok()) << i;
    // Mid-message, the framer must say so (a body ending here is truncated).
    if (i + 1 < s.wire.size() && out.size() < s.expected.size()) {
      const bool boundary = framer.at_message_boundary();
      EXPECT_EQ(boundary, i + 1 == 10 || i + 1 == 15) << i;  // "hello" ends at 10, the empty one at 15
    }
  }
  expect_same(out, s.expected);
}

TEST(GrpcFramerTest, OversizePrefixRejectedBeforeBodyArrives) {
  GrpcFramer framer(1000);
  std::vector<GrpcMessage> out;
  const std::string prefix = std::string("\x00\x00\x00\x03\xe9", 5);  // 1001 bytes announced, none sent
  const Status status = framer.decode(prefix, out);
  EXPECT_EQ(status.code(), StatusCode::ResourceExhausted);
  EXPECT_NE(status.message().find("1001"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("1000"), std::string::npos) << status.message();
  EXPECT_TRUE(framer.failed());
  // Stays failed.
  EXPECT_EQ(framer.decode("x", out).code(), StatusCode::ResourceExhausted);
  EXPECT_TRUE(out.empty());
}

TEST(GrpcFramerTest, MessageOfExactlyTheLimitIsAccepted) {
  GrpcFramer framer(4);
  std::vector<GrpcMessage> out;
  ASSERT_TRUE(framer.decode(frame("abcd"), out).is_ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(framer.decode(frame("abcde"), out).code(), StatusCode::ResourceExhausted);
}

TEST(GrpcFramerTest, BadFlagIsInternal) {
  GrpcFramer framer(100);
  std::vector<GrpcMessage> out;
  EXPECT_EQ(framer.decode(std::string("\x02\x00\x00\x00\x00", 5), out).code(), StatusCode::Internal);
}

TEST(GrpcFramerTest, PartialMessageIsNotABoundary) {
  GrpcFramer framer(100);
  std::vector<GrpcMessage> out;
  ASSERT_TRUE(framer.decode(frame("abcdef").substr(0, 7), out).is_ok());
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(framer.at_message_boundary());
}

TEST(GrpcFramerTest, ParsesTimeouts) {
  EXPECT_EQ(parse_grpc_timeout("1H"), 3600000u);
  EXPECT_EQ(parse_grpc_timeout("2M"), 120000u);
  EXPECT_EQ(parse_grpc_timeout("3S"), 3000u);
  EXPECT_EQ(parse_grpc_timeout("250m"), 250u);
  EXPECT_EQ(parse_grpc_timeout("1500u"), 2u);  // rounded up
  EXPECT_EQ(parse_grpc_timeout("1n"), 1u);
  EXPECT_EQ(parse_grpc_timeout("0S"), 0u);
  EXPECT_EQ(parse_grpc_timeout("99999999H"), 99999999ull * 3600000);
}

TEST(GrpcFramerTest, RejectsMalformedTimeouts) {
  for (std::string_view bad : {"", "S", "10", "123456789S", "1x", "-1S", "1 S", "1.5S", "1s"}) {
    EXPECT_FALSE(parse_grpc_timeout(bad).has_value()) << bad;
  }
}

TEST(GrpcFramerTest, PercentEncodesOutsidePrintableAsciiAndPercent) {
  EXPECT_EQ(grpc_percent_encode("plain text ~!"), "plain text ~!");
  EXPECT_EQ(grpc_percent_encode("100%"), "100%25");
  EXPECT_EQ(grpc_percent_encode("a\nb\tc"), "a%0Ab%09c");
  EXPECT_EQ(grpc_percent_encode("\xc3\xa9\x7f"), "%C3%A9%7F");
  EXPECT_EQ(grpc_percent_encode(std::string("\0", 1)), "%00");
}

}  // namespace
}  // namespace spindle
