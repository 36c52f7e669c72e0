#include "proto/otlp_decoder.h"

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/field_comparator.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>

#include "proto/wire.h"
#include "tests/proto/otlp_random.h"

namespace spindle {
namespace {

using google::protobuf::util::DefaultFieldComparator;
using google::protobuf::util::MessageDifferencer;
using testing::OtlpRandom;
using testing::RandomOptions;
namespace otlp_trace = testing::otlp_trace;
namespace otlp_collector = testing::otlp_collector;

struct ExpectedSpan {
  otlp_trace::Span span;  // normalised
  SpanBatch::Context context;
  size_t scope_index = 0;  // global index of its (ResourceSpans, ScopeSpans)
  TraceId trace_id;
};

// NaN doubles are legal attribute values; compare them as equal.
bool proto_equal(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  DefaultFieldComparator cmp;
  cmp.set_treat_nan_as_equal(true);
  MessageDifferencer d;
  d.set_field_comparator(&cmp);
  return d.Compare(a, b);
}

bool valid_ids(const otlp_trace::Span& s) {
  return TraceId::from_bytes(s.trace_id()).has_value() && s.span_id().size() == 8;
}

// What the decoder must produce for each shard, in request order.
std::vector<std::vector<ExpectedSpan>> expected_by_shard(const otlp_collector::ExportTraceServiceRequest& req,
                                                         uint32_t shards, uint64_t& rejected) {
  std::vector<std::vector<ExpectedSpan>> out(shards);
  size_t scope_index = 0;
  rejected = 0;
  for (const auto& rs : req.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) {
        if (!valid_ids(s)) {
          ++rejected;
          continue;
        }
        ExpectedSpan e;
        e.span = s;
        e.trace_id = *TraceId::from_bytes(s.trace_id());
        e.span.set_trace_id(std::string(e.trace_id.as_view()));
        e.span.mutable_status();
        e.context.resource = rs.has_resource() ? rs.resource().SerializeAsString() : "";
        e.context.resource_schema_url = rs.schema_url();
        e.context.scope = ss.has_scope() ? ss.scope().SerializeAsString() : "";
        e.context.scope_schema_url = ss.schema_url();
        e.scope_index = scope_index;
        out[shard_for(e.trace_id, shards)].push_back(std::move(e));
      }
      ++scope_index;
    }
  }
  return out;
}

void check_decoded(const otlp_collector::ExportTraceServiceRequest& req, uint32_t shards) {
  const std::string bytes = req.SerializeAsString();
  auto decoded = decode_export_request(bytes, shards);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  uint64_t rejected = 0;
  auto expected = expected_by_shard(req, shards, rejected);
  ASSERT_EQ(decoded->batches.size(), shards);
  EXPECT_EQ(decoded->rejected_spans, rejected);
  EXPECT_EQ(decoded->reject_message.empty(), rejected == 0);
  uint64_t accepted = 0;
  for (uint32_t s = 0; s < shards; ++s) {
    const SpanBatch& b = decoded->batches[s];
    const auto& want = expected[s];
    ASSERT_EQ(b.spans.size(), want.size()) << "shard " << s;
    accepted += b.spans.size();
    std::set<size_t> scopes;
    std::map<uint32_t, size_t> scope_of_context;
    for (size_t i = 0; i < want.size(); ++i) {
      const SpanBatch::Span& got = b.spans[i];
      const ExpectedSpan& e = want[i];
      scopes.insert(e.scope_index);
      ASSERT_LE(static_cast<size_t>(got.offset) + got.size, b.data.size());
      std::string_view span_bytes(b.data.data() + got.offset, got.size);
      otlp_trace::Span parsed;
      ASSERT_TRUE(parsed.ParseFromArray(span_bytes.data(), static_cast<int>(span_bytes.size())));
      EXPECT_TRUE(proto_equal(parsed, e.span))
          << "got " << parsed.DebugString() << "\nwant " << e.span.DebugString();
      EXPECT_EQ(got.trace_id, e.trace_id);
      EXPECT_EQ(got.start_ns, e.span.start_time_unix_nano());
      EXPECT_EQ(got.end_ns, e.span.end_time_unix_nano());
      ASSERT_LT(got.context, b.contexts.size());
      const SpanBatch::Context& c = b.contexts[got.context];
      EXPECT_EQ(c.resource, e.context.resource);
      EXPECT_EQ(c.resource_schema_url, e.context.resource_schema_url);
      EXPECT_EQ(c.scope, e.context.scope);
      EXPECT_EQ(c.scope_schema_url, e.context.scope_schema_url);
      // One context per (ResourceSpans, ScopeSpans) per batch.
      auto [it, inserted] = scope_of_context.emplace(got.context, e.scope_index);
      EXPECT_EQ(it->second, e.scope_index);
    }
    EXPECT_EQ(b.contexts.size(), scopes.size()) << "shard " << s;
    if (want.empty()) {
      EXPECT_TRUE(b.data.empty());
    }
  }
  EXPECT_EQ(decoded->accepted_spans, accepted);
}

