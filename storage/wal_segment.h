#pragma once
// WAL segment files: naming, the on-disk layout, and WalSegment, the segment a shard is appending to.
//
// Layout on disk:
//   <wal_dir>/shard-<N>/<seq>.wal     seq = 20 decimal digits, zero-padded (00000000000000000001.wal), so
//                                      names sort in seq order; seq starts at 1 and only grows
//
// A segment is a 32-byte header followed by records, back to back. All integers little-endian.
//
//   Header (kSegmentHeaderSize = 32 bytes)
//     0   8  magic            "SPNDLWAL"
//     8   4  format version   kWalFormatVersion (1)
//     12  4  shard            the shard that wrote the segment
//     16  4  shard count      of the server that wrote it: traces are routed by hash % shard count, so a
//                             segment is only meaningful with the same count (replay refuses a different one)
//     20  8  seq              the same number as the file name
//     28  4  masked CRC32C    crc32c_mask(crc32c(bytes 0..27))
//
//   Record (kRecordHeaderSize = 13 bytes + payload)
//     0   4  marker           kRecordMarker (bytes D9 3A 7C E5): a reader that lost its place (corrupt
//                             length) scans for it, then trusts a candidate only if its CRC checks
//     4   4  masked CRC32C    crc32c_mask(crc32c(bytes 8 .. 13 + length)): covers length, type and payload.
//                             (Covering the length too, unlike LevelDB, makes a flipped length bit a
//                             guaranteed CRC failure instead of a likely one.)
//     8   4  length           payload bytes, at most kMaxRecordPayload
//     12  1  type             kRecordTypeData (1); anything else is treated as corruption
//     13  .. payload          one encoded SpanBatch (storage/span_batch_codec.h)
//
// No preallocation: files grow by write(2). fallocate in 32 MiB steps (Redpanda) would save ext4 some
// metadata work per sync, but would put zeros after the last record that replay must tell apart from a torn
// tail; not worth it until a benchmark says so.
//
// Threads: WalSegment belongs to the Wal that owns it (the shard's loop thread); the helper functions are
// pure or only touch the file system and may be called from any thread.
#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace spindle {

inline constexpr char kSegmentMagic[8] = {'S', 'P', 'N', 'D', 'L', 'W', 'A', 'L'};
inline constexpr uint32_t kWalFormatVersion = 1;
inline constexpr size_t kSegmentHeaderSize = 32;
inline constexpr uint32_t kRecordMarker = 0xe57c3ad9u;
inline constexpr size_t kRecordHeaderSize = 13;
inline constexpr uint8_t kRecordTypeData = 1;
inline constexpr uint32_t kMaxRecordPayload = 128u << 20;

struct SegmentHeader {
  uint32_t version = kWalFormatVersion;
  uint32_t shard = 0;
  uint32_t shard_count = 0;
  uint64_t seq = 0;
};

std::string encode_segment_header(const SegmentHeader& header);
// DataLoss if the bytes are short or the magic or the CRC is wrong; FailedPrecondition for an intact header
// of another format version (a newer build wrote it: it must not be mistaken for damage and truncated).
Result<SegmentHeader> decode_segment_header(std::string_view bytes);

// Fills `out` with the 13-byte header of a data record carrying `payload`.
void encode_record_header(std::string_view payload, char (&out)[kRecordHeaderSize]);

enum class RecordParse {
  Ok,          // a whole record with a good CRC
  Incomplete,  // plausible header, but the record runs past the end of the bytes
  Bad,         // wrong marker, impossible length, CRC mismatch or unknown type
};
struct ParsedRecord {
  RecordParse result = RecordParse::Bad;
  std::string_view payload;  // when Ok
  size_t size = 0;           // header + payload, when Ok
};
// Parses the record starting at bytes[pos].
ParsedRecord parse_record(std::string_view bytes, size_t pos);

std::string wal_shard_dir(const std::string& wal_dir, uint32_t shard);
std::string segment_path(const std::string& shard_dir, uint64_t seq);
// The seqs of the *.wal files in shard_dir, ascending; names not of the form above are ignored. A missing
// directory is an empty list.
Result<std::vector<uint64_t>> list_segments(const std::string& shard_dir);

// System-call seam for fault injection in tests. Empty members mean the real call. pwritev is called on the
// owning loop thread, fdatasync on the Wal's sync thread: a test hook must be safe for that.
struct WalFileOps {
  std::function<ssize_t(int fd, const struct iovec* iov, int iovcnt, off_t offset)> pwritev;
  std::function<int(int fd)> fdatasync;

  ssize_t do_pwritev(int fd, const struct iovec* iov, int iovcnt, off_t offset) const;
  int do_fdatasync(int fd) const;
};

// The segment being appended to. Writes go to the page cache only; syncing is the Wal's business.
class WalSegment {
 public:
  // Creates the file (O_EXCL: a seq is never reused) and writes its header.
  static Result<WalSegment> create(const std::string& shard_dir, const SegmentHeader& header,
                                   const WalFileOps* ops);

  WalSegment(WalSegment&& other) noexcept;
  WalSegment& operator=(WalSegment&& other) noexcept;
  WalSegment(const WalSegment&) = delete;
  WalSegment& operator=(const WalSegment&) = delete;
  ~WalSegment();

  // Appends one record at size(). On failure the file is truncated back to the old size (so nothing partial
  // stays behind) and the status is Unavailable for a full disk or quota (retry later), Internal otherwise.
  // If even the truncation fails, broken() turns true and the owner must move to a new segment.
  Status append(std::string_view payload);

  uint64_t seq() const { return seq_; }
  uint64_t size() const { return size_; }
  int fd() const { return fd_; }
  bool broken() const { return broken_; }
  const std::string& path() const { return path_; }
  // Gives up the descriptor (the Wal's sync thread syncs and closes retired segments).
  int release_fd();

 private:
  WalSegment(std::string path, int fd, uint64_t seq, const WalFileOps* ops)
      : path_(std::move(path)), fd_(fd), seq_(seq), size_(kSegmentHeaderSize), ops_(ops) {}
  Status write_all(const struct iovec* iov, int iovcnt, uint64_t offset);

  std::string path_;
  int fd_ = -1;
  uint64_t seq_ = 0;
  uint64_t size_ = 0;
  bool broken_ = false;
  const WalFileOps* ops_ = nullptr;  // owned by the Wal; outlives the segment
};

}  // namespace spindle
