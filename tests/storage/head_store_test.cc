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

// ---- Leaving the head: cut rules, cuts, release, WAL pins, reservations ----

HeadStore::AppendContext at(uint64_t now_ms, uint64_t seq = 0) { return {seq, now_ms, true}; }

std::vector<TraceId> ids_in(const HeadStore::HeadCut& cut) {
  std::vector<TraceId> ids;
  for (const auto& t : cut.traces) ids.push_back(t.id);
  return ids;
}

TEST(HeadStoreCutTest, IdleRuleTakesTracesWithoutRecentSpansOnly) {
  HeadStore head(HeadLimits{});
  ASSERT_EQ(head.append(make_batch(id_of(1), {"a"}), at(100)).accepted, 1u);
  ASSERT_EQ(head.append(make_batch(id_of(2), {"b"}), at(200)).accepted, 1u);
  // A span for trace 1 at 300 makes it the most recently used: trace 2 is now the idler one.
  ASSERT_EQ(head.append(make_batch(id_of(1), {"cc"}), at(300)).accepted, 1u);
  HeadStore::HeadCut cut;
  EXPECT_FALSE(head.cut(CutRules{.now_ms = 1250, .idle_ms = 1000}, cut));
  EXPECT_EQ(ids_in(cut), std::vector<TraceId>{id_of(2)});
  EXPECT_TRUE(head.find_trace(id_of(1)).has_value());
  EXPECT_FALSE(head.find_trace(id_of(2)).has_value());
  // One millisecond short of idle: nothing.
  HeadStore::HeadCut none;
  EXPECT_FALSE(head.cut(CutRules{.now_ms = 1299, .idle_ms = 1000}, none));
  EXPECT_TRUE(none.traces.empty());
  HeadStore::HeadCut rest;
  EXPECT_FALSE(head.cut(CutRules{.now_ms = 1300, .idle_ms = 1000}, rest));
  EXPECT_EQ(ids_in(rest), std::vector<TraceId>{id_of(1)});
  EXPECT_EQ(head.stats().live_traces, 0u);
  EXPECT_EQ(head.stats().spans, 0u);
}

TEST(HeadStoreCutTest, MaxLiveRuleTakesBusyTracesThatLivedTooLong) {
  HeadStore head(HeadLimits{});
  ASSERT_EQ(head.append(make_batch(id_of(1), {"a"}), at(100)).accepted, 1u);
  ASSERT_EQ(head.append(make_batch(id_of(2), {"b"}), at(800)).accepted, 1u);
  ASSERT_EQ(head.append(make_batch(id_of(1), {"cc"}), at(900)).accepted, 1u);  // still busy
  HeadStore::HeadCut cut;
  // Neither trace is idle at 950, but trace 1 was first seen 850 ms ago.
  EXPECT_FALSE(head.cut(CutRules{.now_ms = 950, .idle_ms = 1000, .max_live_ms = 500}, cut));
  EXPECT_EQ(ids_in(cut), std::vector<TraceId>{id_of(1)});
  EXPECT_EQ(cut.spans, 2u);
  EXPECT_TRUE(head.find_trace(id_of(2)).has_value());
}

TEST(HeadStoreCutTest, ByteTargetTakesOldestTracesFirst) {
  HeadStore head(HeadLimits{});
  for (uint8_t i = 1; i <= 4; ++i) {
    ASSERT_EQ(head.append(make_batch(id_of(i), {"a", "bb"}), at(i)).accepted, 2u);
  }
  // Trace 1 gets the newest span, but age counts from the first one: it still goes first.
  ASSERT_EQ(head.append(make_batch(id_of(1), {"ccc"}), at(10)).accepted, 1u);
  const uint64_t before = head.live_bytes();
  HeadStore::HeadCut cut;
  EXPECT_FALSE(head.cut(CutRules{.now_ms = 10, .target_live_bytes = before - 1}, cut));
  EXPECT_EQ(ids_in(cut), std::vector<TraceId>{id_of(1)});
  EXPECT_LT(head.live_bytes(), before);
  EXPECT_FALSE(head.cut(CutRules{.now_ms = 10, .target_live_bytes = 0}, cut));
  EXPECT_EQ(ids_in(cut), (std::vector<TraceId>{id_of(1), id_of(2), id_of(3), id_of(4)}));
  EXPECT_EQ(head.live_bytes(), 0u);
  EXPECT_EQ(cut.spans, 9u);
}