TEST(OtlpDecoderTest, DifferentialAgainstLibprotobuf) {
  RandomOptions opts;
  opts.invalid_ids = true;
  opts.unknown_fields = true;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    OtlpRandom rnd(seed, opts);
    auto req = rnd.request();
    for (uint32_t shards : {1u, 2u, 3u}) {
      check_decoded(req, shards);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(OtlpDecoderTest, SixteenByteSpansWithStatusAreCopiedByteForByte) {
  RandomOptions opts;
  opts.short_trace_ids = false;
  OtlpRandom rnd(42, opts);
  auto req = rnd.request();
  auto* s = req.mutable_resource_spans(0)->add_scope_spans()->add_spans();
  rnd.span(s);
  s->mutable_status()->set_code(otlp_trace::Status::STATUS_CODE_ERROR);
  auto decoded = decode_export_request(req.SerializeAsString(), 1);
  ASSERT_TRUE(decoded.ok());
  size_t i = 0;
  for (const auto& rs : req.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& sp : ss.spans()) {
        const auto& got = decoded->batches[0].spans.at(i++);
        std::string_view bytes(decoded->batches[0].data.data() + got.offset, got.size);
        if (sp.has_status()) {
          EXPECT_EQ(bytes, sp.SerializeAsString());
        } else {
          EXPECT_EQ(bytes, sp.SerializeAsString() + std::string("\x7A\x00", 2));
        }
      }
    }
  }
  EXPECT_EQ(i, decoded->batches[0].spans.size());
}

otlp_collector::ExportTraceServiceRequest one_span_request(const otlp_trace::Span& span) {
  otlp_collector::ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("shop");
  *rs->add_scope_spans()->add_spans() = span;
  return req;
}

otlp_trace::Span good_span() {
  otlp_trace::Span s;
  s.set_trace_id(std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10", 16));
  s.set_span_id(std::string("\x00\x00\x00\x00\x00\x00\x00\x01", 8));
  s.set_name("GET /x");
  s.set_start_time_unix_nano(100);
  s.set_end_time_unix_nano(250);
  return s;
}

TEST(OtlpDecoderTest, EightByteTraceIdIsPaddedAndStatusAppended) {
  otlp_trace::Span s = good_span();
  s.set_trace_id(std::string("\x1b\x1b\xa4\x62\xb4\x09\x20\x0d", 8));
  auto decoded = decode_export_request(one_span_request(s).SerializeAsString(), 1);
  ASSERT_TRUE(decoded.ok());
  const SpanBatch& b = decoded->batches[0];
  ASSERT_EQ(b.spans.size(), 1u);
  EXPECT_EQ(b.spans[0].trace_id.to_hex(), "00000000000000001b1ba462b409200d");
  std::string_view bytes(b.data.data() + b.spans[0].offset, b.spans[0].size);
  // Canonical trace_id first, the rest as sent, then the empty status.
  std::string want = std::string("\x0A\x10", 2) + std::string(8, '\0') + s.trace_id();
  otlp_trace::Span rest = s;
  rest.clear_trace_id();
  want += rest.SerializeAsString() + std::string("\x7A\x00", 2);
  EXPECT_EQ(bytes, want);
}

TEST(OtlpDecoderTest, PerSpanRejections) {
  struct Case {
    std::function<void(otlp_trace::Span&)> mutate;
    std::string message;
  };
  std::vector<Case> cases = {
      {[](auto& s) { s.set_trace_id("12345"); }, "span 'GET /x': trace_id must be 16 bytes, got 5"},
      {[](auto& s) { s.clear_trace_id(); }, "span 'GET /x': trace_id must be 16 bytes, got 0"},
      {[](auto& s) { s.set_trace_id(std::string(16, '\0')); }, "span 'GET /x': trace_id is all zeros"},
      {[](auto& s) { s.set_span_id("1234567"); }, "span 'GET /x': span_id must be 8 bytes, got 7"},
      {[](auto& s) { s.set_name(std::string(100, 'n')); },
       "span '" + std::string(64, 'n') + "...': span_id must be 8 bytes, got 0"},
  };
  cases[4].mutate = [](auto& s) {
    s.set_name(std::string(100, 'n'));
    s.clear_span_id();
  };
  for (const auto& c : cases) {
    otlp_trace::Span bad = good_span();
    c.mutate(bad);
    auto req = one_span_request(bad);
    *req.mutable_resource_spans(0)->mutable_scope_spans(0)->add_spans() = good_span();
    auto decoded = decode_export_request(req.SerializeAsString(), 2);
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    EXPECT_EQ(decoded->rejected_spans, 1u);
    EXPECT_EQ(decoded->accepted_spans, 1u);
    EXPECT_EQ(decoded->reject_message, c.message);
  }
}

// Build wire bytes by hand for cases libprotobuf will not produce.
std::string field(uint32_t f, std::string_view contents) {
  std::string out;
  WireWriter(out).put_len_field(f, contents);
  return out;
}

TEST(OtlpDecoderTest, InvalidUtf8RejectsSpansNotRequest) {
  std::string span = good_span().SerializeAsString();
  std::string bad_name_span = span + field(5, "\xC3\x28");  // last name wins
  std::string request = field(1, field(2, field(2, bad_name_span) + field(2, span)));
  auto decoded = decode_export_request(request, 1);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->accepted_spans, 1u);
  EXPECT_EQ(decoded->rejected_spans, 1u);
  EXPECT_EQ(decoded->reject_message, "span with an invalid UTF-8 name: invalid UTF-8 in Span.name");
  // libprotobuf agrees that such a span is not a valid proto3 message.
  otlp_trace::Span parsed;
  EXPECT_FALSE(parsed.ParseFromString(bad_name_span));

  // Invalid UTF-8 in the resource rejects every span of that resource.
  std::string resource = field(1, field(1, "k\xFF") + field(2, field(1, "v")));
  request = field(1, field(2, field(2, span) + field(2, span)) + field(1, resource));
  decoded = decode_export_request(request, 1);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->accepted_spans, 0u);
  EXPECT_EQ(decoded->rejected_spans, 2u);
  EXPECT_EQ(decoded->reject_message, "span 'GET /x': its resource has invalid UTF-8 in KeyValue.key");
}

