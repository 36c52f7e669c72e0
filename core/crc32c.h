#pragma once
// CRC32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78), the checksum of iSCSI, ext4 metadata,
// LevelDB/RocksDB and Kafka record batches. Chosen over CRC32 because x86-64 computes it in hardware (SSE4.2
// `crc32` instruction, ~8 bytes per cycle per stream), so checksumming every WAL record costs almost nothing.
//
// The SSE4.2 path is picked once, at first use, with __builtin_cpu_supports("sse4.2"); other CPUs use a
// slicing-by-8 table implementation. Both produce identical results (checked by tests).
//
// Threads: every function is pure and may be called from any thread.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace spindle {

// Continues a CRC: crc32c_extend(crc32c(a), b) == crc32c(a + b). Start from 0.
uint32_t crc32c_extend(uint32_t crc, const void* data, size_t size);

inline uint32_t crc32c(const void* data, size_t size) { return crc32c_extend(0, data, size); }
inline uint32_t crc32c(std::string_view s) { return crc32c_extend(0, s.data(), s.size()); }

// Masked form for CRCs that are stored next to (or inside) data that is itself checksummed. The CRC of a
// byte string that ends with its own CRC is a constant, and data made of embedded records is checksummed
// again by outer layers (a WAL segment copied into a block, a segment read back as a payload), so storing the
// raw CRC makes accidental "valid" checksums far more likely. Rotating and adding a constant (LevelDB's
// scheme) breaks that algebraic relationship. Always store crc32c_mask(crc) and compare with
// crc32c_unmask(stored).
inline uint32_t crc32c_mask(uint32_t crc) {
  constexpr uint32_t kMaskDelta = 0xa282ead8u;
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}
inline uint32_t crc32c_unmask(uint32_t masked) {
  constexpr uint32_t kMaskDelta = 0xa282ead8u;
  uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

// Both implementations, for tests and benchmarks. crc32c_extend_sse42 may only be called when
// crc32c_sse42_available() is true.
uint32_t crc32c_extend_portable(uint32_t crc, const void* data, size_t size);
uint32_t crc32c_extend_sse42(uint32_t crc, const void* data, size_t size);
bool crc32c_sse42_available();

}  // namespace spindle
