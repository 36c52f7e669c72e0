#pragma once
// TraceId (16 bytes) and its textual forms. 8-byte IDs (Jaeger, Zipkin) are left-padded with zero bytes to 16,
// so `1b1ba462b409200d` and `00000000000000001b1ba462b409200d` name the same trace, exactly as Tempo does.
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace spindle {

struct TraceId {
  std::array<uint8_t, 16> bytes{};

  // Parses a trace ID from a URL path with Tempo's rules (util.HexStringToTraceID): hex digits only, odd length
  // gets a leading 0, more than 16 bytes is an error, fewer are left-padded. Errors are InvalidArgument with
  // Tempo's wording, which users and Grafana already know.
  static Result<TraceId> parse_hex(std::string_view hex);
  // From the raw bytes of an OTLP trace_id field: 16 bytes as they are, 8 bytes left-padded, anything else
  // (and the all-zero ID, which OTLP forbids) is nullopt.
  static std::optional<TraceId> from_bytes(std::string_view raw);

  std::string to_hex() const;  // 32 lowercase hex digits
  std::string_view as_view() const { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }
  bool is_zero() const;

  friend bool operator==(const TraceId& a, const TraceId& b) { return a.bytes == b.bytes; }
  friend bool operator<(const TraceId& a, const TraceId& b) { return a.bytes < b.bytes; }
};

// XXH3 over all 16 bytes: some clients produce non-random high halves (64-bit IDs padded with zeros).
uint64_t hash_trace_id(const TraceId& id);
// The shard that owns a trace; stable for a given shard count.
inline uint32_t shard_for(const TraceId& id, uint32_t shard_count) {
  return static_cast<uint32_t>(hash_trace_id(id) % shard_count);
}

struct TraceIdHash {
  size_t operator()(const TraceId& id) const { return static_cast<size_t>(hash_trace_id(id)); }
};

// Lowercase hex of arbitrary bytes.
std::string to_hex(std::string_view bytes);
// The value of one hex digit (either case), or -1.
int hex_digit_value(char c);

}  // namespace spindle
