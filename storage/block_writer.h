#pragma once
// BlockWriter: builds one immutable block (layout in block_format.h) from traces given in ascending trace-ID
// order, streaming full pages to disk so memory stays at one page plus 16 bytes per trace (the IDs, for the
// bloom filter, which is sized once the count is known).
//
// Atomicity: everything goes to `<root>/.tmp-<id>/`; finish() fsyncs each file and the directory, renames it
// to `<root>/<id>/` and fsyncs root. A crash leaves either no block or a complete one (plus a `.tmp-`
// directory for the block store to delete at startup). A writer dropped before finish() removes its
// temporary directory.
//
// Thread safety: one thread drives a writer. Its I/O is blocking: run it where blocking is allowed.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/trace_id.h"
#include "storage/block_format.h"
#include "storage/block_meta.h"
#include "storage/page_codec.h"
#include "storage/search_columns.h"

namespace spindle {

struct BlockWriteOptions {
  uint32_t shard = 0;
  uint32_t shard_count = 1;
  uint32_t level = 0;               // 0 for blocks cut from the head; compaction writes max(input levels) + 1
  int zstd_level = 1;               // 1 for fresh blocks, 3 for compacted ones (architecture.md 5.2)
  uint32_t page_bytes = 128 << 10;  // a page is cut once its raw rows reach this size
  double bloom_fp_rate = 0.01;
  // meta.json's created_unix_nano; 0 = the time of writing. Compaction passes its inputs' latest, so merging
  // blocks does not restart their retention clock.
  uint64_t created_ns = 0;
};

class BlockWriter {
 public:
  // `root` is created if missing. Nothing touches the disk before the first add().
  BlockWriter(std::string root, BlockWriteOptions options);
  ~BlockWriter();
  BlockWriter(const BlockWriter&) = delete;
  BlockWriter& operator=(const BlockWriter&) = delete;

  // Appends the trace `trace_pb` (a serialized tempopb.Trace) under `id`; its time range and span count come
  // from its search-column walk (ColumnPageBuilder::add_row). InvalidArgument (writer still usable) if `id` is
  // not above the previous ID, the trace is malformed or too large for a page; an I/O error fails the writer
  // for good.
  Status add(const TraceId& id, std::string_view trace_pb);
  // Seals the block and returns its meta. FailedPrecondition if no trace was added. The writer is spent
  // afterwards, whatever the outcome.
  Result<BlockMeta> finish();

  const std::string& block_id() const { return meta_.block_id; }
  const BlockWriteOptions& options() const { return options_; }
  uint64_t traces() const { return meta_.traces; }

 private:
  Status start();
  Status flush_page();
  Status seal();
  Status fail(Status s);
  void abandon();

  std::string root_;
  std::string tmp_dir_;
  BlockWriteOptions options_;
  PageCodec codec_;
  BlockMeta meta_;
  int data_fd_ = -1;
  int search_fd_ = -1;  // the `search` file: column pages, then the footer (search_columns.h)
  bool started_ = false;
  bool spent_ = false;
  Status error_;  // sticky I/O failure
  std::string page_;
  std::string encoded_;
  PageIndexEntry current_;
  std::vector<PageIndexEntry> index_;
  std::vector<TraceId> ids_;
  ColumnPageBuilder columns_;
  std::vector<ColumnPageEntry> column_index_;
  uint64_t search_bytes_ = 0;
};

}  // namespace spindle