TEST(HeadStoreCutTest, MaxSpansCutsInSlicesThatContinueWhereTheyStopped) {
  HeadStore head(HeadLimits{});
  for (uint8_t i = 1; i <= 5; ++i) {
    ASSERT_EQ(head.append(make_batch(id_of(i), {"a", "bb", "ccc"}), at(i)).accepted, 3u);
  }
  CutRules rules{.now_ms = 5000, .idle_ms = 1000, .max_spans = 4};
  HeadStore::HeadCut cut;
  // Whole traces only: 3 + 3 spans reach the budget of 4, more traces still qualify.
  EXPECT_TRUE(head.cut(rules, cut));
  EXPECT_EQ(ids_in(cut), (std::vector<TraceId>{id_of(1), id_of(2)}));
  EXPECT_EQ(head.stats().live_traces, 3u);
  EXPECT_TRUE(head.cut(rules, cut));
  EXPECT_EQ(cut.traces.size(), 4u);
  EXPECT_FALSE(head.cut(rules, cut));  // the last one: nothing left that qualifies
  EXPECT_EQ(ids_in(cut), (std::vector<TraceId>{id_of(1), id_of(2), id_of(3), id_of(4), id_of(5)}));
  EXPECT_EQ(cut.spans, 15u);
  EXPECT_EQ(head.stats().live_traces, 0u);
  // A budget that ends exactly with the last qualifying trace reports no more work.
  ASSERT_EQ(head.append(make_batch(id_of(9), {"a", "bb", "ccc"}), at(1)).accepted, 3u);
  HeadStore::HeadCut exact;
  EXPECT_FALSE(head.cut(CutRules{.now_ms = 5000, .idle_ms = 1000, .max_spans = 3}, exact));
  EXPECT_EQ(exact.traces.size(), 1u);
}

TEST(HeadStoreCutTest, CutTracesLeaveFindTraceButTheCutAnswersIdentically) {
  HeadStore head(HeadLimits{});
  ASSERT_TRUE(head.append(make_batch(id_of(1), {"a", "bb"}, "svc", "lib1"), at(1)).status.is_ok());
  ASSERT_TRUE(head.append(make_batch(id_of(1), {"ccc"}, "other", "lib2"), at(2)).status.is_ok());
  ASSERT_TRUE(head.append(make_batch(id_of(2), {"dddd"}), at(3)).status.is_ok());
  auto before1 = head.find_trace(id_of(1));
  auto before2 = head.find_trace(id_of(2));
  ASSERT_TRUE(before1 && before2);
  HeadStore::HeadCut cut;
  ASSERT_FALSE(head.cut(CutRules{.now_ms = 3, .target_live_bytes = 0}, cut));
  EXPECT_FALSE(head.find_trace(id_of(1)).has_value());
  EXPECT_FALSE(head.find_trace(id_of(2)).has_value());
  EXPECT_EQ(cut.find(id_of(1)), before1);
  EXPECT_EQ(cut.find(id_of(2)), before2);
  EXPECT_FALSE(cut.find(id_of(3)).has_value());
  EXPECT_EQ(cut.spans, 4u);
  EXPECT_EQ(cut.span_bytes, cut.traces[0].spans[0].size + cut.traces[0].spans[1].size +
                                cut.traces[0].spans[2].size + cut.traces[1].spans[0].size);
  // Appends after the cut (new chunks, new interned contexts) leave the cut's views untouched.
  for (uint8_t i = 10; i < 60; ++i) {
    ASSERT_TRUE(head.append(make_batch(id_of(i), {std::string(3000, 'q')}, "svc" + std::to_string(i)), at(4))
                    .status.is_ok());
  }
  EXPECT_EQ(cut.find(id_of(1)), before1);
  head.release_cut(cut);
}

