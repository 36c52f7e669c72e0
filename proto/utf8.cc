#include "proto/utf8.h"

#include <cstdint>
#include <cstring>

namespace spindle {

size_t utf8_sequence_length(std::string_view s, size_t i) {
  const size_t n = s.size() - i;
  auto at = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  auto cont = [&](size_t k) { return (at(k) & 0xC0) == 0x80; };
  uint8_t b = at(0);
  if (b < 0x80) return 1;
  if (b < 0xC2) return 0;  // continuation byte or overlong 2-byte lead
  if (b < 0xE0) return n >= 2 && cont(1) ? 2 : 0;
  if (b < 0xF0) {
    if (n < 3 || !cont(1) || !cont(2)) return 0;
    if (b == 0xE0 && at(1) < 0xA0) return 0;   // overlong
    if (b == 0xED && at(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (b < 0xF5) {
    if (n < 4 || !cont(1) || !cont(2) || !cont(3)) return 0;
    if (b == 0xF0 && at(1) < 0x90) return 0;   // overlong
    if (b == 0xF4 && at(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // ASCII runs dominate telemetry strings: check 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t len = utf8_sequence_length(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

}  // namespace spindle
