#pragma once
// TraceStore: everything one shard keeps — its WAL, its head (live traces in memory) and its blocks on disk — and
// the background work between them: cutting traces from the head into blocks, deleting WAL segments whose spans
// are all in durable blocks, compaction and retention. docs: storage/README.md has the on-disk layout.
//
// Write path, WAL first: reserve room in the head -> append the batch to the WAL -> on the WAL's callback
// (durable per the ack policy) append it to the head -> reply. In the other order a batch whose WAL write
// failed would already sit in the head, and the client's retry would be "acknowledged" by the head's duplicate
// drop without ever reaching the disk.
//
// Life of a trace: appended to the head; cut once idle for `idle_ms`, live longer than `max_live_ms`, or early
// (oldest first) when the head passes 3/4 of its budget or the WAL segments it pins hold more than the head's
// budget; written, sorted with the rest of its cut, into a
// level-0 block; compacted with other blocks of its time window; deleted by retention. While a cut is being
// written its traces stay findable through the cut; its memory and WAL pins are released only once the block is
// durable (written, fsynced, renamed, directory fsynced). WAL segments older than every pinned one are deleted
// after each cut.
//
// Where the work runs: every decision, lookup and piece of bookkeeping runs on the shard's loop. Taking traces
// out of the head happens in slices of kCutSliceSpans spans, one per loop iteration. The blocking file work —
// writing a block (assembly, zstd, pwrite, fsync, rename) and compaction — runs on libuv's thread pool, one job
// per shard at a time, because fsync cannot be sliced: on a shared machine it can take tens of milliseconds.
// Deleting block directories (a handful of unlinks) runs on the loop.
//
// Failures: a block write that fails (disk full, I/O error) is logged, counted and retried every second; its
// traces stay in memory and in the WAL meanwhile, so the head fills and ingest is refused with a retryable
// status until space returns. A block that fails to open at start is logged, counted and skipped (left on disk
// for inspection); one written with another shard count stops the start with advice.
//
// Threading: every public method is called on the owning shard's loop thread. A block job touches only its own
// job object, the HeadCut it writes (read-only; the loop does not change it until the job is done) and files.
#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/status.h"
#include "proto/span_batch.h"
#include "storage/block_reader.h"
#include "storage/head_store.h"
#include "storage/wal.h"
#include "storage/wal_reader.h"

namespace spindle {

struct TraceStoreOptions {
  uint32_t shard = 0;
  uint32_t shard_count = 1;
  std::string wal_dir;     // storage.trace.wal.path (the WAL keeps shard-N/ below it)
  std::string blocks_dir;  // storage.trace.local.path (blocks live in shard-N/<block-id>/ below it)
  WalAckPolicy ack = WalAckPolicy::Synced;
  bool wal_enabled = true;  // false (spindle.wal.ack: none): acknowledged from memory, lost in a crash
  uint64_t wal_segment_bytes = 64ull << 20;
  uint64_t wal_sync_bytes = 256ull << 10;
  uint32_t wal_sync_interval_ms = 100;
  HeadLimits head;
  uint64_t idle_ms = 10000;
  uint64_t max_live_ms = 30 * 60000;
  uint64_t flush_check_ms = 10000;
  uint64_t retention_ms = 14ull * 24 * 3600 * 1000;
  uint64_t compaction_window_ms = 3600 * 1000;
  uint32_t compaction_inputs = 4;
  uint32_t block_page_bytes = 128 << 10;  // BlockWriteOptions::page_bytes (tests make it small for many pages)
  WalFileOps wal_file_ops;  // fault injection for tests
};

inline constexpr uint32_t kMaxBlockLevels = 8;
// Upper bounds (ms) of the loop-lag histogram buckets; a last, unbounded bucket follows.
inline constexpr std::array<uint64_t, 8> kLoopLagBoundsMs = {1, 2, 5, 10, 25, 50, 100, 250};  // levels counted separately in stats; higher ones share the last

struct TraceStoreStats {
  HeadStats head;
  WalStats wal;
  WalReplayStats replay;
  uint64_t replay_batches_rejected = 0;  // records that decoded but did not fit (never expected)
  uint64_t replay_bad_records = 0;       // records whose payload did not decode
  std::array<uint64_t, kMaxBlockLevels> blocks{};       // per compaction level
  std::array<uint64_t, kMaxBlockLevels> block_bytes{};  // data bytes per level
  uint64_t blocks_skipped_at_open = 0;  // unreadable blocks left on disk
  uint64_t cuts = 0;                    // blocks written from the head
  uint64_t cut_traces = 0;
  uint64_t cut_spans = 0;
  uint64_t block_write_errors = 0;
  uint64_t compactions = 0;
  uint64_t compacted_blocks = 0;  // inputs merged away
  uint64_t compaction_errors = 0;
  uint64_t retention_deleted_blocks = 0;
  uint64_t block_read_errors = 0;  // lookups that met a corrupt page
  // Searches over blocks (TraceScan): data pages decoded, and pages and blocks their search columns ruled out.
  uint64_t search_pages_read = 0;
  uint64_t search_pages_pruned = 0;
  uint64_t search_blocks_pruned = 0;
  uint64_t search_scans_active = 0;  // searches and tag lookups scanning this store now (a gauge)
  uint64_t storage_refusals = 0;   // appends refused because the WAL could not take them
  // How late the store's 100 ms tick fires: how long the shard's loop was kept from polling (by ingest, queries,
  // cut slices, anything on that loop). Per-bucket counts (not cumulative), and the worst seen.
  std::array<uint64_t, kLoopLagBoundsMs.size() + 1> loop_lag_buckets{};
  uint64_t loop_lag_max_ms = 0;
  uint64_t loop_lag_sum_ms = 0;
};

class TraceStore {
 public:
  // Spans per slice of taking traces from the head: about a millisecond of loop time.
  static constexpr uint64_t kCutSliceSpans = 20000;