TEST(HeadStoreCutTest, ReleaseFreesChunksAndReusesThemAsSpares) {
  // 1 MiB budget: 64 KiB chunks.
  HeadStore head(HeadLimits{1 << 20, 0});
  auto fill = [&](uint8_t first) {
    for (uint8_t t = 0; t < 8; ++t) {
      std::vector<std::string> names;
      for (int s = 0; s < 20; ++s) names.push_back(std::string(2000, static_cast<char>('a' + s)));
      AppendResult r = head.append(make_batch(id_of(static_cast<uint8_t>(first + t)), names), at(1));
      ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
      ASSERT_EQ(r.accepted, 20u);
    }
  };
  fill(1);
  const HeadStats full = head.stats();
  ASSERT_GE(full.chunks, 4u);
  const uint64_t peak = full.chunks + full.spare_chunks;
  HeadStore::HeadCut cut;
  ASSERT_FALSE(head.cut(CutRules{.now_ms = 1, .target_live_bytes = 0}, cut));
  // Cut but not released: the bytes are still there (a block writer may be reading them).
  EXPECT_EQ(head.stats().bytes, full.bytes);
  EXPECT_EQ(head.stats().chunks, full.chunks);
  head.release_cut(cut);
  const HeadStats released = head.stats();
  EXPECT_LT(released.bytes, full.bytes / 4);
  EXPECT_LE(released.chunks, 1u);  // at most the chunk new spans are appended to
  EXPECT_GT(released.spare_chunks, 0u);
  // The same volume again comes out of the spares, not out of fresh allocations.
  fill(101);
  const HeadStats again = head.stats();
  EXPECT_LT(again.spare_chunks, released.spare_chunks);
  EXPECT_LE(again.chunks + again.spare_chunks, peak);
  EXPECT_EQ(again.spans, 160u);
}

TEST(HeadStoreCutTest, WalPinsFollowAppendsAndDropOnlyAfterRelease) {
  HeadStore head(HeadLimits{});
  EXPECT_EQ(head.oldest_needed_seq(), UINT64_MAX);
  ASSERT_TRUE(head.append(make_batch(id_of(1), {"a"}), at(1, 5)).status.is_ok());
  EXPECT_EQ(head.oldest_needed_seq(), 5u);
  ASSERT_TRUE(head.append(make_batch(id_of(2), {"b"}), at(2, 7)).status.is_ok());
  // A later span of trace 1 from a later segment does not move its pin: segment 5 still holds its first span.
  ASSERT_TRUE(head.append(make_batch(id_of(1), {"cc"}), at(3, 9)).status.is_ok());
  EXPECT_EQ(head.oldest_needed_seq(), 5u);
  // A batch in transit pins its segment until it arrives.
  head.pin_seq(3);
  EXPECT_EQ(head.oldest_needed_seq(), 3u);
  head.unpin_seq(3);
  EXPECT_EQ(head.oldest_needed_seq(), 5u);
  head.unpin_seq(4);  // never pinned: harmless
  EXPECT_EQ(head.oldest_needed_seq(), 5u);

  HeadStore::HeadCut first;
  ASSERT_FALSE(head.cut(CutRules{.now_ms = 2, .max_live_ms = 1}, first));  // trace 1 only (first seen at 1)
  ASSERT_EQ(ids_in(first), std::vector<TraceId>{id_of(1)});
  EXPECT_EQ(head.oldest_needed_seq(), 5u);  // its block is not durable yet
  head.release_cut(first);
  EXPECT_EQ(head.oldest_needed_seq(), 7u);
  HeadStore::HeadCut second;
  ASSERT_FALSE(head.cut(CutRules{.now_ms = 3, .target_live_bytes = 0}, second));
  EXPECT_EQ(head.oldest_needed_seq(), 7u);
  head.release_cut(second);
  EXPECT_EQ(head.oldest_needed_seq(), UINT64_MAX);
}

TEST(HeadStoreCutTest, ReserveRefusesOverBudgetUntilUnreserved) {
  HeadStore head(HeadLimits{64 << 10, 0});
  SpanBatch batch = make_batch(id_of(1), {std::string(5000, 'r')});
  std::vector<uint64_t> held;
  Result<uint64_t> r = head.reserve(batch);
  while (r.ok()) {
    EXPECT_GT(*r, batch.byte_size());
    held.push_back(*r);
    ASSERT_LT(held.size(), 100u);
    r = head.reserve(batch);
  }
  ASSERT_FALSE(held.empty());
  EXPECT_EQ(r.status().code(), StatusCode::Unavailable);
  EXPECT_NE(r.status().message().find("spindle.head.max_bytes"), std::string::npos) << r.status().to_string();
  // Reserved room counts against checked appends too.
  AppendResult refused = head.append(batch, at(1));
  EXPECT_EQ(refused.status.code(), StatusCode::Unavailable);
  EXPECT_EQ(refused.accepted, 0u);
  EXPECT_FALSE(head.find_trace(id_of(1)).has_value());
  // An append whose room was reserved goes in unchecked, after giving its reservation back.
  head.unreserve(held.back());
  held.pop_back();
  EXPECT_TRUE(head.append(batch, {0, 1, /*check_limit=*/false}).status.is_ok());
  EXPECT_TRUE(head.find_trace(id_of(1)).has_value());
  for (uint64_t b : held) head.unreserve(b);
  EXPECT_TRUE(head.reserve(batch).ok());
}

