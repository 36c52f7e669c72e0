#include "core/trace_id.h"

#include <xxhash.h>

namespace spindle {
int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<TraceId> TraceId::parse_hex(std::string_view hex) {
  for (size_t i = 0; i < hex.size(); ++i) {
    if (hex_digit_value(hex[i]) < 0) {
      return invalid_argument("trace IDs can only contain hex characters: invalid character '" +
                              std::string(1, hex[i]) + "' at position " + std::to_string(i + 1));
    }
  }
  if (hex.empty()) {
    return invalid_argument("trace ID is empty");
  }
  size_t digits = hex.size() + (hex.size() % 2);
  if (digits / 2 > 16) {
    return invalid_argument("trace IDs can't be larger than 128 bits");
  }
  TraceId id;
  // Fill from the right: the last hex digit is the low nibble of bytes[15].
  size_t nibble = 0;
  for (size_t i = hex.size(); i-- > 0; ++nibble) {
    uint8_t v = static_cast<uint8_t>(hex_digit_value(hex[i]));
    uint8_t& b = id.bytes[15 - nibble / 2];
    b = static_cast<uint8_t>((nibble % 2 == 0) ? v : (b | (v << 4)));
  }
  return id;
}

std::optional<TraceId> TraceId::from_bytes(std::string_view raw) {
  if (raw.size() != 16 && raw.size() != 8) {
    return std::nullopt;
  }
  TraceId id;
  std::memcpy(id.bytes.data() + (16 - raw.size()), raw.data(), raw.size());
  if (id.is_zero()) {
    return std::nullopt;
  }
  return id;
}

std::string TraceId::to_hex() const { return spindle::to_hex(as_view()); }

bool TraceId::is_zero() const {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

uint64_t hash_trace_id(const TraceId& id) { return XXH3_64bits(id.bytes.data(), id.bytes.size()); }

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto b = static_cast<uint8_t>(bytes[i]);
    out[2 * i] = kDigits[b >> 4];
    out[2 * i + 1] = kDigits[b & 0xf];
  }
  return out;
}

}  // namespace spindle
