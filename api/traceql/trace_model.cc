#include "api/traceql/trace_model.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "proto/otlp_fields.h"
#include "proto/wire.h"

namespace spindle {
namespace {

// Elements of the model's vectors are recycled between traces (their own vectors and strings keep their
// capacity): `used` counts the live prefix, next() hands out the next element cleared for reuse.
template <class T, class Clear>
T& next_slot(std::vector<T>& v, size_t& used, Clear clear) {
  if (used < v.size()) {
    T& slot = v[used++];
    clear(slot);
    return slot;
  }
  ++used;
  return v.emplace_back();
}

void clear_attribute(Attribute& a) {
  a.key = {};
  a.value.scalar.type = StaticType::Nil;
  a.value.scalar.int_value = 0;
  a.value.scalar.float_value = 0;
  a.value.scalar.string_value.clear();
  a.value.is_array = false;
  a.value.array.clear();
}

Status wrong_type(const WireReader& r, std::string_view message, uint32_t field) {
  return r.error(std::string(message) + ": field " + std::to_string(field) + " has the wrong wire type");
}

// Sets `out` from a scalar AnyValue field; false if the field is no scalar (arrays, kvlists, unknown).
Result<bool> read_scalar_value(WireReader& r, const WireTag& tag, Static& out) {
  switch (tag.field) {
    case AnyValueField::kStringValue:
    case AnyValueField::kBytesValue: {
      if (tag.type != WireType::Len) return wrong_type(r, "AnyValue", tag.field);
      SPINDLE_ASSIGN_OR_RETURN(std::string_view s, r.read_length_delimited());
      out.type = StaticType::String;
      out.string_value.assign(s.data(), s.size());
      return true;
    }
    case AnyValueField::kBoolValue: {
      if (tag.type != WireType::Varint) return wrong_type(r, "AnyValue", tag.field);
      SPINDLE_ASSIGN_OR_RETURN(uint64_t v, r.read_varint());
      out.type = StaticType::Bool;
      out.int_value = v != 0 ? 1 : 0;
      return true;
    }
    case AnyValueField::kIntValue: {
      if (tag.type != WireType::Varint) return wrong_type(r, "AnyValue", tag.field);
      SPINDLE_ASSIGN_OR_RETURN(uint64_t v, r.read_varint());
      out.type = StaticType::Int;
      out.int_value = static_cast<int64_t>(v);
      return true;
    }
    case AnyValueField::kDoubleValue: {
      if (tag.type != WireType::Fixed64) return wrong_type(r, "AnyValue", tag.field);
      SPINDLE_ASSIGN_OR_RETURN(uint64_t bits, r.read_fixed64());
      double d;
      std::memcpy(&d, &bits, sizeof d);
      out.type = StaticType::Float;
      out.float_value = d;
      return true;
    }
    default:
      return false;
  }
}

// An element of an ArrayValue: scalars only; nested arrays and kvlists are not comparable and dropped.
Status read_array(WireReader& outer, std::string_view bytes, AttributeValue& value) {
  WireReader r = outer.nested(bytes);
  value.is_array = true;
  value.scalar = Static::nil();
  while (!r.done()) {
    SPINDLE_ASSIGN_OR_RETURN(WireTag tag, r.read_tag());
    if (tag.field != 1) {
      SPINDLE_RETURN_IF_ERROR(r.skip_field(tag.type));
      continue;
    }
    if (tag.type != WireType::Len) return wrong_type(r, "ArrayValue", tag.field);
    SPINDLE_ASSIGN_OR_RETURN(std::string_view elem, r.read_length_delimited());
    WireReader er = r.nested(elem);
    Static s;
    bool any = false;
    while (!er.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag etag, er.read_tag());
      SPINDLE_ASSIGN_OR_RETURN(bool scalar, read_scalar_value(er, etag, s));
      if (scalar) {
        any = true;
      } else {
        if (etag.field == AnyValueField::kArrayValue || etag.field == AnyValueField::kKvlistValue) {
          any = false;  // a later oneof member replaces an earlier one
          s = Static::nil();
        }
        SPINDLE_RETURN_IF_ERROR(er.skip_field(etag.type));
      }
    }
    if (any) value.array.push_back(std::move(s));
  }
  return Status::ok();
}

Status read_any_value(WireReader& outer, std::string_view bytes, AttributeValue& value) {
  WireReader r = outer.nested(bytes);
  while (!r.done()) {
    SPINDLE_ASSIGN_OR_RETURN(WireTag tag, r.read_tag());
    if (tag.field == AnyValueField::kArrayValue) {
      if (tag.type != WireType::Len) return wrong_type(r, "AnyValue", tag.field);
      SPINDLE_ASSIGN_OR_RETURN(std::string_view arr, r.read_length_delimited());
      value.array.clear();
      SPINDLE_RETURN_IF_ERROR(read_array(r, arr, value));
      continue;
    }
    // Protobuf oneof: the last member on the wire wins.
    SPINDLE_ASSIGN_OR_RETURN(bool scalar, read_scalar_value(r, tag, value.scalar));
    if (scalar) {
      value.is_array = false;
      value.array.clear();
      continue;
    }
    if (tag.field == AnyValueField::kKvlistValue) {
      value.is_array = false;
      value.array.clear();
      value.scalar.type = StaticType::Nil;
    }
    SPINDLE_RETURN_IF_ERROR(r.skip_field(tag.type));
  }
  return Status::ok();
}

// Appends one KeyValue to `attrs` (recycling elements). `raw_string` receives the wire bytes of a string
// value, so callers can keep a view into the trace bytes (service.name).
Status read_key_value(WireReader& outer, std::string_view bytes, std::vector<Attribute>& attrs, size_t& used,
                      std::string_view* raw_string) {
  WireReader r = outer.nested(bytes);
  Attribute& a = next_slot(attrs, used, clear_attribute);
  std::string_view value_bytes;
  bool has_value = false;
  while (!r.done()) {
    SPINDLE_ASSIGN_OR_RETURN(WireTag tag, r.read_tag());
    if (tag.field == KeyValueField::kKey || tag.field == KeyValueField::kValue) {
      if (tag.type != WireType::Len) return wrong_type(r, "KeyValue", tag.field);
      SPINDLE_ASSIGN_OR_RETURN(std::string_view v, r.read_length_delimited());
      if (tag.field == KeyValueField::kKey) {
        a.key = v;
      } else {
        value_bytes = v;
        has_value = true;
        SPINDLE_RETURN_IF_ERROR(read_any_value(r, v, a.value));
      }
      continue;
    }
    SPINDLE_RETURN_IF_ERROR(r.skip_field(tag.type));
  }
  if (raw_string != nullptr) {
    *raw_string = {};
    if (has_value && a.value.scalar.type == StaticType::String && !a.value.is_array) {
      // Find the string member again to keep a view into the trace bytes rather than into the Static.
      WireReader vr = r.nested(value_bytes);
      while (!vr.done()) {
        SPINDLE_ASSIGN_OR_RETURN(WireTag tag, vr.read_tag());
        if ((tag.field == AnyValueField::kStringValue || tag.field == AnyValueField::kBytesValue) &&
            tag.type == WireType::Len) {
          SPINDLE_ASSIGN_OR_RETURN(*raw_string, vr.read_length_delimited());
        } else {
          SPINDLE_RETURN_IF_ERROR(vr.skip_field(tag.type));
        }
      }
    }
  }
  return Status::ok();
}

struct Builder {
  TraceModel& m;
  size_t resources_used = 0;
  size_t scopes_used = 0;
  size_t spans_used = 0;

