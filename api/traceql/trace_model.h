#pragma once
// TraceModel: one trace decoded for TraceQL evaluation. Built from a serialized tempopb.Trace (the form the
// head, cuts and blocks return: repeated ResourceSpans, field 1). Strings and IDs are views into those bytes,
// so the bytes must outlive the model; attribute values are typed as TraceQL compares them.
//
// Derived per trace (what structural operators and trace intrinsics need): each span's parent index (by
// parent_span_id; with two spans sharing the parent's id, as Zipkin client/server pairs do, a server span
// hangs under the client one and anything else under the server one, like Tempo), child counts, nested-set
// numbers (left/right from 1 by a depth-first walk with siblings in start-time order, nestedSetParent = the
// parent's left, -1 for roots), the trace's time range, and the root span (the earliest-starting span
// without a parent_span_id) that names rootName/rootServiceName.
// A span whose parent is absent from the trace (not yet received) is walked as a root of its own subtree
// (nestedSetParent -1), so structural operators still work inside incomplete traces; Tempo leaves such
// subtrees unnumbered instead. A parent cycle (malformed ids) is cut above its earliest-starting span.
//
// Untrusted input: malformed protobuf is InvalidArgument; sizes are bounded by the bytes given.
// Thread safety: a built model is read-only; any thread may read it.
#include <cstdint>
#include <string_view>
#include <vector>

#include "api/traceql/ast.h"
#include "core/status.h"
#include "core/trace_id.h"

namespace spindle {

// An attribute value as TraceQL sees it: String, Int, Float or Bool in `scalar` (AnyValue bytes values are
// strings of their bytes; kvlist values are not comparable and have type Nil), or an array of those in
// `array` (then scalar.type == Nil and is_array is true: `=`/`=~` match if any element does; nested arrays
// and kvlists inside an array are dropped). Values are copies (Static owns its string), keys are views.
struct AttributeValue {
  Static scalar;
  bool is_array = false;
  std::vector<Static> array;
};

struct Attribute {
  std::string_view key;
  AttributeValue value;
};

struct EventModel {
  std::string_view name;
  uint64_t time_ns = 0;
  std::vector<Attribute> attributes;
};

struct LinkModel {
  std::string_view trace_id;  // raw bytes
  std::string_view span_id;   // raw bytes
  std::vector<Attribute> attributes;
};

struct ResourceModel {
  std::vector<Attribute> attributes;
  std::string_view service_name;  // the resource's service.name string attribute, "" if none
};

struct ScopeModel {
  std::string_view name;
  std::string_view version;
  std::vector<Attribute> attributes;
};

struct SpanModel {
  uint32_t resource = 0;  // index into TraceModel::resources
  uint32_t scope = 0;     // index into TraceModel::scopes
  std::string_view span_id;         // raw bytes (8 normally)
  std::string_view parent_span_id;  // raw bytes, empty for a root
  std::string_view name;
  std::string_view status_message;
  SpanKind kind = SpanKind::Unspecified;
  SpanStatus status = SpanStatus::Unset;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  std::vector<Attribute> attributes;
  std::vector<EventModel> events;
  std::vector<LinkModel> links;
  // Derived.
  int32_t parent = -1;  // index of the parent span in this trace, -1 if none is present
  uint32_t child_count = 0;
  int32_t nested_set_left = 0;
  int32_t nested_set_right = 0;
  int32_t nested_set_parent = -1;
};

struct TraceModel {
  TraceId id;
  std::vector<ResourceModel> resources;
  std::vector<ScopeModel> scopes;
  std::vector<SpanModel> spans;  // in the order they appear in the trace bytes
  uint64_t start_ns = 0;         // earliest span start
  uint64_t end_ns = 0;           // latest span end
  int32_t root = -1;             // index of the root span, -1 if the trace has none (yet)
  std::string_view root_service_name;  // "" when there is no root
  std::string_view root_name;
};

// Replaces `out` with the model of `trace_pb`. `out`'s vectors are reused (clear + refill) so one model per
// scanning thread avoids reallocating for every trace.
Status build_trace_model(const TraceId& id, std::string_view trace_pb, TraceModel& out);

}  // namespace spindle
