#include "storage/block_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>

#include "core/wall_clock.h"
#include "storage/bloom_filter.h"
#include "storage/trace_merge.h"

namespace spindle {
namespace {

std::string join(std::string_view dir, std::string_view name) {
  std::string p(dir);
  if (!p.empty() && p.back() != '/') p.push_back('/');
  p.append(name);
  return p;
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::ok();
}

Status fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_WRONLY) | O_CLOEXEC);
  if (fd < 0) return errno_status("open", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  return rc == 0 ? Status::ok() : errno_status("fsync", path, err);
}

// Creates `path` (which must not exist), writes `data` and fsyncs it.
Status write_file(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status("create", path, errno);
  Status s = write_all(fd, data, path);
  if (s.is_ok() && ::fsync(fd) != 0) s = errno_status("fsync", path, errno);
  ::close(fd);
  return s;
}

}  // namespace

BlockWriter::BlockWriter(std::string root, BlockWriteOptions options)
    : root_(std::move(root)), options_(options), codec_(options.zstd_level) {
  meta_.block_id = new_block_id();
  meta_.shard = options_.shard;
  meta_.shard_count = options_.shard_count;
  meta_.level = options_.level;
  meta_.min_start_ns = UINT64_MAX;
  tmp_dir_ = join(root_, std::string(kBlockTmpPrefix) + meta_.block_id);
}

BlockWriter::~BlockWriter() { abandon(); }

void BlockWriter::abandon() {
  for (int* fd : {&data_fd_, &search_fd_}) {
    if (*fd >= 0) {
      ::close(*fd);
      *fd = -1;
    }
  }
  if (started_) {
    std::error_code ec;
    std::filesystem::remove_all(tmp_dir_, ec);  // best effort: startup cleanup catches what is left
    started_ = false;
  }
}

Status BlockWriter::fail(Status s) {
  error_ = s;
  abandon();
  return s;
}

