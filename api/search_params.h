#pragma once
// Query parameters of Tempo's search endpoints (tempo-api.md 2.4-2.6), parsed and validated with Tempo's error
// messages (pkg/api/http.go ParseSearchRequest, the frontend's limit/range checks): every error is
// InvalidArgument, answered as 400 with the message as the body.
//
// Time windows are unix seconds. Both absent (or 0) = "recent data only" (Tempo asks its ingesters); otherwise
// end must come after start and the range may not exceed 168h (search.max_duration).
//
// Thread safety: pure functions and plain values.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace spindle {

inline constexpr uint32_t kDefaultSearchLimit = 20;           // query_frontend.search.default_result_limit
inline constexpr uint32_t kMaxSearchLimit = 262144;           // query_frontend.search.max_result_limit
inline constexpr uint32_t kDefaultSpansPerSpanSet = 3;        // default_spans_per_span_set
inline constexpr uint32_t kMaxSpansPerSpanSet = 100;          // max_spans_per_span_set
inline constexpr uint64_t kMaxSearchRangeSeconds = 168 * 3600;  // query_frontend.search.max_duration

struct SearchWindow {
  uint32_t start_s = 0;
  uint32_t end_s = 0;

  bool recent_only() const { return start_s == 0 && end_s == 0; }
  uint64_t start_ns() const { return uint64_t{start_s} * 1000000000ull; }
  // Inclusive, to the end of the `end` second (a trace starting within it overlaps); 0 = unbounded.
  uint64_t end_ns() const { return end_s == 0 ? 0 : uint64_t{end_s} * 1000000000ull + 999999999ull; }
  // Tempo's filter: the trace overlaps the window. Always true for a recent-only window.
  bool overlaps(uint64_t trace_start_ns, uint64_t trace_end_ns) const {
    if (recent_only()) return true;
    return trace_end_ns >= start_ns() && (end_s == 0 || trace_start_ns <= end_ns());
  }
};

struct SearchParams {
  bool has_query = false;
  std::string query;  // q: TraceQL
  bool has_tags = false;
  std::vector<std::pair<std::string, std::string>> tags;  // legacy `tags` (logfmt), in the order given
  uint32_t min_duration_ms = 0;  // legacy minDuration / maxDuration (0 = no bound)
  uint32_t max_duration_ms = 0;
  uint32_t limit = kDefaultSearchLimit;
  uint32_t spss = kDefaultSpansPerSpanSet;
  SearchWindow window;
};

// `query_string` is the raw text after '?'.
Result<SearchParams> parse_search_params(std::string_view query_string);

// Which scopes a tag-names request asks for (tempo-api.md 2.5): the `scope` parameter.
enum class TagScopeParam : uint8_t { All, Resource, Span, Event, Link, Instrumentation, Intrinsic };

struct TagsParams {
  TagScopeParam scope = TagScopeParam::All;
  std::string query;       // q (v2 only; "" = none)
  uint32_t limit = 0;      // max names per scope, 0 = only the server's cap
  uint32_t max_stale = 0;  // maxStaleValues: stop after this many names in a row that were known (0 = off)
  SearchWindow window;
};
Result<TagsParams> parse_tags_params(std::string_view query_string, bool v2);

struct TagValuesParams {
  std::string tag;         // URL-decoded path segment
  std::string query;       // q (v2 only)
  uint32_t limit = 0;      // max values, 0 = only the server's cap
  uint32_t max_stale = 0;
  SearchWindow window;
};
// `tag` is the raw (still percent-encoded) path segment. v2 checks it is a TraceQL identifier.
Result<TagValuesParams> parse_tag_values_params(std::string_view tag, std::string_view query_string, bool v2);

// go-logfmt as Tempo decodes `tags`: `k=v k2="quoted \"v\"" flag`; a key without '=' has an empty value. A key
// given twice is an error (Tempo's "tag X has been set twice").
Result<std::vector<std::pair<std::string, std::string>>> parse_logfmt_tags(std::string_view text);

// Go's time.ParseDuration (plus the `d`, `w`, `y` units TraceQL accepts): "100ms", "1.5s", "2h45m".
Result<int64_t> parse_go_duration(std::string_view text);

}  // namespace spindle
