#pragma once
// Search columns: what search needs of every span in a block, stored apart from the traces so a selective query
// reads a few bytes per span instead of decoding every trace (Tempo's parquet columns, reduced to the fields
// searches filter on most). A block's `search` file (block_format.h) holds one column page per data page, for
// the same rows in the same order, and a footer with per-block and per-page summaries.
//
// Columns, per span:
//   service      the span's resource's first `service.name` attribute, when it is a plain string_value
//   name         the span name (the last `name` field, as TraceModel reads it)
//   http_method  the span's first `http.method` attribute, when it is a plain string_value
//   status       Status.code (1 ok, 2 error, anything else unset), kind (0..5, others unspecified)
//   duration     end - start, 0 when end < start (TraceQL's `duration`)
// String columns are dictionary-encoded per page: value 0 = "unknown" (the attribute is there but not a plain
// string, or its KeyValue is oddly encoded), 1 = absent, i >= 2 = the page dictionary's entry i - 2. Unknown
// never decides a condition: filters treat it as "may match". Absent is TraceQL's nil (every comparison of
// it with a string is false).
//
// Column page (decompressed; encoded with PageCodec; integers are protobuf varints unless noted):
//   3 dictionaries (service, name, http_method): count n, then n × (length, bytes)
//   per row, in data-page order:
//     start_ns, end_ns - start_ns (the row's time range, as in the data page), span count S
//     S × (service, name, http_method, status | kind << 2 (one byte), duration)
//
// `search` file: the column pages back to back, then the footer, then a 16-byte trailer.
//   footer (integers little endian):
//     0    4   magic "SPCL"
//     4    4   format version (2)
//     8    4   page count P
//     12   4   reserved, 0
//     16   ... block summary: min duration u64, max duration u64, status mask u8, kind mask u8, then per string
//              column a value set (below) and the block dictionary: count u32, count × (length u32, bytes),
//              in id order (first seen first), at most kMaxBlockDictValues
//     ...  P × page entry: page offset u64, page size u32, rows u32, spans u32, min duration u64, max duration
//              u64, status mask u8, kind mask u8 (bit s set = some span of the page has status/kind s), then
//              per string column a value set
//   value set: flags u8 (bit 0: some value is not in the block dictionary, which was full; bit 1: some
//              span's value is unknown; bit 2: some span's is absent), count u16, count × u16 block
//              dictionary ids (in a block summary: count 0, the dictionary lists the values)
//   trailer: footer size u32, XXH3-64 of the footer u64, magic "SPCE"
// So a page whose spans cannot match a string condition is skipped from the footer alone, without reading it.
// A block written before columns existed has no `search` file; it is searched by decoding its traces.
//
// Everything read back is untrusted: structural errors are DataLoss.
// Thread safety: plain values and pure functions; ColumnFilter implementations are immutable and shared.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"

namespace spindle {

inline constexpr std::string_view kBlockSearchFile = "search";
inline constexpr size_t kColumnTrailerSize = 16;
// Distinct values per string column in a block dictionary; values past this are "not in the dictionary".
inline constexpr size_t kMaxBlockDictValues = 1024;

enum class StringColumn : uint8_t { Service = 0, Name = 1, HttpMethod = 2 };
inline constexpr size_t kStringColumns = 3;
inline constexpr uint32_t kUnknownString = 0;
inline constexpr uint32_t kAbsentString = 1;
inline constexpr uint32_t kFirstDictString = 2;

struct SpanColumns {
  uint32_t str[kStringColumns] = {0, 0, 0};  // kUnknownString, kAbsentString or kFirstDictString + index
  uint8_t status = 0;                        // 0 unset, 1 ok, 2 error
  uint8_t kind = 0;                          // 0..5
  uint64_t duration_ns = 0;
};

// Which values of one string column occur in a page (or a block).
struct ColumnValueSet {
  bool overflow = false;      // some value is not in the block dictionary (it was full)
  bool unknown = false;       // some span's value is unknown
  bool absent = false;        // some span's value is absent
  std::vector<uint16_t> ids;  // block dictionary ids, ascending (pages only)
};

struct ColumnPageEntry {
  uint64_t offset = 0;
  uint32_t size = 0;
  uint32_t rows = 0;
  uint32_t spans = 0;
  uint64_t min_duration_ns = UINT64_MAX;
  uint64_t max_duration_ns = 0;
  uint8_t status_mask = 0;
  uint8_t kind_mask = 0;
  ColumnValueSet values[kStringColumns];
};

struct ColumnBlockSummary {
  uint64_t min_duration_ns = UINT64_MAX;
  uint64_t max_duration_ns = 0;
  uint8_t status_mask = 0;
  uint8_t kind_mask = 0;
  ColumnValueSet values[kStringColumns];          // flags only: every dictionary value occurs
  std::vector<std::string> dicts[kStringColumns];  // by id
};

// What a block row records of its trace besides the bytes.
struct TraceSummary {
  uint64_t spans = 0;
  // Earliest span start and latest span end (Span fields 7 and 8, fixed64 unix ns). A zero timestamp means
  // "unset" and is ignored; a trace with no timestamp at all summarises to 0/0. end_ns >= start_ns always.
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
};

// One decoded column page. Views point into the decoded bytes given to decode().
struct ColumnPage {
  std::vector<std::string_view> dicts[kStringColumns];
  struct Row {
    uint64_t start_ns = 0;
    uint64_t end_ns = 0;
    uint32_t first_span = 0;  // into spans
    uint32_t span_count = 0;
  };
  std::vector<Row> rows;
  std::vector<SpanColumns> spans;

