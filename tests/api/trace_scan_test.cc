// TraceScan over a real TraceStore (libuv loop, files in a temporary directory): which pieces it visits from the
// head and the blocks, slicing, stopping, time pruning, and the snapshot rules — a recent trace cut into a new
// block during the scan is still found once, and blocks removed by compaction during the scan are still read
// (while the compaction's output is not visited again).
#include "storage/trace_scan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/wall_clock.h"
#include "storage/search_columns.h"
#include "storage/trace_store.h"
#include "tests/storage/block_test_util.h"
#include "tests/storage/test_loop.h"
#include "tests/support/temp_dir.h"

namespace spindle {
namespace {

constexpr uint64_t kSecondNs = 1000000000;
constexpr uint64_t k2020Ns = 1577836800ull * kSecondNs;
constexpr uint64_t k2025Ns = 1735689600ull * kSecondNs;
constexpr uint64_t kHourMs = 3600 * 1000;

TraceId id_of(uint32_t n) {
  TraceId id;
  id.bytes[0] = 0x7a;
  id.bytes[14] = static_cast<uint8_t>(n >> 8);
  id.bytes[15] = static_cast<uint8_t>(n);
  return id;
}

SpanBatch batch_of(const std::vector<std::pair<TraceId, uint64_t>>& spans, uint64_t base_ns = k2020Ns) {
  SpanBatch b;
  b.contexts.push_back({testing::make_resource("svc").SerializeAsString(), "",
                        testing::make_scope("lib").SerializeAsString(), ""});
  for (const auto& [id, n] : spans) {
    uint64_t start = base_ns + n * 1000;
    std::string bytes = testing::make_span(id, n, "op-" + std::to_string(n), start, start + 500).SerializeAsString();
    b.spans.push_back({id, 0, static_cast<uint32_t>(b.data.size()), static_cast<uint32_t>(bytes.size()), start,
                       start + 500});
    b.data += bytes;
  }
  return b;
}

std::vector<std::string> span_names(std::string_view trace) {
  std::vector<std::string> names;
  tempopb::Trace t;
  EXPECT_TRUE(t.ParseFromArray(trace.data(), static_cast<int>(trace.size())));
  for (const auto& rs : t.resourcespans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) names.push_back(s.name());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Records every visit; can pause (Yield), stop after `stop_after` visits, and runs `on_visit` hooks.
struct Recording {
  std::vector<std::pair<TraceId, std::vector<std::string>>> visits;
  bool paused = false;
  bool stop_now = false;
  size_t stop_after = SIZE_MAX;
  bool done = false;
  TraceScanStats stats;
  const ColumnFilter* filter = nullptr;
};

class RecordingSink final : public TraceScanSink {
 public:
  explicit RecordingSink(Recording& r) : r_(r) {}
  bool visit(const TraceId& id, std::string_view trace) override {
    r_.visits.emplace_back(id, span_names(trace));
    return r_.visits.size() < r_.stop_after;
  }
  Control control() override {
    if (r_.stop_now) return Control::Stop;
    return r_.paused ? Control::Yield : Control::Continue;
  }
  const ColumnFilter* column_filter() const override { return r_.filter; }
  void done(const TraceScanStats& stats) override {
    r_.stats = stats;
    r_.done = true;
  }

 private:
  Recording& r_;
};

// Keeps traces with a span named `name`: blocks and pages by their value sets, rows by their spans' names.
class SpanNameFilter final : public ColumnFilter {
 public:
  explicit SpanNameFilter(std::string name) : name_(std::move(name)) {}
  std::unique_ptr<ColumnBlockFilter> for_block(const ColumnBlockSummary& s) const override {
    return std::make_unique<Block>(*this, s);
  }

 private:
  static constexpr size_t kCol = static_cast<size_t>(StringColumn::Name);
  class Block final : public ColumnBlockFilter {
   public:
    Block(const SpanNameFilter& f, const ColumnBlockSummary& s) : f_(f) {
      const auto& dict = s.dicts[kCol];
      auto it = std::find(dict.begin(), dict.end(), f.name_);
      id_ = it == dict.end() ? -1 : static_cast<int>(it - dict.begin());
      block_ = id_ >= 0 || s.values[kCol].overflow;
    }
    bool block_may_match() const override { return block_; }
    bool page_may_match(const ColumnPageEntry& e) const override {
      const auto& ids = e.values[kCol].ids;
      return e.values[kCol].overflow || std::find(ids.begin(), ids.end(), id_) != ids.end();
    }
    void match_rows(const ColumnPage& page, std::vector<uint8_t>& candidates) const override {
      const auto& dict = page.dicts[kCol];
      candidates.assign(page.rows.size(), 0);
      for (size_t r = 0; r < page.rows.size(); ++r) {
        for (uint32_t i = 0; i < page.rows[r].span_count; ++i) {
          uint32_t v = page.spans[page.rows[r].first_span + i].str[kCol];
          if (v >= kFirstDictString && dict[v - kFirstDictString] == f_.name_) candidates[r] = 1;
        }
      }
    }

   private:
    const SpanNameFilter& f_;
    int id_ = -1;
    bool block_ = true;
  };
  std::string name_;
};

// Visits per trace: the sorted span-name lists of its pieces.
std::map<TraceId, std::vector<std::vector<std::string>>> by_trace(const Recording& r) {
  std::map<TraceId, std::vector<std::vector<std::string>>> out;
  for (const auto& [id, names] : r.visits) out[id].push_back(names);
  for (auto& [id, pieces] : out) std::sort(pieces.begin(), pieces.end());
  return out;
}

class TraceScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TraceStoreOptions o;
    o.wal_dir = dir_.path() + "/wal";
    o.blocks_dir = dir_.path() + "/blocks";
    o.wal_sync_interval_ms = 1;
    o.flush_check_ms = 10 * kHourMs;  // the tests cut and compact explicitly
    o.idle_ms = kHourMs;
    o.max_live_ms = 10 * kHourMs;
    o.compaction_inputs = 2;
    o.block_page_bytes = 2000;  // blocks of many pages
    store_ = std::make_unique<TraceStore>(loop_.get(), o);
    Status s = store_->open();
    ASSERT_TRUE(s.is_ok()) << s.to_string();
  }
  void TearDown() override {
    bool closed = false;
    store_->close([&] { closed = true; });
    EXPECT_TRUE(loop_.run_until([&] { return closed; }));
  }

