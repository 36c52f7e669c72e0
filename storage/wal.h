#pragma once
// Wal: one shard's write-ahead log. The owner shard appends each SpanBatch it is about to keep (encoded by
// storage/span_batch_codec.h) and replies to the ingest request when the append's callback fires; at start it
// replays the segments (storage/wal_reader.h) before opening the Wal for new appends. Files and framing:
// storage/wal_segment.h.
//
// Write path (the loop never waits for the disk):
//   - append() writes the record with pwritev(2) on the loop thread. That only copies into the page cache,
//     which is cheap; the write offset is then published to the sync thread.
//   - The sync thread (one std::thread per Wal) runs fdatasync. Policy Synced: as soon as the previous sync
//     finished and anything is unsynced, so a lone request waits for one sync and, under load, each sync
//     covers everything written while the previous one ran (group commit without an added delay). Policy
//     Written: when sync_bytes have accumulated since the last sync started, or sync_interval_ms after the
//     first write not yet covered by one (Redpanda's 256 KiB / 100 ms defaults; fdatasync costs
//     milliseconds on the dev VM, architecture.md 5.2).
//     A new segment also gets its directory fsynced, or the file itself could vanish in a crash.
//   - When a sync completes it wakes the loop with a uv_async_t; the loop runs, in append order, the
//   callbacks
//     of every record at or below the synced offset.
//   - Ack policy Synced: a callback fires once its record is on disk. Written: once it is in the page cache
//     (survives a process crash, not a power loss); the background sync still runs.
//   - Callbacks always run on the loop thread and never inside append() (an immediate result is delivered on
//     a later loop iteration through the same async handle), so callers need no re-entrancy care.
//
// Failures:
//   - Disk full (ENOSPC/EDQUOT) while writing: the partial record is cut off again with ftruncate, the
//   callback
//     gets Unavailable (retryable), a warning is logged once per episode and append_errors/disk_full_errors
//     count every failure. Nothing written before is touched, and the next append simply tries again.
//   - Other write errors: Internal. If even the rollback fails, the next append starts a new segment.
//   - A failed fdatasync: every callback the sync covered gets Unavailable (the data may or may not be on
//     disk: clients retry, and the head drops exact duplicates), and the next append starts a new segment,
//     since the kernel may have dropped the failed pages (fsyncgate: retrying fsync on the same file proves
//     nothing).
//
// Segments roll when the next record would take the current one past segment_bytes (a record larger than
// that gets a segment of its own). Every open() starts a new segment after the highest existing seq, so a
// segment is only ever written by one process run. Deleting: remove_segments_before(seq) once every span of
// those segments is in a durable block.
//
// Threads: every public method is called on the loop thread that owns the Wal, the one passed to the
// constructor. The sync thread touches the state under mu_ (offsets, descriptors to sync, results and sync
// statistics), plus options_ and dir_fd_, which do not change while it runs; it syncs descriptors the loop
// never closes while it may use them (rolled segments are handed over, and closed by the sync thread).
// Handing results over under the mutex is also what orders the sync thread's writes before the loop's reads,
// so no separate fence is needed around uv_async_send.
//
// Lifetime: after a successful open(), call close() once and destroy the Wal only after close's callback ran
// (the uv_async_t handle lives inside it). The open handle keeps the loop alive until then.
#include <uv.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/status.h"
#include "storage/wal_segment.h"

namespace spindle {

enum class WalAckPolicy { Synced, Written };

struct WalOptions {
  std::string dir;  // storage.trace.wal.path; shard N uses <dir>/shard-N/
  uint32_t shard = 0;
  uint32_t shard_count = 1;
  uint64_t segment_bytes = 64u << 20;
  uint64_t sync_bytes = 256u << 10;
  uint32_t sync_interval_ms = 100;
  WalAckPolicy ack = WalAckPolicy::Synced;
  // Synced only: start a sync as soon as the previous one finished (the default, see above); false leaves
  // syncs to the byte and time triggers, as for Written (tests use it to hold acks back).
  bool sync_at_once = true;
  WalFileOps file_ops;  // fault injection for tests; empty means the real system calls
};

// Upper bounds (microseconds) of the sync latency histogram buckets; a last, unbounded bucket follows.
inline constexpr std::array<uint64_t, 12> kWalSyncLatencyBoundsUs = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};

