#include "proto/otlp_json_encoder.h"

#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include "proto/json_writer.h"
#include "proto/otlp_fields.h"
#include "proto/wire.h"

namespace spindle {
namespace {

constexpr int kMaxDepth = 100;
constexpr uint32_t kMaxField = 16;

// Expected wire type of each known field (index = field number); -1 = not a field of the message.
using Schema = std::array<int8_t, kMaxField + 1>;

constexpr int8_t V = static_cast<int8_t>(WireType::Varint);
constexpr int8_t L = static_cast<int8_t>(WireType::Len);
constexpr int8_t F64 = static_cast<int8_t>(WireType::Fixed64);
constexpr int8_t F32 = static_cast<int8_t>(WireType::Fixed32);
constexpr int8_t X = -1;
constexpr int8_t M = 10;  // a singular sub-message (length-delimited; repeated occurrences merge)

constexpr Schema kTraceSchema = {X, L, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X};
constexpr Schema kResourceSpansSchema = {X, M, L, L, X, X, X, X, X, X, X, X, X, X, X, X, X};
constexpr Schema kResourceSchema = {X, L, V, X, X, X, X, X, X, X, X, X, X, X, X, X, X};
constexpr Schema kScopeSpansSchema = {X, M, L, L, X, X, X, X, X, X, X, X, X, X, X, X, X};
constexpr Schema kScopeSchema = {X, L, L, L, V, X, X, X, X, X, X, X, X, X, X, X, X};
constexpr Schema kSpanSchema = {X, L, L, L, L, L, V, F64, F64, L, V, L, V, L, V, M, F32};
constexpr Schema kEventSchema = {X, F64, L, L, V, X, X, X, X, X, X, X, X, X, X, X, X};
constexpr Schema kLinkSchema = {X, L, L, L, L, V, F32, X, X, X, X, X, X, X, X, X, X};
constexpr Schema kStatusSchema = {X, X, L, V, X, X, X, X, X, X, X, X, X, X, X, X, X};
constexpr Schema kKeyValueSchema = {X, L, M, X, X, X, X, X, X, X, X, X, X, X, X, X, X};
constexpr Schema kAnyValueSchema = {X, L, V, V, F64, M, M, L, X, X, X, X, X, X, X, X, X};
constexpr Schema kValuesSchema = {X, L, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X};

constexpr std::string_view kSpanKinds[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL",
                                           "SPAN_KIND_SERVER",      "SPAN_KIND_CLIENT",
                                           "SPAN_KIND_PRODUCER",    "SPAN_KIND_CONSUMER"};
constexpr std::string_view kStatusCodes[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"};

// One pass over a message: the last value of each singular field, the merged contents of singular
// sub-messages, and how many times each field occurred (repeated fields are re-walked when emitted).
class Fields {
 public:
  // `oneof`: fields 1..7 form a oneof (AnyValue); switching members discards the previous one.
  Status scan(WireReader r, const Schema& schema, bool oneof = false) {
    data_ = r;
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, r.read_tag());
      const int8_t want = t.field <= kMaxField ? schema[t.field] : X;
      if (want == X || (want == M ? L : want) != static_cast<int8_t>(t.type)) {
        SPINDLE_RETURN_IF_ERROR(r.skip_field(t.type));
        continue;
      }
      const uint32_t f = t.field;
      if (oneof && f != oneof_) {
        reset(oneof_);
        reset(f);
        oneof_ = f;
      }
      switch (t.type) {
        case WireType::Varint: {
          SPINDLE_ASSIGN_OR_RETURN(num_[f], r.read_varint());
          break;
        }
        case WireType::Fixed64: {
          SPINDLE_ASSIGN_OR_RETURN(num_[f], r.read_fixed64());
          break;
        }
        case WireType::Fixed32: {
          SPINDLE_ASSIGN_OR_RETURN(num_[f], r.read_fixed32());
          break;
        }
        default: {
          SPINDLE_ASSIGN_OR_RETURN(std::string_view v, r.read_length_delimited());
          if (count_[f] == 0) first_[f] = v;
          if (count_[f] > 0 && want == M) {
            if (!merged_[f]) merged_[f] = std::make_unique<std::string>(first_[f]);
            merged_[f]->append(v);
          }
          last_[f] = v;
          break;
        }
      }
      ++count_[f];
    }
    return Status::ok();
  }

