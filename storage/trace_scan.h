#pragma once
// TraceScan: visits every trace piece one shard's TraceStore holds, for searches and tag lookups, in slices so
// ingest on the shard keeps flowing while a search runs.
//
// What is visited, in this order:
//   1. Recent traces: the IDs live in the head or in a cut in progress, snapshotted when the scan starts (the
//      head changes between slices). Each is looked up again when its slice comes: head, cuts in progress, and
//      level-0 blocks written since the scan started (a trace cut meanwhile is found there). The pieces found
//      are merged into one trace. A trace that has left the head entirely before the scan reaches it is
//      still found; one that arrived after the start is not (the snapshot is the scan's view).
//   2. Blocks: every block present when the scan started whose time range overlaps the window (and, for a
//      "recent data only" scan, that was created recently), row by row through BlockReader::Cursor. Rows
//      whose own [start, end] misses the window are skipped without decoding the trace. The scan holds the
//      blocks' readers, so compaction or retention removing a block meanwhile does not disturb it (its files
//      stay readable through the open descriptor); blocks written by compaction during the scan are not
//      visited (their rows came from blocks already being visited).
//      With a ColumnFilter from the sink, blocks that have search columns (search_columns.h) are pruned first:
//      whole blocks by their summary, pages by their footer entry (without reading them), and rows by their
//      columns; only pages with a candidate row are decompressed and only candidate rows are visited. The sink still evaluates every
//      visited piece: the filter only rules out, it never decides a match.
// A trace may therefore be visited more than once: once for its recent piece and once per block holding an
// older piece. Callers evaluate per piece and merge results by trace ID, as Tempo does per block.
//
// Slicing: a slice visits at most `slice_traces` pieces or runs about `slice_ns`, then yields to the loop. The
// next slice runs from a uv_idle handle, i.e. on the next loop iteration after I/O was polled. (A 0 ms
// uv_timer re-armed from its own callback would run again within the same iteration on libuv 1.44 and starve
// I/O.)
//
// Lifetime: start() creates a self-owning scan. It ends after the sink's done(), which always runs exactly
// once, later on the loop (never inside start()). The TraceStore must outlive the scan: the server drains every
// search (their replies are cross-shard requests) before it closes stores.
//
// Threading: the store's loop thread only.
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/status.h"
#include "core/trace_id.h"

namespace spindle {

class TraceStore;
class BlockReader;
class ColumnFilter;

struct TraceScanOptions {
  // Blocks and block rows must overlap [start_ns, end_ns] (inclusive); end_ns 0 = unbounded. Recent pieces are
  // not filtered here (their times are known only once decoded): sinks check them.
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  // Blocks created (wall clock) before this are skipped; 0 = every block. For "recent data only" lookups.
  uint64_t min_block_created_ns = 0;
  uint32_t slice_traces = 256;
  uint64_t slice_ns = 1000000;
};

struct TraceScanStats {
  uint64_t traces = 0;       // pieces visited
  uint64_t bytes = 0;        // their serialized size
  uint64_t blocks = 0;       // blocks whose rows were read
  uint64_t block_bytes = 0;  // their data bytes
  uint64_t read_errors = 0;  // damaged pages met (the rest of that block is skipped, logged)
  uint64_t slices = 0;
  // Column pruning: blocks passed over by their summary, data pages left undecoded (summary or no candidate
  // row), data pages decoded, and column page bytes read.
  uint64_t blocks_pruned = 0;
  uint64_t pages_pruned = 0;
  uint64_t pages_read = 0;
  uint64_t column_bytes = 0;
};

class TraceScanSink {
 public:
  virtual ~TraceScanSink() = default;
  // One piece: `trace` is a serialized tempopb.Trace, valid during the call only. Return false to stop.
  virtual bool visit(const TraceId& id, std::string_view trace) = 0;
  enum class Control : uint8_t { Continue, Stop, Yield };
  // Polled before every piece: Stop ends the scan (e.g. another shard already found enough); Yield ends the
  // current slice without visiting anything and asks again on the next loop iteration (a sink that must wait,
  // e.g. for a slow client; the loop keeps iterating meanwhile, so only for short waits).
  virtual Control control() { return Control::Continue; }
  // Rules out blocks, pages and rows by their search columns; null = visit everything. Polled once at start;
  // it must stay valid until done().
  virtual const ColumnFilter* column_filter() const { return nullptr; }
  // The last call; the sink is destroyed after it returns.
  virtual void done(const TraceScanStats& stats) = 0;
};

class TraceScan {
 public:
  static void start(TraceStore& store, const TraceScanOptions& options, std::unique_ptr<TraceScanSink> sink);

 private:
  TraceScan(TraceStore& store, const TraceScanOptions& options, std::unique_ptr<TraceScanSink> sink);
  ~TraceScan();
  static void on_idle(uv_idle_t* handle);
  void slice();
  // One step: visits at most one piece. False when the scan is over.
  bool step();
  bool step_recent();
  bool step_blocks();
  struct BlockState;
  // Moves `b` to its next data page: decodes it, unless the column filter rules every row out.
  void next_page(BlockState& b);
  // Whether a piece spanning [start_ns, end_ns] overlaps the scan's window.
  bool in_window(uint64_t start_ns, uint64_t end_ns) const;
  // A damaged page or column page: counted and logged.
  void read_error(const BlockReader& block, const Status& s);
  void finish();

  TraceStore& store_;
  TraceScanOptions options_;
  std::unique_ptr<TraceScanSink> sink_;
  uv_idle_t idle_{};
  TraceScanStats stats_;
  bool finished_ = false;

  std::vector<TraceId> recent_;
  size_t next_recent_ = 0;
  // Blocks present at the start: those in the window are visited in phase 2; none is searched again for recent
  // pieces. All are held so that no new block can reuse a known one's address.
  std::vector<std::shared_ptr<BlockReader>> blocks_;
  std::vector<std::shared_ptr<BlockReader>> known_;
  std::unordered_set<const BlockReader*> known_blocks_;
  size_t next_block_ = 0;
  std::unique_ptr<BlockState> block_;
  const ColumnFilter* filter_ = nullptr;
};

}  // namespace spindle
