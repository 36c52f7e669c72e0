#include "storage/block_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/log.h"

namespace spindle {
namespace {

// Bounds on what open() reads whole into memory, so a garbage file cannot exhaust it.
constexpr uint64_t kMaxMetaBytes = 64 << 10;
constexpr uint64_t kMaxBloomBytes = uint64_t{1} << 30;
constexpr uint64_t kMaxIndexBytes = uint64_t{1} << 30;

std::string join(std::string_view dir, std::string_view name) {
  std::string p(dir);
  if (!p.empty() && p.back() != '/') p.push_back('/');
  p.append(name);
  return p;
}

Status pread_all(int fd, char* buf, size_t size, uint64_t offset, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::pread(fd, buf, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("read", path, errno);
    }
    if (n == 0) return data_loss(path + ": unexpected end of file at offset " + std::to_string(offset));
    buf += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Status::ok();
}

Result<std::string> read_small_file(const std::string& path, uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("open", path, errno);
  struct stat st;
  Status s;
  std::string data;
  if (::fstat(fd, &st) != 0) {
    s = errno_status("stat", path, errno);
  } else if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    s = data_loss(path + ": " + std::to_string(st.st_size) + " bytes is more than the " +
                  std::to_string(max_bytes) + " such a file may have");
  } else {
    data.resize(static_cast<size_t>(st.st_size));
    s = pread_all(fd, data.data(), data.size(), 0, path);
  }
  ::close(fd);
  if (!s.is_ok()) return s;
  return data;
}

Status with_path(const Status& s, const std::string& path) {
  return Status(s.code(), path + ": " + s.message());
}

std::string_view base_name(std::string_view dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  size_t slash = dir.rfind('/');
  return slash == std::string_view::npos ? dir : dir.substr(slash + 1);
}

Status check_index_against_meta(const std::vector<PageIndexEntry>& index, const BlockMeta& meta) {
  uint64_t rows = 0;
  for (const PageIndexEntry& e : index) rows += e.rows;
  uint64_t bytes = index.empty() ? 0 : index.back().offset + index.back().size;
  if (index.size() != meta.pages || rows != meta.traces || bytes != meta.data_bytes) {
    return data_loss("index (" + std::to_string(index.size()) + " pages, " + std::to_string(rows) +
                     " rows, " + std::to_string(bytes) + " bytes) disagrees with meta.json (" +
                     std::to_string(meta.pages) + " pages, " + std::to_string(meta.traces) + " traces, " +
                     std::to_string(meta.data_bytes) + " bytes)");
  }
  if (meta.traces == 0) return data_loss("meta.json: block holds no traces");
  return Status::ok();
}

}  // namespace

BlockReader::BlockReader(std::string dir, BlockMeta meta, std::vector<PageIndexEntry> index,
                         BloomFilter bloom, int fd)
    : dir_(std::move(dir)),
      meta_(std::move(meta)),
      index_(std::move(index)),
      bloom_(std::move(bloom)),
      data_fd_(fd) {}

BlockReader::~BlockReader() {
  ::close(data_fd_);
  if (search_fd_ >= 0) ::close(search_fd_);
}

Status BlockReader::open_columns() {
  std::string path = join(dir_, kBlockSearchFile);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("open", path, errno);
  struct stat st;
  Status s;
  if (::fstat(fd, &st) != 0) s = errno_status("stat", path, errno);
  uint64_t size = s.is_ok() ? static_cast<uint64_t>(st.st_size) : 0;
  if (s.is_ok() && size < kColumnTrailerSize) s = data_loss(path + ": shorter than its trailer");
  std::string trailer(kColumnTrailerSize, '\0');
  std::string footer;
  if (s.is_ok()) s = pread_all(fd, trailer.data(), trailer.size(), size - kColumnTrailerSize, path);
  if (s.is_ok()) {
    auto footer_size = decode_column_trailer(trailer);
    if (!footer_size.ok()) {
      s = footer_size.status();
    } else if (*footer_size > size - kColumnTrailerSize || *footer_size > kMaxIndexBytes) {
      s = data_loss("search columns: footer size past the file");
    } else {
      footer.resize(*footer_size);
      s = pread_all(fd, footer.data(), footer.size(), size - kColumnTrailerSize - footer.size(), path);
    }
  }
  if (s.is_ok()) s = check_column_footer(footer, trailer);
  if (s.is_ok()) {
    s = decode_column_footer(footer, size - kColumnTrailerSize - footer.size(), column_summary_, column_index_);
  }
  if (s.is_ok() && column_index_.size() != index_.size()) {
    s = data_loss("search columns: " + std::to_string(column_index_.size()) + " pages, the index has " +
                  std::to_string(index_.size()));
  }
  for (size_t i = 0; s.is_ok() && i < index_.size(); ++i) {
    if (column_index_[i].rows != index_[i].rows) s = data_loss("search columns: page row counts disagree");
  }
  if (!s.is_ok()) {
    ::close(fd);
    column_index_.clear();
    return with_path(s, path);
  }
  search_fd_ = fd;
  return Status::ok();
}

