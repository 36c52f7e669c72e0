#include "net/content_coding.h"

#include <zlib.h>

#include <algorithm>
#include <climits>

namespace spindle {
namespace {

constexpr int kGzipWindowBits = 16 + MAX_WBITS;
constexpr int kZlibWindowBits = MAX_WBITS;
constexpr size_t kFirstOutputChunk = 16 << 10;

// Owns a z_stream set up for inflate; inflateEnd on every exit path.
class Inflater {
 public:
  explicit Inflater(int window_bits) { ok_ = inflateInit2(&strm_, window_bits) == Z_OK; }
  ~Inflater() {
    if (ok_) inflateEnd(&strm_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  bool ok() const { return ok_; }
  z_stream& strm() { return strm_; }

 private:
  z_stream strm_{};
  bool ok_ = false;
};

Status corrupt(const z_stream& strm, std::string_view what) {
  std::string message = "corrupt compressed body: ";
  message += strm.msg != nullptr ? std::string_view(strm.msg) : what;
  return invalid_argument(std::move(message));
}

bool starts_gzip_member(std::string_view rest) {
  return rest.size() >= 2 && static_cast<uint8_t>(rest[0]) == 0x1f && static_cast<uint8_t>(rest[1]) == 0x8b;
}

Result<std::string> inflate_bounded(std::string_view in, size_t max_out, int window_bits) {
  Inflater inflater(window_bits);
  if (!inflater.ok()) return internal_error("inflateInit2 failed");
  z_stream& strm = inflater.strm();
  // One byte beyond the limit tells "exactly max_out" from "more than max_out".
  const size_t cap = max_out == SIZE_MAX ? max_out : max_out + 1;
  std::string out;
  size_t produced = 0;
  size_t consumed = 0;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() >= cap) {
        return resource_exhausted("decompressed body exceeds " + std::to_string(max_out) + " bytes");
      }
      const size_t want = std::max({out.size() * 2, in.size() * 2, kFirstOutputChunk});
      out.resize(std::min(cap, want));
    }
    // zlib counts in uInt: feed and drain at most UINT_MAX bytes per call.
    const size_t in_left = in.size() - consumed;
    const auto in_now = static_cast<uInt>(std::min<size_t>(in_left, UINT_MAX));
    const auto out_now = static_cast<uInt>(std::min<size_t>(out.size() - produced, UINT_MAX));
    strm.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + consumed));
    strm.avail_in = in_now;
    strm.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    strm.avail_out = out_now;
    const int rc = inflate(&strm, Z_NO_FLUSH);
    consumed += in_now - strm.avail_in;
    produced += out_now - strm.avail_out;
    if (rc == Z_STREAM_END) {
      const std::string_view rest = in.substr(consumed);
      if (rest.empty()) break;
      if (window_bits != kGzipWindowBits || !starts_gzip_member(rest)) {
        return invalid_argument("corrupt compressed body: trailing bytes after the compressed stream");
      }
      if (inflateReset(&strm) != Z_OK) return internal_error("inflateReset failed");
      continue;
    }
    if (rc == Z_BUF_ERROR && consumed == in.size() && strm.avail_out > 0) {
      return invalid_argument("corrupt compressed body: truncated input");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) return corrupt(strm, zError(rc));
  }
  if (produced > max_out) {
    return resource_exhausted("decompressed body exceeds " + std::to_string(max_out) + " bytes");
  }
  out.resize(produced);
  return out;
}

}  // namespace

Result<std::string> gzip_decompress(std::string_view in, size_t max_out) {
  return inflate_bounded(in, max_out, kGzipWindowBits);
}

Result<std::string> deflate_decompress(std::string_view in, size_t max_out) {
  return inflate_bounded(in, max_out, kZlibWindowBits);
}

std::string gzip_compress(std::string_view in, int level) {
  // Bodies we compress are responses far below 4 GiB, so one deflate call with uInt counts is enough.
  z_stream strm{};
  // Only fails on bad parameters or out of memory; both are programming/fatal errors.
  if (deflateInit2(&strm, level, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out;
  out.resize(deflateBound(&strm, in.size()));
  strm.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  strm.avail_in = static_cast<uInt>(in.size());
  strm.next_out = reinterpret_cast<Bytef*>(out.data());
  strm.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&strm, Z_FINISH);
  out.resize(rc == Z_STREAM_END ? strm.total_out : 0);
  deflateEnd(&strm);
  return out;
}

}  // namespace spindle
