#include "storage/wal_segment.h"

#include "core/endian.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "core/crc32c.h"

namespace spindle {
namespace {

constexpr size_t kSeqDigits = 20;
constexpr std::string_view kSegmentSuffix = ".wal";


std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

std::string encode_segment_header(const SegmentHeader& header) {
  std::string out(kSegmentHeaderSize, '\0');
  std::memcpy(out.data(), kSegmentMagic, 8);
  store_le<uint32_t>(out.data() + 8, header.version);
  store_le<uint32_t>(out.data() + 12, header.shard);
  store_le<uint32_t>(out.data() + 16, header.shard_count);
  store_le<uint64_t>(out.data() + 20, header.seq);
  store_le<uint32_t>(out.data() + 28, crc32c_mask(crc32c(out.data(), 28)));
  return out;
}

Result<SegmentHeader> decode_segment_header(std::string_view bytes) {
  if (bytes.size() < kSegmentHeaderSize) return data_loss("WAL segment header truncated");
  if (std::memcmp(bytes.data(), kSegmentMagic, 8) != 0) return data_loss("not a WAL segment (bad magic)");
  if (crc32c_unmask(load_le<uint32_t>(bytes.data() + 28)) != crc32c(bytes.data(), 28)) {
    return data_loss("WAL segment header checksum mismatch");
  }
  SegmentHeader h;
  h.version = load_le<uint32_t>(bytes.data() + 8);
  h.shard = load_le<uint32_t>(bytes.data() + 12);
  h.shard_count = load_le<uint32_t>(bytes.data() + 16);
  h.seq = load_le<uint64_t>(bytes.data() + 20);
  if (h.version != kWalFormatVersion) {
    return failed_precondition("WAL segment format version " + std::to_string(h.version) +
                               " is not supported by this build (it reads version " +
                               std::to_string(kWalFormatVersion) + ")");
  }
  return h;
}

void encode_record_header(std::string_view payload, char (&out)[kRecordHeaderSize]) {
  store_le<uint32_t>(out, kRecordMarker);
  store_le<uint32_t>(out + 8, static_cast<uint32_t>(payload.size()));
  out[12] = static_cast<char>(kRecordTypeData);
  uint32_t crc = crc32c_extend(crc32c(out + 8, 5), payload.data(), payload.size());
  store_le<uint32_t>(out + 4, crc32c_mask(crc));
}

ParsedRecord parse_record(std::string_view bytes, size_t pos) {
  ParsedRecord r;
  if (pos > bytes.size() || bytes.size() - pos < kRecordHeaderSize) {
    r.result = RecordParse::Incomplete;
    return r;
  }
  const char* p = bytes.data() + pos;
  if (load_le<uint32_t>(p) != kRecordMarker) return r;
  uint32_t length = load_le<uint32_t>(p + 8);
  if (length > kMaxRecordPayload) return r;
  if (bytes.size() - pos - kRecordHeaderSize < length) {
    r.result = RecordParse::Incomplete;
    return r;
  }
  uint32_t crc = crc32c(p + 8, 5 + static_cast<size_t>(length));
  if (crc32c_unmask(load_le<uint32_t>(p + 4)) != crc) return r;
  if (static_cast<uint8_t>(p[12]) != kRecordTypeData) return r;
  r.result = RecordParse::Ok;
  r.payload = std::string_view(p + kRecordHeaderSize, length);
  r.size = kRecordHeaderSize + length;
  return r;
}

std::string wal_shard_dir(const std::string& wal_dir, uint32_t shard) {
  return wal_dir + "/shard-" + std::to_string(shard);
}

std::string segment_path(const std::string& shard_dir, uint64_t seq) {
  std::string digits = std::to_string(seq);
  return shard_dir + "/" + std::string(kSeqDigits - std::min(kSeqDigits, digits.size()), '0') + digits +
         std::string(kSegmentSuffix);
}

Result<std::vector<uint64_t>> list_segments(const std::string& shard_dir) {
  std::vector<uint64_t> seqs;
  DIR* dir = ::opendir(shard_dir.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return seqs;
    return unavailable("cannot read WAL directory " + shard_dir + ": " + errno_text(errno));
  }
  while (dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name.size() != kSeqDigits + kSegmentSuffix.size() || !name.ends_with(kSegmentSuffix)) continue;
    std::string_view digits = name.substr(0, kSeqDigits);
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    // 20 digits can exceed 2^64 - 1; such a name was not written by us.
    if (digits > "18446744073709551615") continue;
    seqs.push_back(std::stoull(std::string(digits)));
  }
  ::closedir(dir);
  std::sort(seqs.begin(), seqs.end());
  return seqs;
}

ssize_t WalFileOps::do_pwritev(int fd, const struct iovec* iov, int iovcnt, off_t offset) const {
  return pwritev ? pwritev(fd, iov, iovcnt, offset) : ::pwritev(fd, iov, iovcnt, offset);
}

int WalFileOps::do_fdatasync(int fd) const { return fdatasync ? fdatasync(fd) : ::fdatasync(fd); }

Result<WalSegment> WalSegment::create(const std::string& shard_dir, const SegmentHeader& header,
                                      const WalFileOps* ops) {
  std::string path = segment_path(shard_dir, header.seq);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    int err = errno;
    std::string msg = "cannot create WAL segment " + path + ": " + errno_text(err);
    return (err == ENOSPC || err == EDQUOT) ? unavailable(msg) : internal_error(msg);
  }
  WalSegment segment(path, fd, header.seq, ops);
  std::string bytes = encode_segment_header(header);
  struct iovec iov = {bytes.data(), bytes.size()};
  segment.size_ = 0;
  Status s = segment.write_all(&iov, 1, 0);
  if (!s.is_ok()) {
    ::unlink(path.c_str());
    return s;
  }
  segment.size_ = kSegmentHeaderSize;
  return segment;
}

