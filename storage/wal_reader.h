#pragma once
// Reading WAL segments back (storage/wal_segment.h has the layout): at start, every shard replays its own
// segments into its head before the server reports ready.
//
// What replay does with damage:
//   - Torn tail: bytes at the end of a segment that do not form a valid record and are followed by no valid
//     record (a crash in the middle of a write, or a last record whose blocks never reached the disk). They
//     are counted in torn_tail_bytes, logged, and the file is truncated to the end of its last good record so
//     a later writer or reader never sees them again. Only the tail can hold unacknowledged data under the
//     `synced` policy, so nothing acknowledged is dropped here unless the disk itself lost it.
//   - Corrupt record: damage followed by at least one valid record. The bad region is counted once in
//     corrupt_records, logged, skipped, and reading resumes at the next valid record: the reader scans for
//     the record marker and accepts a candidate only if its CRC checks.
//   - Damaged segment header (bad magic or CRC): counted in bad_headers and logged; the records are still
//   read
//     (each one carries its own CRC), and the seq is taken from the file name. The segment's shard and shard
//     count cannot be checked then.
//   - A segment shorter than its header (crash right after creating it): all its bytes are a torn tail.
//   - A valid header naming another shard, shard count or format version: replay fails with
//     FailedPrecondition and a message saying what to do, before any record of that segment is handed out
//     and without truncating anything.
//
// Cost: a segment is read into memory whole (64 MiB by default). Resynchronising after damage tests each
// marker candidate with a CRC, so pathological input full of marker bytes can make a scan quadratic in the
// segment size; random damage cannot.
//
// Threads: the caller's thread; nothing is shared. Replay a shard before opening its Wal for appends.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "storage/wal_segment.h"

namespace spindle {

struct SegmentScan {
  bool header_ok = false;
  SegmentHeader header;  // valid when header_ok
  uint64_t records = 0;
  uint64_t payload_bytes = 0;
  uint64_t corrupt_records = 0;  // damaged regions skipped
  uint64_t corrupt_bytes = 0;
  uint64_t valid_end = 0;   // end of the last good record (or of the header): the truncation point
  uint64_t torn_bytes = 0;  // bytes after valid_end
};

// Scans one segment's bytes, calling on_record for every good record in order.
SegmentScan scan_segment(std::string_view bytes,
                         const std::function<void(std::string_view payload)>& on_record);

struct WalReplayOptions {
  std::string dir;  // storage.trace.wal.path
  uint32_t shard = 0;
  uint32_t shard_count = 1;  // this server's; segments written with another count are refused
  bool truncate_torn_tail = true;
};

struct WalReplayStats {
  uint64_t segments = 0;
  uint64_t first_seq = 0;  // 0 when there are no segments
  uint64_t last_seq = 0;
  uint64_t records = 0;
  uint64_t payload_bytes = 0;
  uint64_t corrupt_records = 0;
  uint64_t bad_headers = 0;
  uint64_t torn_tail_bytes = 0;
  uint64_t duration_us = 0;
};

// fn(seq, payload): seq is the segment holding the record (the unit remove_segments_before() deletes); the
// payload view is valid only during the call.
using WalReplayFn = std::function<void(uint64_t seq, std::string_view payload)>;

// Replays every segment of one shard in seq order. A missing directory is an empty WAL. Errors: the
// directory or a segment cannot be read (Unavailable), a segment belongs to another shard, shard count or
// format version (FailedPrecondition). fn's own failures are the caller's to record: replay continues.
Result<WalReplayStats> replay_wal(const WalReplayOptions& options, const WalReplayFn& fn);

}  // namespace spindle
