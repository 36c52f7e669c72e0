#pragma once
// OTLP/JSON (the OTLP/HTTP `application/json` encoding) -> OTLP protobuf bytes, so JSON ingest reuses the
// protobuf decoder (decode_export_request) unchanged.
//
// OTLP/JSON rules (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding), which deviate from
// proto3 JSON:
//   - keys are lowerCamelCase (`resourceSpans`, `startTimeUnixNano`); the proto snake_case names are accepted
//   too;
//   - Span traceId/spanId/parentSpanId and Link traceId/spanId are HEX strings (case-insensitive, empty
//   allowed);
//     other bytes (AnyValue.bytesValue) are base64 (standard or URL-safe, padding optional);
//   - enums (kind, status.code) are integers; the enum names (`SPAN_KIND_SERVER`) are accepted too;
//   - 64-bit integers may be strings or numbers; 32-bit ones numbers or strings; doubles numbers or
//     "NaN"/"Infinity"/"-Infinity"; `null` means "not set";
//   - unknown fields are ignored.
// The output follows proto3 serialisation: zero scalars are omitted except inside AnyValue's oneof, and every
// object present in the JSON becomes a present (possibly empty) sub-message.
// Errors: InvalidArgument "invalid OTLP JSON: <what> at offset N".
#include <string>
#include <string_view>

#include "core/result.h"

namespace spindle {

Result<std::string> otlp_json_to_protobuf(std::string_view json);

}  // namespace spindle