  uint32_t count(uint32_t f) const { return count_[f]; }
  uint64_t num(uint32_t f) const { return count_[f] ? num_[f] : 0; }
  // Last value of a string/bytes field.
  std::string_view last(uint32_t f) const { return count_[f] ? last_[f] : std::string_view(); }
  // Contents of a singular sub-message (all occurrences merged). Error offsets inside a merged message are
  // relative to the merge buffer's first occurrence.
  WireReader message(uint32_t f) const {
    if (!merged_[f]) return data_.nested(first_[f]);
    return WireReader(*merged_[f], data_.nested(first_[f]).offset());
  }
  const WireReader& data() const { return data_; }

 private:
  void reset(uint32_t f) {
    count_[f] = 0;
    merged_[f].reset();
  }

  WireReader data_{std::string_view()};
  std::array<uint64_t, kMaxField + 1> num_{};
  std::array<uint32_t, kMaxField + 1> count_{};
  std::array<std::string_view, kMaxField + 1> first_{};
  std::array<std::string_view, kMaxField + 1> last_{};
  std::array<std::unique_ptr<std::string>, kMaxField + 1> merged_;
  uint32_t oneof_ = 0;
};

class TraceJsonEncoder {
 public:
  explicit TraceJsonEncoder(std::string& out) : w_(out) {}

  Status trace(WireReader r, std::string_view key) {
    Fields f;
    SPINDLE_RETURN_IF_ERROR(f.scan(r, kTraceSchema));
    w_.begin_object();
    SPINDLE_RETURN_IF_ERROR(
        repeated(f, key, ExportRequestField::kResourceSpans, &TraceJsonEncoder::resource_spans, 0));
    w_.end_object();
    return Status::ok();
  }

 private:
  using Emit = Status (TraceJsonEncoder::*)(WireReader, int);