  Status read_resource(WireReader& outer, std::string_view bytes, ResourceModel& res, size_t& attrs_used) {
    WireReader r = outer.nested(bytes);
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag tag, r.read_tag());
      if (tag.field != ResourceField::kAttributes) {
        SPINDLE_RETURN_IF_ERROR(r.skip_field(tag.type));
        continue;
      }
      if (tag.type != WireType::Len) return wrong_type(r, "Resource", tag.field);
      SPINDLE_ASSIGN_OR_RETURN(std::string_view kv, r.read_length_delimited());
      std::string_view raw;
      SPINDLE_RETURN_IF_ERROR(read_key_value(r, kv, res.attributes, attrs_used, &raw));
      const Attribute& a = res.attributes[attrs_used - 1];
      if (a.key == "service.name" && res.service_name.empty() && a.value.scalar.type == StaticType::String &&
          !a.value.is_array) {
        res.service_name = raw;
      }
    }
    return Status::ok();
  }

  Status read_scope(WireReader& outer, std::string_view bytes, ScopeModel& scope, size_t& attrs_used) {
    WireReader r = outer.nested(bytes);
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag tag, r.read_tag());
      switch (tag.field) {
        case ScopeField::kName:
        case ScopeField::kVersion:
        case ScopeField::kAttributes: {
          if (tag.type != WireType::Len) return wrong_type(r, "InstrumentationScope", tag.field);
          SPINDLE_ASSIGN_OR_RETURN(std::string_view v, r.read_length_delimited());
          if (tag.field == ScopeField::kName) {
            scope.name = v;
          } else if (tag.field == ScopeField::kVersion) {
            scope.version = v;
          } else {
            SPINDLE_RETURN_IF_ERROR(read_key_value(r, v, scope.attributes, attrs_used, nullptr));
          }
          break;
        }
        default:
          SPINDLE_RETURN_IF_ERROR(r.skip_field(tag.type));
      }
    }
    return Status::ok();
  }

  Status read_event(WireReader& outer, std::string_view bytes, SpanModel& span) {
    WireReader r = outer.nested(bytes);
    EventModel& e = span.events.emplace_back();
    size_t attrs_used = 0;
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag tag, r.read_tag());
      switch (tag.field) {
        case EventField::kTimeUnixNano: {
          if (tag.type != WireType::Fixed64) return wrong_type(r, "Span.Event", tag.field);
          SPINDLE_ASSIGN_OR_RETURN(e.time_ns, r.read_fixed64());
          break;
        }
        case EventField::kName:
        case EventField::kAttributes: {
          if (tag.type != WireType::Len) return wrong_type(r, "Span.Event", tag.field);
          SPINDLE_ASSIGN_OR_RETURN(std::string_view v, r.read_length_delimited());
          if (tag.field == EventField::kName) {
            e.name = v;
          } else {
            SPINDLE_RETURN_IF_ERROR(read_key_value(r, v, e.attributes, attrs_used, nullptr));
          }
          break;
        }
        default:
          SPINDLE_RETURN_IF_ERROR(r.skip_field(tag.type));
      }
    }
    return Status::ok();
  }

  Status read_link(WireReader& outer, std::string_view bytes, SpanModel& span) {
    WireReader r = outer.nested(bytes);
    LinkModel& l = span.links.emplace_back();
    size_t attrs_used = 0;
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag tag, r.read_tag());
      switch (tag.field) {
        case LinkField::kTraceId:
        case LinkField::kSpanId:
        case LinkField::kAttributes: {
          if (tag.type != WireType::Len) return wrong_type(r, "Span.Link", tag.field);
          SPINDLE_ASSIGN_OR_RETURN(std::string_view v, r.read_length_delimited());
          if (tag.field == LinkField::kTraceId) {
            l.trace_id = v;
          } else if (tag.field == LinkField::kSpanId) {
            l.span_id = v;
          } else {
            SPINDLE_RETURN_IF_ERROR(read_key_value(r, v, l.attributes, attrs_used, nullptr));
          }
          break;
        }
        default:
          SPINDLE_RETURN_IF_ERROR(r.skip_field(tag.type));
      }
    }
    return Status::ok();
  }

  Status read_status(WireReader& outer, std::string_view bytes, SpanModel& span) {
    WireReader r = outer.nested(bytes);
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag tag, r.read_tag());
      if (tag.field == StatusField::kMessage) {
        if (tag.type != WireType::Len) return wrong_type(r, "Status", tag.field);
        SPINDLE_ASSIGN_OR_RETURN(span.status_message, r.read_length_delimited());
      } else if (tag.field == StatusField::kCode) {
        if (tag.type != WireType::Varint) return wrong_type(r, "Status", tag.field);
        SPINDLE_ASSIGN_OR_RETURN(uint64_t code, r.read_varint());
        // Unknown codes read as unset, as OTLP consumers treat them.
        span.status = code == 1 ? SpanStatus::Ok : code == 2 ? SpanStatus::Error : SpanStatus::Unset;
      } else {
        SPINDLE_RETURN_IF_ERROR(r.skip_field(tag.type));
      }
    }
    return Status::ok();
  }

  Status read_span(WireReader& outer, std::string_view bytes, uint32_t resource, uint32_t scope) {
    WireReader r = outer.nested(bytes);
    SpanModel& s = next_slot(m.spans, spans_used, [](SpanModel& x) {
      std::vector<Attribute> attrs = std::move(x.attributes);
      std::vector<EventModel> events = std::move(x.events);
      std::vector<LinkModel> links = std::move(x.links);
      x = SpanModel{};
      x.attributes = std::move(attrs);
      x.events = std::move(events);
      x.links = std::move(links);
      x.events.clear();
      x.links.clear();
    });
    s.resource = resource;
    s.scope = scope;
    size_t attrs_used = 0;
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag tag, r.read_tag());
      switch (tag.field) {
        case SpanField::kSpanId:
        case SpanField::kParentSpanId:
        case SpanField::kName:
        case SpanField::kAttributes:
        case SpanField::kEvents:
        case SpanField::kLinks:
        case SpanField::kStatus: {
          if (tag.type != WireType::Len) return wrong_type(r, "Span", tag.field);
          SPINDLE_ASSIGN_OR_RETURN(std::string_view v, r.read_length_delimited());
          switch (tag.field) {
            case SpanField::kSpanId:
              s.span_id = v;
              break;
            case SpanField::kParentSpanId:
              s.parent_span_id = v;
              break;
            case SpanField::kName:
              s.name = v;
              break;
            case SpanField::kAttributes:
              SPINDLE_RETURN_IF_ERROR(read_key_value(r, v, s.attributes, attrs_used, nullptr));
              break;
            case SpanField::kEvents:
              SPINDLE_RETURN_IF_ERROR(read_event(r, v, s));
              break;
            case SpanField::kLinks:
              SPINDLE_RETURN_IF_ERROR(read_link(r, v, s));
              break;
            default:
              SPINDLE_RETURN_IF_ERROR(read_status(r, v, s));
          }
          break;
        }
        case SpanField::kKind: {
          if (tag.type != WireType::Varint) return wrong_type(r, "Span", tag.field);
          SPINDLE_ASSIGN_OR_RETURN(uint64_t k, r.read_varint());
          s.kind = k <= 5 ? static_cast<SpanKind>(k) : SpanKind::Unspecified;
          break;
        }
        case SpanField::kStartTimeUnixNano:
        case SpanField::kEndTimeUnixNano: {
          if (tag.type != WireType::Fixed64) return wrong_type(r, "Span", tag.field);
          SPINDLE_ASSIGN_OR_RETURN(uint64_t t, r.read_fixed64());
          (tag.field == SpanField::kStartTimeUnixNano ? s.start_ns : s.end_ns) = t;
          break;
        }
        default:
          SPINDLE_RETURN_IF_ERROR(r.skip_field(tag.type));
      }
    }
    s.attributes.resize(attrs_used);
    return Status::ok();
  }

  Status read_scope_spans(WireReader& outer, std::string_view bytes, uint32_t resource) {
    WireReader r = outer.nested(bytes);
    uint32_t scope = static_cast<uint32_t>(scopes_used);
    next_slot(m.scopes, scopes_used, [](ScopeModel& x) {
      x.name = {};
      x.version = {};
    });
    size_t attrs_used = 0;
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag tag, r.read_tag());
      if (tag.field == ScopeSpansField::kScope || tag.field == ScopeSpansField::kSpans) {
        if (tag.type != WireType::Len) return wrong_type(r, "ScopeSpans", tag.field);
        SPINDLE_ASSIGN_OR_RETURN(std::string_view v, r.read_length_delimited());
        if (tag.field == ScopeSpansField::kScope) {
          SPINDLE_RETURN_IF_ERROR(read_scope(r, v, m.scopes[scope], attrs_used));
        } else {
          SPINDLE_RETURN_IF_ERROR(read_span(r, v, resource, scope));
        }
        continue;
      }
      SPINDLE_RETURN_IF_ERROR(r.skip_field(tag.type));
    }
    m.scopes[scope].attributes.resize(attrs_used);
    return Status::ok();
  }

  Status read_resource_spans(WireReader& outer, std::string_view bytes) {
    WireReader r = outer.nested(bytes);
    uint32_t resource = static_cast<uint32_t>(resources_used);
    next_slot(m.resources, resources_used, [](ResourceModel& x) { x.service_name = {}; });
    size_t attrs_used = 0;
    while (!r.done()) {
      SPINDLE_ASSIGN_OR_RETURN(WireTag tag, r.read_tag());
      if (tag.field == ResourceSpansField::kResource || tag.field == ResourceSpansField::kScopeSpans) {
        if (tag.type != WireType::Len) return wrong_type(r, "ResourceSpans", tag.field);
        SPINDLE_ASSIGN_OR_RETURN(std::string_view v, r.read_length_delimited());
        if (tag.field == ResourceSpansField::kResource) {
          SPINDLE_RETURN_IF_ERROR(read_resource(r, v, m.resources[resource], attrs_used));
        } else {
          SPINDLE_RETURN_IF_ERROR(read_scope_spans(r, v, resource));
        }
        continue;
      }
      SPINDLE_RETURN_IF_ERROR(r.skip_field(tag.type));
    }
    m.resources[resource].attributes.resize(attrs_used);
    return Status::ok();
  }
};