  TraceStore(uv_loop_t* loop, TraceStoreOptions options);
  ~TraceStore();
  TraceStore(const TraceStore&) = delete;
  TraceStore& operator=(const TraceStore&) = delete;
  // Searches read the head, the cuts in progress and the block list in slices on this loop.
  friend class TraceScan;

  // Blocking, before the shard serves: creates the directories (a clear error if that is impossible), removes
  // `.tmp-` leftovers, opens the blocks, replays the WAL into the head, opens the WAL and starts the timers.
  Status open();

  // The write path above. done(result) runs on this loop: inside append() when the batch is refused up front
  // (head full, shutting down) or the WAL is off, otherwise once the WAL has the batch.
  void append(std::unique_ptr<SpanBatch> batch, std::function<void(AppendResult)> done);

  // Trace by ID over head, cuts in progress and blocks (blocks pruned by [start_ns, end_ns], end 0 =
  // unbounded, then by bloom filter). Pieces from several places merge into one trace without duplicates.
  Result<std::optional<std::string>> find_trace(const TraceId& id, uint64_t start_ns = 0, uint64_t end_ns = 0);

  // Stops the timers, waits for the running block job, closes the WAL (syncing it); done() runs on the loop.
  // The caller keeps running the loop until then.
  void close(std::function<void()> done);

  TraceStoreStats stats() const;
  const HeadStore& head() const { return head_; }
  const TraceStoreOptions& options() const { return options_; }
  size_t block_count() const { return blocks_.size(); }

  // Tests: run the cut rules now as if `now_ms` were the loop's time (0 = the loop's time), or cut every trace;
  // done() runs once no cut or job is left (the new block, if any, is durable). If work is already under way, no
  // new cut starts and done() waits for that work.
  void cut_now(uint64_t now_ms, bool everything, std::function<void()> done);
  // Tests: one compaction/retention pass now; done() when its job (if any) finished.
  void maintain_now(uint64_t wall_now_ns, std::function<void()> done);

 private:
  struct Block {
    // Shared with searches in progress (storage/trace_scan.h): a scan keeps the blocks it started with readable
    // while compaction or retention removes them (an unlinked file stays readable through its open fd).
    std::shared_ptr<BlockReader> reader;
    bool compacting = false;
    bool no_compact = false;  // a merge of it failed: leave it as it is
  };
  struct Job;

  std::string shard_blocks_dir() const;
  Status open_blocks();
  Status open_wal();
  void start_timers();
  Status replay();
  static void on_tick(uv_timer_t* timer);
  static void on_slice(uv_idle_t* idle);
  void tick();
  bool head_under_pressure() const;
  uint64_t wal_seq_floor() const;
  void start_cut(const CutRules& rules);
  void cut_slice();
  void submit_cut();
  void start_job(std::unique_ptr<Job> job);
  void finish_job(Job* job);
  void finish_cut_job(Job& job);
  void finish_compaction_job(Job& job);
  // Starts whatever background work is due and allowed: a written cut's block job, maintenance.
  void pump();
  bool busy() const { return building_ || written_ || cut_job_ || compaction_job_; }
  void trim_wal();
  void maintain(uint64_t wall_now_ns);
  void apply_retention(uint64_t wall_now_ns);
  bool start_compaction(uint64_t wall_now_ns);
  void remove_block(size_t index);
  void maybe_finish_close();
  void notify_idle();

  uv_loop_t* loop_;
  TraceStoreOptions options_;
  HeadStore head_;
  std::unique_ptr<Wal> wal_;
  std::vector<Block> blocks_;
  uv_timer_t tick_timer_{};
  // Runs the next cut slice on the next loop iteration. An idle handle, not a 0 ms timer: libuv runs a timer
  // re-armed from its own callback again in the same iteration, so a cut would never yield to I/O.
  uv_idle_t slice_idle_{};
  bool timers_open_ = false;
  uint32_t handles_closing_ = 0;

  CutRules cut_rules_;
  std::unique_ptr<HeadStore::HeadCut> building_;  // being taken from the head, slice by slice
  std::unique_ptr<HeadStore::HeadCut> written_;   // handed to a block job, or waiting to retry one
  // Jobs in flight: at most one of each kind, so a long compaction never delays writing the head's cuts.
  Job* cut_job_ = nullptr;
  Job* compaction_job_ = nullptr;
  bool maintenance_due_ = false;
  uint64_t retry_at_ms_ = 0;
  uint64_t next_tick_ms_ = 0;  // when the tick is due, for the loop-lag figures
  uint64_t next_rules_ms_ = 0;
  bool write_failing_ = false;  // inside a failure episode (logged once)

  bool closing_ = false;
  bool wal_closed_ = false;
  std::function<void()> close_done_;
  std::vector<std::function<void()>> idle_waiters_;  // tests: cut_now / maintain_now

  TraceStoreStats stats_;
};

// Removes a block directory (its files, then the directory). Errors name the path.
Status remove_block_dir(const std::string& dir);

}  // namespace spindle
