#pragma once
// PageCodec: one self-checking compressed page, the unit blocks store their rows in (ClickHouse's compressed
// block, architecture.md 3.1, with XXH3 for the checksum).
//
// Page layout (integers little endian), header 17 bytes:
//   offset  size  field
//   0       8     checksum: XXH3-64 of bytes [8, 17 + compressed_size)
//   8       1     method: 0x02 none (payload is the raw bytes), 0x90 zstd (payload is one zstd frame)
//   9       4     compressed_size: payload bytes
//   13      4     raw_size: bytes after decompression (<= kMaxRawSize)
//   17      ...   payload
// A page that zstd would not shrink is stored with method none, so random data costs 17 bytes, not more.
// decode() treats its input as untrusted: a short page, size fields that disagree with the page, a raw size
// over the cap, an unknown method, a checksum mismatch or a zstd frame that does not expand to exactly
// raw_size bytes is DataLoss.
//
// Thread safety: a codec owns reusable zstd contexts; use one codec per thread.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;

namespace spindle {

enum class PageMethod : uint8_t {
  None = 0x02,
  Zstd = 0x90,
};

class PageCodec {
 public:
  static constexpr size_t kHeaderSize = 17;
  static constexpr uint32_t kMaxRawSize = 64u << 20;

  // zstd_level: 1 for freshly cut blocks, 3 for compacted ones (architecture.md 5.2); 0 stores pages
  // uncompressed.
  explicit PageCodec(int zstd_level = 1);
  ~PageCodec();
  PageCodec(const PageCodec&) = delete;
  PageCodec& operator=(const PageCodec&) = delete;

  // Appends one page holding `raw` to `out`. InvalidArgument if raw is over kMaxRawSize.
  Status encode(std::string_view raw, std::string& out);
  // `page` must be exactly one page. Replaces the contents of `raw`.
  Status decode(std::string_view page, std::string& raw);
  Result<std::string> decode(std::string_view page);

  int zstd_level() const { return level_; }

 private:
  struct CCtxFree {
    void operator()(ZSTD_CCtx_s* c) const;
  };
  struct DCtxFree {
    void operator()(ZSTD_DCtx_s* d) const;
  };

  int level_;
  std::unique_ptr<ZSTD_CCtx_s, CCtxFree> cctx_;
  std::unique_ptr<ZSTD_DCtx_s, DCtxFree> dctx_;
};

}  // namespace spindle