// Span-id lookups and tree walks reuse these per thread, so scanning many traces does not allocate.
struct TreeScratch {
  std::vector<std::pair<std::string_view, uint32_t>> by_id;
  std::vector<uint32_t> by_start;     // span indexes ordered by (start, index)
  std::vector<uint32_t> child_begin;  // CSR of children, each run in start order
  std::vector<uint32_t> children;
  std::vector<uint32_t> stack;
  std::vector<uint32_t> next_child;
  std::vector<uint8_t> visited;
};

// Which span is `s`'s parent, -1 if none is present. With duplicate span ids (Zipkin shares one id between
// the client and the server span of a call) a server span hangs under the client span, anything else under
// the server span, as Tempo does.
int32_t find_parent(const TraceModel& m, const TreeScratch& t, uint32_t s) {
  const SpanModel& span = m.spans[s];
  if (span.parent_span_id.empty()) return -1;
  auto lo = std::lower_bound(t.by_id.begin(), t.by_id.end(), span.parent_span_id,
                             [](const auto& e, std::string_view id) { return e.first < id; });
  int32_t first = -1;
  int32_t preferred = -1;
  SpanKind want = span.kind == SpanKind::Server ? SpanKind::Client : SpanKind::Server;
  for (auto it = lo; it != t.by_id.end() && it->first == span.parent_span_id; ++it) {
    if (it->second == s) continue;
    if (first < 0) first = static_cast<int32_t>(it->second);
    if (preferred < 0 && m.spans[it->second].kind == want) preferred = static_cast<int32_t>(it->second);
  }
  return preferred >= 0 ? preferred : first;
}

