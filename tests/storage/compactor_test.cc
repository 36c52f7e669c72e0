#include "storage/compactor.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "storage/trace_merge.h"
#include "tests/storage/block_test_util.h"

namespace spindle {
namespace {

using namespace spindle::testing;

constexpr uint64_t kBase = 1700000000000000000ull;

std::unique_ptr<BlockReader> write_and_open(const std::string& root,
                                            const std::map<TraceId, std::string>& traces,
                                            BlockWriteOptions options = {}) {
  BlockWriter w(root, options);
  for (const auto& [id, t] : traces) EXPECT_TRUE(w.add(id, t).is_ok());
  auto meta = w.finish();
  EXPECT_TRUE(meta.ok()) << meta.status().to_string();
  auto r = BlockReader::open(root + "/" + meta->block_id);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return std::move(*r);
}

std::multiset<std::string> span_bytes(const std::string& trace) {
  tempopb::Trace t;
  EXPECT_TRUE(t.ParseFromString(trace));
  std::multiset<std::string> out;
  for (const auto& rs : t.resourcespans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans())
        out.insert(rs.resource().SerializeAsString() + "|" + s.SerializeAsString());
    }
  }
  return out;
}

TEST(CompactorTest, TraceSplitAcrossThreeBlocksComesBackWholeWithoutDuplicates) {
  TempDir tmp;
  TraceId split;
  split.bytes[0] = 0x80;
  split.bytes[15] = 1;
  auto s1 = make_span(split, 1, "root", kBase + 10, kBase + 500);
  auto s2 = make_span(split, 2, "child", kBase + 20, kBase + 300);
  auto s3 = make_span(split, 3, "db", kBase + 30, kBase + 900);
  tempopb::Trace a, b, c;
  add_span(a, "frontend", "lib", s1);
  add_span(b, "backend", "lib", s2);
  add_span(b, "frontend", "lib", s1);  // the same span again (a retried batch)
  add_span(c, "db", "lib", s3);
  add_span(c, "backend", "lib", s2);

  std::mt19937_64 rng(8);
  std::map<TraceId, std::string> in[3];
  in[0][split] = a.SerializeAsString();
  in[1][split] = b.SerializeAsString();
  in[2][split] = c.SerializeAsString();
  // Plus traces of their own, and one shared by two blocks with identical content (a duplicate write).
  for (auto& m : in) {
    for (int i = 0; i < 200; ++i) {
      TraceId id = random_id(rng);
      m[id] = random_trace(rng, id, kBase).SerializeAsString();
    }
  }
  TraceId twice = in[0].begin()->first;
  in[2][twice] = in[0][twice];

  std::vector<std::unique_ptr<BlockReader>> readers;
  std::vector<BlockReader*> inputs;
  for (auto& m : in) {
    readers.push_back(write_and_open(tmp.path(), m));
    inputs.push_back(readers.back().get());
  }
  BlockWriteOptions opts;
  opts.level = 1;
  opts.zstd_level = 3;
  opts.page_bytes = 16 << 10;
  BlockWriter out(tmp.path(), opts);
  auto meta = compact_blocks(inputs, out);
  ASSERT_TRUE(meta.ok()) << meta.status().to_string();
  EXPECT_EQ(meta->level, 1u);
  EXPECT_EQ(meta->traces, 1u + 600u);

  auto merged = BlockReader::open(tmp.path() + "/" + meta->block_id);
  ASSERT_TRUE(merged.ok()) << merged.status().to_string();
  auto found = (*merged)->find(split);
  ASSERT_TRUE(found.ok() && found->has_value());
  tempopb::Trace t;
  ASSERT_TRUE(t.ParseFromString(**found));
  ASSERT_EQ(t.resourcespans_size(), 3);
  std::vector<std::string> services;
  int spans = 0;
  for (const auto& rs : t.resourcespans()) {
    services.push_back(rs.resource().attributes(0).value().string_value());
    ASSERT_EQ(rs.scope_spans_size(), 1);
    EXPECT_EQ(rs.scope_spans(0).spans_size(), 1);
    spans += rs.scope_spans(0).spans_size();
  }
  EXPECT_EQ(services, (std::vector<std::string>{"frontend", "backend", "db"}));  // order of first appearance
  EXPECT_EQ(spans, 3);
  auto sum = summary_of(**found);
  EXPECT_EQ(sum.start_ns, kBase + 10);
  EXPECT_EQ(sum.end_ns, kBase + 900);

  auto dup = (*merged)->find(twice);
  ASSERT_TRUE(dup.ok() && dup->has_value());
  EXPECT_EQ(**dup, in[0][twice]);  // identical pieces merge to the piece itself

  // Sorted output, each input trace present with exactly its spans.
  std::map<TraceId, std::vector<std::string_view>> expected;
  for (auto& m : in) {
    for (auto& [id, tr] : m) expected[id].push_back(tr);
  }
  auto cur = (*merged)->cursor();
  auto it = expected.begin();
  uint64_t total_spans = 0;
  while (true) {
    auto has = cur.next();
    ASSERT_TRUE(has.ok());
    if (!*has) break;
    ASSERT_NE(it, expected.end());
    ASSERT_EQ(cur.row().id, it->first);
    auto want = merge_traces(it->second);
    ASSERT_TRUE(want.ok());
    ASSERT_EQ(span_bytes(std::string(cur.row().trace)), span_bytes(*want));
    total_spans += summary_of(cur.row().trace).spans;
    ++it;
  }
  EXPECT_EQ(it, expected.end());
  EXPECT_EQ(meta->spans, total_spans);
  uint64_t min_start = UINT64_MAX, max_end = 0;
  for (auto* r : inputs) {
    min_start = std::min(min_start, r->meta().min_start_ns);
    max_end = std::max(max_end, r->meta().max_end_ns);
  }
  EXPECT_EQ(meta->min_start_ns, min_start);
  EXPECT_EQ(meta->max_end_ns, max_end);
}