  Status repeated(const Fields& f, std::string_view key, uint32_t field, Emit emit, int depth) {
    if (f.count(field) == 0) return Status::ok();
    w_.key(key);
    w_.begin_array();
    for (WireReader r = f.data(); !r.done();) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, r.read_tag());
      if (t.field != field || t.type != WireType::Len) {
        SPINDLE_RETURN_IF_ERROR(r.skip_field(t.type));
        continue;
      }
      SPINDLE_ASSIGN_OR_RETURN(std::string_view item, r.read_length_delimited());
      SPINDLE_RETURN_IF_ERROR((this->*emit)(r.nested(item), depth + 1));
    }
    w_.end_array();
    return Status::ok();
  }
  Status message(const Fields& f, std::string_view key, uint32_t field, Emit emit, int depth) {
    if (f.count(field) == 0) return Status::ok();
    w_.key(key);
    return (this->*emit)(f.message(field), depth + 1);
  }
  void string(const Fields& f, std::string_view key, uint32_t field) {
    std::string_view s = f.last(field);
    if (s.empty()) return;
    w_.key(key);
    w_.string(s);
  }
  void bytes(const Fields& f, std::string_view key, uint32_t field) {
    std::string_view s = f.last(field);
    if (s.empty()) return;
    w_.key(key);
    w_.base64(s);
  }
  // uint32 (varint, truncated like protobuf does) and fixed32: numbers.
  void uint32(const Fields& f, std::string_view key, uint32_t field) {
    uint32_t v = static_cast<uint32_t>(f.num(field));
    if (v == 0) return;
    w_.key(key);
    w_.uint_value(v);
  }
  void uint64_string(const Fields& f, std::string_view key, uint32_t field) {
    uint64_t v = f.num(field);
    if (v == 0) return;
    w_.key(key);
    w_.uint_string(v);
  }
  template <size_t N>
  void enumeration(const Fields& f, std::string_view key, uint32_t field,
                   const std::string_view (&names)[N]) {
    int32_t v = static_cast<int32_t>(static_cast<uint32_t>(f.num(field)));
    if (v == 0) return;
    w_.key(key);
    if (v > 0 && static_cast<size_t>(v) < N) {
      w_.string(names[v]);
    } else {
      w_.int_value(v);
    }
  }
  Status check_depth(const WireReader& r, int depth) {
    return depth > kMaxDepth ? r.error("messages nested too deeply") : Status::ok();
  }

  Status resource_spans(WireReader r, int depth) {
    Fields f;
    SPINDLE_RETURN_IF_ERROR(f.scan(r, kResourceSpansSchema));
    w_.begin_object();
    SPINDLE_RETURN_IF_ERROR(
        message(f, "resource", ResourceSpansField::kResource, &TraceJsonEncoder::resource, depth));
    SPINDLE_RETURN_IF_ERROR(
        repeated(f, "scopeSpans", ResourceSpansField::kScopeSpans, &TraceJsonEncoder::scope_spans, depth));
    string(f, "schemaUrl", ResourceSpansField::kSchemaUrl);
    w_.end_object();
    return Status::ok();
  }

  Status resource(WireReader r, int depth) {
    Fields f;
    SPINDLE_RETURN_IF_ERROR(f.scan(r, kResourceSchema));
    w_.begin_object();
    SPINDLE_RETURN_IF_ERROR(
        repeated(f, "attributes", ResourceField::kAttributes, &TraceJsonEncoder::key_value, depth));
    uint32(f, "droppedAttributesCount", ResourceField::kDroppedAttributesCount);
    w_.end_object();
    return Status::ok();
  }

  Status scope_spans(WireReader r, int depth) {
    Fields f;
    SPINDLE_RETURN_IF_ERROR(f.scan(r, kScopeSpansSchema));
    w_.begin_object();
    SPINDLE_RETURN_IF_ERROR(message(f, "scope", ScopeSpansField::kScope, &TraceJsonEncoder::scope, depth));
    SPINDLE_RETURN_IF_ERROR(repeated(f, "spans", ScopeSpansField::kSpans, &TraceJsonEncoder::span, depth));
    string(f, "schemaUrl", ScopeSpansField::kSchemaUrl);
    w_.end_object();
    return Status::ok();
  }

  Status scope(WireReader r, int depth) {
    Fields f;
    SPINDLE_RETURN_IF_ERROR(f.scan(r, kScopeSchema));
    w_.begin_object();
    string(f, "name", ScopeField::kName);
    string(f, "version", ScopeField::kVersion);
    SPINDLE_RETURN_IF_ERROR(
        repeated(f, "attributes", ScopeField::kAttributes, &TraceJsonEncoder::key_value, depth));
    uint32(f, "droppedAttributesCount", ScopeField::kDroppedAttributesCount);
    w_.end_object();
    return Status::ok();
  }

  Status span(WireReader r, int depth) {
    Fields f;
    SPINDLE_RETURN_IF_ERROR(f.scan(r, kSpanSchema));
    w_.begin_object();
    bytes(f, "traceId", SpanField::kTraceId);
    bytes(f, "spanId", SpanField::kSpanId);
    string(f, "traceState", SpanField::kTraceState);
    bytes(f, "parentSpanId", SpanField::kParentSpanId);
    uint32(f, "flags", SpanField::kFlags);
    string(f, "name", SpanField::kName);
    enumeration(f, "kind", SpanField::kKind, kSpanKinds);
    uint64_string(f, "startTimeUnixNano", SpanField::kStartTimeUnixNano);
    uint64_string(f, "endTimeUnixNano", SpanField::kEndTimeUnixNano);
    SPINDLE_RETURN_IF_ERROR(
        repeated(f, "attributes", SpanField::kAttributes, &TraceJsonEncoder::key_value, depth));
    uint32(f, "droppedAttributesCount", SpanField::kDroppedAttributesCount);
    SPINDLE_RETURN_IF_ERROR(repeated(f, "events", SpanField::kEvents, &TraceJsonEncoder::event, depth));
    uint32(f, "droppedEventsCount", SpanField::kDroppedEventsCount);
    SPINDLE_RETURN_IF_ERROR(repeated(f, "links", SpanField::kLinks, &TraceJsonEncoder::link, depth));
    uint32(f, "droppedLinksCount", SpanField::kDroppedLinksCount);
    SPINDLE_RETURN_IF_ERROR(message(f, "status", SpanField::kStatus, &TraceJsonEncoder::status, depth));
    w_.end_object();
    return Status::ok();
  }

  Status event(WireReader r, int depth) {
    Fields f;
    SPINDLE_RETURN_IF_ERROR(f.scan(r, kEventSchema));
    w_.begin_object();
    uint64_string(f, "timeUnixNano", EventField::kTimeUnixNano);
    string(f, "name", EventField::kName);
    SPINDLE_RETURN_IF_ERROR(
        repeated(f, "attributes", EventField::kAttributes, &TraceJsonEncoder::key_value, depth));
    uint32(f, "droppedAttributesCount", EventField::kDroppedAttributesCount);
    w_.end_object();
    return Status::ok();
  }

  Status link(WireReader r, int depth) {
    Fields f;
    SPINDLE_RETURN_IF_ERROR(f.scan(r, kLinkSchema));
    w_.begin_object();
    bytes(f, "traceId", LinkField::kTraceId);
    bytes(f, "spanId", LinkField::kSpanId);
    string(f, "traceState", LinkField::kTraceState);
    SPINDLE_RETURN_IF_ERROR(
        repeated(f, "attributes", LinkField::kAttributes, &TraceJsonEncoder::key_value, depth));
    uint32(f, "droppedAttributesCount", LinkField::kDroppedAttributesCount);
    uint32(f, "flags", LinkField::kFlags);
    w_.end_object();
    return Status::ok();
  }

  Status status(WireReader r, int depth) {
    Fields f;
    SPINDLE_RETURN_IF_ERROR(f.scan(r, kStatusSchema));
    w_.begin_object();
    string(f, "message", StatusField::kMessage);
    enumeration(f, "code", StatusField::kCode, kStatusCodes);
    w_.end_object();
    return Status::ok();
  }

  Status key_value(WireReader r, int depth) {
    SPINDLE_RETURN_IF_ERROR(check_depth(r, depth));
    Fields f;
    SPINDLE_RETURN_IF_ERROR(f.scan(r, kKeyValueSchema));
    w_.begin_object();
    string(f, "key", KeyValueField::kKey);
    SPINDLE_RETURN_IF_ERROR(message(f, "value", KeyValueField::kValue, &TraceJsonEncoder::any_value, depth));
    w_.end_object();
    return Status::ok();
  }

  Status any_value(WireReader r, int depth) {
    SPINDLE_RETURN_IF_ERROR(check_depth(r, depth));
    Fields f;
    SPINDLE_RETURN_IF_ERROR(f.scan(r, kAnyValueSchema, /*oneof=*/true));
    w_.begin_object();
    // The member set last is the one that counts; it is emitted even when zero.
    uint32_t set = 0;
    for (uint32_t k = AnyValueField::kStringValue; k <= AnyValueField::kBytesValue; ++k) {
      if (f.count(k) > 0) set = k;
    }
    switch (set) {
      case AnyValueField::kStringValue:
        w_.key("stringValue");
        w_.string(f.last(set));
        break;
      case AnyValueField::kBoolValue:
        w_.key("boolValue");
        w_.bool_value(f.num(set) != 0);
        break;
      case AnyValueField::kIntValue:
        w_.key("intValue");
        w_.int_string(static_cast<int64_t>(f.num(set)));
        break;
      case AnyValueField::kDoubleValue: {
        uint64_t bits = f.num(set);
        double d;
        std::memcpy(&d, &bits, sizeof d);
        w_.key("doubleValue");
        w_.double_value(d);
        break;
      }
      case AnyValueField::kArrayValue:
        SPINDLE_RETURN_IF_ERROR(message(f, "arrayValue", set, &TraceJsonEncoder::array_value, depth));
        break;
      case AnyValueField::kKvlistValue:
        SPINDLE_RETURN_IF_ERROR(message(f, "kvlistValue", set, &TraceJsonEncoder::kvlist_value, depth));
        break;
      case AnyValueField::kBytesValue:
        w_.key("bytesValue");
        w_.base64(f.last(set));
        break;
      default:
        break;
    }
    w_.end_object();
    return Status::ok();
  }

  Status array_value(WireReader r, int depth) {
    Fields f;
    SPINDLE_RETURN_IF_ERROR(f.scan(r, kValuesSchema));
    w_.begin_object();
    SPINDLE_RETURN_IF_ERROR(repeated(f, "values", ValuesField::kValues, &TraceJsonEncoder::any_value, depth));
    w_.end_object();
    return Status::ok();
  }

  Status kvlist_value(WireReader r, int depth) {
    Fields f;
    SPINDLE_RETURN_IF_ERROR(f.scan(r, kValuesSchema));
    w_.begin_object();
    SPINDLE_RETURN_IF_ERROR(repeated(f, "values", ValuesField::kValues, &TraceJsonEncoder::key_value, depth));
    w_.end_object();
    return Status::ok();
  }

  JsonWriter w_;
};

}  // namespace

Status append_trace_json(std::string_view trace_pb, std::string_view resource_spans_key, std::string& out) {
  const size_t original = out.size();
  Status st = TraceJsonEncoder(out).trace(WireReader(trace_pb), resource_spans_key);
  if (!st.is_ok()) {
    out.resize(original);
    return invalid_argument("malformed Trace protobuf: " + st.message());
  }
  return Status::ok();
}

}  // namespace spindle
