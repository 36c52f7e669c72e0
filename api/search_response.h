#pragma once
// Search results as Tempo returns them (tempo-api.md 2.4, 3.1): TraceSearchMetadata-like values built from
// evaluated traces, merged per trace ID (Tempo's combiner), limited, sorted, and encoded as the JSON Grafana's
// strict decoder accepts (3.5, 3.6: only the keys of its pinned tempopb; zero values omitted). Also the JSON
// of the tag-name and tag-value answers (2.5, 2.6).
//
// Thread safety: plain values and pure functions; a SearchCombiner has one owner.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api/tag_collector.h"
#include "api/traceql/ast.h"
#include "api/traceql/evaluator.h"
#include "api/traceql/trace_model.h"
#include "core/trace_id.h"

namespace spindle {

class JsonWriter;

// Rendered where Tempo shows a trace without its root span.
inline constexpr std::string_view kRootSpanNotYetReceived = "<root span not yet received>";

using KeyedValues = std::vector<std::pair<std::string, Static>>;

struct SearchSpan {
  std::string span_id;  // raw bytes
  std::string name;
  uint64_t start_ns = 0;
  uint64_t duration_ns = 0;
  KeyedValues attributes;  // bare names (scope dropped), in the query's order
};

struct SearchSpanset {
  std::vector<SearchSpan> spans;  // at most spss
  uint32_t matched = 0;           // spans before truncation to spss
  KeyedValues attributes;         // pipeline results: "count()", "by(resource.service.name)", ...
};

struct ServiceStats {
  uint32_t span_count = 0;
  uint32_t error_count = 0;
};

struct SearchTrace {
  TraceId id;
  std::string root_service_name;  // "" = no root span seen (rendered as kRootSpanNotYetReceived)
  std::string root_trace_name;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  std::vector<SearchSpanset> spansets;
  std::map<std::string, ServiceStats, std::less<>> service_stats;

  uint32_t duration_ms() const;
};

// SearchMetrics with exactly the keys Grafana's pinned decoder knows.
struct SearchMetrics {
  uint64_t inspected_traces = 0;
  uint64_t inspected_bytes = 0;
  uint64_t inspected_spans = 0;
  uint64_t total_blocks = 0;
  uint64_t total_block_bytes = 0;
  uint32_t completed_jobs = 0;
  uint32_t total_jobs = 0;

  void add(const SearchMetrics& o);
};

// The value of a span attribute as a search result shows it; nullopt if the span lacks it. Production passes
// CompiledQuery::value_of.
using SpanValueFn = std::optional<Static> (*)(const TraceModel&, uint32_t, const AttributeRef&);

// The key a span attribute is shown under: the intrinsic's name (`status`, `kind`, `span:parentID`) or the
// attribute's bare name (`span.http.method` -> `http.method`).
std::string search_attribute_key(const AttributeRef& ref);

// Tempo's asTraceSearchMetadata for one evaluated trace piece. `spansets` come from CompiledQuery::evaluate
// (empty for legacy tag search); each keeps its first `spss` spans, `matched` counts them all.
SearchTrace make_search_trace(const TraceModel& trace, const std::vector<SpansetResult>& spansets,
                              const std::vector<AttributeRef>& span_attributes, SpanValueFn value_of,
                              uint32_t spss);

// Tempo's combineSearchResults: earliest start, latest end, first non-empty root names, per-service maximum
// counts; spansets with the same by() identity are combined (the larger `matched` wins), others appended.
void merge_search_trace(SearchTrace& into, SearchTrace&& from);

// Collects traces up to `limit` distinct IDs. Without most_recent it keeps the first `limit` found (spansets of
// a held trace are still merged in) and reports full() so the search can stop; with most_recent it keeps
// the `limit` latest-starting traces of everything offered (never full).
class SearchCombiner {
 public:
  SearchCombiner(uint32_t limit, bool most_recent) : limit_(limit), most_recent_(most_recent) {}
  // False when the trace was new and dropped because the combiner was full.
  bool add(SearchTrace trace);
  bool full() const { return !most_recent_ && limit_ != 0 && traces_.size() >= limit_; }
  size_t size() const { return traces_.size(); }
  // Everything held so far, unsorted (streaming sends it as progress).
  const std::vector<SearchTrace>& traces() const { return traces_; }
  // Sorted by start time descending (then trace ID), at most `limit`. Leaves the combiner empty.
  std::vector<SearchTrace> take();

 private:
  void prune();

  uint32_t limit_;
  bool most_recent_;
  std::vector<SearchTrace> traces_;
  std::unordered_map<TraceId, size_t, TraceIdHash> index_;
};

// Tempo's TraceIDToHexString: lowercase hex without leading zeros.
std::string search_trace_id(const TraceId& id);
// Tempo's SpanIDToHexString: lowercase hex, leading zeros stripped, then left-padded to 16.
std::string search_span_id(std::string_view raw);
// A Static as an OTLP AnyValue object (Tempo's Static.AsAnyValue): int -> intValue (string), float ->
// doubleValue, bool -> boolValue, duration -> stringValue in Go syntax, status/kind -> their names, nil ->
// "nil".
void write_any_value(JsonWriter& w, const Static& v);

// `{"traces":[...],"metrics":{...}}`; the traces key is left out when there are none.
std::string encode_search_response(const std::vector<SearchTrace>& traces, const SearchMetrics& metrics);

// MetadataMetrics of the tag endpoints.
struct TagMetrics {
  uint64_t inspected_bytes = 0;
  uint64_t total_blocks = 0;
  uint64_t total_block_bytes = 0;
  uint32_t completed_jobs = 0;
  uint32_t total_jobs = 0;

  void add(const TagMetrics& o);
};

// v1: `{"tagNames":[...],"metrics":{...}}`. intrinsic_only (scope=intrinsic): the intrinsic list; otherwise the
// union of the wanted scopes' names, sorted.
std::string encode_tag_names_v1(const TagNames& names, bool intrinsic_only, const TagMetrics& metrics);
// v2: `{"scopes":[{"name":"intrinsic","tags":[...]}, {"name":"resource",...}, ...],"metrics":{...}}`. The
// intrinsic scope when asked for; a data scope when it was wanted and has names.
std::string encode_tag_names_v2(const TagNames& names, bool with_intrinsic, const TagMetrics& metrics);
// v1: `{"tagValues":["a","b"],"metrics":{...}}` (distinct texts).
std::string encode_tag_values_v1(const std::vector<std::string>& values, const TagMetrics& metrics);
// v2: `{"tagValues":[{"type":"string","value":"a"}],"metrics":{...}}`.
std::string encode_tag_values_v2(const std::vector<TagValue>& values, const TagMetrics& metrics);

}  // namespace spindle
