#include "proto/otlp_decoder.h"

#include <optional>

#include "proto/otlp_fields.h"
#include "proto/utf8.h"
#include "proto/wire.h"

namespace spindle {
namespace {

// Message nesting limit counted from the request (a span's attributes start at depth 4). libprotobuf stops at
// 100; deep AnyValue trees are an attack, not telemetry.
constexpr int kMaxDepth = 64;
constexpr size_t kMaxNameInMessage = 64;

Status wrong_type(const WireReader& r, WireTag t, const char* name) {
  return r.error(std::string(name) + " has wire type " + std::to_string(static_cast<int>(t.type)));
}

// Structural validation of every message below Span/Resource/Scope. Records the first string field holding
// invalid UTF-8 instead of failing: that is a content problem, rejected per span by the caller.
class Validator {
 public:
  const char* bad_utf8() const { return bad_utf8_; }
  void reset() { bad_utf8_ = nullptr; }

  Result<std::string_view> len(WireReader& r, WireTag t, const char* name) {
    if (t.type != WireType::Len) return wrong_type(r, t, name);
    return r.read_length_delimited();
  }
  Status string(WireReader& r, WireTag t, const char* name) {
    SPINDLE_ASSIGN_OR_RETURN(std::string_view s, len(r, t, name));
    check_utf8(s, name);
    return Status::ok();
  }
  void check_utf8(std::string_view s, const char* name) {
    if (bad_utf8_ == nullptr && !is_valid_utf8(s)) bad_utf8_ = name;
  }
  Status scalar(WireReader& r, WireTag t, WireType want, const char* name) {
    if (t.type != want) return wrong_type(r, t, name);
    return r.skip_field(t.type);
  }
  // A sub-message field: checks the wire type, then validates the contents with `fn`.
  Status message(WireReader& r, WireTag t, const char* name, int depth,
                 Status (Validator::*fn)(WireReader, int)) {
    SPINDLE_ASSIGN_OR_RETURN(std::string_view m, len(r, t, name));
    return (this->*fn)(r.nested(m), depth + 1);
  }

  // Most attributes are a short key and one scalar or short string: `0A klen key 12 vlen <one field>`. This
  // validates exactly that shape without recursion (it is most of a span's bytes); any other shape, or anything
  // doubtful (long lengths, 10-byte varints), returns false and takes the general path, which gives the same
  // verdict with an error message.
  bool simple_key_value(std::string_view d) {
    const auto* p = reinterpret_cast<const uint8_t*>(d.data());
    const size_t n = d.size();
    if (n < 2 || p[0] != 0x0A || p[1] >= 0x80 || size_t{2} + p[1] > n) return false;
    const std::string_view key = d.substr(2, p[1]);
    size_t i = 2 + size_t{p[1]};
    if (i < n) {
      if (n - i < 2 || p[i] != 0x12 || p[i + 1] >= 0x80 || i + 2 + p[i + 1] != n) return false;
      const uint8_t* v = p + i + 2;
      const size_t vlen = p[i + 1];
      if (vlen != 0 && !simple_any_value(v, vlen, d.substr(i + 2, vlen))) return false;
    }
    check_utf8(key, "KeyValue.key");
    return true;
  }
  bool simple_any_value(const uint8_t* v, size_t vlen, std::string_view value) {
    switch (v[0]) {
      case 0x0A:  // string_value
        if (vlen < 2 || v[1] >= 0x80 || size_t{2} + v[1] != vlen) return false;
        check_utf8(value.substr(2), "AnyValue.string_value");
        return true;
      case 0x10:    // bool_value
      case 0x18: {  // int_value: a varint of at most 9 bytes ending exactly at the end
        if (vlen < 2 || vlen > 10 || v[vlen - 1] >= 0x80) return false;
        for (size_t k = 1; k + 1 < vlen; ++k) {
          if (v[k] < 0x80) return false;
        }
        return true;
      }
      case 0x21:  // double_value
        return vlen == 9;
      default:
        return false;
    }
  }

