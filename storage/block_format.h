#pragma once
// The on-disk layout of an immutable block, shared by BlockWriter and BlockReader.
//
// A block is a directory `<root>/<block-id>/` (block-id: a UUID, see block_meta.h) holding five files:
//   data       the rows, in pages (page_codec.h): page i occupies bytes [offset_i, offset_i + size_i)
//   index      one entry per page (below), ascending: binary search finds the only page that can hold an ID
//   bloom      BloomFilter over every trace ID of the block (bloom_filter.h)
//   search     search columns, one column page per data page (search_columns.h); optional when reading
//   meta.json  BlockMeta (block_meta.h): time range and counts
// The directory is written as `<root>/.tmp-<block-id>/` and renamed once every file is fsynced, so a block
// directory without the prefix is always complete; `.tmp-` leftovers are garbage from a crash.
//
// Rows: one per trace, strictly ascending by trace ID (bytewise) across the whole block. A page's
// decompressed bytes are its rows back to back (integers little endian):
//   offset  size  field
//   0       16    trace ID
//   16      8     start_ns: the trace's earliest span start (TraceSummary)
//   24      8     end_ns: its latest span end
//   32      4     n: size of the trace
//   36      n     the trace: a serialized tempopb.Trace (repeated ResourceSpans, field 1)
//
// index:
//   0       4     magic "SPIX"
//   4       4     format version (1)
//   8       4     page count P
//   12      4     reserved, 0
//   16      48*P  entries: first trace ID (16), last trace ID (16), page offset in data (u64), page size
//                 (u32), row count (u32)
//   16+48P  8     XXH3-64 of bytes [0, 16+48P)
//
// Everything read back is untrusted: structural errors are DataLoss naming the file.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/trace_id.h"

namespace spindle {

inline constexpr std::string_view kBlockDataFile = "data";
inline constexpr std::string_view kBlockIndexFile = "index";
inline constexpr std::string_view kBlockBloomFile = "bloom";
inline constexpr std::string_view kBlockMetaFile = "meta.json";
inline constexpr std::string_view kBlockTmpPrefix = ".tmp-";

inline constexpr size_t kRowHeaderSize = 36;

struct BlockRow {
  TraceId id;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  std::string_view trace;  // points into the decoded page
};

struct PageIndexEntry {
  TraceId first;
  TraceId last;
  uint64_t offset = 0;
  uint32_t size = 0;
  uint32_t rows = 0;
};

void append_row(const TraceId& id, uint64_t start_ns, uint64_t end_ns, std::string_view trace,
                std::string& page);
// Splits a decoded page into rows and checks them against its index entry (count, first/last ID, strict
// order, no trailing bytes). `rows` is replaced.
Status parse_rows(std::string_view page, const PageIndexEntry& entry, std::vector<BlockRow>& rows);

std::string encode_index(const std::vector<PageIndexEntry>& entries);
// Size of the index file of a block of `pages` pages.
uint64_t index_file_size(uint64_t pages);
// Checks the framing and checksum and that entries are ordered and non-overlapping; the caller checks them
// against the data file and meta.
Result<std::vector<PageIndexEntry>> decode_index(std::string_view data);

// An errno from a file operation as a Status: ENOSPC/EDQUOT ResourceExhausted, ENOENT NotFound, others
// Internal.
Status errno_status(std::string_view what, std::string_view path, int err);

}  // namespace spindle
