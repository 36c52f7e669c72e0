#pragma once
// BlockReader: one immutable block opened for lookups and compaction (layout in block_format.h). open()
// validates meta, index and bloom against each other and the data file's size, then keeps bloom and index
// resident; pages are read with pread and checked (checksum, row order, index bounds) every time they are
// decoded, so a corrupt block yields DataLoss, never a crash or a wrong trace.
//
// Lookup of one trace: time range (meta) -> bloom -> binary search of the index for the one page whose
// [first, last] ID range can hold it -> decode that page -> binary search its rows.
//
// Thread safety: a reader and its cursors are used by one thread at a time (they share a page codec with
// reusable zstd contexts). meta(), overlaps() and may_contain() are read-only and safe from any thread.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/trace_id.h"
#include "storage/block_format.h"
#include "storage/block_meta.h"
#include "storage/bloom_filter.h"
#include "storage/page_codec.h"
#include "storage/search_columns.h"

namespace spindle {

class BlockReader {
 public:
  // Forward iteration over every row in trace-ID order, one decoded page in memory at a time.
  class Cursor {
   public:
    // Moves to the next row: true if there is one, false at the end, an error if a page is corrupt.
    Result<bool> next();
    // The current row; its `trace` view is valid until the next call to next().
    const BlockRow& row() const { return rows_[pos_]; }

   private:
    friend class BlockReader;
    explicit Cursor(BlockReader* reader) : reader_(reader) {}

    BlockReader* reader_;
    size_t next_page_ = 0;
    size_t pos_ = 0;
    std::string raw_;
    std::vector<BlockRow> rows_;
  };

  // `dir` is the block directory (`<root>/<block-id>`); its name must equal meta.json's block_id.
  static Result<std::unique_ptr<BlockReader>> open(const std::string& dir);
  ~BlockReader();
  BlockReader(const BlockReader&) = delete;
  BlockReader& operator=(const BlockReader&) = delete;

  const BlockMeta& meta() const { return meta_; }
  const std::string& dir() const { return dir_; }
  // See BlockMeta::overlaps: inclusive bounds, end_ns 0 = unbounded.
  bool overlaps(uint64_t start_ns, uint64_t end_ns) const { return meta_.overlaps(start_ns, end_ns); }
  bool may_contain(const TraceId& id) const { return bloom_.may_contain(id); }

  // The stored trace (a serialized tempopb.Trace) or nullopt if the block does not hold `id`.
  Result<std::optional<std::string>> find(const TraceId& id);
  Cursor cursor() { return Cursor(this); }

  size_t pages() const { return index_.size(); }
  // Reads, decodes and splits page `page` into `rows` (views into `raw`).
  Status load_page(size_t page, std::string& raw, std::vector<BlockRow>& rows);

  // Search columns (search_columns.h). A block without a `search` file, or with one that fails its checks at
  // open (logged), has none and is searched by decoding its traces.
  bool has_columns() const { return search_fd_ >= 0; }
  const ColumnBlockSummary& column_summary() const { return column_summary_; }
  const std::vector<ColumnPageEntry>& column_index() const { return column_index_; }
  // Reads and decodes the column page of data page `page` into `out` (views into `raw`).
  Status load_columns(size_t page, std::string& raw, ColumnPage& out);

 private:
  BlockReader(std::string dir, BlockMeta meta, std::vector<PageIndexEntry> index, BloomFilter bloom, int fd);
  Status open_columns();

  std::string dir_;
  BlockMeta meta_;
  std::vector<PageIndexEntry> index_;
  BloomFilter bloom_;
  int data_fd_;
  int search_fd_ = -1;
  ColumnBlockSummary column_summary_;
  std::vector<ColumnPageEntry> column_index_;
  PageCodec codec_;
  std::string page_buf_;
  std::string raw_buf_;
  std::vector<BlockRow> rows_buf_;
};

}  // namespace spindle