  // Replaces the contents with `raw` (a decompressed column page) expected to hold `rows` rows.
  Status decode(std::string_view raw, uint32_t rows);

 private:
  Status decode_rows(std::string_view raw, uint32_t rows);
};

// Builds one column page at a time and the block summary over all of them (BlockWriter's side).
class ColumnPageBuilder {
 public:
  // Walks a serialized tempopb.Trace once: appends its row and returns its summary (the block row's time range
  // and the block's span count come from it). InvalidArgument on malformed protobuf; nothing is appended then.
  Result<TraceSummary> add_row(std::string_view trace_pb);
  bool empty() const { return rows_ == 0; }
  // The raw page (to be encoded by PageCodec) and its entry (offset/size left for the caller); resets the page.
  std::string take_page(ColumnPageEntry& entry);
  const ColumnBlockSummary& summary() const { return summary_; }

 private:
  uint32_t intern(StringColumn column, std::string_view value);

  // Lookups by string_view without building a std::string: interning runs for every span.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view v) const { return std::hash<std::string_view>()(v); }
  };
  template <class V>
  using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;
  struct Dict {
    StringMap<uint32_t> index;
    std::vector<std::string_view> order;  // views of index's keys
    // The last value interned: spans of one resource share its service.name bytes, so most lookups hit here.
    std::string_view last;
    uint32_t last_id = 0;
  };
  Dict dicts_[kStringColumns];
  StringMap<uint16_t> block_ids_[kStringColumns];
  std::string rows_bytes_;
  // Scratch of add_row, reused across rows.
  std::vector<SpanColumns> scratch_;
  std::vector<std::string_view> found_values_;  // kStringColumns per span
  std::vector<uint8_t> found_states_;           // kStringColumns per span
  std::vector<std::string_view> scope_spans_;
  uint32_t rows_ = 0;
  ColumnPageEntry entry_;
  ColumnBlockSummary summary_;
};

std::string encode_column_footer(const ColumnBlockSummary& summary, const std::vector<ColumnPageEntry>& entries);
// `footer` excludes the trailer; `file_size` is the whole file's, to check the entries' bounds.
Status decode_column_footer(std::string_view footer, uint64_t file_size, ColumnBlockSummary& summary,
                            std::vector<ColumnPageEntry>& entries);
std::string encode_column_trailer(std::string_view footer);
// The footer size named by a trailer, after checking its magic. The checksum is checked by check_column_footer.
Result<uint32_t> decode_column_trailer(std::string_view trailer);
Status check_column_footer(std::string_view footer, std::string_view trailer);

// What a search asks of the columns (the TraceQL side implements it: api/traceql/column_filter.h). Every answer
// may only be "no" when no trace there can match; "maybe" always is a safe answer.
//
// A ColumnFilter is immutable: any number of scans on any shards use it concurrently. Each scan asks it for a
// ColumnBlockFilter per block (judging the block's dictionaries once), used by that scan only.
class ColumnBlockFilter {
 public:
  virtual ~ColumnBlockFilter() = default;
  virtual bool block_may_match() const = 0;
  virtual bool page_may_match(const ColumnPageEntry& entry) const = 0;
  // candidates[r] = 1 for every row r of `page` that may match, 0 for those that cannot.
  virtual void match_rows(const ColumnPage& page, std::vector<uint8_t>& candidates) const = 0;
};

class ColumnFilter {
 public:
  virtual ~ColumnFilter() = default;
  // `summary` must outlive the returned filter.
  virtual std::unique_ptr<ColumnBlockFilter> for_block(const ColumnBlockSummary& summary) const = 0;
};

}  // namespace spindle
