#pragma once
// Field-for-field comparison of traces: both sides are flattened to (resource, scope, span) triples, parsed and
// re-serialized by libprotobuf (canonical field order), then compared as sorted multisets. What Spindle is
// allowed to change is applied to the expected side first: an absent span status becomes an empty one.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace spindle {

namespace otlp = opentelemetry::proto;

// One line per span: readable enough to diff in a failure message.
inline std::string flatten_one(const otlp::trace::v1::ResourceSpans& rs, const otlp::trace::v1::ScopeSpans& ss,
                               otlp::trace::v1::Span span) {
  if (!span.has_status()) span.mutable_status();
  std::string out = "resource{" + rs.resource().ShortDebugString() + "} schema=" + rs.schema_url() + " scope{" +
                    ss.scope().ShortDebugString() + "} schema=" + ss.schema_url() + " span{" +
                    span.ShortDebugString() + "}";
  return out;
}

// trace id (raw 16 bytes) -> sorted flattened spans
using FlatTraces = std::map<std::string, std::vector<std::string>>;

template <class ResourceSpansList>
void flatten_into(const ResourceSpansList& list, FlatTraces& out) {
  for (const auto& rs : list) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) out[span.trace_id()].push_back(flatten_one(rs, ss, span));
    }
  }
  for (auto& [id, spans] : out) std::sort(spans.begin(), spans.end());
}

inline FlatTraces flatten_request(const otlp::collector::trace::v1::ExportTraceServiceRequest& req) {
  FlatTraces out;
  flatten_into(req.resource_spans(), out);
  return out;
}

// Every ResourceSpans/ScopeSpans/Span of a trace response carries the sub-messages Grafana dereferences.
template <class ResourceSpansList>
bool has_grafana_required_fields(const ResourceSpansList& list) {
  for (const auto& rs : list) {
    if (!rs.has_resource()) return false;
    for (const auto& ss : rs.scope_spans()) {
      if (!ss.has_scope()) return false;
      for (const auto& span : ss.spans()) {
        if (!span.has_status() || span.trace_id().size() != 16 || span.span_id().size() != 8) return false;
      }
    }
  }
  return true;
}

}  // namespace spindle
