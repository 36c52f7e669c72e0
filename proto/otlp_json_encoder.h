#pragma once
// Trace-by-ID JSON: a serialized tempopb.Trace (field 1 = repeated ResourceSpans) rendered the way Tempo
// renders it with gogo jsonpb (OrigName=false, EmitDefaults=false), see tempo-api.md 2.3 and 3.5:
//   - `{"<key>":[ResourceSpans...]}`; key "batches" for /api/traces (v1), "resourceSpans" inside the v2
//   wrapper;
//     a trace with no ResourceSpans is `{}` (empty repeated fields are omitted);
//   - lowerCamelCase keys in proto declaration order; bytes fields (traceId, spanId, parentSpanId, link ids,
//     bytesValue) as standard padded base64 (NOT hex: that is OTLP/JSON);
//   - int64/uint64/fixed64 as JSON strings (intValue, *UnixNano); uint32 and fixed32 (flags) as numbers;
//     enums as names (SPAN_KIND_*, STATUS_CODE_*), values without a name as numbers;
//   - zero scalars, empty strings/bytes and empty repeated fields omitted; a sub-message present in the bytes
//   is
//     emitted even when empty (`"status":{}`); AnyValue's set member is emitted even when zero
//     (`{"intValue":"0"}`); doubles per JsonWriter (non-finite as "NaN"/"Infinity"/"-Infinity").
// Duplicate singular fields follow protobuf merge rules (last scalar wins, sub-messages merge); unknown
// fields and known fields with an unexpected wire type are skipped. Errors: InvalidArgument "malformed Trace
// protobuf: <what> at offset N"; `out` is then left as it was.
#include <string>
#include <string_view>

#include "core/status.h"

namespace spindle {

Status append_trace_json(std::string_view trace_pb, std::string_view resource_spans_key, std::string& out);

}  // namespace spindle