  void append(SpanBatch batch) {
    bool done = false;
    AppendResult result;
    store_->append(std::make_unique<SpanBatch>(std::move(batch)), [&](AppendResult r) {
      result = std::move(r);
      done = true;
    });
    ASSERT_TRUE(loop_.run_until([&] { return done; }));
    ASSERT_TRUE(result.status.is_ok()) << result.status.to_string();
  }
  void cut() {
    bool done = false;
    store_->cut_now(0, true, [&] { done = true; });
    ASSERT_TRUE(loop_.run_until([&] { return done; }));
  }
  void compact() {
    bool done = false;
    store_->maintain_now(wall_now_ns(), [&] { done = true; });
    ASSERT_TRUE(loop_.run_until([&] { return done; }));
  }
  void start(Recording& r, TraceScanOptions o = {}) {
    TraceScan::start(*store_, o, std::make_unique<RecordingSink>(r));
  }
  void finish(Recording& r) {
    r.paused = false;
    ASSERT_TRUE(loop_.run_until([&] { return r.done; })) << "scan did not finish";
  }

  TempDir dir_{"spindle-trace-scan"};
  TestLoop loop_;
  std::unique_ptr<TraceStore> store_;
};

TEST_F(TraceScanTest, VisitsTheRecentPieceAndEachBlockPiece) {
  append(batch_of({{id_of(1), 1}, {id_of(1), 2}, {id_of(3), 1}}));
  cut();
  ASSERT_EQ(store_->block_count(), 1u);
  append(batch_of({{id_of(1), 3}, {id_of(2), 1}}));
  Recording r;
  start(r);
  EXPECT_FALSE(r.done);  // never inside start()
  finish(r);
  auto traces = by_trace(r);
  ASSERT_EQ(traces.size(), 3u);
  using Pieces = std::vector<std::vector<std::string>>;
  EXPECT_EQ(traces[id_of(1)], (Pieces{{"op-1", "op-2"}, {"op-3"}}));
  EXPECT_EQ(traces[id_of(2)], (Pieces{{"op-1"}}));
  EXPECT_EQ(traces[id_of(3)], (Pieces{{"op-1"}}));
  // Recent pieces come first.
  EXPECT_TRUE(r.visits[0].first == id_of(1) || r.visits[0].first == id_of(2));
  EXPECT_EQ(r.stats.traces, 4u);
  EXPECT_EQ(r.stats.blocks, 1u);
  EXPECT_GT(r.stats.bytes, 0u);
  EXPECT_GT(r.stats.block_bytes, 0u);
  EXPECT_EQ(r.stats.read_errors, 0u);
}

TEST_F(TraceScanTest, ColumnFilterSkipsBlocksPagesAndRows) {
  std::vector<std::pair<TraceId, uint64_t>> spans;
  for (uint32_t i = 0; i < 200; ++i) spans.push_back({id_of(i), i == 137 ? 7 : 1});
  append(batch_of(spans));
  cut();
  ASSERT_EQ(store_->block_count(), 1u);

  SpanNameFilter op7("op-7");
  Recording r;
  r.filter = &op7;
  start(r);
  finish(r);
  ASSERT_EQ(r.visits.size(), 1u);
  EXPECT_EQ(r.visits[0].first, id_of(137));
  EXPECT_EQ(r.stats.pages_read, 1u);
  EXPECT_GE(r.stats.pages_pruned, 10u);  // 200 traces in 2000-byte pages
  EXPECT_GT(r.stats.column_bytes, 0u);

  SpanNameFilter op9("op-9");
  Recording none;
  none.filter = &op9;
  start(none);
  finish(none);
  EXPECT_TRUE(none.visits.empty());
  EXPECT_EQ(none.stats.blocks_pruned, 1u);
  EXPECT_EQ(none.stats.pages_read + none.stats.pages_pruned, 0u);

  Recording all;  // without a filter every row is read
  start(all);
  finish(all);
  EXPECT_EQ(all.visits.size(), 200u);
  EXPECT_EQ(all.stats.pages_pruned, 0u);
  EXPECT_EQ(all.stats.pages_read, r.stats.pages_read + r.stats.pages_pruned);
}

TEST_F(TraceScanTest, WorksInSlicesAndStops) {
  std::vector<std::pair<TraceId, uint64_t>> spans;
  for (uint32_t i = 0; i < 50; ++i) spans.push_back({id_of(i), 1});
  append(batch_of(spans));
  Recording sliced;
  TraceScanOptions o;
  o.slice_traces = 7;
  start(sliced, o);
  finish(sliced);
  EXPECT_EQ(sliced.visits.size(), 50u);
  EXPECT_GE(sliced.stats.slices, 8u);  // ceil(50 / 7), plus the one that finds the end

  Recording limited;
  limited.stop_after = 5;
  start(limited);
  finish(limited);
  EXPECT_EQ(limited.visits.size(), 5u);

  Recording stopped;
  stopped.stop_now = true;
  start(stopped);
  finish(stopped);
  EXPECT_TRUE(stopped.visits.empty());
}

TEST_F(TraceScanTest, BlocksOutsideTheWindowAreSkipped) {
  append(batch_of({{id_of(1), 1}}, k2020Ns));
  cut();
  append(batch_of({{id_of(2), 1}}, k2025Ns));
  cut();
  ASSERT_EQ(store_->block_count(), 2u);
  Recording r;
  TraceScanOptions o;
  o.start_ns = k2025Ns - kSecondNs;
  o.end_ns = k2025Ns + kSecondNs;
  start(r, o);
  finish(r);
  ASSERT_EQ(r.visits.size(), 1u);
  EXPECT_EQ(r.visits[0].first, id_of(2));
  EXPECT_EQ(r.stats.blocks, 1u);
  // Recent only: blocks created before the cut-off are skipped.
  Recording recent;
  TraceScanOptions ro;
  ro.min_block_created_ns = wall_now_ns() + 3600 * kSecondNs;
  start(recent, ro);
  finish(recent);
  EXPECT_TRUE(recent.visits.empty());
  EXPECT_EQ(recent.stats.blocks, 0u);
}

TEST_F(TraceScanTest, RecentTraceCutDuringTheScanIsFoundOnceInItsNewBlock) {
  append(batch_of({{id_of(1), 1}, {id_of(1), 2}, {id_of(2), 1}}));
  Recording r;
  r.paused = true;
  start(r);  // the snapshot: two recent IDs, no blocks
  cut();     // both traces leave the head for a new block while the scan waits
  ASSERT_EQ(store_->block_count(), 1u);
  ASSERT_EQ(store_->head().stats().live_traces, 0u);
  EXPECT_TRUE(r.visits.empty());
  finish(r);
  auto traces = by_trace(r);
  ASSERT_EQ(traces.size(), 2u);
  using Pieces = std::vector<std::vector<std::string>>;
  EXPECT_EQ(traces[id_of(1)], (Pieces{{"op-1", "op-2"}}));
  EXPECT_EQ(traces[id_of(2)], (Pieces{{"op-1"}}));
  EXPECT_EQ(r.stats.blocks, 0u);  // the new block is not scanned again
}

TEST_F(TraceScanTest, BlocksCompactedAwayDuringTheScanAreStillRead) {
  for (uint32_t b = 0; b < 2; ++b) {
    std::vector<std::pair<TraceId, uint64_t>> spans;
    for (uint32_t i = 0; i < 20; ++i) spans.push_back({id_of(b * 100 + i), 1});
    append(batch_of(spans));
    cut();
  }
  ASSERT_EQ(store_->block_count(), 2u);
  std::vector<std::string> before;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path() + "/blocks/shard-0")) {
    before.push_back(e.path().string());
  }
  ASSERT_EQ(before.size(), 2u);
  Recording r;
  r.paused = true;
  start(r);
  compact();
  ASSERT_EQ(store_->block_count(), 1u);
  for (const std::string& dir : before) EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
  finish(r);
  EXPECT_EQ(r.visits.size(), 40u);
  EXPECT_EQ(by_trace(r).size(), 40u);  // each once: the compacted block is not visited
  EXPECT_EQ(r.stats.blocks, 2u);
  EXPECT_EQ(r.stats.read_errors, 0u);
}

}  // namespace
}  // namespace spindle
