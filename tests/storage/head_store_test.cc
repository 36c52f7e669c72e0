#include "storage/head_store.h"

#include <gtest/gtest.h>

#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "tempopb/tempo.pb.h"

namespace spindle {
namespace {

namespace otlp = opentelemetry::proto;

TraceId id_of(uint8_t n) {
  TraceId id;
  id.bytes[15] = n;
  id.bytes[0] = 0xab;
  return id;
}

// A batch of spans named `names` for trace `id`, all under one context (resource service=`service`, scope
// `scope`).
SpanBatch make_batch(const TraceId& id, const std::vector<std::string>& names, const std::string& service = "svc",
                     const std::string& scope = "lib") {
  SpanBatch b;
  otlp::resource::v1::Resource resource;
  auto* kv = resource.add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value(service);
  otlp::common::v1::InstrumentationScope sc;
  sc.set_name(scope);
  b.contexts.push_back({resource.SerializeAsString(), "https://schema/r", sc.SerializeAsString(), ""});
  for (const auto& name : names) {
    otlp::trace::v1::Span span;
    span.set_trace_id(std::string(id.as_view()));
    span.set_span_id(std::string(8, static_cast<char>(name.size())));
    span.set_name(name);
    span.mutable_status();
    std::string bytes = span.SerializeAsString();
    b.spans.push_back({id, 0, static_cast<uint32_t>(b.data.size()), static_cast<uint32_t>(bytes.size()), 1, 2});
    b.data += bytes;
  }
  return b;
}

tempopb::Trace find(const HeadStore& head, const TraceId& id) {
  auto bytes = head.find_trace(id);
  tempopb::Trace t;
  EXPECT_TRUE(bytes.has_value());
  if (bytes) {
    EXPECT_TRUE(t.ParseFromString(*bytes));
  }
  return t;
}

TEST(HeadStoreTest, StoresAndFindsSpansWithTheirContext) {
  HeadStore head(HeadLimits{});
  AppendResult r = head.append(make_batch(id_of(1), {"a", "bb"}));
  ASSERT_TRUE(r.status.is_ok());
  EXPECT_EQ(r.accepted, 2u);
  tempopb::Trace t = find(head, id_of(1));
  ASSERT_EQ(t.resourcespans_size(), 1);
  const auto& rs = t.resourcespans(0);
  EXPECT_EQ(rs.resource().attributes(0).value().string_value(), "svc");
  EXPECT_EQ(rs.schema_url(), "https://schema/r");
  ASSERT_EQ(rs.scope_spans_size(), 1);
  EXPECT_TRUE(rs.scope_spans(0).has_scope());
  EXPECT_EQ(rs.scope_spans(0).scope().name(), "lib");
  ASSERT_EQ(rs.scope_spans(0).spans_size(), 2);
  EXPECT_EQ(rs.scope_spans(0).spans(1).name(), "bb");
  EXPECT_FALSE(head.find_trace(id_of(2)).has_value());
  EXPECT_EQ(head.stats().live_traces, 1u);
  EXPECT_EQ(head.stats().spans, 2u);
}

TEST(HeadStoreTest, GroupsByResourceThenScopeAcrossBatches) {
  HeadStore head(HeadLimits{});
  ASSERT_TRUE(head.append(make_batch(id_of(1), {"a"}, "svc", "lib1")).status.is_ok());
  ASSERT_TRUE(head.append(make_batch(id_of(1), {"bb"}, "svc", "lib2")).status.is_ok());
  ASSERT_TRUE(head.append(make_batch(id_of(1), {"ccc"}, "other", "lib1")).status.is_ok());
  ASSERT_TRUE(head.append(make_batch(id_of(1), {"dddd"}, "svc", "lib1")).status.is_ok());
  tempopb::Trace t = find(head, id_of(1));
  ASSERT_EQ(t.resourcespans_size(), 2);
  EXPECT_EQ(t.resourcespans(0).resource().attributes(0).value().string_value(), "svc");
  ASSERT_EQ(t.resourcespans(0).scope_spans_size(), 2);
  EXPECT_EQ(t.resourcespans(0).scope_spans(0).spans_size(), 2);  // "a" and "dddd" under svc/lib1
  EXPECT_EQ(t.resourcespans(0).scope_spans(1).scope().name(), "lib2");
  EXPECT_EQ(t.resourcespans(1).resource().attributes(0).value().string_value(), "other");
}

TEST(HeadStoreTest, ExactDuplicatesAreAcknowledgedButStoredOnce) {
  HeadStore head(HeadLimits{});
  ASSERT_TRUE(head.append(make_batch(id_of(1), {"a", "bb"})).status.is_ok());
  AppendResult again = head.append(make_batch(id_of(1), {"a", "bb", "ccc"}));
  EXPECT_EQ(again.accepted, 1u);
  EXPECT_EQ(again.duplicates, 2u);
  EXPECT_EQ(head.stats().spans, 3u);
  // Same span under another resource is a different span.
  AppendResult other = head.append(make_batch(id_of(1), {"a"}, "svc2"));
  EXPECT_EQ(other.accepted, 1u);
  EXPECT_EQ(head.stats().spans, 4u);
}

TEST(HeadStoreTest, FullHeadRefusesWholeBatchAndKeepsWhatItHas) {
  HeadStore head(HeadLimits{64 << 10, 0});
  uint64_t stored = 0;
  AppendResult r;
  for (uint8_t i = 1; i < 250; ++i) {
    r = head.append(make_batch(id_of(i), {"a", "bb", "ccc", std::string(100, 'x')}));
    if (!r.status.is_ok()) break;
    stored += r.accepted;
  }
  ASSERT_FALSE(r.status.is_ok());
  EXPECT_EQ(r.status.code(), StatusCode::Unavailable);
  EXPECT_EQ(r.accepted, 0u);
  EXPECT_EQ(head.stats().spans, stored);
  EXPECT_LE(head.stats().bytes, 64u << 10);
  EXPECT_GT(head.stats().bytes, 32u << 10);  // refused because it was full, not at once
  EXPECT_TRUE(head.find_trace(id_of(1)).has_value());
}

TEST(HeadStoreTest, TraceSizeLimitRejectsExcessSpansOnly) {
  HeadStore head(HeadLimits{1 << 20, 600});
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) names.push_back(std::string(static_cast<size_t>(i + 1), 'n'));
  AppendResult r = head.append(make_batch(id_of(3), names));
  ASSERT_TRUE(r.status.is_ok());
  EXPECT_GT(r.accepted, 0u);
  EXPECT_GT(r.rejected, 0u);
  EXPECT_EQ(r.accepted + r.rejected, 20u);
  EXPECT_NE(r.reject_message.find("max_bytes_per_trace"), std::string::npos);
  // Other traces are unaffected.
  EXPECT_EQ(head.append(make_batch(id_of(4), {"a"})).accepted, 1u);
}

TEST(HeadStoreTest, SpanLargerThanAChunkIsStoredWhole) {
  HeadStore head(HeadLimits{64 << 20, 0});
  std::string big(3 * HeadStore::kMaxChunkBytes, 'z');
  ASSERT_EQ(head.append(make_batch(id_of(5), {"small", big, "after"})).accepted, 3u);
  tempopb::Trace t = find(head, id_of(5));
  const auto& spans = t.resourcespans(0).scope_spans(0).spans();
  ASSERT_EQ(spans.size(), 3);
  EXPECT_EQ(spans[1].name(), big);
  EXPECT_EQ(spans[2].name(), "after");
}

TEST(HeadStoreTest, LargeTracesStillDropDuplicates) {
  HeadStore head(HeadLimits{64 << 20, 0});
  std::vector<std::string> names;
  for (int i = 0; i < 300; ++i) names.push_back("span-" + std::to_string(i));
  ASSERT_EQ(head.append(make_batch(id_of(6), names)).accepted, 300u);
  AppendResult again = head.append(make_batch(id_of(6), names));
  EXPECT_EQ(again.accepted, 0u);
  EXPECT_EQ(again.duplicates, 300u);
  names.push_back("span-new");
  EXPECT_EQ(head.append(make_batch(id_of(6), names)).accepted, 1u);
  EXPECT_EQ(head.stats().spans, 301u);
}

}  // namespace
}  // namespace spindle
