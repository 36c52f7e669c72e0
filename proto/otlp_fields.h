#pragma once
// Field numbers of the OTLP trace messages (opentelemetry/proto/{collector/trace,trace,resource,common}/v1,
// OTLP 1.5) and tempopb.Trace, as used by the hand-written decoders and encoders. Wire types:
// ids/strings/bytes and sub-messages are length-delimited, times fixed64, flags fixed32,
// counts/enums/bool/int varint, double fixed64.
#include <cstdint>

namespace spindle {

// ExportTraceServiceRequest, TracesData and tempopb.Trace all carry `repeated ResourceSpans` as field 1.
struct ExportRequestField {
  static constexpr uint32_t kResourceSpans = 1;
};
struct ResourceSpansField {
  static constexpr uint32_t kResource = 1;
  static constexpr uint32_t kScopeSpans = 2;
  static constexpr uint32_t kSchemaUrl = 3;
};
struct ResourceField {
  static constexpr uint32_t kAttributes = 1;
  static constexpr uint32_t kDroppedAttributesCount = 2;
};
struct ScopeSpansField {
  static constexpr uint32_t kScope = 1;
  static constexpr uint32_t kSpans = 2;
  static constexpr uint32_t kSchemaUrl = 3;
};
struct ScopeField {
  static constexpr uint32_t kName = 1;
  static constexpr uint32_t kVersion = 2;
  static constexpr uint32_t kAttributes = 3;
  static constexpr uint32_t kDroppedAttributesCount = 4;
};
struct SpanField {
  static constexpr uint32_t kTraceId = 1;
  static constexpr uint32_t kSpanId = 2;
  static constexpr uint32_t kTraceState = 3;
  static constexpr uint32_t kParentSpanId = 4;
  static constexpr uint32_t kName = 5;
  static constexpr uint32_t kKind = 6;
  static constexpr uint32_t kStartTimeUnixNano = 7;
  static constexpr uint32_t kEndTimeUnixNano = 8;
  static constexpr uint32_t kAttributes = 9;
  static constexpr uint32_t kDroppedAttributesCount = 10;
  static constexpr uint32_t kEvents = 11;
  static constexpr uint32_t kDroppedEventsCount = 12;
  static constexpr uint32_t kLinks = 13;
  static constexpr uint32_t kDroppedLinksCount = 14;
  static constexpr uint32_t kStatus = 15;
  static constexpr uint32_t kFlags = 16;
};
struct EventField {
  static constexpr uint32_t kTimeUnixNano = 1;
  static constexpr uint32_t kName = 2;
  static constexpr uint32_t kAttributes = 3;
  static constexpr uint32_t kDroppedAttributesCount = 4;
};
struct LinkField {
  static constexpr uint32_t kTraceId = 1;
  static constexpr uint32_t kSpanId = 2;
  static constexpr uint32_t kTraceState = 3;
  static constexpr uint32_t kAttributes = 4;
  static constexpr uint32_t kDroppedAttributesCount = 5;
  static constexpr uint32_t kFlags = 6;
};
struct StatusField {
  static constexpr uint32_t kMessage = 2;
  static constexpr uint32_t kCode = 3;
};
struct KeyValueField {
  static constexpr uint32_t kKey = 1;
  static constexpr uint32_t kValue = 2;
};
struct AnyValueField {
  static constexpr uint32_t kStringValue = 1;
  static constexpr uint32_t kBoolValue = 2;
  static constexpr uint32_t kIntValue = 3;
  static constexpr uint32_t kDoubleValue = 4;
  static constexpr uint32_t kArrayValue = 5;
  static constexpr uint32_t kKvlistValue = 6;
  static constexpr uint32_t kBytesValue = 7;
};
// ArrayValue and KeyValueList: `repeated AnyValue values = 1` / `repeated KeyValue values = 1`.
struct ValuesField {
  static constexpr uint32_t kValues = 1;
};

// The empty Status the decoder appends to spans that carry none (field 15, length 0).
inline constexpr char kEmptyStatusField[] = "\x7A\x00";

}  // namespace spindle
