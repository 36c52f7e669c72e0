#include "storage/block_format.h"

#include "core/endian.h"

#include <xxhash.h>

#include <cerrno>
#include <cstring>

#include "storage/page_codec.h"

namespace spindle {
namespace {

constexpr char kIndexMagic[4] = {'S', 'P', 'I', 'X'};
constexpr uint32_t kIndexVersion = 1;
constexpr size_t kIndexHeaderSize = 16;
constexpr size_t kIndexEntrySize = 48;
constexpr size_t kIndexTrailerSize = 8;


TraceId get_id(const char* p) {
  TraceId id;
  std::memcpy(id.bytes.data(), p, id.bytes.size());
  return id;
}

}  // namespace

void append_row(const TraceId& id, uint64_t start_ns, uint64_t end_ns, std::string_view trace,
                std::string& page) {
  page.append(id.as_view());
  append_le<uint64_t>(page, start_ns);
  append_le<uint64_t>(page, end_ns);
  append_le<uint32_t>(page, static_cast<uint32_t>(trace.size()));
  page.append(trace);
}

Status parse_rows(std::string_view page, const PageIndexEntry& entry, std::vector<BlockRow>& rows) {
  rows.clear();
  size_t pos = 0;
  while (pos < page.size()) {
    if (page.size() - pos < kRowHeaderSize) {
      return data_loss("data: row header truncated at page offset " + std::to_string(pos));
    }
    const char* p = page.data() + pos;
    BlockRow row;
    row.id = get_id(p);
    row.start_ns = load_le<uint64_t>(p + 16);
    row.end_ns = load_le<uint64_t>(p + 24);
    uint32_t n = load_le<uint32_t>(p + 32);
    pos += kRowHeaderSize;
    if (page.size() - pos < n) {
      return data_loss("data: row of " + std::to_string(n) + " bytes overruns its page");
    }
    row.trace = page.substr(pos, n);
    pos += n;
    if (!rows.empty() && !(rows.back().id < row.id)) {
      return data_loss("data: rows out of order (" + rows.back().id.to_hex() + " then " + row.id.to_hex() +
                       ")");
    }
    if (row.start_ns > row.end_ns)
      return data_loss("data: row " + row.id.to_hex() + " ends before it starts");
    rows.push_back(row);
  }
  if (rows.empty() || rows.size() != entry.rows) {
    return data_loss("data: page holds " + std::to_string(rows.size()) + " rows, index says " +
                     std::to_string(entry.rows));
  }
  if (!(rows.front().id == entry.first) || !(rows.back().id == entry.last)) {
    return data_loss("data: page's first/last trace IDs disagree with the index");
  }
  return Status::ok();
}

std::string encode_index(const std::vector<PageIndexEntry>& entries) {
  std::string out;
  out.reserve(kIndexHeaderSize + entries.size() * kIndexEntrySize + kIndexTrailerSize);
  out.append(kIndexMagic, sizeof kIndexMagic);
  append_le<uint32_t>(out, kIndexVersion);
  append_le<uint32_t>(out, static_cast<uint32_t>(entries.size()));
  append_le<uint32_t>(out, 0);
  for (const PageIndexEntry& e : entries) {
    out.append(e.first.as_view());
    out.append(e.last.as_view());
    append_le<uint64_t>(out, e.offset);
    append_le<uint32_t>(out, e.size);
    append_le<uint32_t>(out, e.rows);
  }
  append_le<uint64_t>(out, XXH3_64bits(out.data(), out.size()));
  return out;
}

uint64_t index_file_size(uint64_t pages) {
  return kIndexHeaderSize + pages * kIndexEntrySize + kIndexTrailerSize;
}

Result<std::vector<PageIndexEntry>> decode_index(std::string_view data) {
  if (data.size() < kIndexHeaderSize + kIndexTrailerSize) return data_loss("index: shorter than its header");
  if (std::memcmp(data.data(), kIndexMagic, sizeof kIndexMagic) != 0) return data_loss("index: bad magic");
  uint32_t version = load_le<uint32_t>(data.data() + 4);
  if (version != kIndexVersion)
    return data_loss("index: unsupported format version " + std::to_string(version));
  uint64_t count = load_le<uint32_t>(data.data() + 8);
  if (data.size() != kIndexHeaderSize + count * kIndexEntrySize + kIndexTrailerSize) {
    return data_loss("index: size " + std::to_string(data.size()) + " does not match " +
                     std::to_string(count) + " entries");
  }
  if (load_le<uint64_t>(data.data() + data.size() - kIndexTrailerSize) !=
      XXH3_64bits(data.data(), data.size() - kIndexTrailerSize)) {
    return data_loss("index: checksum mismatch");
  }
  std::vector<PageIndexEntry> entries(count);
  uint64_t next_offset = 0;
  for (size_t i = 0; i < count; ++i) {
    const char* p = data.data() + kIndexHeaderSize + i * kIndexEntrySize;
    PageIndexEntry& e = entries[i];
    e.first = get_id(p);
    e.last = get_id(p + 16);
    e.offset = load_le<uint64_t>(p + 32);
    e.size = load_le<uint32_t>(p + 40);
    e.rows = load_le<uint32_t>(p + 44);
    std::string where = "index: entry " + std::to_string(i);
    if (e.rows == 0) return data_loss(where + " has no rows");
    if (e.last < e.first || (e.rows == 1 && !(e.first == e.last)))
      return data_loss(where + " has bad ID bounds");
    if (i > 0 && !(entries[i - 1].last < e.first)) return data_loss(where + " overlaps the previous page");
    if (e.offset != next_offset) return data_loss(where + " does not start where the previous page ends");
    if (e.size < PageCodec::kHeaderSize || e.size > PageCodec::kHeaderSize + PageCodec::kMaxRawSize) {
      return data_loss(where + " has impossible page size " + std::to_string(e.size));
    }
    next_offset += e.size;
  }
  return entries;
}

Status errno_status(std::string_view what, std::string_view path, int err) {
  std::string msg = std::string(what) + " " + std::string(path) + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return resource_exhausted(msg);
  if (err == ENOENT) return not_found(msg);
  return internal_error(msg);
}

}  // namespace spindle
