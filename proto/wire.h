#pragma once
// Protobuf wire-format primitives (https://protobuf.dev/programming-guides/encoding/): the hand-written
// decoders and encoders are built on these instead of libprotobuf (see architecture.md 5.3 for why).
//
// Wire format recap: a message is a sequence of fields `tag value`; tag = varint (field_number << 3 |
// wire_type); wire types 0 varint (1-10 bytes, little-endian base-128), 1 fixed64 (8 bytes LE), 2
// length-delimited (varint length + bytes: strings, bytes, sub-messages, packed repeated), 5 fixed32 (4 bytes
// LE). Types 3/4 (groups) are deprecated and rejected here; 6/7 do not exist.
//
// WireReader is strict: every read is bounds-checked, a varint longer than 10 bytes or overflowing 64 bits is
// an error, field number 0 is an error. Errors are InvalidArgument "<what> at offset N", N being the absolute
// offset in the outermost buffer, so callers can prefix them with the message they were decoding.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/result.h"

namespace spindle {

enum class WireType : uint8_t {
  Varint = 0,
  Fixed64 = 1,
  Len = 2,
  StartGroup = 3,
  EndGroup = 4,
  Fixed32 = 5,
};

struct WireTag {
  uint32_t field = 0;
  WireType type = WireType::Varint;
};

// Reads one buffer front to back. Cheap to copy; views it returns point into the buffer.
class WireReader {
 public:
  explicit WireReader(std::string_view data, size_t base_offset = 0) : data_(data), base_(base_offset) {}

  bool done() const { return pos_ >= data_.size(); }
  // Absolute offset of the next byte (for error messages).
  size_t offset() const { return base_ + pos_; }
  std::string_view data() const { return data_; }
  // Offset of the next byte within data().
  size_t position() const { return pos_; }

  Result<WireTag> read_tag() {
    // Fast path: tags of fields 1-15 are one byte.
    if (pos_ < data_.size()) {
      uint8_t b = static_cast<uint8_t>(data_[pos_]);
      if (b < 0x80 && b >= 8 && (b & 7) != 6 && (b & 7) != 7) {
        ++pos_;
        return WireTag{static_cast<uint32_t>(b >> 3), static_cast<WireType>(b & 7)};
      }
    }
    return read_tag_slow();
  }
  Result<uint64_t> read_varint() {
    if (pos_ < data_.size() && static_cast<uint8_t>(data_[pos_]) < 0x80) {
      return static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_++]));
    }
    return read_varint_slow();
  }
  Result<uint32_t> read_fixed32() {
    if (data_.size() - pos_ < 4) return error("truncated fixed32");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
    pos_ += 4;
    return v;
  }
  Result<uint64_t> read_fixed64() {
    if (data_.size() - pos_ < 8) return error("truncated fixed64");
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return v;
  }
  Result<std::string_view> read_length_delimited() {
    // Fast path: most OTLP strings and sub-messages are shorter than 128 bytes (a one-byte length).
    if (pos_ < data_.size()) {
      size_t len = static_cast<uint8_t>(data_[pos_]);
      if (len < 0x80 && len < data_.size() - pos_) {
        std::string_view v = data_.substr(pos_ + 1, len);
        pos_ += 1 + len;
        return v;
      }
    }
    return read_length_delimited_slow();
  }
  // Skips the value of a field whose tag was just read.
  Status skip_field(WireType type);

  // A reader over `inner`, a view previously returned by this reader; offsets in its errors stay absolute.
  WireReader nested(std::string_view inner) const {
    return WireReader(inner, base_ + static_cast<size_t>(inner.data() - data_.data()));
  }

  Status error(std::string_view what) const { return error_at(what, offset()); }
  static Status error_at(std::string_view what, size_t offset);

 private:
  Result<WireTag> read_tag_slow();
  Result<std::string_view> read_length_delimited_slow();
  Result<uint64_t> read_varint_slow();

  std::string_view data_;
  size_t base_ = 0;
  size_t pos_ = 0;
};

// Appends protobuf wire format to a std::string. Writes canonical (shortest) varints.
class WireWriter {
 public:
  explicit WireWriter(std::string& out) : out_(out) {}

  std::string& out() { return out_; }

  void put_varint(uint64_t v) {
    char buf[10];
    size_t n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>(static_cast<uint8_t>(v) | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out_.append(buf, n);
  }
  void put_tag(uint32_t field, WireType type) {
    put_varint((static_cast<uint64_t>(field) << 3) | static_cast<uint8_t>(type));
  }
  void put_fixed32(uint32_t v) {
    char buf[4];
    for (int i = 0; i < 4; ++i) buf[i] = static_cast<char>(v >> (8 * i));
    out_.append(buf, 4);
  }
  void put_fixed64(uint64_t v) {
    char buf[8];
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(v >> (8 * i));
    out_.append(buf, 8);
  }

  void put_varint_field(uint32_t field, uint64_t v) {
    put_tag(field, WireType::Varint);
    put_varint(v);
  }
  void put_fixed32_field(uint32_t field, uint32_t v) {
    put_tag(field, WireType::Fixed32);
    put_fixed32(v);
  }
  void put_fixed64_field(uint32_t field, uint64_t v) {
    put_tag(field, WireType::Fixed64);
    put_fixed64(v);
  }
  void put_double_field(uint32_t field, double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    put_fixed64_field(field, bits);
  }
  void put_len_field(uint32_t field, std::string_view bytes) {
    put_tag(field, WireType::Len);
    put_varint(bytes.size());
    out_.append(bytes);
  }

  // Nested message whose length is not known up front: begin_message writes the tag and a one-byte length
  // placeholder; end_message patches it (moving the contents when the length needs more than one byte).
  // Calls nest like brackets.
  size_t begin_message(uint32_t field) {
    put_tag(field, WireType::Len);
    out_.push_back('\0');
    return out_.size();
  }
  void end_message(size_t token);

  static size_t varint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
      v >>= 7;
      ++n;
    }
    return n;
  }

 private:
  std::string& out_;
};

}  // namespace spindle