void build_tree(TraceModel& m) {
  thread_local TreeScratch t;
  const uint32_t n = static_cast<uint32_t>(m.spans.size());
  t.by_id.clear();
  for (uint32_t i = 0; i < n; ++i) t.by_id.emplace_back(m.spans[i].span_id, i);
  std::sort(t.by_id.begin(), t.by_id.end());
  for (uint32_t i = 0; i < n; ++i) m.spans[i].parent = find_parent(m, t, i);

  t.by_start.resize(n);
  for (uint32_t i = 0; i < n; ++i) t.by_start[i] = i;
  std::sort(t.by_start.begin(), t.by_start.end(), [&m](uint32_t a, uint32_t b) {
    if (m.spans[a].start_ns != m.spans[b].start_ns) return m.spans[a].start_ns < m.spans[b].start_ns;
    return a < b;
  });

  // Children in CSR form; filling in start order keeps every run sorted by start time.
  t.child_begin.assign(n + 1, 0);
  for (uint32_t i = 0; i < n; ++i) {
    if (m.spans[i].parent >= 0) ++t.child_begin[static_cast<uint32_t>(m.spans[i].parent) + 1];
  }
  for (uint32_t i = 0; i < n; ++i) t.child_begin[i + 1] += t.child_begin[i];
  t.children.resize(t.child_begin[n]);
  t.next_child.assign(t.child_begin.begin(), t.child_begin.end() - 1);
  for (uint32_t i : t.by_start) {
    int32_t p = m.spans[i].parent;
    if (p >= 0) t.children[t.next_child[static_cast<uint32_t>(p)]++] = i;
  }

  // Iterative depth-first walk numbering the nested set from 1 (Tempo's numbering). Roots first (spans
  // without a parent in the trace, in start order); spans left unvisited sit on a parent cycle, which is cut
  // above the earliest-starting unvisited span so every span gets numbers.
  t.visited.assign(n, 0);
  t.next_child.assign(t.child_begin.begin(), t.child_begin.end() - 1);
  int32_t counter = 1;
  auto walk = [&](uint32_t root) {
    SpanModel& r = m.spans[root];
    r.nested_set_left = counter++;
    r.nested_set_parent = -1;
    t.visited[root] = 1;
    t.stack.clear();
    t.stack.push_back(root);
    while (!t.stack.empty()) {
      uint32_t top = t.stack.back();
      if (t.next_child[top] < t.child_begin[top + 1]) {
        uint32_t c = t.children[t.next_child[top]++];
        // A span whose parent link was cut, or that a cycle reaches twice, is not this node's child.
        if (t.visited[c] || m.spans[c].parent != static_cast<int32_t>(top)) continue;
        t.visited[c] = 1;
        m.spans[c].nested_set_left = counter++;
        m.spans[c].nested_set_parent = m.spans[top].nested_set_left;
        t.stack.push_back(c);
      } else {
        m.spans[top].nested_set_right = counter++;
        t.stack.pop_back();
      }
    }
  };
  for (uint32_t i : t.by_start) {
    if (m.spans[i].parent < 0) walk(i);
  }
  for (uint32_t i : t.by_start) {
    if (t.visited[i]) continue;
    m.spans[i].parent = -1;
    walk(i);
  }
  for (uint32_t i = 0; i < n; ++i) m.spans[i].child_count = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (m.spans[i].parent >= 0) ++m.spans[static_cast<uint32_t>(m.spans[i].parent)].child_count;
  }
}

}  // namespace