TEST(HeadStoreCutTest, DuplicatesOfCutSpansAreStoredAgain) {
  // Documented: the head drops exact duplicates of spans it holds; once a trace is cut it no longer knows
  // them, so a retry after the cut is stored again (TraceStore's lookup merges the copies away).
  HeadStore head(HeadLimits{});
  ASSERT_EQ(head.append(make_batch(id_of(1), {"a", "bb"}), at(1)).accepted, 2u);
  HeadStore::HeadCut cut;
  ASSERT_FALSE(head.cut(CutRules{.now_ms = 1, .target_live_bytes = 0}, cut));
  AppendResult again = head.append(make_batch(id_of(1), {"a"}), at(2));
  EXPECT_EQ(again.accepted, 1u);
  EXPECT_EQ(again.duplicates, 0u);
  tempopb::Trace t = find(head, id_of(1));
  ASSERT_EQ(t.resourcespans_size(), 1);
  ASSERT_EQ(t.resourcespans(0).scope_spans(0).spans_size(), 1);
  EXPECT_EQ(t.resourcespans(0).scope_spans(0).spans(0).name(), "a");
  // Duplicates within the new head copy are dropped as usual.
  EXPECT_EQ(head.append(make_batch(id_of(1), {"a"}), at(3)).duplicates, 1u);
  head.release_cut(cut);
  EXPECT_EQ(head.stats().spans, 1u);
}

}  // namespace
}  // namespace spindle

namespace spindle {
namespace {

// Resources that come and go (a new service.instance.id per process start) are freed with their last span:
// rounds of distinct resources, each cut and released, leave the head's accounted bytes where they were.
TEST(HeadStoreCutTest, InternedResourcesAreFreedWithTheirLastSpan) {
  HeadStore head(HeadLimits{});
  std::vector<uint64_t> after_round;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 200; ++i) {
      TraceId id;
      id.bytes[0] = static_cast<uint8_t>(round + 1);
      id.bytes[14] = static_cast<uint8_t>(i >> 8);
      id.bytes[15] = static_cast<uint8_t>(i);
      SpanBatch batch = make_batch(id, {"op"}, "svc-" + std::to_string(round * 1000 + i), "lib-" + std::to_string(i));
      ASSERT_TRUE(head.append(batch).status.is_ok());
    }
    HeadStore::HeadCut cut;
    EXPECT_FALSE(head.cut(CutRules{.target_live_bytes = 0}, cut));
    ASSERT_EQ(cut.traces.size(), 200u);
    head.release_cut(cut);
    after_round.push_back(head.stats().bytes);
  }
  EXPECT_EQ(after_round[3], after_round[0]);
  // A batch whose spans are all refused (its trace is over max_bytes_per_trace) leaves nothing interned.
  HeadStore small(HeadLimits{.max_bytes = 256 << 20, .max_bytes_per_trace = 64});
  uint64_t before = small.stats().bytes;
  AppendResult r = small.append(make_batch(id_of(9), {std::string(200, 'x')}, "svc-refused"));
  EXPECT_EQ(r.rejected, 1u);
  EXPECT_EQ(small.stats().bytes, before);
}

}  // namespace
}  // namespace spindle

namespace spindle {
namespace {

// "No limit" still stops at the largest trace a block can hold: a bigger one could never be cut into a block
// and would stall every cut of its shard.
TEST(HeadStoreTest, UnlimitedTracesStopAtTheStorageMaximum) {
  HeadStore head(HeadLimits{.max_bytes = 256ull << 20, .max_bytes_per_trace = 0});
  const std::string big(1 << 20, 'x');
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  for (int i = 0; i < 64 && rejected == 0; ++i) {
    AppendResult r = head.append(make_batch(id_of(1), {big + std::to_string(i)}));
    ASSERT_TRUE(r.status.is_ok());
    accepted += r.accepted;
    rejected += r.rejected;
  }
  EXPECT_EQ(rejected, 1u);
  EXPECT_GE(accepted * (1 << 20), kMaxStoredTraceBytes - (2u << 20));
  EXPECT_LE(accepted * (1 << 20), kMaxStoredTraceBytes);
}

}  // namespace
}  // namespace spindle