// The attribute fast path (key + one scalar or short string) must reach the same verdicts as the general walk.
TEST(OtlpDecoderTest, SimpleAttributeShapesAgreeWithTheGeneralPath) {
  std::string span = good_span().SerializeAsString();
  std::string bad_value = span + field(9, field(1, "k") + field(2, field(1, "\xC3\x28")));
  std::string negative = span + field(9, field(1, "n") + field(2, std::string("\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11)));
  std::string overlong = span + field(9, field(1, "n") + field(2, std::string("\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12)));
  std::string request = field(1, field(2, field(2, bad_value) + field(2, negative)));
  auto decoded = decode_export_request(request, 1);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(decoded->accepted_spans, 1u);
  EXPECT_EQ(decoded->rejected_spans, 1u);
  EXPECT_NE(decoded->reject_message.find("invalid UTF-8 in AnyValue.string_value"), std::string::npos)
      << decoded->reject_message;
  otlp_trace::Span parsed;
  EXPECT_TRUE(parsed.ParseFromString(negative));
  EXPECT_EQ(parsed.attributes(parsed.attributes_size() - 1).value().int_value(), -1);
  // An 11-byte varint is malformed: the whole request is refused, as libprotobuf refuses it.
  EXPECT_FALSE(decode_export_request(field(1, field(2, field(2, overlong))), 1).ok());
  EXPECT_FALSE(parsed.ParseFromString(overlong));
}

TEST(OtlpDecoderTest, ResourceAfterScopeSpansAndRepeatedResourceMerge) {
  std::string span = good_span().SerializeAsString();
  std::string res1 = field(1, field(1, "a") + field(2, field(1, "x")));
  std::string res2 = field(1, field(1, "b") + field(2, field(1, "y")));
  std::string rs = field(2, field(2, span) + field(3, "s1") + field(1, field(1, "scope"))) + field(1, res1) +
                   field(3, "u1") + field(1, res2) + field(3, "u2");
  auto decoded = decode_export_request(field(1, rs), 1);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  const SpanBatch& b = decoded->batches[0];
  ASSERT_EQ(b.contexts.size(), 1u);
  EXPECT_EQ(b.contexts[0].resource, res1 + res2);
  EXPECT_EQ(b.contexts[0].resource_schema_url, "u2");
  EXPECT_EQ(b.contexts[0].scope, field(1, "scope"));
  EXPECT_EQ(b.contexts[0].scope_schema_url, "s1");
}

void expect_malformed(const std::string& request, std::string_view what) {
  auto decoded = decode_export_request(request, 2);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::InvalidArgument);
  const std::string& m = decoded.status().message();
  EXPECT_EQ(m.rfind("malformed ExportTraceServiceRequest: ", 0), 0u) << m;
  EXPECT_NE(m.find(what), std::string::npos) << m;
  EXPECT_NE(m.find(" at offset "), std::string::npos) << m;
}

TEST(OtlpDecoderTest, MalformedRequests) {
  std::string span = good_span().SerializeAsString();
  auto wrap = [](const std::string& span_bytes) { return field(1, field(2, field(2, span_bytes))); };
  expect_malformed(std::string("\x0A\x05\x01", 3), "length 5 exceeds");
  expect_malformed(wrap(span + std::string("\x50\x80", 2)), "truncated varint");
  expect_malformed(wrap(span + std::string("\x39\x01\x02", 3)), "truncated fixed64");
  expect_malformed(wrap(span + std::string("\x08\x01", 2)), "Span.trace_id has wire type 0");
  expect_malformed(wrap(span + std::string("\xA3\x01", 2)), "group");
  expect_malformed(wrap(span + std::string("\x38\x01", 2)), "Span.start_time_unix_nano has wire type 0");
  expect_malformed(wrap(span + std::string("\x00\x01", 2)), "field number 0");
  expect_malformed(wrap(span + std::string("\x0E", 1)), "invalid wire type 6");
  expect_malformed(wrap(span + std::string("\x30\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x02", 11)),
                   "varint overflows 64 bits");
  // The offset is absolute: the bad length at byte 0 of "\x0A\x05\x01".
  auto decoded = decode_export_request(std::string("\x0A\x05\x01", 3), 1);
  EXPECT_EQ(decoded.status().message(),
            "malformed ExportTraceServiceRequest: length 5 exceeds the 1 remaining bytes at offset 1");
  // Attribute values nested beyond the limit.
  std::string v = field(1, "leaf");
  for (int i = 0; i < 80; ++i) v = field(5, field(1, v));
  expect_malformed(wrap(span + field(9, field(1, "k") + field(2, v))), "nested too deeply");
}

TEST(OtlpDecoderTest, EmptyRequestAndZeroShards) {
  auto decoded = decode_export_request("", 3);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->batches.size(), 3u);
  EXPECT_EQ(decoded->accepted_spans, 0u);
  EXPECT_FALSE(decode_export_request("", 0).ok());
}

// Either an error, or every span that came out parses with libprotobuf and is where its trace belongs.
void check_robust(std::string_view bytes) {
  google::protobuf::LogSilencer quiet;  // libprotobuf logs each UTF-8 failure
  for (uint32_t shards : {1u, 3u}) {
    auto decoded = decode_export_request(bytes, shards);
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), StatusCode::InvalidArgument);
      continue;
    }
    for (uint32_t s = 0; s < shards; ++s) {
      const SpanBatch& b = decoded->batches[s];
      for (const auto& sp : b.spans) {
        ASSERT_LE(static_cast<size_t>(sp.offset) + sp.size, b.data.size());
        otlp_trace::Span parsed;
        ASSERT_TRUE(parsed.ParseFromArray(b.data.data() + sp.offset, static_cast<int>(sp.size)));
        EXPECT_EQ(parsed.trace_id(), std::string(sp.trace_id.as_view()));
        EXPECT_EQ(shard_for(sp.trace_id, shards), s);
        EXPECT_TRUE(parsed.has_status());
        ASSERT_LT(sp.context, b.contexts.size());
      }
    }
  }
}

TEST(OtlpDecoderTest, TruncationAtEveryOffset) {
  RandomOptions opts;
  opts.unknown_fields = true;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    OtlpRandom rnd(seed * 77, opts);
    std::string bytes = rnd.request().SerializeAsString();
    for (size_t n = 0; n < bytes.size(); ++n) {
      check_robust(std::string_view(bytes).substr(0, n));
      if (HasFatalFailure()) return;
    }
  }
}

TEST(OtlpDecoderTest, BitFlipsAndGarbage) {
  std::mt19937_64 rng(7);
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    OtlpRandom rnd(seed * 13);
    std::string bytes = rnd.request().SerializeAsString();
    if (bytes.empty()) continue;
    for (int i = 0; i < 100; ++i) {
      std::string m = bytes;
      for (int k = 0, flips = 1 + static_cast<int>(rng() % 4); k < flips; ++k) {
        m[rng() % m.size()] ^= static_cast<char>(1 << (rng() % 8));
      }
      check_robust(m);
      if (HasFatalFailure()) return;
    }
  }
  for (int i = 0; i < 3000; ++i) {
    std::string g(rng() % 64, '\0');
    for (auto& c : g) c = static_cast<char>(rng());
    // Sometimes start with a plausible ResourceSpans tag so the walk gets further.
    if (!g.empty() && i % 2 == 0) g[0] = '\x0A';
    check_robust(g);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace spindle