struct WalStats {
  uint64_t bytes_written = 0;  // record bytes (headers included) that reached the page cache
  uint64_t records_written = 0;
  uint64_t append_errors = 0;     // appends that failed, for any reason
  uint64_t disk_full_errors = 0;  // of which ENOSPC/EDQUOT
  uint64_t syncs = 0;             // sync rounds (each one fdatasync per touched segment)
  uint64_t sync_errors = 0;
  uint64_t segments_created = 0;
  uint64_t segments_removed = 0;
  uint64_t current_segment = 0;
  uint64_t live_segments = 0;  // segment files in the shard's directory, as far as this Wal knows
  uint64_t pending_acks = 0;   // Synced callbacks waiting for a sync
  // Per-bucket counts (not cumulative): [i] counts syncs <= kWalSyncLatencyBoundsUs[i] and above the previous
  // bound; the last entry counts the rest.
  std::array<uint64_t, kWalSyncLatencyBoundsUs.size() + 1> sync_latency_buckets{};
  uint64_t sync_latency_sum_us = 0;
};

class Wal {
 public:
  using Callback = std::function<void(Status)>;

  Wal(uv_loop_t* loop, WalOptions options);
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Creates <dir>/shard-N (and dir itself) if needed, starts a new segment and the sync thread. Errors name
  // the path and the reason (missing parent, permission, full disk).
  Status open();

  // Appends one record. done(Status) runs later on the loop thread: OK once durable per the ack policy,
  // Unavailable for a full disk (retry later), InvalidArgument for a payload over kMaxRecordPayload.
  // After append() returns, current_segment() is the seq of the segment that holds the record.
  void append(std::string_view payload, Callback done);

  uint64_t current_segment() const;
  // Closes the current segment now (if it holds any record) and starts the next one, so that a segment whose
  // spans are all in blocks can be deleted even when no further append would roll it. OK if nothing to do.
  Status start_new_segment();
  // Deletes the segments with a seq below `seq`, never the current one. Unlinking is a metadata operation
  // on the loop thread: call it rarely (after a block is cut), not per request.
  Status remove_segments_before(uint64_t seq);
  // Syncs everything written, runs every pending callback, stops the sync thread and closes the handle;
  // done() runs on the loop thread when all of that has happened. Appends made meanwhile fail with
  // FailedPrecondition.
  void close(std::function<void()> done);

  WalStats stats() const;
  const WalOptions& options() const { return options_; }

 private:
  enum class State { Idle, Open, Closing, Closed };
  struct SyncResult {
    uint64_t end = 0;  // every byte below this logical offset was covered
    Status status;
  };

  Status ensure_room(uint64_t record_bytes);
  Status roll();
  void publish(uint64_t written_end);
  void defer(Status status, Callback done);
  void note_append_failure(const Status& status, bool disk_full);
  static void on_async(uv_async_t* handle);
  void deliver();
  void finish_close();

  // Sync thread.
  void sync_main();
  void wait_for_work(std::unique_lock<std::mutex>& lock);
  Status sync_round(std::vector<int>& retired, int fd, bool sync_dir);

  uv_loop_t* loop_;
  WalOptions options_;
  std::string shard_dir_;

  // Loop thread only.
  State state_ = State::Idle;
  std::optional<WalSegment> segment_;
  int dir_fd_ = -1;       // read by the sync thread (fsync) while it runs; closed after join
  uint64_t written_ = 0;  // logical offset: record bytes written since open()
  bool force_roll_ = false;
  bool disk_full_ = false;                             // inside a disk-full episode (logged once)
  std::deque<std::pair<uint64_t, Callback>> pending_;  // Synced callbacks by record end offset
  std::vector<std::pair<Status, Callback>> ready_;     // results to deliver on the next loop iteration
  std::function<void()> close_done_;
  uv_async_t async_{};
  WalStats loop_stats_;

  // Shared with the sync thread, under mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t written_end_ = 0;  // published by the loop
  uint64_t taken_end_ = 0;    // target of the last sync round started
  std::chrono::steady_clock::time_point first_unsynced_at_;
  int cur_fd_ = -1;
  std::vector<int> retired_fds_;  // rolled segments: synced, then closed, by the sync thread
  bool dir_dirty_ = false;
  bool stop_ = false;
  bool thread_exited_ = false;
  std::vector<SyncResult> results_;
  WalStats sync_stats_;  // syncs, sync_errors, latency fields

  std::thread sync_thread_;
};

}  // namespace spindle