WalSegment::WalSegment(WalSegment&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      seq_(other.seq_),
      size_(other.size_),
      broken_(other.broken_),
      ops_(other.ops_) {}

WalSegment& WalSegment::operator=(WalSegment&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    seq_ = other.seq_;
    size_ = other.size_;
    broken_ = other.broken_;
    ops_ = other.ops_;
  }
  return *this;
}

WalSegment::~WalSegment() {
  if (fd_ >= 0) ::close(fd_);
}

int WalSegment::release_fd() { return std::exchange(fd_, -1); }

Status WalSegment::append(std::string_view payload) {
  if (payload.size() > kMaxRecordPayload) {
    return invalid_argument("WAL record of " + std::to_string(payload.size()) +
                            " bytes exceeds the limit of " + std::to_string(kMaxRecordPayload));
  }
  char header[kRecordHeaderSize];
  encode_record_header(payload, header);
  std::array<struct iovec, 2> iov = {
      {{header, sizeof header}, {const_cast<char*>(payload.data()), payload.size()}}};
  Status s = write_all(iov.data(), payload.empty() ? 1 : 2, size_);
  if (s.is_ok()) size_ += kRecordHeaderSize + payload.size();
  return s;
}

Status WalSegment::write_all(const struct iovec* iov_in, int iovcnt, uint64_t offset) {
  std::array<struct iovec, 2> iov{};
  std::copy(iov_in, iov_in + iovcnt, iov.begin());
  size_t first = 0;
  uint64_t pos = offset;
  while (first < static_cast<size_t>(iovcnt)) {
    ssize_t n = ops_->do_pwritev(fd_, &iov[first], iovcnt - static_cast<int>(first), static_cast<off_t>(pos));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      // Roll back whatever part of the record reached the file: the next record must start where a reader
      // expects one, and a half record must never be replayed as a torn tail of acknowledged data.
      if (::ftruncate(fd_, static_cast<off_t>(offset)) != 0) broken_ = true;
      std::string msg = "WAL write to " + path_ + " failed: " + errno_text(err);
      return (err == ENOSPC || err == EDQUOT) ? unavailable(msg) : internal_error(msg);
    }
    pos += static_cast<uint64_t>(n);
    auto left = static_cast<size_t>(n);
    while (first < static_cast<size_t>(iovcnt) && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (first < static_cast<size_t>(iovcnt)) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return Status::ok();
}

}  // namespace spindle
