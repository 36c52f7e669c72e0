#include "storage/wal_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/log.h"

namespace spindle {
namespace {

// The first offset >= from where a valid record starts, or npos.
size_t find_next_record(std::string_view bytes, size_t from) {
  char marker[4];
  for (int i = 0; i < 4; ++i) marker[i] = static_cast<char>(kRecordMarker >> (8 * i));
  while (from + kRecordHeaderSize <= bytes.size()) {
    size_t at = bytes.find(std::string_view(marker, 4), from);
    if (at == std::string_view::npos) return std::string_view::npos;
    if (parse_record(bytes, at).result == RecordParse::Ok) return at;
    from = at + 1;
  }
  return std::string_view::npos;
}

Result<std::string> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unavailable("cannot open WAL segment " + path + ": " + std::strerror(errno));
  std::string out;
  off_t size = ::lseek(fd, 0, SEEK_END);
  if (size > 0) out.reserve(static_cast<size_t>(size));
  char buf[1 << 16];
  off_t pos = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, pos);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return unavailable("cannot read WAL segment " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    pos += n;
  }
  ::close(fd);
  return out;
}

Status truncate_file(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return unavailable("cannot open " + path + " to truncate it: " + std::strerror(errno));
  int rc = ::ftruncate(fd, static_cast<off_t>(size));
  if (rc == 0) rc = ::fdatasync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return unavailable("cannot truncate " + path + ": " + std::strerror(err));
  return Status::ok();
}

Status check_header(const SegmentHeader& h, const WalReplayOptions& o, const std::string& path) {
  if (h.shard_count != o.shard_count) {
    return failed_precondition(
        "WAL segment " + path + " was written by a server with " + std::to_string(h.shard_count) +
        " shards, this one has " + std::to_string(o.shard_count) +
        ": restart with the old shard count so the WAL is flushed into blocks, or move the WAL directory "
        "away (its unflushed spans are then lost)");
  }
  if (h.shard != o.shard) {
    return failed_precondition("WAL segment " + path + " belongs to shard " + std::to_string(h.shard) +
                               ", found in the directory of shard " + std::to_string(o.shard));
  }
  return Status::ok();
}

}  // namespace

SegmentScan scan_segment(std::string_view bytes, const std::function<void(std::string_view)>& on_record) {
  SegmentScan scan;
  if (bytes.size() < kSegmentHeaderSize) {
    scan.torn_bytes = bytes.size();
    return scan;
  }
  auto header = decode_segment_header(bytes);
  scan.header_ok = header.ok();
  if (header.ok()) scan.header = *header;
  size_t pos = kSegmentHeaderSize;
  scan.valid_end = pos;
  while (pos < bytes.size()) {
    ParsedRecord r = parse_record(bytes, pos);
    if (r.result == RecordParse::Ok) {
      on_record(r.payload);
      ++scan.records;
      scan.payload_bytes += r.payload.size();
      pos += r.size;
      scan.valid_end = pos;
      continue;
    }
    size_t next = find_next_record(bytes, pos + 1);
    if (next == std::string_view::npos) break;  // nothing valid follows: a torn tail
    ++scan.corrupt_records;
    scan.corrupt_bytes += next - pos;
    pos = next;
  }
  scan.torn_bytes = bytes.size() - scan.valid_end;
  return scan;
}

Result<WalReplayStats> replay_wal(const WalReplayOptions& options, const WalReplayFn& fn) {
  auto started = std::chrono::steady_clock::now();
  std::string shard_dir = wal_shard_dir(options.dir, options.shard);
  SPINDLE_ASSIGN_OR_RETURN(std::vector<uint64_t> seqs, list_segments(shard_dir));
  WalReplayStats stats;
  for (uint64_t seq : seqs) {
    std::string path = segment_path(shard_dir, seq);
    SPINDLE_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
    // Checked before any record is handed out, so a refused WAL has no half-replayed effects.
    if (bytes.size() >= kSegmentHeaderSize) {
      auto header = decode_segment_header(bytes);
      if (header.ok()) SPINDLE_RETURN_IF_ERROR(check_header(*header, options, path));
      if (header.status().code() == StatusCode::FailedPrecondition) {
        return failed_precondition(path + ": " + header.status().message());
      }
    }
    SegmentScan scan = scan_segment(bytes, [&](std::string_view payload) { fn(seq, payload); });
    if (scan.header_ok && scan.header.seq != seq) scan.header_ok = false;  // a renamed file: distrust it
    if (!scan.header_ok && bytes.size() >= kSegmentHeaderSize) {
      ++stats.bad_headers;
      log_fields(LogLevel::Warn, "WAL segment header damaged; reading its records anyway", {{"path", path}});
    }
    if (scan.corrupt_records > 0) {
      log_fields(LogLevel::Warn, "WAL segment has corrupt records; skipped them",
                 {{"path", path},
                  {"corrupt_records", std::to_string(scan.corrupt_records)},
                  {"corrupt_bytes", std::to_string(scan.corrupt_bytes)}});
    }
    if (scan.torn_bytes > 0) {
      log_fields(LogLevel::Warn, "WAL segment ends in a torn record; truncating it",
                 {{"path", path},
                  {"torn_bytes", std::to_string(scan.torn_bytes)},
                  {"valid_end", std::to_string(scan.valid_end)}});
      if (options.truncate_torn_tail) SPINDLE_RETURN_IF_ERROR(truncate_file(path, scan.valid_end));
    }
    if (stats.segments == 0) stats.first_seq = seq;
    stats.last_seq = seq;
    ++stats.segments;
    stats.records += scan.records;
    stats.payload_bytes += scan.payload_bytes;
    stats.corrupt_records += scan.corrupt_records;
    stats.torn_tail_bytes += scan.torn_bytes;
  }
  stats.duration_us = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started)
          .count());
  return stats;
}

}  // namespace spindle