  Status key_value(WireReader r, int depth) {
    if (depth > kMaxDepth) return r.error("attributes nested too deeply");
    if (simple_key_value(r.data())) return Status::ok();
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, r.read_tag());
      switch (t.field) {
        case KeyValueField::kKey:
          SPINDLE_RETURN_IF_ERROR(string(r, t, "KeyValue.key"));
          break;
        case KeyValueField::kValue:
          SPINDLE_RETURN_IF_ERROR(message(r, t, "KeyValue.value", depth, &Validator::any_value));
          break;
        default:
          SPINDLE_RETURN_IF_ERROR(r.skip_field(t.type));
      }
    }
    return Status::ok();
  }

  Status any_value(WireReader r, int depth) {
    if (depth > kMaxDepth) return r.error("attributes nested too deeply");
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, r.read_tag());
      switch (t.field) {
        case AnyValueField::kStringValue:
          SPINDLE_RETURN_IF_ERROR(string(r, t, "AnyValue.string_value"));
          break;
        case AnyValueField::kBoolValue:
          SPINDLE_RETURN_IF_ERROR(scalar(r, t, WireType::Varint, "AnyValue.bool_value"));
          break;
        case AnyValueField::kIntValue:
          SPINDLE_RETURN_IF_ERROR(scalar(r, t, WireType::Varint, "AnyValue.int_value"));
          break;
        case AnyValueField::kDoubleValue:
          SPINDLE_RETURN_IF_ERROR(scalar(r, t, WireType::Fixed64, "AnyValue.double_value"));
          break;
        case AnyValueField::kArrayValue:
          SPINDLE_RETURN_IF_ERROR(message(r, t, "AnyValue.array_value", depth, &Validator::array_value));
          break;
        case AnyValueField::kKvlistValue:
          SPINDLE_RETURN_IF_ERROR(message(r, t, "AnyValue.kvlist_value", depth, &Validator::kvlist_value));
          break;
        case AnyValueField::kBytesValue:
          SPINDLE_RETURN_IF_ERROR(len(r, t, "AnyValue.bytes_value").status());
          break;
        default:
          SPINDLE_RETURN_IF_ERROR(r.skip_field(t.type));
      }
    }
    return Status::ok();
  }

  Status array_value(WireReader r, int depth) {
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, r.read_tag());
      if (t.field == ValuesField::kValues) {
        SPINDLE_RETURN_IF_ERROR(message(r, t, "ArrayValue.values", depth, &Validator::any_value));
      } else {
        SPINDLE_RETURN_IF_ERROR(r.skip_field(t.type));
      }
    }
    return Status::ok();
  }

  Status kvlist_value(WireReader r, int depth) {
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, r.read_tag());
      if (t.field == ValuesField::kValues) {
        SPINDLE_RETURN_IF_ERROR(message(r, t, "KeyValueList.values", depth, &Validator::key_value));
      } else {
        SPINDLE_RETURN_IF_ERROR(r.skip_field(t.type));
      }
    }
    return Status::ok();
  }

  Status event(WireReader r, int depth) {
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, r.read_tag());
      switch (t.field) {
        case EventField::kTimeUnixNano:
          SPINDLE_RETURN_IF_ERROR(scalar(r, t, WireType::Fixed64, "Event.time_unix_nano"));
          break;
        case EventField::kName:
          SPINDLE_RETURN_IF_ERROR(string(r, t, "Event.name"));
          break;
        case EventField::kAttributes:
          SPINDLE_RETURN_IF_ERROR(message(r, t, "Event.attributes", depth, &Validator::key_value));
          break;
        case EventField::kDroppedAttributesCount:
          SPINDLE_RETURN_IF_ERROR(scalar(r, t, WireType::Varint, "Event.dropped_attributes_count"));
          break;
        default:
          SPINDLE_RETURN_IF_ERROR(r.skip_field(t.type));
      }
    }
    return Status::ok();
  }

  Status link(WireReader r, int depth) {
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, r.read_tag());
      switch (t.field) {
        case LinkField::kTraceId:
          SPINDLE_RETURN_IF_ERROR(len(r, t, "Link.trace_id").status());
          break;
        case LinkField::kSpanId:
          SPINDLE_RETURN_IF_ERROR(len(r, t, "Link.span_id").status());
          break;
        case LinkField::kTraceState:
          SPINDLE_RETURN_IF_ERROR(string(r, t, "Link.trace_state"));
          break;
        case LinkField::kAttributes:
          SPINDLE_RETURN_IF_ERROR(message(r, t, "Link.attributes", depth, &Validator::key_value));
          break;
        case LinkField::kDroppedAttributesCount:
          SPINDLE_RETURN_IF_ERROR(scalar(r, t, WireType::Varint, "Link.dropped_attributes_count"));
          break;
        case LinkField::kFlags:
          SPINDLE_RETURN_IF_ERROR(scalar(r, t, WireType::Fixed32, "Link.flags"));
          break;
        default:
          SPINDLE_RETURN_IF_ERROR(r.skip_field(t.type));
      }
    }
    return Status::ok();
  }

  Status status(WireReader r, int depth) {
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, r.read_tag());
      switch (t.field) {
        case StatusField::kMessage:
          SPINDLE_RETURN_IF_ERROR(string(r, t, "Status.message"));
          break;
        case StatusField::kCode:
          SPINDLE_RETURN_IF_ERROR(scalar(r, t, WireType::Varint, "Status.code"));
          break;
        default:
          SPINDLE_RETURN_IF_ERROR(r.skip_field(t.type));
      }
    }
    return Status::ok();
  }

  Status resource(WireReader r, int depth) {
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, r.read_tag());
      switch (t.field) {
        case ResourceField::kAttributes:
          SPINDLE_RETURN_IF_ERROR(message(r, t, "Resource.attributes", depth, &Validator::key_value));
          break;
        case ResourceField::kDroppedAttributesCount:
          SPINDLE_RETURN_IF_ERROR(scalar(r, t, WireType::Varint, "Resource.dropped_attributes_count"));
          break;
        default:
          SPINDLE_RETURN_IF_ERROR(r.skip_field(t.type));
      }
    }
    return Status::ok();
  }

  Status scope(WireReader r, int depth) {
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, r.read_tag());
      switch (t.field) {
        case ScopeField::kName:
          SPINDLE_RETURN_IF_ERROR(string(r, t, "InstrumentationScope.name"));
          break;
        case ScopeField::kVersion:
          SPINDLE_RETURN_IF_ERROR(string(r, t, "InstrumentationScope.version"));
          break;
        case ScopeField::kAttributes:
          SPINDLE_RETURN_IF_ERROR(
              message(r, t, "InstrumentationScope.attributes", depth, &Validator::key_value));
          break;
        case ScopeField::kDroppedAttributesCount:
          SPINDLE_RETURN_IF_ERROR(
              scalar(r, t, WireType::Varint, "InstrumentationScope.dropped_attributes_count"));
          break;
        default:
          SPINDLE_RETURN_IF_ERROR(r.skip_field(t.type));
      }
    }
    return Status::ok();
  }

 private:
  const char* bad_utf8_ = nullptr;
};