Status BlockReader::load_columns(size_t page, std::string& raw, ColumnPage& out) {
  const ColumnPageEntry& e = column_index_[page];
  std::string path = join(dir_, kBlockSearchFile);
  page_buf_.resize(e.size);
  SPINDLE_RETURN_IF_ERROR(pread_all(search_fd_, page_buf_.data(), e.size, e.offset, path));
  Status s = codec_.decode(page_buf_, raw);
  if (s.is_ok()) s = out.decode(raw, e.rows);
  if (!s.is_ok()) return with_path(s, path + " page " + std::to_string(page));
  return Status::ok();
}

Result<std::unique_ptr<BlockReader>> BlockReader::open(const std::string& dir) {
  std::string meta_path = join(dir, kBlockMetaFile);
  SPINDLE_ASSIGN_OR_RETURN(std::string meta_json, read_small_file(meta_path, kMaxMetaBytes));
  auto meta = BlockMeta::parse(meta_json);
  if (!meta.ok()) return with_path(meta.status(), dir);
  if (meta->block_id != base_name(dir)) {
    return data_loss(dir + ": meta.json names block " + meta->block_id + ", not its directory");
  }

  std::string index_path = join(dir, kBlockIndexFile);
  // The index's size follows from the page count, so a bloated file is refused before it is read.
  uint64_t index_size = index_file_size(std::min<uint64_t>(meta->pages, kMaxIndexBytes));
  SPINDLE_ASSIGN_OR_RETURN(std::string index_bytes, read_small_file(index_path, index_size));
  auto index = decode_index(index_bytes);
  if (!index.ok()) return with_path(index.status(), dir);
  Status s = check_index_against_meta(*index, *meta);
  if (!s.is_ok()) return with_path(s, dir);

  std::string bloom_path = join(dir, kBlockBloomFile);
  SPINDLE_ASSIGN_OR_RETURN(std::string bloom_bytes, read_small_file(bloom_path, kMaxBloomBytes));
  auto bloom = BloomFilter::deserialize(bloom_bytes);
  if (!bloom.ok()) return with_path(bloom.status(), dir);

  std::string data_path = join(dir, kBlockDataFile);
  int fd = ::open(data_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("open", data_path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return errno_status("stat", data_path, err);
  }
  if (static_cast<uint64_t>(st.st_size) != meta->data_bytes) {
    ::close(fd);
    return data_loss(data_path + ": " + std::to_string(st.st_size) + " bytes, meta.json says " +
                     std::to_string(meta->data_bytes));
  }
  std::unique_ptr<BlockReader> reader(
      new BlockReader(dir, std::move(*meta), std::move(*index), std::move(*bloom), fd));
  // Columns only speed searches up: a block whose columns are missing (written before they existed) or damaged
  // is still read whole.
  Status columns = reader->open_columns();
  if (!columns.is_ok() && columns.code() != StatusCode::NotFound) {
    log_warn("block %s: search columns unusable, searches decode its traces: %s", dir.c_str(),
             columns.message().c_str());
  }
  return reader;
}

Status BlockReader::load_page(size_t page, std::string& raw, std::vector<BlockRow>& rows) {
  const PageIndexEntry& e = index_[page];
  std::string data_path = join(dir_, kBlockDataFile);
  page_buf_.resize(e.size);
  SPINDLE_RETURN_IF_ERROR(pread_all(data_fd_, page_buf_.data(), e.size, e.offset, data_path));
  Status s = codec_.decode(page_buf_, raw);
  if (s.is_ok()) s = parse_rows(raw, e, rows);
  if (!s.is_ok()) return with_path(s, data_path + " page " + std::to_string(page));
  return Status::ok();
}

Result<std::optional<std::string>> BlockReader::find(const TraceId& id) {
  if (!bloom_.may_contain(id)) return std::optional<std::string>();
  // The last page whose first ID is <= id is the only one that can hold it.
  auto it = std::upper_bound(index_.begin(), index_.end(), id,
                             [](const TraceId& v, const PageIndexEntry& e) { return v < e.first; });
  if (it == index_.begin()) return std::optional<std::string>();
  --it;
  if (it->last < id) return std::optional<std::string>();
  SPINDLE_RETURN_IF_ERROR(load_page(static_cast<size_t>(it - index_.begin()), raw_buf_, rows_buf_));
  auto row = std::lower_bound(rows_buf_.begin(), rows_buf_.end(), id,
                              [](const BlockRow& r, const TraceId& v) { return r.id < v; });
  if (row == rows_buf_.end() || !(row->id == id)) return std::optional<std::string>();
  return std::optional<std::string>(std::string(row->trace));
}

Result<bool> BlockReader::Cursor::next() {
  if (!rows_.empty() && pos_ + 1 < rows_.size()) {
    ++pos_;
    return true;
  }
  if (next_page_ >= reader_->index_.size()) {
    rows_.clear();
    return false;
  }
  SPINDLE_RETURN_IF_ERROR(reader_->load_page(next_page_++, raw_, rows_));
  pos_ = 0;
  return true;
}

}  // namespace spindle