Status build_trace_model(const TraceId& id, std::string_view trace_pb, TraceModel& out) {
  out.id = id;
  out.start_ns = 0;
  out.end_ns = 0;
  out.root = -1;
  out.root_service_name = {};
  out.root_name = {};
  Builder b{out};
  WireReader r(trace_pb);
  Status st;
  while (!r.done()) {
    Result<WireTag> tag = r.read_tag();
    if (!tag.ok()) {
      st = tag.status();
      break;
    }
    if (tag->field == ExportRequestField::kResourceSpans) {
      if (tag->type != WireType::Len) {
        st = wrong_type(r, "Trace", tag->field);
        break;
      }
      Result<std::string_view> v = r.read_length_delimited();
      if (!v.ok()) {
        st = v.status();
        break;
      }
      st = b.read_resource_spans(r, *v);
    } else {
      st = r.skip_field(tag->type);
    }
    if (!st.is_ok()) break;
  }
  out.resources.resize(b.resources_used);
  out.scopes.resize(b.scopes_used);
  out.spans.resize(b.spans_used);
  if (!st.is_ok()) {
    out.resources.clear();
    out.scopes.clear();
    out.spans.clear();
    return invalid_argument("malformed trace: " + st.message());
  }
  if (out.spans.size() > static_cast<size_t>(INT32_MAX / 2 - 1)) {
    out.spans.clear();
    return invalid_argument("malformed trace: too many spans");
  }

  bool first = true;
  for (size_t i = 0; i < out.spans.size(); ++i) {
    const SpanModel& s = out.spans[i];
    if (first || s.start_ns < out.start_ns) out.start_ns = s.start_ns;
    if (first || s.end_ns > out.end_ns) out.end_ns = s.end_ns;
    first = false;
    if (s.parent_span_id.empty() &&
        (out.root < 0 || s.start_ns < out.spans[static_cast<size_t>(out.root)].start_ns)) {
      out.root = static_cast<int32_t>(i);
    }
  }
  if (out.root >= 0) {
    const SpanModel& root = out.spans[static_cast<size_t>(out.root)];
    out.root_name = root.name;
    out.root_service_name = out.resources[root.resource].service_name;
  }
  build_tree(out);
  return Status::ok();
}

}  // namespace spindle
