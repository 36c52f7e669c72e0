#pragma once
// Base64 (RFC 4648). Encoding is the standard alphabet with '=' padding, as Go's encoding/json writes []byte
// and therefore as Tempo's JSON carries bytes fields. Decoding accepts what proto3 JSON parsers accept: the
// standard or URL-safe alphabet, with or without padding.
#include <string>
#include <string_view>

#include "core/result.h"

namespace spindle {

void append_base64(std::string_view bytes, std::string& out);
std::string base64_encode(std::string_view bytes);

// Appends the decoded bytes to out; InvalidArgument (without offset) on a bad character or length.
Status append_base64_decoded(std::string_view text, std::string& out);

}  // namespace spindle
