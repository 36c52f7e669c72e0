#pragma once
// Little-endian fixed-width integers for on-disk formats (WAL segments, block pages, index, bloom). Every such
// format is little-endian; Spindle builds only for little-endian hosts, so these are plain copies.
#include <bit>
#include <cstring>
#include <string>
#include <type_traits>

namespace spindle {

static_assert(std::endian::native == std::endian::little, "on-disk formats assume a little-endian host");

template <class T>
void store_le(char* p, T v) {
  static_assert(std::is_integral_v<T>);
  std::memcpy(p, &v, sizeof(T));
}

template <class T>
void append_le(std::string& out, T v) {
  char buf[sizeof(T)];
  store_le(buf, v);
  out.append(buf, sizeof(T));
}

template <class T>
T load_le(const char* p) {
  static_assert(std::is_integral_v<T>);
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace spindle