Status BlockWriter::start() {
  if (options_.shard_count == 0 || options_.shard >= options_.shard_count) {
    return invalid_argument("block writer: shard " + std::to_string(options_.shard) + " of " +
                            std::to_string(options_.shard_count));
  }
  std::error_code ec;
  std::filesystem::create_directories(root_, ec);
  if (ec) return errno_status("create directory", root_, ec.value());
  if (::mkdir(tmp_dir_.c_str(), 0755) != 0) return errno_status("create directory", tmp_dir_, errno);
  started_ = true;
  std::string data_path = join(tmp_dir_, kBlockDataFile);
  data_fd_ = ::open(data_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (data_fd_ < 0) return errno_status("create", data_path, errno);
  std::string search_path = join(tmp_dir_, kBlockSearchFile);
  search_fd_ = ::open(search_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (search_fd_ < 0) return errno_status("create", search_path, errno);
  return Status::ok();
}

Status BlockWriter::add(const TraceId& id, std::string_view trace_pb) {
  if (spent_) return failed_precondition("block writer: add() after finish()");
  if (!error_.is_ok()) return error_;
  if (!ids_.empty() && !(ids_.back() < id)) {
    return invalid_argument("block writer: trace " + id.to_hex() + " is not above the previous ID " +
                            ids_.back().to_hex());
  }
  if (trace_pb.size() > PageCodec::kMaxRawSize - kRowHeaderSize) {
    return invalid_argument("block writer: trace " + id.to_hex() + " of " + std::to_string(trace_pb.size()) +
                            " bytes is larger than a page may be");
  }
  if (!started_) {
    Status s = start();
    if (!s.is_ok()) return fail(s);
  }
  if (!page_.empty() && page_.size() + kRowHeaderSize + trace_pb.size() > PageCodec::kMaxRawSize) {
    SPINDLE_RETURN_IF_ERROR(flush_page());
  }
  if (page_.empty()) current_ = PageIndexEntry{id, id, meta_.data_bytes, 0, 0};
  // The one walk of the trace: its search columns and its summary.
  SPINDLE_ASSIGN_OR_RETURN(TraceSummary sum, columns_.add_row(trace_pb));
  append_row(id, sum.start_ns, sum.end_ns, trace_pb, page_);
  current_.last = id;
  ++current_.rows;
  ids_.push_back(id);
  ++meta_.traces;
  meta_.spans += sum.spans;
  meta_.min_start_ns = std::min(meta_.min_start_ns, sum.start_ns);
  meta_.max_end_ns = std::max(meta_.max_end_ns, sum.end_ns);
  if (page_.size() >= options_.page_bytes) return flush_page();
  return Status::ok();
}

Status BlockWriter::flush_page() {
  if (page_.empty()) return Status::ok();
  encoded_.clear();
  Status s = codec_.encode(page_, encoded_);
  if (s.is_ok()) s = write_all(data_fd_, encoded_, join(tmp_dir_, kBlockDataFile));
  if (!s.is_ok()) return fail(s);
  current_.size = static_cast<uint32_t>(encoded_.size());
  index_.push_back(current_);
  meta_.data_bytes += encoded_.size();
  ++meta_.pages;
  page_.clear();
  // The page's search columns, same rows, to the `search` file.
  ColumnPageEntry column_entry;
  std::string columns = columns_.take_page(column_entry);
  encoded_.clear();
  s = codec_.encode(columns, encoded_);
  if (s.is_ok()) s = write_all(search_fd_, encoded_, join(tmp_dir_, kBlockSearchFile));
  if (!s.is_ok()) return fail(s);
  column_entry.offset = search_bytes_;
  column_entry.size = static_cast<uint32_t>(encoded_.size());
  search_bytes_ += encoded_.size();
  column_index_.push_back(column_entry);
  return Status::ok();
}

Status BlockWriter::seal() {
  SPINDLE_RETURN_IF_ERROR(flush_page());
  std::string data_path = join(tmp_dir_, kBlockDataFile);
  if (::fsync(data_fd_) != 0) return errno_status("fsync", data_path, errno);
  int rc = ::close(data_fd_);
  data_fd_ = -1;
  if (rc != 0) return errno_status("close", data_path, errno);
  std::string search_path = join(tmp_dir_, kBlockSearchFile);
  std::string footer = encode_column_footer(columns_.summary(), column_index_);
  footer += encode_column_trailer(footer);
  SPINDLE_RETURN_IF_ERROR(write_all(search_fd_, footer, search_path));
  if (::fsync(search_fd_) != 0) return errno_status("fsync", search_path, errno);
  rc = ::close(search_fd_);
  search_fd_ = -1;
  if (rc != 0) return errno_status("close", search_path, errno);

  BloomFilter bloom(ids_.size(), options_.bloom_fp_rate);
  for (const TraceId& id : ids_) bloom.add(id);
  meta_.created_ns = options_.created_ns != 0 ? options_.created_ns : wall_now_ns();
  SPINDLE_RETURN_IF_ERROR(write_file(join(tmp_dir_, kBlockIndexFile), encode_index(index_)));
  SPINDLE_RETURN_IF_ERROR(write_file(join(tmp_dir_, kBlockBloomFile), bloom.serialize()));
  SPINDLE_RETURN_IF_ERROR(write_file(join(tmp_dir_, kBlockMetaFile), meta_.to_json()));
  SPINDLE_RETURN_IF_ERROR(fsync_path(tmp_dir_, /*directory=*/true));

  std::string final_dir = join(root_, meta_.block_id);
  if (::rename(tmp_dir_.c_str(), final_dir.c_str()) != 0) return errno_status("rename", tmp_dir_, errno);
  started_ = false;  // the directory is the block now; never remove it
  // Without this the rename itself may not survive a crash.
  return fsync_path(root_, /*directory=*/true);
}

Result<BlockMeta> BlockWriter::finish() {
  if (spent_) return failed_precondition("block writer: finish() called twice");
  spent_ = true;
  if (!error_.is_ok()) return error_;
  if (meta_.traces == 0) return failed_precondition("block writer: no traces added; nothing to write");
  Status s = seal();
  if (!s.is_ok()) return fail(s);
  return meta_;
}

}  // namespace spindle
