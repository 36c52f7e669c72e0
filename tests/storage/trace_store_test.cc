// TraceStore on a real libuv loop and real files in a temporary directory: the WAL-first write path, cuts
// into blocks, lookups over head and blocks, WAL trimming, restart (replay + blocks), compaction, retention,
// time-range pruning and the errors open() gives for bad directories or another shard count.
#include "storage/trace_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/wall_clock.h"
#include "tests/storage/block_test_util.h"
#include "tests/storage/test_loop.h"
#include "tests/support/temp_dir.h"

namespace spindle {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kSecondNs = 1000000000;
constexpr uint64_t k2020Ns = 1577836800ull * kSecondNs;  // 2020-01-01T00:00:00Z
constexpr uint64_t k2025Ns = 1735689600ull * kSecondNs;  // 2025-01-01T00:00:00Z
constexpr uint64_t kHourMs = 3600 * 1000;
constexpr uint64_t kDayNs = 24 * 3600 * kSecondNs;

TraceId id_of(uint8_t n) {
  TraceId id;
  id.bytes[0] = 0x5e;
  id.bytes[15] = n;
  return id;
}

// Spans `span_nos` of trace `id`, named "op-<n>", timed around `base_ns`, under one resource/scope. `padding`
// bytes of attribute make batches as large as a test needs.
SpanBatch batch_of(const TraceId& id, const std::vector<uint64_t>& span_nos, uint64_t base_ns = k2020Ns,
                   size_t padding = 0) {
  SpanBatch b;
  b.contexts.push_back({testing::make_resource("svc").SerializeAsString(), "",
                        testing::make_scope("lib").SerializeAsString(), ""});
  for (uint64_t n : span_nos) {
    uint64_t start = base_ns + n * 1000;
    auto span = testing::make_span(id, n, "op-" + std::to_string(n), start, start + 500);
    if (padding != 0) {
      auto* kv = span.add_attributes();
      kv->set_key("padding");
      kv->mutable_value()->set_string_value(std::string(padding, 'p'));
    }
    std::string bytes = span.SerializeAsString();
    b.spans.push_back({id, 0, static_cast<uint32_t>(b.data.size()), static_cast<uint32_t>(bytes.size()),
                       start, start + 500});
    b.data += bytes;
  }
  return b;
}

// Span names of a serialized tempopb.Trace, sorted (duplicates kept, so "exactly once" is checkable).
std::vector<std::string> span_names(const std::optional<std::string>& trace) {
  std::vector<std::string> names;
  if (!trace) return names;
  tempopb::Trace t;
  EXPECT_TRUE(t.ParseFromString(*trace));
  for (const auto& rs : t.resourcespans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) names.push_back(s.name());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> ops(std::vector<uint64_t> nos) {
  std::vector<std::string> names;
  for (uint64_t n : nos) names.push_back("op-" + std::to_string(n));
  std::sort(names.begin(), names.end());
  return names;
}

// Entries of a directory (names), empty if it does not exist.
std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

class TraceStoreTest : public ::testing::Test {
 protected:
  std::string wal_dir() const { return dir_.path() + "/wal"; }
  std::string blocks_dir() const { return dir_.path() + "/blocks"; }
  std::string shard_blocks_dir(uint32_t shard = 0) const {
    return blocks_dir() + "/shard-" + std::to_string(shard);
  }

  TraceStoreOptions options() const {
    TraceStoreOptions o;
    o.wal_dir = wal_dir();
    o.blocks_dir = blocks_dir();
    o.wal_sync_interval_ms = 1;
    // The tests decide when cut rules and maintenance run (cut_now / maintain_now), never the timers.
    o.flush_check_ms = 10 * kHourMs;
    o.idle_ms = kHourMs;
    o.max_live_ms = 10 * kHourMs;
    return o;
  }

  // Constructs and opens a store; the fixture closes it at the end if the test did not.
  TraceStore& make_store(const TraceStoreOptions& o, Status* open_status = nullptr) {
    stores_.push_back({std::make_unique<TraceStore>(loop_.get(), o), false});
    TraceStore& s = *stores_.back().store;
    Status st = s.open();
    if (open_status != nullptr) {
      *open_status = st;
    } else {
      EXPECT_TRUE(st.is_ok()) << st.to_string();
    }
    return s;
  }
  TraceStore& open_store() { return make_store(options()); }

  void close(TraceStore& s) {
    for (auto& o : stores_) {
      if (o.store.get() != &s || o.closed) continue;
      o.closed = true;
      bool done = false;
      s.close([&] { done = true; });
      EXPECT_TRUE(loop_.run_until([&] { return done; })) << "close did not finish";
    }
  }
  void TearDown() override {
    for (auto& o : stores_) close(*o.store);
  }

  AppendResult append(TraceStore& s, SpanBatch batch) {
    bool done = false;
    AppendResult out;
    s.append(std::make_unique<SpanBatch>(std::move(batch)), [&](AppendResult r) {
      out = std::move(r);
      done = true;
    });
    EXPECT_TRUE(loop_.run_until([&] { return done; })) << "append not acknowledged";
    return out;
  }
  // Appends and expects every span of the batch stored or dropped as a duplicate.
  void append_ok(TraceStore& s, SpanBatch batch) {
    size_t n = batch.spans.size();
    AppendResult r = append(s, std::move(batch));
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    EXPECT_EQ(r.accepted + r.duplicates, n);
  }
  void cut(TraceStore& s, bool everything = true, uint64_t now_ms = 0) {
    bool done = false;
    s.cut_now(now_ms, everything, [&] { done = true; });
    ASSERT_TRUE(loop_.run_until([&] { return done; })) << "cut did not finish";
  }
  void maintain(TraceStore& s, uint64_t wall_ns) {
    bool done = false;
    s.maintain_now(wall_ns, [&] { done = true; });
    ASSERT_TRUE(loop_.run_until([&] { return done; })) << "maintenance did not finish";
  }
  std::optional<std::string> find(TraceStore& s, const TraceId& id, uint64_t start_ns = 0,
                                  uint64_t end_ns = 0) {
    auto r = s.find_trace(id, start_ns, end_ns);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : std::nullopt;
  }

  struct Opened {
    std::unique_ptr<TraceStore> store;
    bool closed = false;
  };
  TempDir dir_{"spindle-trace-store"};
  TestLoop loop_;
  std::vector<Opened> stores_;  // after loop_: destroyed first
};

TEST_F(TraceStoreTest, AppendIsAcknowledgedOnceInTheWalThenFound) {
  for (WalAckPolicy ack : {WalAckPolicy::Synced, WalAckPolicy::Written}) {
    SCOPED_TRACE(ack == WalAckPolicy::Synced ? "synced" : "written");
    TraceStoreOptions o = options();
    std::string sub = ack == WalAckPolicy::Synced ? "/synced" : "/written";
    o.wal_dir += sub;
    o.blocks_dir += sub;
    o.ack = ack;
    TraceStore& s = make_store(o);
    AppendResult r = append(s, batch_of(id_of(1), {1, 2, 3}));
    ASSERT_TRUE(r.status.is_ok()) << r.status.to_string();
    EXPECT_EQ(r.accepted, 3u);
    EXPECT_FALSE(r.storage_error);
    EXPECT_EQ(span_names(find(s, id_of(1))), ops({1, 2, 3}));
    EXPECT_FALSE(find(s, id_of(2)).has_value());
    EXPECT_EQ(s.stats().wal.records_written, 1u);
    EXPECT_EQ(s.stats().head.spans, 3u);
    // A retry of the same batch is acknowledged without storing anything twice.
    r = append(s, batch_of(id_of(1), {1, 2, 3}));
    EXPECT_EQ(r.duplicates, 3u);
    EXPECT_EQ(span_names(find(s, id_of(1))), ops({1, 2, 3}));
    close(s);
  }
}

TEST_F(TraceStoreTest, CutWritesABlockThatAnswersLikeTheHeadDid) {
  TraceStore& s = open_store();
  append_ok(s, batch_of(id_of(1), {1, 2, 3}));
  append_ok(s, batch_of(id_of(2), {4}));
  auto before1 = find(s, id_of(1));
  auto before2 = find(s, id_of(2));
  ASSERT_TRUE(before1 && before2);
  // The idle rule, with the loop's clock pretending two hours have passed.
  cut(s, /*everything=*/false, uv_now(loop_.get()) + 2 * kHourMs);
  EXPECT_EQ(s.block_count(), 1u);
  EXPECT_EQ(s.head().stats().live_traces, 0u);
  EXPECT_EQ(s.stats().cuts, 1u);
  EXPECT_EQ(s.stats().cut_traces, 2u);
  EXPECT_EQ(s.stats().cut_spans, 4u);
  EXPECT_EQ(s.stats().blocks[0], 1u);
  EXPECT_EQ(find(s, id_of(1)), before1);
  EXPECT_EQ(find(s, id_of(2)), before2);
  EXPECT_FALSE(find(s, id_of(3)).has_value());
  // One block directory on disk, no temporary leftovers.
  auto dirs = entries(shard_blocks_dir());
  ASSERT_EQ(dirs.size(), 1u);
  EXPECT_FALSE(dirs[0].starts_with(".tmp-"));

  // The idle rule leaves a fresh trace alone; everything=true takes it.
  append_ok(s, batch_of(id_of(3), {5}));
  cut(s, /*everything=*/false);
  EXPECT_EQ(s.block_count(), 1u);
  cut(s, /*everything=*/true);
  EXPECT_EQ(s.block_count(), 2u);
  EXPECT_EQ(span_names(find(s, id_of(3))), ops({5}));
}

TEST_F(TraceStoreTest, TraceSplitAcrossBlocksAndHeadComesBackWholeOnce) {
  TraceStore& s = open_store();
  const TraceId id = id_of(7);
  append_ok(s, batch_of(id, {1, 2}));
  cut(s);
  ASSERT_EQ(s.block_count(), 1u);
  // Span 2 again (a client retry after the cut): the head no longer knows it, so it lands in block 2 as well.
  append_ok(s, batch_of(id, {2, 3, 4}));
  cut(s);
  ASSERT_EQ(s.block_count(), 2u);
  // Span 1 again, this time left in the head next to a new span.
  append_ok(s, batch_of(id, {1, 5}));
  EXPECT_EQ(s.head().stats().spans, 2u);
  EXPECT_EQ(span_names(find(s, id)), ops({1, 2, 3, 4, 5}));
  EXPECT_EQ(span_names(find(s, id, k2020Ns - kSecondNs, k2020Ns + kSecondNs)), ops({1, 2, 3, 4, 5}));
}

TEST_F(TraceStoreTest, CutDeletesWalSegmentsWhoseSpansAreInBlocks) {
  TraceStoreOptions o = options();
  o.wal_segment_bytes = 1 << 20;
  TraceStore& s = make_store(o);
  const std::string shard_wal = wal_dir() + "/shard-0";
  // 12 batches of ~256 KiB: the WAL rolls to a new 1 MiB segment every ~4 of them.
  for (uint8_t t = 0; t < 12; ++t) {
    std::vector<uint64_t> nos;
    for (uint64_t n = 0; n < 64; ++n) nos.push_back(n);
    append_ok(s, batch_of(id_of(static_cast<uint8_t>(t + 1)), nos, k2020Ns, 4000));
  }
  const size_t before = entries(shard_wal).size();
  ASSERT_GE(before, 3u);
  EXPECT_EQ(s.stats().wal.segments_removed, 0u);
  cut(s);
  ASSERT_EQ(s.block_count(), 1u);
  // Every span is in a durable block: the segment being appended to is closed too, and only a fresh, empty
  // one is left.
  EXPECT_EQ(entries(shard_wal).size(), 1u);
  EXPECT_EQ(s.stats().wal.segments_removed, before);
  EXPECT_EQ(s.head().oldest_needed_seq(), UINT64_MAX);
  for (uint8_t t = 1; t <= 12; ++t) EXPECT_EQ(span_names(find(s, id_of(t))).size(), 64u);
}

TEST_F(TraceStoreTest, ReopenReplaysTheWalAndLoadsTheBlocks) {
  std::optional<std::string> in_block, in_wal, split;
  {
    TraceStore& s = open_store();
    append_ok(s, batch_of(id_of(1), {1, 2}));
    append_ok(s, batch_of(id_of(3), {1}));
    cut(s);
    ASSERT_EQ(s.block_count(), 1u);
    append_ok(s, batch_of(id_of(2), {3, 4}));  // only in the WAL (and the head) when the store closes
    append_ok(s, batch_of(id_of(3), {2}));     // trace 3: one span in the block, one only in the WAL
    in_block = find(s, id_of(1));
    in_wal = find(s, id_of(2));
    split = find(s, id_of(3));
    close(s);
  }
  TraceStore& again = open_store();
  EXPECT_EQ(again.block_count(), 1u);
  EXPECT_GE(again.stats().replay.records, 2u);
  EXPECT_EQ(again.stats().replay_batches_rejected, 0u);
  EXPECT_EQ(again.stats().replay_bad_records, 0u);
  EXPECT_EQ(span_names(find(again, id_of(1))), ops({1, 2}));
  EXPECT_EQ(find(again, id_of(2)), in_wal);
  EXPECT_EQ(span_names(find(again, id_of(3))), ops({1, 2}));
  EXPECT_EQ(span_names(split), ops({1, 2}));
  EXPECT_EQ(span_names(in_block), ops({1, 2}));
  // New appends after the replay go on normally, and a cut of the replayed traces deletes the old segments.
  append_ok(again, batch_of(id_of(4), {9}));
  cut(again);
  EXPECT_EQ(again.block_count(), 2u);
  EXPECT_EQ(again.head().stats().live_traces, 0u);
  EXPECT_EQ(entries(wal_dir() + "/shard-0").size(), 1u);
  EXPECT_EQ(span_names(find(again, id_of(2))), ops({3, 4}));
  EXPECT_EQ(span_names(find(again, id_of(4))), ops({9}));
  close(again);
  // And once more: once every span was in a block the cut also closed the current segment, so every segment
  // was deleted and nothing is replayed (a restart does not write those spans into blocks a second time);
  // everything comes from blocks alone.
  TraceStore& third = open_store();
  EXPECT_EQ(third.stats().replay.records, 0u);
  EXPECT_EQ(third.head().stats().live_traces, 0u);
  EXPECT_EQ(span_names(find(third, id_of(4))), ops({9}));
  EXPECT_EQ(span_names(find(third, id_of(1))), ops({1, 2}));
  EXPECT_EQ(span_names(find(third, id_of(2))), ops({3, 4}));
  EXPECT_EQ(span_names(find(third, id_of(3))), ops({1, 2}));
}

TEST_F(TraceStoreTest, OpenRemovesUnfinishedBlockDirectories) {
  {
    TraceStore& s = open_store();
    append_ok(s, batch_of(id_of(1), {1}));
    cut(s);
    close(s);
  }
  const std::string tmp = shard_blocks_dir() + "/.tmp-0123abcd";
  fs::create_directories(tmp);
  std::ofstream(tmp + "/data") << "half a block";
  ASSERT_TRUE(fs::exists(tmp + "/data"));
  TraceStore& s = open_store();
  EXPECT_FALSE(fs::exists(tmp));
  EXPECT_EQ(s.block_count(), 1u);
  EXPECT_EQ(s.stats().blocks_skipped_at_open, 0u);
  EXPECT_EQ(span_names(find(s, id_of(1))), ops({1}));
}

TEST_F(TraceStoreTest, OpenRefusesBlocksWrittenWithAnotherShardCount) {
  {
    TraceStoreOptions o = options();
    o.shard_count = 2;
    TraceStore& s = make_store(o);
    append_ok(s, batch_of(id_of(1), {1}));
    cut(s);
    ASSERT_EQ(s.block_count(), 1u);
    close(s);
  }
  Status st;
  TraceStore& s = make_store(options(), &st);  // shard 0 of 1
  EXPECT_EQ(st.code(), StatusCode::FailedPrecondition) << st.to_string();
  EXPECT_NE(st.message().find("spindle.shards: 2"), std::string::npos) << st.message();
  EXPECT_EQ(s.block_count(), 0u);
  // The data is left alone for a start with the right count.
  EXPECT_EQ(entries(shard_blocks_dir()).size(), 1u);
}

TEST_F(TraceStoreTest, CompactionMergesLevelZeroBlocksOfOneWindow) {
  TraceStoreOptions o = options();
  o.compaction_inputs = 2;
  TraceStore& s = make_store(o);
  append_ok(s, batch_of(id_of(1), {1, 2}));
  cut(s);
  append_ok(s, batch_of(id_of(1), {2, 3}));  // span 2 in both inputs
  append_ok(s, batch_of(id_of(2), {4}));
  cut(s);
  ASSERT_EQ(s.block_count(), 2u);
  ASSERT_EQ(s.stats().blocks[0], 2u);
  maintain(s, wall_now_ns());
  EXPECT_EQ(s.stats().compactions, 1u);
  EXPECT_EQ(s.stats().compacted_blocks, 2u);
  EXPECT_EQ(s.stats().compaction_errors, 0u);
  EXPECT_EQ(s.block_count(), 1u);
  EXPECT_EQ(s.stats().blocks[0], 0u);
  EXPECT_EQ(s.stats().blocks[1], 1u);
  EXPECT_EQ(entries(shard_blocks_dir()).size(), 1u);  // the inputs' directories are gone
  EXPECT_EQ(span_names(find(s, id_of(1))), ops({1, 2, 3}));
  EXPECT_EQ(span_names(find(s, id_of(2))), ops({4}));
  close(s);
  // The compacted block is what a restart finds.
  TraceStore& again = make_store(o);
  EXPECT_EQ(again.block_count(), 1u);
  EXPECT_EQ(again.stats().blocks[1], 1u);
  EXPECT_EQ(span_names(find(again, id_of(1))), ops({1, 2, 3}));
}

TEST_F(TraceStoreTest, RetentionDeletesBlocksPastTheirTime) {
  TraceStoreOptions o = options();
  o.retention_ms = 24 * kHourMs;
  // Compaction off (below 2 inputs): with the 2020 window long closed it would merge the two blocks first.
  o.compaction_inputs = 1;
  TraceStore& s = make_store(o);
  append_ok(s, batch_of(id_of(1), {1}));
  cut(s);
  append_ok(s, batch_of(id_of(2), {2}));
  cut(s);
  ASSERT_EQ(s.block_count(), 2u);
  // The spans are from 2020, but retention counts from when the blocks were written: they stay for now.
  maintain(s, wall_now_ns());
  EXPECT_EQ(s.block_count(), 2u);
  EXPECT_EQ(s.stats().retention_deleted_blocks, 0u);
  maintain(s, wall_now_ns() + 2 * kDayNs);
  EXPECT_EQ(s.block_count(), 0u);
  EXPECT_EQ(s.stats().retention_deleted_blocks, 2u);
  EXPECT_TRUE(entries(shard_blocks_dir()).empty());
  EXPECT_FALSE(find(s, id_of(1)).has_value());
  EXPECT_FALSE(find(s, id_of(2)).has_value());
}

TEST_F(TraceStoreTest, TimeRangePrunesBlocksButNeverTheHead) {
  TraceStore& s = open_store();
  const TraceId id = id_of(9);
  append_ok(s, batch_of(id, {1, 2}, k2020Ns));
  cut(s);
  ASSERT_EQ(s.block_count(), 1u);
  const uint64_t day2020_end = k2020Ns + kDayNs;
  EXPECT_EQ(span_names(find(s, id)), ops({1, 2}));
  EXPECT_EQ(span_names(find(s, id, k2020Ns, day2020_end)), ops({1, 2}));
  EXPECT_EQ(span_names(find(s, id, k2020Ns - kDayNs, 0)), ops({1, 2}));  // open end
  EXPECT_FALSE(find(s, id, k2025Ns, k2025Ns + kDayNs).has_value());
  EXPECT_FALSE(find(s, id, k2025Ns, 0).has_value());
  EXPECT_FALSE(find(s, id, k2020Ns - 2 * kDayNs, k2020Ns - kDayNs).has_value());
  // A span of the same trace in the head (also from 2020) is returned whatever the range.
  append_ok(s, batch_of(id, {3}, k2020Ns));
  EXPECT_EQ(span_names(find(s, id, k2025Ns, k2025Ns + kDayNs)), ops({3}));
  EXPECT_EQ(span_names(find(s, id, k2020Ns, day2020_end)), ops({1, 2, 3}));
}

TEST_F(TraceStoreTest, OpenNamesTheKeyWhenTheBlocksPathIsUnusable) {
  const std::string file = dir_.path() + "/file";
  std::ofstream(file) << "not a directory";
  {
    // A path below a regular file cannot be created, not even by root.
    TraceStoreOptions o = options();
    o.blocks_dir = file + "/sub";
    Status st;
    make_store(o, &st);
    EXPECT_EQ(st.code(), StatusCode::FailedPrecondition) << st.to_string();
    EXPECT_NE(st.message().find("storage.trace.local.path"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find(file), std::string::npos) << st.message();
  }
  {
    TraceStoreOptions o = options();
    o.blocks_dir = file;  // the path itself is a regular file
    Status st;
    make_store(o, &st);
    EXPECT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("storage.trace.local.path"), std::string::npos) << st.message();
  }
  {
    TraceStoreOptions o = options();
    o.wal_dir = file + "/wal";
    Status st;
    make_store(o, &st);
    EXPECT_FALSE(st.is_ok());
    EXPECT_NE(st.message().find("storage.trace.wal.path"), std::string::npos) << st.message();
  }
}

}  // namespace
}  // namespace spindle

