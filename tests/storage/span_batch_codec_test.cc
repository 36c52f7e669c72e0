#include "storage/span_batch_codec.h"

#include <gtest/gtest.h>

#include <random>

namespace spindle {
namespace {

bool operator==(const SpanBatch::Context& a, const SpanBatch::Context& b) {
  return a.resource == b.resource && a.resource_schema_url == b.resource_schema_url && a.scope == b.scope &&
         a.scope_schema_url == b.scope_schema_url;
}

bool operator==(const SpanBatch::Span& a, const SpanBatch::Span& b) {
  return a.trace_id == b.trace_id && a.context == b.context && a.offset == b.offset && a.size == b.size &&
         a.start_ns == b.start_ns && a.end_ns == b.end_ns;
}

void expect_same(const SpanBatch& a, const SpanBatch& b) {
  EXPECT_EQ(a.data, b.data);
  ASSERT_EQ(a.contexts.size(), b.contexts.size());
  for (size_t i = 0; i < a.contexts.size(); ++i) EXPECT_TRUE(a.contexts[i] == b.contexts[i]) << i;
  ASSERT_EQ(a.spans.size(), b.spans.size());
  for (size_t i = 0; i < a.spans.size(); ++i) EXPECT_TRUE(a.spans[i] == b.spans[i]) << i;
}

std::string random_bytes(std::mt19937_64& rng, size_t max) {
  std::string s(rng() % (max + 1), '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// A batch with back-to-back spans (the common case) plus, when `odd`, overlapping, reordered and empty spans,
// ends before starts and extreme timestamps.
SpanBatch random_batch(std::mt19937_64& rng, bool odd) {
  SpanBatch b;
  size_t contexts = 1 + rng() % 3;
  for (size_t i = 0; i < contexts; ++i) {
    b.contexts.push_back({random_bytes(rng, 40), random_bytes(rng, 10), random_bytes(rng, 20),
                          i % 2 ? "" : "https://opentelemetry.io/schemas/1.21.0"});
  }
  size_t spans = rng() % 20;
  for (size_t i = 0; i < spans; ++i) {
    SpanBatch::Span s;
    for (auto& byte : s.trace_id.bytes) byte = static_cast<uint8_t>(rng());
    s.context = static_cast<uint32_t>(rng() % contexts);
    std::string contents = random_bytes(rng, 300);
    s.offset = static_cast<uint32_t>(b.data.size());
    s.size = static_cast<uint32_t>(contents.size());
    b.data += contents;
    s.start_ns = 1700000000000000000ull + rng() % 1000000000;
    s.end_ns = s.start_ns + rng() % 5000000;
    if (odd && rng() % 3 == 0) {
      s.offset = static_cast<uint32_t>(rng() % (b.data.size() + 1));
      s.size = static_cast<uint32_t>(rng() % (b.data.size() - s.offset + 1));
      s.end_ns = rng() % 2 ? 0 : UINT64_MAX;
      s.start_ns = rng() % 2 ? UINT64_MAX : 0;
    }
    b.spans.push_back(s);
  }
  return b;
}

TEST(SpanBatchCodecTest, EmptyBatchRoundTrips) {
  SpanBatch b;
  auto encoded = encode_span_batch(b);
  EXPECT_EQ(encoded.size(), 4u);
  auto decoded = decode_span_batch(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  expect_same(b, *decoded);
}

TEST(SpanBatchCodecTest, RandomBatchesRoundTrip) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 500; ++i) {
    SpanBatch b = random_batch(rng, i % 2 == 1);
    auto decoded = decode_span_batch(encode_span_batch(b));
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    expect_same(b, *decoded);
  }
}

TEST(SpanBatchCodecTest, FramingIsCompactForContiguousSpans) {
  std::mt19937_64 rng(8);
  SpanBatch b = random_batch(rng, false);
  while (b.spans.size() < 10) b = random_batch(rng, false);
  size_t framing = encode_span_batch(b).size() - b.data.size();
  size_t context_bytes = 0;
  for (const auto& c : b.contexts) {
    context_bytes +=
        8 + c.resource.size() + c.resource_schema_url.size() + c.scope.size() + c.scope_schema_url.size();
  }
  EXPECT_LE(framing, 4 + 6 + context_bytes + b.spans.size() * 33);
}

TEST(SpanBatchCodecTest, EveryTruncationIsAnError) {
  std::mt19937_64 rng(9);
  SpanBatch b = random_batch(rng, true);
  while (b.spans.size() < 3) b = random_batch(rng, true);
  std::string encoded = encode_span_batch(b);
  for (size_t len = 0; len < encoded.size(); ++len) {
    auto decoded = decode_span_batch(std::string_view(encoded).substr(0, len));
    ASSERT_FALSE(decoded.ok()) << len;
    EXPECT_EQ(decoded.status().code(), StatusCode::DataLoss);
  }
  EXPECT_FALSE(decode_span_batch(encoded + "x").ok());
}

TEST(SpanBatchCodecTest, RejectsUnknownVersion) {
  std::string encoded = encode_span_batch(SpanBatch{});
  encoded[0] = 2;
  auto decoded = decode_span_batch(encoded);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("version 2"), std::string::npos);
}

// Hand-built inputs that pass the framing but break an invariant.
TEST(SpanBatchCodecTest, RejectsOutOfRangeIndexesAndOffsets) {
  auto one_span = [](uint8_t context, uint8_t offset_delta, uint8_t size) {
    std::string s = {1, 1, 1, 4};  // version, 1 context, 1 span, 4 data bytes
    s += std::string{0, 0, 0, 0};  // four empty context strings
    s += std::string(16, '\x01');  // trace id
    s += std::string{static_cast<char>(context), static_cast<char>(offset_delta), static_cast<char>(size)};
    s += std::string(8, '\0');  // start
    s += std::string{0};        // duration
    s += "abcd";
    return s;
  };
  EXPECT_TRUE(decode_span_batch(one_span(0, 0, 4)).ok());
  EXPECT_TRUE(decode_span_batch(one_span(0, 4, 0)).ok());
  EXPECT_FALSE(decode_span_batch(one_span(1, 0, 4)).ok());  // no context 1
  EXPECT_FALSE(decode_span_batch(one_span(0, 1, 4)).ok());  // [1, 5) outside 4 bytes
  EXPECT_FALSE(decode_span_batch(one_span(0, 0, 5)).ok());
  EXPECT_FALSE(decode_span_batch(one_span(0, 5, 0)).ok());
}

TEST(SpanBatchCodecTest, HugeCountsAreRejectedWithoutAllocating) {
  // 2^63 contexts, 2^63 spans: must fail on the size check, not in a resize.
  std::string s = {1};
  for (int field = 0; field < 2; ++field) s += std::string(9, '\xff') + std::string{0x00};
  s += std::string{0};
  EXPECT_FALSE(decode_span_batch(s).ok());
  std::string big_data = {1, 0, 0};
  big_data += std::string(9, '\xff') + std::string{0x01};
  EXPECT_FALSE(decode_span_batch(big_data).ok());
}

// Decoding garbage and mutated encodings never crashes; whatever decodes satisfies the invariants the head
// store relies on.
TEST(SpanBatchCodecTest, RandomGarbageAndMutationsNeverCrash) {
  std::mt19937_64 rng(10);
  auto check = [](std::string_view bytes) {
    auto decoded = decode_span_batch(bytes);
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), StatusCode::DataLoss);
      return;
    }
    for (const auto& s : decoded->spans) {
      EXPECT_LT(s.context, decoded->contexts.size());
      EXPECT_LE(static_cast<uint64_t>(s.offset) + s.size, decoded->data.size());
    }
  };
  for (int i = 0; i < 20000; ++i) {
    std::string garbage = random_bytes(rng, 64);
    if (!garbage.empty() && rng() % 2) garbage[0] = 1;
    check(garbage);
  }
  for (int i = 0; i < 300; ++i) {
    std::string encoded = encode_span_batch(random_batch(rng, true));
    for (int m = 0; m < 30; ++m) {
      std::string t = encoded;
      for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) {
        t[rng() % t.size()] = static_cast<char>(rng());
      }
      check(t);
    }
  }
}

}  // namespace
}  // namespace spindle
