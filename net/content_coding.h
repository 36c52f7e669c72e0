#pragma once
// Content codings for request bodies and gRPC messages, on zlib.
//
// Formats: gzip = RFC 1952 (HTTP `Content-Encoding: gzip`, gRPC `grpc-encoding: gzip`); several gzip members
// concatenated decode as their concatenation (as Go's and zlib's gunzip do). "deflate" = the zlib format of
// RFC 1950 (HTTP `deflate` and gRPC `deflate` both mean this wrapper around RFC 1951 data).
//
// Decompression is bounded: the output buffer grows geometrically but never beyond max_out + 1 bytes, so a
// small compressed "bomb" cannot make us allocate more than the caller's limit.
//
// Threading: pure functions, callable from any thread.
#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"

namespace spindle {

// RESOURCE_EXHAUSTED "decompressed body exceeds N bytes" past max_out; INVALID_ARGUMENT with zlib's message
// for corrupt or truncated input.
Result<std::string> gzip_decompress(std::string_view in, size_t max_out);
Result<std::string> deflate_decompress(std::string_view in, size_t max_out);

// level 1 = fastest (what we want on the response path); 0..9 as zlib.
std::string gzip_compress(std::string_view in, int level = 1);

}  // namespace spindle
