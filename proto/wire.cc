#include "proto/wire.h"

namespace spindle {

Status WireReader::error_at(std::string_view what, size_t offset) {
  std::string m(what);
  m += " at offset ";
  m += std::to_string(offset);
  return invalid_argument(std::move(m));
}

Result<uint64_t> WireReader::read_varint_slow() {
  const size_t start = pos_;
  uint64_t v = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos_ >= data_.size()) {
      return error_at("truncated varint", base_ + start);
    }
    uint8_t b = static_cast<uint8_t>(data_[pos_++]);
    // The tenth byte may only carry bit 63.
    if (i == 9 && b > 1) {
      return error_at("varint overflows 64 bits", base_ + start);
    }
    v |= static_cast<uint64_t>(b & 0x7F) << (7 * i);
    if (b < 0x80) {
      return v;
    }
  }
  return error_at("varint longer than 10 bytes", base_ + start);
}

Result<WireTag> WireReader::read_tag_slow() {
  const size_t start = offset();
  SPINDLE_ASSIGN_OR_RETURN(uint64_t v, read_varint());
  if (v > 0xFFFFFFFFu) {
    return error_at("tag exceeds 32 bits", start);
  }
  uint32_t field = static_cast<uint32_t>(v >> 3);
  uint32_t type = static_cast<uint32_t>(v & 7);
  if (field == 0) {
    return error_at("field number 0", start);
  }
  if (type > 5) {
    return error_at("invalid wire type " + std::to_string(type), start);
  }
  return WireTag{field, static_cast<WireType>(type)};
}

Result<std::string_view> WireReader::read_length_delimited_slow() {
  const size_t start = offset();
  SPINDLE_ASSIGN_OR_RETURN(uint64_t len, read_varint());
  size_t remaining = data_.size() - pos_;
  if (len > remaining) {
    return error_at(
        "length " + std::to_string(len) + " exceeds the " + std::to_string(remaining) + " remaining bytes",
        start);
  }
  std::string_view v = data_.substr(pos_, static_cast<size_t>(len));
  pos_ += static_cast<size_t>(len);
  return v;
}

Status WireReader::skip_field(WireType type) {
  switch (type) {
    case WireType::Varint:
      return read_varint().status();
    case WireType::Fixed64:
      return read_fixed64().status();
    case WireType::Len:
      return read_length_delimited().status();
    case WireType::Fixed32:
      return read_fixed32().status();
    case WireType::StartGroup:
    case WireType::EndGroup:
      break;
  }
  return error("deprecated group fields are not supported");
}

void WireWriter::end_message(size_t token) {
  size_t len = out_.size() - token;
  size_t n = varint_size(len);
  if (n > 1) {
    out_.insert(token, n - 1, '\0');
  }
  size_t p = token - 1;
  while (len >= 0x80) {
    out_[p++] = static_cast<char>(static_cast<uint8_t>(len) | 0x80);
    len >>= 7;
  }
  out_[p] = static_cast<char>(len);
}

}  // namespace spindle
