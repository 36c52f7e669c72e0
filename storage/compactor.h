#pragma once
// Compaction's merge step: rewrites several blocks as one. Inputs are read in parallel with a k-way merge by
// trace ID (each input is already sorted), so the output is sorted without buffering; a trace present in
// several inputs (cut from the head more than once, or written twice) becomes one row through merge_traces,
// which also drops exact duplicate spans; a trace held by one input is copied as it is (blocks cut from the
// head already hold the merge normal form, and re-encoding every row would cost compaction for nothing).
// Which blocks to merge (time windows, levels) and what happens to the inputs afterwards is the caller's
// policy.
//
// Thread safety: runs on the calling thread; the inputs and the writer must not be used elsewhere meanwhile.
#include <vector>

#include "core/result.h"
#include "storage/block_meta.h"
#include "storage/block_reader.h"
#include "storage/block_writer.h"

namespace spindle {

// Writes every trace of `inputs` into `out` and finishes it. The inputs must all belong to out's shard and
// shard count (InvalidArgument otherwise); `out` must be fresh (nothing added yet). The caller sets out's
// level (usually max input level + 1) and zstd level.
Result<BlockMeta> compact_blocks(const std::vector<BlockReader*>& inputs, BlockWriter& out);

}  // namespace spindle
