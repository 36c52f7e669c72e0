#pragma once
// BlockMeta: what a block holds, stored as `meta.json` in the block directory (see block_format.h for the
// whole block layout). Time range and counts live here so a block can be pruned without reading its data.
//
// meta.json (one JSON object; integers as JSON numbers, exact up to 2^64-1; unknown keys are ignored so a
// later version may add some):
//   "format_version"  1
//   "block_id"        "<uuid>", the block directory's name
//   "shard"           owning shard, < shard_count
//   "shard_count"     shard count when written (trace IDs are routed by hash % shard_count)
//   "level"           compaction level: 0 cut from the head, n+1 = compacted from level-n inputs
//   "min_start_unix_nano" / "max_end_unix_nano"   time range of every span in the block (see TraceSummary)
//   "traces"          rows (one per trace)
//   "spans"           spans over all traces
//   "pages"           pages in `data` (= entries in `index`)
//   "data_bytes"      size of the `data` file
//   "created_unix_nano"  wall clock when the block was written
// parse() treats its input as untrusted: missing or ill-typed keys, shard >= shard_count, an inverted time
// range or an unknown format version is DataLoss.
//
// Thread safety: a plain value.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace spindle {

struct BlockMeta {
  static constexpr uint32_t kFormatVersion = 1;

  uint32_t format_version = kFormatVersion;
  std::string block_id;
  uint32_t shard = 0;
  uint32_t shard_count = 1;
  uint32_t level = 0;
  uint64_t min_start_ns = 0;
  uint64_t max_end_ns = 0;
  uint64_t traces = 0;
  uint64_t spans = 0;
  uint64_t pages = 0;
  uint64_t data_bytes = 0;
  uint64_t created_ns = 0;

  // Whether the block's time range meets [start_ns, end_ns] (both inclusive); end_ns 0 means "no upper
  // bound", as Tempo treats a missing end.
  bool overlaps(uint64_t start_ns, uint64_t end_ns) const {
    return max_end_ns >= start_ns && (end_ns == 0 || min_start_ns <= end_ns);
  }

  std::string to_json() const;
  static Result<BlockMeta> parse(std::string_view json);
};

// A fresh random block ID: a version-4 UUID in its canonical lowercase text form.
std::string new_block_id();
// True for the text new_block_id() produces (36 characters, hex and dashes): block IDs name directories, so a
// meta.json naming anything else is rejected.
bool is_valid_block_id(std::string_view id);

}  // namespace spindle