namespace spindle {
namespace {

// A cut bigger than one slice is taken over several loop iterations: between them the loop polls I/O (ingest
// goes on), and the head is seen partly cut.
TEST_F(TraceStoreTest, LargeCutsYieldToTheLoopBetweenSlices) {
  TraceStore& s = open_store();
  constexpr int kTraces = 30;
  std::vector<uint64_t> nos(2000);
  for (size_t i = 0; i < nos.size(); ++i) nos[i] = i;
  for (int t = 1; t <= kTraces; ++t) append_ok(s, batch_of(id_of(static_cast<uint8_t>(t)), nos));
  ASSERT_GT(kTraces * nos.size(), 2 * TraceStore::kCutSliceSpans);

  struct Watch {
    const TraceStore* store;
    std::vector<uint64_t> seen;
  } watch{&s, {}};
  uv_check_t check;
  uv_check_init(loop_.get(), &check);
  check.data = &watch;
  uv_check_start(&check, [](uv_check_t* h) {
    auto* w = static_cast<Watch*>(h->data);
    w->seen.push_back(w->store->head().stats().live_traces);
  });
  cut(s);
  uv_check_stop(&check);
  uv_close(reinterpret_cast<uv_handle_t*>(&check), nullptr);
  loop_.spin(1);
  EXPECT_EQ(s.head().stats().live_traces, 0u);
  bool partly_cut = false;
  for (uint64_t n : watch.seen) partly_cut |= n > 0 && n < kTraces;
  EXPECT_TRUE(partly_cut) << "the cut ran in one loop iteration";
  EXPECT_EQ(span_names(find(s, id_of(7))).size(), nos.size());
}

}  // namespace
}  // namespace spindle

namespace spindle {
namespace {

// The tick measures how late it fires: a loop kept busy for 160 ms shows up as a lag of at least 50 ms.
TEST_F(TraceStoreTest, TickMeasuresLoopLag) {
  TraceStore& s = open_store();
  auto ticks = [&] {
    uint64_t n = 0;
    for (uint64_t b : s.stats().loop_lag_buckets) n += b;
    return n;
  };
  ASSERT_TRUE(loop_.run_until([&] { return ticks() >= 1; }));
  // Block the loop thread inside a callback, as a long request would.
  uv_timer_t busy;
  uv_timer_init(loop_.get(), &busy);
  uv_timer_start(&busy, [](uv_timer_t*) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(160);
    while (std::chrono::steady_clock::now() < until) {
    }
  }, 0, 0);
  const uint64_t before = ticks();
  ASSERT_TRUE(loop_.run_until([&] { return ticks() >= before + 2; }));
  uv_close(reinterpret_cast<uv_handle_t*>(&busy), nullptr);
  loop_.spin(1);
  EXPECT_GE(s.stats().loop_lag_max_ms, 50u);
}

}  // namespace
}  // namespace spindle
