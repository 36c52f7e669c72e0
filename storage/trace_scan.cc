#include "storage/trace_scan.h"

#include <optional>
#include <string>

#include "core/log.h"
#include "storage/block_reader.h"
#include "storage/trace_merge.h"
#include "storage/trace_store.h"

namespace spindle {

struct TraceScan::BlockState {
  std::shared_ptr<BlockReader> block;
  size_t next_page = 0;
  std::string raw;
  std::vector<BlockRow> rows;
  size_t pos = 0;                   // next row of `rows`
  std::vector<uint8_t> candidates;  // per row of `rows`; empty = every row
  std::string column_raw;
  ColumnPage columns;
  std::unique_ptr<ColumnBlockFilter> judge;  // null: no filter, or the block has no columns
};

void TraceScan::start(TraceStore& store, const TraceScanOptions& options, std::unique_ptr<TraceScanSink> sink) {
  auto* scan = new TraceScan(store, options, std::move(sink));
  uv_idle_init(store.loop_, &scan->idle_);
  scan->idle_.data = scan;
  uv_idle_start(&scan->idle_, on_idle);
}

TraceScan::TraceScan(TraceStore& store, const TraceScanOptions& options, std::unique_ptr<TraceScanSink> sink)
    : store_(store), options_(options), sink_(std::move(sink)) {
  if (options_.slice_traces == 0) options_.slice_traces = 1;
  filter_ = sink_->column_filter();
  ++store_.stats_.search_scans_active;
  // The snapshot: recent IDs (head, then cuts in progress, without repeats) and the block list.
  store_.head_.live_trace_ids(recent_);
  const HeadStore::HeadCut* cuts[2] = {store_.building_.get(), store_.written_.get()};
  if (cuts[0] != nullptr || cuts[1] != nullptr) {
    std::unordered_set<TraceId, TraceIdHash> seen(recent_.begin(), recent_.end());
    for (const HeadStore::HeadCut* cut : cuts) {
      if (cut == nullptr) continue;
      for (const HeadStore::CutTrace& t : cut->traces) {
        if (seen.insert(t.id).second) recent_.push_back(t.id);
      }
    }
  }
  blocks_.reserve(store_.blocks_.size());
  known_.reserve(store_.blocks_.size());
  for (const TraceStore::Block& b : store_.blocks_) {
    known_.push_back(b.reader);
    known_blocks_.insert(b.reader.get());
    const BlockMeta& m = b.reader->meta();
    if (!m.overlaps(options_.start_ns, options_.end_ns)) continue;
    if (options_.min_block_created_ns != 0 && m.created_ns < options_.min_block_created_ns) continue;
    blocks_.push_back(b.reader);
  }
}

TraceScan::~TraceScan() = default;

void TraceScan::on_idle(uv_idle_t* handle) { static_cast<TraceScan*>(handle->data)->slice(); }

void TraceScan::slice() {
  if (finished_) return;
  ++stats_.slices;
  const uint64_t deadline = uv_hrtime() + options_.slice_ns;
  for (uint32_t n = 0; n < options_.slice_traces; ++n) {
    TraceScanSink::Control c = sink_->control();
    if (c == TraceScanSink::Control::Yield) return;
    // A store that is closing is about to go away: stop with what was found.
    if (store_.closing_ || c == TraceScanSink::Control::Stop || !step()) {
      finish();
      return;
    }
    if (uv_hrtime() >= deadline) break;
  }
}

bool TraceScan::step() {
  if (next_recent_ < recent_.size()) return step_recent();
  return step_blocks();
}

bool TraceScan::step_recent() {
  const TraceId& id = recent_[next_recent_++];
  std::vector<std::string> pieces;
  if (auto t = store_.head_.find_trace(id)) pieces.push_back(std::move(*t));
  for (const auto* cut : {store_.building_.get(), store_.written_.get()}) {
    if (cut == nullptr) continue;
    if (auto t = cut->find(id)) pieces.push_back(std::move(*t));
  }
  // Cut and written since the scan started: only level-0 blocks come from cuts; compaction outputs hold rows
  // of blocks the scan already has.
  for (const TraceStore::Block& b : store_.blocks_) {
    if (b.reader->meta().level != 0 || known_blocks_.count(b.reader.get()) != 0) continue;
    if (!b.reader->may_contain(id)) continue;
    auto t = b.reader->find(id);
    if (!t.ok()) {
      ++stats_.read_errors;
      ++store_.stats_.block_read_errors;
      log_error("search: trace %s: %s", id.to_hex().c_str(), t.status().message().c_str());
      continue;
    }
    if (*t) pieces.push_back(std::move(**t));
  }
  if (pieces.empty()) return true;  // gone (cut and then compacted or deleted meanwhile)
  std::string merged;
  std::string_view trace = pieces[0];
  if (pieces.size() > 1) {
    std::vector<std::string_view> views(pieces.begin(), pieces.end());
    auto m = merge_traces(views);
    if (!m.ok()) {
      log_error("search: trace %s: %s", id.to_hex().c_str(), m.status().message().c_str());
      return true;
    }
    merged = std::move(m).value();
    trace = merged;
  }
  ++stats_.traces;
  stats_.bytes += trace.size();
  return sink_->visit(id, trace);
}

bool TraceScan::step_blocks() {
  // Rows and pages ruled out cost little; several of them count as one step (a page load as 16 rows).
  for (int skipped = 0; skipped < 64;) {
    if (!block_) {
      if (next_block_ >= blocks_.size()) return false;
      std::shared_ptr<BlockReader> block = blocks_[next_block_++];
      std::unique_ptr<ColumnBlockFilter> judge;
      if (filter_ != nullptr && block->has_columns()) {
        judge = filter_->for_block(block->column_summary());
        if (!judge->block_may_match()) {
          ++stats_.blocks_pruned;
          ++store_.stats_.search_blocks_pruned;
          ++skipped;
          continue;
        }
      }
      ++stats_.blocks;
      stats_.block_bytes += block->meta().data_bytes;
      block_ = std::make_unique<BlockState>();
      block_->block = std::move(block);
      block_->judge = std::move(judge);
    }
    BlockState& b = *block_;
    if (b.pos >= b.rows.size()) {
      if (b.next_page >= b.block->pages()) {
        block_.reset();
        continue;
      }
      next_page(b);
      skipped += 16;
      continue;
    }
    size_t i = b.pos++;
    if (!b.candidates.empty() && b.candidates[i] == 0) {
      ++skipped;
      continue;
    }
    const BlockRow& row = b.rows[i];
    if (!in_window(row.start_ns, row.end_ns)) {
      ++skipped;
      continue;
    }
    ++stats_.traces;
    stats_.bytes += row.trace.size();
    return sink_->visit(row.id, row.trace);
  }
  return true;
}

void TraceScan::next_page(BlockState& b) {
  const size_t page = b.next_page++;
  b.rows.clear();
  b.pos = 0;
  b.candidates.clear();
  BlockReader& block = *b.block;
  if (b.judge) {
    const ColumnPageEntry& entry = block.column_index()[page];
    if (!b.judge->page_may_match(entry)) {
      ++stats_.pages_pruned;
      ++store_.stats_.search_pages_pruned;
      return;
    }
    stats_.column_bytes += entry.size;
    Status s = block.load_columns(page, b.column_raw, b.columns);
    if (s.is_ok()) {
      b.judge->match_rows(b.columns, b.candidates);
      bool any = false;
      for (size_t r = 0; r < b.candidates.size(); ++r) {
        const ColumnPage::Row& row = b.columns.rows[r];
        if (!in_window(row.start_ns, row.end_ns)) b.candidates[r] = 0;
        any = any || b.candidates[r] != 0;
      }
      if (!any) {
        ++stats_.pages_pruned;
        ++store_.stats_.search_pages_pruned;
        return;
      }
    } else {
      // Damaged columns: the traces themselves may still be fine; decode them all.
      read_error(block, s);
      b.candidates.clear();
    }
  }
  Status s = block.load_page(page, b.raw, b.rows);
  if (!s.is_ok()) {
    // A damaged page: what the other blocks hold still counts. The rest of this block is skipped.
    read_error(block, s);
    b.rows.clear();
    b.next_page = block.pages();
    return;
  }
  ++stats_.pages_read;
  ++store_.stats_.search_pages_read;
  if (!b.candidates.empty() && b.candidates.size() != b.rows.size()) b.candidates.clear();
}

bool TraceScan::in_window(uint64_t start_ns, uint64_t end_ns) const {
  return end_ns >= options_.start_ns && (options_.end_ns == 0 || start_ns <= options_.end_ns);
}

void TraceScan::read_error(const BlockReader& block, const Status& s) {
  ++stats_.read_errors;
  ++store_.stats_.block_read_errors;
  log_error("search: block %s: %s", block.meta().block_id.c_str(), s.message().c_str());
}

void TraceScan::finish() {
  finished_ = true;
  --store_.stats_.search_scans_active;
  uv_idle_stop(&idle_);
  block_.reset();
  blocks_.clear();
  known_.clear();
  std::unique_ptr<TraceScanSink> sink = std::move(sink_);
  sink->done(stats_);
  sink.reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_),
           [](uv_handle_t* h) { delete static_cast<TraceScan*>(h->data); });
}

}  // namespace spindle