// A singular message field may legally occur several times; protobuf merges the occurrences, which for
// contents is the same as concatenating them. The common single occurrence stays a view.
class MergedBytes {
 public:
  void add(std::string_view piece) {
    if (count_++ == 0) {
      view_ = piece;
      return;
    }
    if (count_ == 2) owned_.assign(view_);
    owned_.append(piece);
    view_ = owned_;
  }
  std::string_view view() const { return view_; }

 private:
  int count_ = 0;
  std::string_view view_;
  std::string owned_;
};

struct ScopeContext {
  std::string_view resource;
  std::string_view resource_schema_url;
  std::string_view scope;
  std::string_view scope_schema_url;
  const char* bad_utf8 = nullptr;  // first invalid string in the resource or scope, if any
  bool bad_utf8_in_resource = false;
};

struct SpanFields {
  std::string_view trace_id;
  int trace_id_count = 0;
  std::string_view span_id;
  std::string_view name;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  bool has_status = false;
};

class Decoder {
 public:
  Decoder(uint32_t shard_count, DecodedExport& out) : out_(out), context_of_shard_(shard_count) {
    out_.batches.resize(shard_count);
  }

  Status request(WireReader r) {
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, r.read_tag());
      if (t.field == ExportRequestField::kResourceSpans) {
        SPINDLE_ASSIGN_OR_RETURN(std::string_view rs,
                                 v_.len(r, t, "ExportTraceServiceRequest.resource_spans"));
        SPINDLE_RETURN_IF_ERROR(resource_spans(r.nested(rs)));
      } else {
        SPINDLE_RETURN_IF_ERROR(r.skip_field(t.type));
      }
    }
    return Status::ok();
  }

 private:
  // Two passes: the resource and schema_url may follow the scope_spans that use them.
  Status resource_spans(WireReader r) {
    MergedBytes resource;
    ScopeContext ctx;
    v_.reset();
    for (WireReader p = r; !p.done();) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, p.read_tag());
      switch (t.field) {
        case ResourceSpansField::kResource: {
          SPINDLE_ASSIGN_OR_RETURN(std::string_view m, v_.len(p, t, "ResourceSpans.resource"));
          SPINDLE_RETURN_IF_ERROR(v_.resource(p.nested(m), 2));
          resource.add(m);
          break;
        }
        case ResourceSpansField::kScopeSpans:
          SPINDLE_RETURN_IF_ERROR(v_.len(p, t, "ResourceSpans.scope_spans").status());
          break;
        case ResourceSpansField::kSchemaUrl: {
          SPINDLE_ASSIGN_OR_RETURN(ctx.resource_schema_url, v_.len(p, t, "ResourceSpans.schema_url"));
          v_.check_utf8(ctx.resource_schema_url, "ResourceSpans.schema_url");
          break;
        }
        default:
          SPINDLE_RETURN_IF_ERROR(p.skip_field(t.type));
      }
    }
    ctx.resource = resource.view();
    ctx.bad_utf8 = v_.bad_utf8();
    ctx.bad_utf8_in_resource = ctx.bad_utf8 != nullptr;
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, r.read_tag());
      if (t.field == ResourceSpansField::kScopeSpans) {
        SPINDLE_ASSIGN_OR_RETURN(std::string_view ss, r.read_length_delimited());
        SPINDLE_RETURN_IF_ERROR(scope_spans(r.nested(ss), ctx));
      } else {
        SPINDLE_RETURN_IF_ERROR(r.skip_field(t.type));
      }
    }
    return Status::ok();
  }

  Status scope_spans(WireReader r, ScopeContext ctx) {
    MergedBytes scope;
    v_.reset();
    for (WireReader p = r; !p.done();) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, p.read_tag());
      switch (t.field) {
        case ScopeSpansField::kScope: {
          SPINDLE_ASSIGN_OR_RETURN(std::string_view m, v_.len(p, t, "ScopeSpans.scope"));
          SPINDLE_RETURN_IF_ERROR(v_.scope(p.nested(m), 3));
          scope.add(m);
          break;
        }
        case ScopeSpansField::kSpans:
          SPINDLE_RETURN_IF_ERROR(v_.len(p, t, "ScopeSpans.spans").status());
          break;
        case ScopeSpansField::kSchemaUrl: {
          SPINDLE_ASSIGN_OR_RETURN(ctx.scope_schema_url, v_.len(p, t, "ScopeSpans.schema_url"));
          v_.check_utf8(ctx.scope_schema_url, "ScopeSpans.schema_url");
          break;
        }
        default:
          SPINDLE_RETURN_IF_ERROR(p.skip_field(t.type));
      }
    }
    ctx.scope = scope.view();
    if (ctx.bad_utf8 == nullptr) ctx.bad_utf8 = v_.bad_utf8();
    std::fill(context_of_shard_.begin(), context_of_shard_.end(), kNoContext);
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, r.read_tag());
      if (t.field == ScopeSpansField::kSpans) {
        SPINDLE_ASSIGN_OR_RETURN(std::string_view span_bytes, r.read_length_delimited());
        SPINDLE_RETURN_IF_ERROR(span(r.nested(span_bytes), ctx));
      } else {
        SPINDLE_RETURN_IF_ERROR(r.skip_field(t.type));
      }
    }
    return Status::ok();
  }

  Status span(WireReader r, const ScopeContext& ctx) {
    constexpr int kDepth = 3;
    SpanFields f;
    v_.reset();
    const std::string_view bytes = r.data();
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag t, r.read_tag());
      switch (t.field) {
        case SpanField::kTraceId: {
          SPINDLE_ASSIGN_OR_RETURN(f.trace_id, v_.len(r, t, "Span.trace_id"));
          ++f.trace_id_count;
          break;
        }
        case SpanField::kSpanId: {
          SPINDLE_ASSIGN_OR_RETURN(f.span_id, v_.len(r, t, "Span.span_id"));
          break;
        }
        case SpanField::kTraceState:
          SPINDLE_RETURN_IF_ERROR(v_.string(r, t, "Span.trace_state"));
          break;
        case SpanField::kParentSpanId:
          SPINDLE_RETURN_IF_ERROR(v_.len(r, t, "Span.parent_span_id").status());
          break;
        case SpanField::kName: {
          SPINDLE_ASSIGN_OR_RETURN(f.name, v_.len(r, t, "Span.name"));
          v_.check_utf8(f.name, "Span.name");
          break;
        }
        case SpanField::kKind:
          SPINDLE_RETURN_IF_ERROR(v_.scalar(r, t, WireType::Varint, "Span.kind"));
          break;
        case SpanField::kStartTimeUnixNano: {
          if (t.type != WireType::Fixed64) return wrong_type(r, t, "Span.start_time_unix_nano");
          SPINDLE_ASSIGN_OR_RETURN(f.start_ns, r.read_fixed64());
          break;
        }
        case SpanField::kEndTimeUnixNano: {
          if (t.type != WireType::Fixed64) return wrong_type(r, t, "Span.end_time_unix_nano");
          SPINDLE_ASSIGN_OR_RETURN(f.end_ns, r.read_fixed64());
          break;
        }
        case SpanField::kAttributes:
          SPINDLE_RETURN_IF_ERROR(v_.message(r, t, "Span.attributes", kDepth, &Validator::key_value));
          break;
        case SpanField::kDroppedAttributesCount:
          SPINDLE_RETURN_IF_ERROR(v_.scalar(r, t, WireType::Varint, "Span.dropped_attributes_count"));
          break;
        case SpanField::kEvents:
          SPINDLE_RETURN_IF_ERROR(v_.message(r, t, "Span.events", kDepth, &Validator::event));
          break;
        case SpanField::kDroppedEventsCount:
          SPINDLE_RETURN_IF_ERROR(v_.scalar(r, t, WireType::Varint, "Span.dropped_events_count"));
          break;
        case SpanField::kLinks:
          SPINDLE_RETURN_IF_ERROR(v_.message(r, t, "Span.links", kDepth, &Validator::link));
          break;
        case SpanField::kDroppedLinksCount:
          SPINDLE_RETURN_IF_ERROR(v_.scalar(r, t, WireType::Varint, "Span.dropped_links_count"));
          break;
        case SpanField::kStatus:
          SPINDLE_RETURN_IF_ERROR(v_.message(r, t, "Span.status", kDepth, &Validator::status));
          f.has_status = true;
          break;
        case SpanField::kFlags:
          SPINDLE_RETURN_IF_ERROR(v_.scalar(r, t, WireType::Fixed32, "Span.flags"));
          break;
        default:
          SPINDLE_RETURN_IF_ERROR(r.skip_field(t.type));
      }
    }
    std::optional<TraceId> id = TraceId::from_bytes(f.trace_id);
    if (!id) {
      if (f.trace_id.size() == 16 || f.trace_id.size() == 8) {
        reject(f.name, "trace_id is all zeros");
      } else {
        reject(f.name, "trace_id must be 16 bytes, got " + std::to_string(f.trace_id.size()));
      }
    } else if (f.span_id.size() != 8) {
      reject(f.name, "span_id must be 8 bytes, got " + std::to_string(f.span_id.size()));
    } else if (ctx.bad_utf8 != nullptr) {
      reject(f.name, std::string(ctx.bad_utf8_in_resource ? "its resource" : "its scope") +
                         " has invalid UTF-8 in " + ctx.bad_utf8);
    } else if (v_.bad_utf8() != nullptr) {
      reject(f.name, std::string("invalid UTF-8 in ") + v_.bad_utf8());
    } else {
      accept(bytes, f, *id, ctx);
    }
    return Status::ok();
  }

  void accept(std::string_view bytes, const SpanFields& f, const TraceId& id, const ScopeContext& ctx) {
    const uint32_t shard = shard_for(id, static_cast<uint32_t>(out_.batches.size()));
    SpanBatch& b = out_.batches[shard];
    if (context_of_shard_[shard] == kNoContext) {
      context_of_shard_[shard] = static_cast<uint32_t>(b.contexts.size());
      b.contexts.push_back(SpanBatch::Context{std::string(ctx.resource), std::string(ctx.resource_schema_url),
                                              std::string(ctx.scope), std::string(ctx.scope_schema_url)});
    }
    const size_t offset = b.data.size();
    if (f.trace_id_count == 1 && f.trace_id.size() == 16) {
      b.data.append(bytes);
    } else {
      // 8-byte or repeated trace_id: one canonical 16-byte field first, every other field byte for byte.
      WireWriter w(b.data);
      w.put_len_field(SpanField::kTraceId, id.as_view());
      for (WireReader r(bytes); !r.done();) {
        const size_t start = r.position();
        WireTag t = r.read_tag().value();  // validated above
        r.skip_field(t.type).ignore();
        if (t.field != SpanField::kTraceId) b.data.append(bytes.substr(start, r.position() - start));
      }
    }
    if (!f.has_status) b.data.append(kEmptyStatusField, 2);
    SpanBatch::Span s;
    s.trace_id = id;
    s.context = context_of_shard_[shard];
    s.offset = static_cast<uint32_t>(offset);
    s.size = static_cast<uint32_t>(b.data.size() - offset);
    s.start_ns = f.start_ns;
    s.end_ns = f.end_ns;
    b.spans.push_back(s);
    ++out_.accepted_spans;
  }

  void reject(std::string_view name, const std::string& reason) {
    ++out_.rejected_spans;
    if (!out_.reject_message.empty()) return;
    if (!is_valid_utf8(name)) {
      out_.reject_message = "span with an invalid UTF-8 name: " + reason;
      return;
    }
    size_t cut = name.size();
    if (cut > kMaxNameInMessage) {
      cut = kMaxNameInMessage;
      while (cut > 0 && (static_cast<uint8_t>(name[cut]) & 0xC0) == 0x80) --cut;
    }
    out_.reject_message = "span '";
    out_.reject_message.append(name.substr(0, cut));
    if (cut < name.size()) out_.reject_message += "...";
    out_.reject_message += "': ";
    out_.reject_message += reason;
  }

  static constexpr uint32_t kNoContext = UINT32_MAX;

  DecodedExport& out_;
  Validator v_;
  std::vector<uint32_t> context_of_shard_;  // context index of the current ScopeSpans in each batch
};

}  // namespace

Result<DecodedExport> decode_export_request(std::string_view request, uint32_t shard_count) {
  if (shard_count == 0) {
    return invalid_argument("decode_export_request: shard_count must be at least 1");
  }
  // SpanBatch offsets are 32-bit; real requests are capped at tens of MiB long before this.
  if (request.size() >= (1u << 31)) {
    return invalid_argument("malformed ExportTraceServiceRequest: request larger than 2 GiB");
  }
  DecodedExport out;
  Decoder d(shard_count, out);
  Status st = d.request(WireReader(request));
  if (!st.is_ok()) {
    return invalid_argument("malformed ExportTraceServiceRequest: " + st.message());
  }
  return out;
}

}  // namespace spindle
