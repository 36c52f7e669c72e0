#pragma once
// The WAL record payload: one SpanBatch (proto/span_batch.h) in a compact, versioned binary form. The owner
// shard encodes the batch it is about to keep, the WAL frames and checksums it, and replay decodes it back
// into the same SpanBatch.
//
// Format, version 1. Integers are little-endian; "varint" is unsigned LEB128 (protobuf's base-128 varint,
// at most 10 bytes, canonical form not required); "bytes" is a varint length followed by that many bytes.
//
//   u8      version            = 1
//   varint  context_count
//   varint  span_count
//   varint  data_size
//   context_count x:
//     bytes resource, bytes resource_schema_url, bytes scope, bytes scope_schema_url
//   span_count x:
//     16 bytes trace_id
//     varint   context         index into the contexts above
//     varint   offset_delta    offset - (previous span's offset + size), modulo 2^32 (the first span's
//                              "previous end" is 0): spans usually sit back to back in data, so this is 0
//     varint   size
//     u64      start_ns
//     varint   duration_ns     end_ns - start_ns, modulo 2^64 (an end before the start round-trips too)
//   data_size bytes data
//
// Nothing may follow the data. A span costs 28-45 bytes of framing plus its contents (~300 bytes typical).
// Decoding treats the input as untrusted (it comes from disk): every length, count and index is bounded by
// the bytes actually present, each span's [offset, offset + size) must lie inside data, each context index
// must name a context, and any violation is a DataLoss status; it never crashes, and it never allocates more
// than a small multiple of the input size.
//
// Threads: pure functions, callable from any thread.
#include <string>
#include <string_view>

#include "core/result.h"
#include "proto/span_batch.h"

namespace spindle {

inline constexpr uint8_t kSpanBatchCodecVersion = 1;

std::string encode_span_batch(const SpanBatch& batch);
Result<SpanBatch> decode_span_batch(std::string_view bytes);

}  // namespace spindle