TEST(CompactorTest, HeavilyOverlappingBlocksMatchAReferenceMerge) {
  TempDir tmp;
  std::mt19937_64 rng(12);
  // 300 trace IDs; each of 4 blocks holds a random subset, pieces drawn from a shared span pool per trace.
  std::vector<TraceId> ids;
  for (int i = 0; i < 300; ++i) ids.push_back(random_id(rng));
  std::map<TraceId, std::string> in[4];
  for (const TraceId& id : ids) {
    std::vector<otlp::trace::v1::Span> pool;
    for (int s = 0; s < 4; ++s) pool.push_back(make_span(id, s, "op", kBase + s, kBase + 100 + s));
    for (auto& m : in) {
      if (rng() % 2) continue;
      tempopb::Trace piece;
      int n = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < n; ++k) add_span(piece, "svc" + std::to_string(rng() % 2), "lib", pool[rng() % 4]);
      m[id] = piece.SerializeAsString();
    }
  }
  std::vector<std::unique_ptr<BlockReader>> readers;
  std::vector<BlockReader*> inputs;
  for (auto& m : in) {
    if (m.empty()) continue;
    BlockWriteOptions o;
    o.page_bytes = 1500;
    readers.push_back(write_and_open(tmp.path(), m, o));
    inputs.push_back(readers.back().get());
  }
  BlockWriter out(tmp.path(), {});
  auto meta = compact_blocks(inputs, out);
  ASSERT_TRUE(meta.ok()) << meta.status().to_string();
  auto merged = BlockReader::open(tmp.path() + "/" + meta->block_id);
  ASSERT_TRUE(merged.ok());
  uint64_t present = 0;
  for (const TraceId& id : ids) {
    std::vector<std::string_view> pieces;
    for (auto& m : in) {
      if (m.count(id)) pieces.push_back(m[id]);
    }
    auto f = (*merged)->find(id);
    ASSERT_TRUE(f.ok());
    ASSERT_EQ(f->has_value(), !pieces.empty());
    if (pieces.empty()) continue;
    ++present;
    auto want = merge_traces(pieces);
    ASSERT_TRUE(want.ok());
    // Pieces merge in input order, so even the bytes agree; a trace held by one input is copied as it was.
    auto normal = merge_traces({**f});
    ASSERT_TRUE(normal.ok());
    EXPECT_EQ(*normal, *want);
    if (pieces.size() == 1) {
      EXPECT_EQ(**f, pieces[0]);
    } else {
      EXPECT_EQ(**f, *want);
    }
  }
  EXPECT_EQ(meta->traces, present);
}

TEST(CompactorTest, RefusesInputsOfAnotherShard) {
  TempDir tmp;
  std::mt19937_64 rng(1);
  std::map<TraceId, std::string> m;
  TraceId id = random_id(rng);
  m[id] = random_trace(rng, id, kBase).SerializeAsString();
  BlockWriteOptions shard1;
  shard1.shard = 1;
  shard1.shard_count = 4;
  auto reader = write_and_open(tmp.path(), m, shard1);
  BlockWriter out(tmp.path(), {});
  auto meta = compact_blocks({reader.get()}, out);
  ASSERT_FALSE(meta.ok());
  EXPECT_EQ(meta.status().code(), StatusCode::InvalidArgument);
}

}  // namespace
}  // namespace spindle
