#pragma once
// Strict UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), the same rule
// as libprotobuf and Go's protobuf apply to proto3 `string` fields: a span carrying invalid UTF-8 would make
// Grafana's decoder reject the whole trace, so the decoders refuse it at ingest.
#include <cstddef>
#include <string_view>

namespace spindle {

bool is_valid_utf8(std::string_view s);

// Length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes there are not one.
size_t utf8_sequence_length(std::string_view s, size_t i);

}  // namespace spindle
