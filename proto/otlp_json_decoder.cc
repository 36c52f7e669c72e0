#include "proto/otlp_json_decoder.h"

#include <cmath>
#include <cstring>

#include "proto/base64.h"
#include "proto/json_reader.h"
#include "proto/otlp_fields.h"
#include "proto/wire.h"

namespace spindle {
namespace {

constexpr std::string_view kSpanKinds[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL",
                                           "SPAN_KIND_SERVER",      "SPAN_KIND_CLIENT",
                                           "SPAN_KIND_PRODUCER",    "SPAN_KIND_CONSUMER"};
constexpr std::string_view kStatusCodes[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"};

// Member key matches the OTLP/JSON name or the proto field name.
bool is(std::string_view key, std::string_view camel, std::string_view snake = {}) {
  return key == camel || (!snake.empty() && key == snake);
}

Status bad(const JsonValue& v, std::string_view field, std::string_view what) {
  return invalid_argument(std::string(field) + " " + std::string(what) + " at offset " +
                          std::to_string(v.offset()));
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class JsonToProto {
 public:
  explicit JsonToProto(std::string& out) : w_(out) {}

  Status request(const JsonValue& v) {
    SPINDLE_RETURN_IF_ERROR(expect_object(v, "ExportTraceServiceRequest"));
    for (const auto& m : v.members()) {
      if (m.value.is_null()) continue;
      if (is(m.key, "resourceSpans", "resource_spans")) {
        SPINDLE_RETURN_IF_ERROR(repeated(m.value, "resourceSpans", ExportRequestField::kResourceSpans,
                                         &JsonToProto::resource_spans));
      }
    }
    return Status::ok();
  }

 private:
  using Handler = Status (JsonToProto::*)(const JsonValue&);

  static Status expect_object(const JsonValue& v, std::string_view name) {
    return v.is_object() ? Status::ok() : bad(v, name, "must be an object");
  }

  Status message(const JsonValue& v, std::string_view name, uint32_t field, Handler h) {
    SPINDLE_RETURN_IF_ERROR(expect_object(v, name));
    size_t token = w_.begin_message(field);
    SPINDLE_RETURN_IF_ERROR((this->*h)(v));
    w_.end_message(token);
    return Status::ok();
  }
  Status repeated(const JsonValue& v, std::string_view name, uint32_t field, Handler h) {
    if (!v.is_array()) return bad(v, name, "must be an array");
    for (const JsonValue& item : v.items()) SPINDLE_RETURN_IF_ERROR(message(item, name, field, h));
    return Status::ok();
  }
  Status string(const JsonValue& v, std::string_view name, uint32_t field, bool always = false) {
    if (!v.is_string()) return bad(v, name, "must be a string");
    if (always || !v.text().empty()) w_.put_len_field(field, v.text());
    return Status::ok();
  }
  Status hex_id(const JsonValue& v, std::string_view name, uint32_t field) {
    if (!v.is_string()) return bad(v, name, "must be a hex string");
    std::string_view s = v.text();
    if (s.size() % 2 != 0) return bad(v, name, "must have an even number of hex digits");
    if (s.empty()) return Status::ok();
    std::string bytes(s.size() / 2, '\0');
    for (size_t i = 0; i < bytes.size(); ++i) {
      int hi = hex_digit(s[2 * i]);
      int lo = hex_digit(s[2 * i + 1]);
      if (hi < 0 || lo < 0) return bad(v, name, "must be a hex string");
      bytes[i] = static_cast<char>(hi << 4 | lo);
    }
    w_.put_len_field(field, bytes);
    return Status::ok();
  }
  Status uint32(const JsonValue& v, std::string_view name, uint32_t field, bool fixed = false) {
    std::optional<uint64_t> n = v.as_uint64();
    if (!n || *n > 0xFFFFFFFFu) return bad(v, name, "must be an unsigned 32-bit integer");
    if (*n == 0) return Status::ok();
    if (fixed) {
      w_.put_fixed32_field(field, static_cast<uint32_t>(*n));
    } else {
      w_.put_varint_field(field, *n);
    }
    return Status::ok();
  }
  Status fixed64(const JsonValue& v, std::string_view name, uint32_t field) {
    std::optional<uint64_t> n = v.as_uint64();
    if (!n) return bad(v, name, "must be an unsigned 64-bit integer");
    if (*n != 0) w_.put_fixed64_field(field, *n);
    return Status::ok();
  }
  template <size_t N>
  Status enumeration(const JsonValue& v, std::string_view name, uint32_t field,
                     const std::string_view (&names)[N]) {
    int64_t value = -1;
    bool found = false;
    if (v.is_string()) {
      for (size_t i = 0; i < N; ++i) {
        if (v.text() == names[i]) {
          value = static_cast<int64_t>(i);
          found = true;
        }
      }
    }
    if (!found) {
      std::optional<int64_t> n = v.as_int64();
      if (!n || *n < INT32_MIN || *n > INT32_MAX) return bad(v, name, "must be an enum number or name");
      value = *n;
    }
    // Negative int32 enums are sign-extended to 64 bits on the wire.
    if (value != 0) w_.put_varint_field(field, static_cast<uint64_t>(value));
    return Status::ok();
  }
  Status attributes(const JsonValue& v, std::string_view name, uint32_t field) {
    return repeated(v, name, field, &JsonToProto::key_value);
  }

  Status resource_spans(const JsonValue& v) {
    for (const auto& m : v.members()) {
      if (m.value.is_null()) continue;
      if (is(m.key, "resource")) {
        SPINDLE_RETURN_IF_ERROR(
            message(m.value, "resource", ResourceSpansField::kResource, &JsonToProto::resource));
      } else if (is(m.key, "scopeSpans", "scope_spans")) {
        SPINDLE_RETURN_IF_ERROR(
            repeated(m.value, "scopeSpans", ResourceSpansField::kScopeSpans, &JsonToProto::scope_spans));
      } else if (is(m.key, "schemaUrl", "schema_url")) {
        SPINDLE_RETURN_IF_ERROR(string(m.value, "schemaUrl", ResourceSpansField::kSchemaUrl));
      }
    }
    return Status::ok();
  }

  Status resource(const JsonValue& v) {
    for (const auto& m : v.members()) {
      if (m.value.is_null()) continue;
      if (is(m.key, "attributes")) {
        SPINDLE_RETURN_IF_ERROR(attributes(m.value, "resource.attributes", ResourceField::kAttributes));
      } else if (is(m.key, "droppedAttributesCount", "dropped_attributes_count")) {
        SPINDLE_RETURN_IF_ERROR(
            uint32(m.value, "resource.droppedAttributesCount", ResourceField::kDroppedAttributesCount));
      }
    }
    return Status::ok();
  }

  Status scope_spans(const JsonValue& v) {
    for (const auto& m : v.members()) {
      if (m.value.is_null()) continue;
      if (is(m.key, "scope")) {
        SPINDLE_RETURN_IF_ERROR(message(m.value, "scope", ScopeSpansField::kScope, &JsonToProto::scope));
      } else if (is(m.key, "spans")) {
        SPINDLE_RETURN_IF_ERROR(repeated(m.value, "spans", ScopeSpansField::kSpans, &JsonToProto::span));
      } else if (is(m.key, "schemaUrl", "schema_url")) {
        SPINDLE_RETURN_IF_ERROR(string(m.value, "schemaUrl", ScopeSpansField::kSchemaUrl));
      }
    }
    return Status::ok();
  }

  Status scope(const JsonValue& v) {
    for (const auto& m : v.members()) {
      if (m.value.is_null()) continue;
      if (is(m.key, "name")) {
        SPINDLE_RETURN_IF_ERROR(string(m.value, "scope.name", ScopeField::kName));
      } else if (is(m.key, "version")) {
        SPINDLE_RETURN_IF_ERROR(string(m.value, "scope.version", ScopeField::kVersion));
      } else if (is(m.key, "attributes")) {
        SPINDLE_RETURN_IF_ERROR(attributes(m.value, "scope.attributes", ScopeField::kAttributes));
      } else if (is(m.key, "droppedAttributesCount", "dropped_attributes_count")) {
        SPINDLE_RETURN_IF_ERROR(
            uint32(m.value, "scope.droppedAttributesCount", ScopeField::kDroppedAttributesCount));
      }
    }
    return Status::ok();
  }

  Status span(const JsonValue& v) {
    for (const auto& m : v.members()) {
      const JsonValue& x = m.value;
      const std::string_view k = m.key;
      if (x.is_null()) continue;
      Status st;
      if (is(k, "traceId", "trace_id")) {
        st = hex_id(x, "span.traceId", SpanField::kTraceId);
      } else if (is(k, "spanId", "span_id")) {
        st = hex_id(x, "span.spanId", SpanField::kSpanId);
      } else if (is(k, "traceState", "trace_state")) {
        st = string(x, "span.traceState", SpanField::kTraceState);
      } else if (is(k, "parentSpanId", "parent_span_id")) {
        st = hex_id(x, "span.parentSpanId", SpanField::kParentSpanId);
      } else if (is(k, "flags")) {
        st = uint32(x, "span.flags", SpanField::kFlags, /*fixed=*/true);
      } else if (is(k, "name")) {
        st = string(x, "span.name", SpanField::kName);
      } else if (is(k, "kind")) {
        st = enumeration(x, "span.kind", SpanField::kKind, kSpanKinds);
      } else if (is(k, "startTimeUnixNano", "start_time_unix_nano")) {
        st = fixed64(x, "span.startTimeUnixNano", SpanField::kStartTimeUnixNano);
      } else if (is(k, "endTimeUnixNano", "end_time_unix_nano")) {
        st = fixed64(x, "span.endTimeUnixNano", SpanField::kEndTimeUnixNano);
      } else if (is(k, "attributes")) {
        st = attributes(x, "span.attributes", SpanField::kAttributes);
      } else if (is(k, "droppedAttributesCount", "dropped_attributes_count")) {
        st = uint32(x, "span.droppedAttributesCount", SpanField::kDroppedAttributesCount);
      } else if (is(k, "events")) {
        st = repeated(x, "span.events", SpanField::kEvents, &JsonToProto::event);
      } else if (is(k, "droppedEventsCount", "dropped_events_count")) {
        st = uint32(x, "span.droppedEventsCount", SpanField::kDroppedEventsCount);
      } else if (is(k, "links")) {
        st = repeated(x, "span.links", SpanField::kLinks, &JsonToProto::link);
      } else if (is(k, "droppedLinksCount", "dropped_links_count")) {
        st = uint32(x, "span.droppedLinksCount", SpanField::kDroppedLinksCount);
      } else if (is(k, "status")) {
        st = message(x, "span.status", SpanField::kStatus, &JsonToProto::status);
      }
      SPINDLE_RETURN_IF_ERROR(st);
    }
    return Status::ok();
  }

  Status event(const JsonValue& v) {
    for (const auto& m : v.members()) {
      if (m.value.is_null()) continue;
      if (is(m.key, "timeUnixNano", "time_unix_nano")) {
        SPINDLE_RETURN_IF_ERROR(fixed64(m.value, "event.timeUnixNano", EventField::kTimeUnixNano));
      } else if (is(m.key, "name")) {
        SPINDLE_RETURN_IF_ERROR(string(m.value, "event.name", EventField::kName));
      } else if (is(m.key, "attributes")) {
        SPINDLE_RETURN_IF_ERROR(attributes(m.value, "event.attributes", EventField::kAttributes));
      } else if (is(m.key, "droppedAttributesCount", "dropped_attributes_count")) {
        SPINDLE_RETURN_IF_ERROR(
            uint32(m.value, "event.droppedAttributesCount", EventField::kDroppedAttributesCount));
      }
    }
    return Status::ok();
  }

  Status link(const JsonValue& v) {
    for (const auto& m : v.members()) {
      if (m.value.is_null()) continue;
      if (is(m.key, "traceId", "trace_id")) {
        SPINDLE_RETURN_IF_ERROR(hex_id(m.value, "link.traceId", LinkField::kTraceId));
      } else if (is(m.key, "spanId", "span_id")) {
        SPINDLE_RETURN_IF_ERROR(hex_id(m.value, "link.spanId", LinkField::kSpanId));
      } else if (is(m.key, "traceState", "trace_state")) {
        SPINDLE_RETURN_IF_ERROR(string(m.value, "link.traceState", LinkField::kTraceState));
      } else if (is(m.key, "attributes")) {
        SPINDLE_RETURN_IF_ERROR(attributes(m.value, "link.attributes", LinkField::kAttributes));
      } else if (is(m.key, "droppedAttributesCount", "dropped_attributes_count")) {
        SPINDLE_RETURN_IF_ERROR(
            uint32(m.value, "link.droppedAttributesCount", LinkField::kDroppedAttributesCount));
      } else if (is(m.key, "flags")) {
        SPINDLE_RETURN_IF_ERROR(uint32(m.value, "link.flags", LinkField::kFlags, /*fixed=*/true));
      }
    }
    return Status::ok();
  }

  Status status(const JsonValue& v) {
    for (const auto& m : v.members()) {
      if (m.value.is_null()) continue;
      if (is(m.key, "message")) {
        SPINDLE_RETURN_IF_ERROR(string(m.value, "status.message", StatusField::kMessage));
      } else if (is(m.key, "code")) {
        SPINDLE_RETURN_IF_ERROR(enumeration(m.value, "status.code", StatusField::kCode, kStatusCodes));
      }
    }
    return Status::ok();
  }

  Status key_value(const JsonValue& v) {
    for (const auto& m : v.members()) {
      if (m.value.is_null()) continue;
      if (is(m.key, "key")) {
        SPINDLE_RETURN_IF_ERROR(string(m.value, "attribute key", KeyValueField::kKey));
      } else if (is(m.key, "value")) {
        SPINDLE_RETURN_IF_ERROR(
            message(m.value, "attribute value", KeyValueField::kValue, &JsonToProto::any_value));
      }
    }
    return Status::ok();
  }

  // A oneof: the member present is written even when it holds its zero value.
  Status any_value(const JsonValue& v) {
    for (const auto& m : v.members()) {
      const JsonValue& x = m.value;
      if (x.is_null()) continue;
      if (is(m.key, "stringValue", "string_value")) {
        SPINDLE_RETURN_IF_ERROR(string(x, "stringValue", AnyValueField::kStringValue, /*always=*/true));
      } else if (is(m.key, "boolValue", "bool_value")) {
        if (!x.is_bool()) return bad(x, "boolValue", "must be true or false");
        w_.put_varint_field(AnyValueField::kBoolValue, x.bool_value() ? 1 : 0);
      } else if (is(m.key, "intValue", "int_value")) {
        std::optional<int64_t> n = x.as_int64();
        if (!n) return bad(x, "intValue", "must be a 64-bit integer");
        w_.put_varint_field(AnyValueField::kIntValue, static_cast<uint64_t>(*n));
      } else if (is(m.key, "doubleValue", "double_value")) {
        std::optional<double> d = x.as_double();
        if (!d) return bad(x, "doubleValue", "must be a number");
        w_.put_double_field(AnyValueField::kDoubleValue, *d);
      } else if (is(m.key, "arrayValue", "array_value")) {
        SPINDLE_RETURN_IF_ERROR(
            message(x, "arrayValue", AnyValueField::kArrayValue, &JsonToProto::array_value));
      } else if (is(m.key, "kvlistValue", "kvlist_value")) {
        SPINDLE_RETURN_IF_ERROR(
            message(x, "kvlistValue", AnyValueField::kKvlistValue, &JsonToProto::kvlist_value));
      } else if (is(m.key, "bytesValue", "bytes_value")) {
        if (!x.is_string()) return bad(x, "bytesValue", "must be a base64 string");
        std::string bytes;
        if (!append_base64_decoded(x.text(), bytes).is_ok()) return bad(x, "bytesValue", "must be base64");
        w_.put_len_field(AnyValueField::kBytesValue, bytes);
      }
    }
    return Status::ok();
  }

  Status array_value(const JsonValue& v) {
    const JsonValue* values = v.find("values");
    if (values == nullptr || values->is_null()) return Status::ok();
    return repeated(*values, "arrayValue.values", ValuesField::kValues, &JsonToProto::any_value);
  }

  Status kvlist_value(const JsonValue& v) {
    const JsonValue* values = v.find("values");
    if (values == nullptr || values->is_null()) return Status::ok();
    return repeated(*values, "kvlistValue.values", ValuesField::kValues, &JsonToProto::key_value);
  }

  WireWriter w_;
};

}  // namespace

Result<std::string> otlp_json_to_protobuf(std::string_view json) {
  auto parsed = JsonReader::parse(json);
  if (!parsed.ok()) {
    return invalid_argument("invalid OTLP JSON: " + parsed.status().message());
  }
  std::string out;
  out.reserve(json.size() / 2);
  Status st = JsonToProto(out).request(*parsed);
  if (!st.is_ok()) {
    return invalid_argument("invalid OTLP JSON: " + st.message());
  }
  return out;
}

}  // namespace spindle
