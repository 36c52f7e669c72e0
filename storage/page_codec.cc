#include "storage/page_codec.h"

#include "core/endian.h"

#include <xxhash.h>
#include <zstd.h>

#include <cstring>

namespace spindle {
namespace {


}  // namespace

void PageCodec::CCtxFree::operator()(ZSTD_CCtx_s* c) const { ZSTD_freeCCtx(c); }
void PageCodec::DCtxFree::operator()(ZSTD_DCtx_s* d) const { ZSTD_freeDCtx(d); }

PageCodec::PageCodec(int zstd_level) : level_(zstd_level) {}
PageCodec::~PageCodec() = default;

Status PageCodec::encode(std::string_view raw, std::string& out) {
  if (raw.size() > kMaxRawSize) {
    return invalid_argument("page of " + std::to_string(raw.size()) + " bytes exceeds the " +
                            std::to_string(kMaxRawSize) + "-byte page limit");
  }
  size_t start = out.size();
  out.resize(start + kHeaderSize);
  PageMethod method = PageMethod::None;
  if (level_ > 0 && !raw.empty()) {
    if (!cctx_) {
      cctx_.reset(ZSTD_createCCtx());
      if (!cctx_) return resource_exhausted("zstd: cannot allocate a compression context");
    }
    size_t bound = ZSTD_compressBound(raw.size());
    out.resize(start + kHeaderSize + bound);
    size_t n = ZSTD_compressCCtx(cctx_.get(), out.data() + start + kHeaderSize, bound, raw.data(), raw.size(),
                                 level_);
    if (ZSTD_isError(n)) {
      out.resize(start);
      return internal_error(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
    }
    if (n < raw.size()) {
      method = PageMethod::Zstd;
      out.resize(start + kHeaderSize + n);
    }
  }
  if (method == PageMethod::None) {
    out.resize(start + kHeaderSize);
    out.append(raw);
  }
  char* h = out.data() + start;
  h[8] = static_cast<char>(method);
  store_le<uint32_t>(h + 9, static_cast<uint32_t>(out.size() - start - kHeaderSize));
  store_le<uint32_t>(h + 13, static_cast<uint32_t>(raw.size()));
  store_le<uint64_t>(h, XXH3_64bits(h + 8, out.size() - start - 8));
  return Status::ok();
}

Status PageCodec::decode(std::string_view page, std::string& raw) {
  raw.clear();
  if (page.size() < kHeaderSize) {
    return data_loss("page of " + std::to_string(page.size()) + " bytes is shorter than its " +
                     std::to_string(kHeaderSize) + "-byte header");
  }
  const char* h = page.data();
  uint32_t compressed = load_le<uint32_t>(h + 9);
  uint32_t raw_size = load_le<uint32_t>(h + 13);
  if (compressed != page.size() - kHeaderSize) {
    return data_loss("page header says " + std::to_string(compressed) + " payload bytes but the page has " +
                     std::to_string(page.size() - kHeaderSize));
  }
  if (raw_size > kMaxRawSize) {
    return data_loss("page raw size " + std::to_string(raw_size) + " exceeds the limit of " +
                     std::to_string(kMaxRawSize));
  }
  if (load_le<uint64_t>(h) != XXH3_64bits(h + 8, page.size() - 8)) {
    return data_loss("page checksum mismatch (corrupt data)");
  }
  std::string_view payload = page.substr(kHeaderSize);
  switch (static_cast<PageMethod>(static_cast<uint8_t>(h[8]))) {
    case PageMethod::None:
      if (compressed != raw_size) {
        return data_loss("uncompressed page with payload " + std::to_string(compressed) + " != raw size " +
                         std::to_string(raw_size));
      }
      raw.assign(payload);
      return Status::ok();
    case PageMethod::Zstd:
      break;
    default:
      return data_loss("page has unknown compression method " + std::to_string(static_cast<uint8_t>(h[8])));
  }
  if (!dctx_) {
    dctx_.reset(ZSTD_createDCtx());
    if (!dctx_) return resource_exhausted("zstd: cannot allocate a decompression context");
  }
  raw.resize(raw_size);
  size_t n = ZSTD_decompressDCtx(dctx_.get(), raw.data(), raw.size(), payload.data(), payload.size());
  if (ZSTD_isError(n)) {
    raw.clear();
    return data_loss(std::string("page zstd payload is corrupt: ") + ZSTD_getErrorName(n));
  }
  if (n != raw_size) {
    raw.clear();
    return data_loss("page zstd payload expands to " + std::to_string(n) + " bytes, header says " +
                     std::to_string(raw_size));
  }
  return Status::ok();
}

Result<std::string> PageCodec::decode(std::string_view page) {
  std::string raw;
  SPINDLE_RETURN_IF_ERROR(decode(page, raw));
  return raw;
}

}  // namespace spindle
