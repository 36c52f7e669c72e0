#include "api/search_response.h"

#include <algorithm>

#include "proto/json_writer.h"

namespace spindle {
namespace {

// Tempo's spansetID: the by() attributes identify a spanset within its trace.
std::string spanset_identity(const SearchSpanset& ss) {
  std::string id;
  for (const auto& [key, value] : ss.attributes) {
    if (!key.starts_with("by")) continue;
    id += key;
    id.push_back('\x1f');
    id += std::to_string(static_cast<int>(value.type));
    id.push_back('\x1f');
    id += to_string(value);
    id.push_back('\x1e');
  }
  return id;
}

void write_key_values(JsonWriter& w, const KeyedValues& kvs) {
  w.begin_array();
  for (const auto& [key, value] : kvs) {
    w.begin_object();
    if (!key.empty()) {
      w.key("key");
      w.string(key);
    }
    w.key("value");
    write_any_value(w, value);
    w.end_object();
  }
  w.end_array();
}

void write_spanset(JsonWriter& w, const SearchSpanset& ss) {
  w.begin_object();
  if (!ss.spans.empty()) {
    w.key("spans");
    w.begin_array();
    for (const SearchSpan& s : ss.spans) {
      w.begin_object();
      std::string id = search_span_id(s.span_id);
      if (!id.empty()) {
        w.key("spanID");
        w.string(id);
      }
      if (!s.name.empty()) {
        w.key("name");
        w.string(s.name);
      }
      if (s.start_ns != 0) {
        w.key("startTimeUnixNano");
        w.uint_string(s.start_ns);
      }
      if (s.duration_ns != 0) {
        w.key("durationNanos");
        w.uint_string(s.duration_ns);
      }
      if (!s.attributes.empty()) {
        w.key("attributes");
        write_key_values(w, s.attributes);
      }
      w.end_object();
    }
    w.end_array();
  }
  if (ss.matched != 0) {
    w.key("matched");
    w.uint_value(ss.matched);
  }
  if (!ss.attributes.empty()) {
    w.key("attributes");
    write_key_values(w, ss.attributes);
  }
  w.end_object();
}

void write_trace(JsonWriter& w, const SearchTrace& t) {
  w.begin_object();
  std::string id = search_trace_id(t.id);
  if (!id.empty()) {
    w.key("traceID");
    w.string(id);
  }
  w.key("rootServiceName");
  w.string(t.root_service_name.empty() ? kRootSpanNotYetReceived : std::string_view(t.root_service_name));
  if (!t.root_trace_name.empty()) {
    w.key("rootTraceName");
    w.string(t.root_trace_name);
  }
  if (t.start_ns != 0) {
    w.key("startTimeUnixNano");
    w.uint_string(t.start_ns);
  }
  if (uint32_t d = t.duration_ms(); d != 0) {
    w.key("durationMs");
    w.uint_value(d);
  }
  if (!t.spansets.empty()) {
    // spanSet (deprecated) = spanSets[0]: Grafana prefers it when present.
    w.key("spanSet");
    write_spanset(w, t.spansets[0]);
    w.key("spanSets");
    w.begin_array();
    for (const SearchSpanset& ss : t.spansets) write_spanset(w, ss);
    w.end_array();
  }
  if (!t.service_stats.empty()) {
    w.key("serviceStats");
    w.begin_object();
    for (const auto& [service, stats] : t.service_stats) {
      w.key(service);
      w.begin_object();
      if (stats.span_count != 0) {
        w.key("spanCount");
        w.uint_value(stats.span_count);
      }
      if (stats.error_count != 0) {
        w.key("errorCount");
        w.uint_value(stats.error_count);
      }
      w.end_object();
    }
    w.end_object();
  }
  w.end_object();
}

void write_search_metrics(JsonWriter& w, const SearchMetrics& m) {
  w.begin_object();
  // 32-bit fields are numbers, 64-bit ones strings (gogo jsonpb); zero values are left out.
  if (m.inspected_traces != 0) {
    w.key("inspectedTraces");
    w.uint_value(std::min<uint64_t>(m.inspected_traces, UINT32_MAX));
  }
  if (m.inspected_bytes != 0) {
    w.key("inspectedBytes");
    w.uint_string(m.inspected_bytes);
  }
  if (m.total_blocks != 0) {
    w.key("totalBlocks");
    w.uint_value(std::min<uint64_t>(m.total_blocks, UINT32_MAX));
  }
  if (m.completed_jobs != 0) {
    w.key("completedJobs");
    w.uint_value(m.completed_jobs);
  }
  if (m.total_jobs != 0) {
    w.key("totalJobs");
    w.uint_value(m.total_jobs);
  }
  if (m.total_block_bytes != 0) {
    w.key("totalBlockBytes");
    w.uint_string(m.total_block_bytes);
  }
  if (m.inspected_spans != 0) {
    w.key("inspectedSpans");
    w.uint_string(m.inspected_spans);
  }
  w.end_object();
}

void write_tag_metrics(JsonWriter& w, const TagMetrics& m) {
  w.key("metrics");
  w.begin_object();
  if (m.inspected_bytes != 0) {
    w.key("inspectedBytes");
    w.uint_string(m.inspected_bytes);
  }
  if (m.total_jobs != 0) {
    w.key("totalJobs");
    w.uint_value(m.total_jobs);
  }
  if (m.completed_jobs != 0) {
    w.key("completedJobs");
    w.uint_value(m.completed_jobs);
  }
  if (m.total_blocks != 0) {
    w.key("totalBlocks");
    w.uint_value(std::min<uint64_t>(m.total_blocks, UINT32_MAX));
  }
  if (m.total_block_bytes != 0) {
    w.key("totalBlockBytes");
    w.uint_string(m.total_block_bytes);
  }
  w.end_object();
}

}  // namespace

uint32_t SearchTrace::duration_ms() const {
  uint64_t d = end_ns > start_ns ? (end_ns - start_ns) / 1000000 : 0;
  return static_cast<uint32_t>(std::min<uint64_t>(d, UINT32_MAX));
}

void SearchMetrics::add(const SearchMetrics& o) {
  inspected_traces += o.inspected_traces;
  inspected_bytes += o.inspected_bytes;
  inspected_spans += o.inspected_spans;
  total_blocks += o.total_blocks;
  total_block_bytes += o.total_block_bytes;
  completed_jobs += o.completed_jobs;
  total_jobs += o.total_jobs;
}

void TagMetrics::add(const TagMetrics& o) {
  inspected_bytes += o.inspected_bytes;
  total_blocks += o.total_blocks;
  total_block_bytes += o.total_block_bytes;
  completed_jobs += o.completed_jobs;
  total_jobs += o.total_jobs;
}

std::string search_attribute_key(const AttributeRef& ref) {
  if (ref.is_intrinsic()) return std::string(intrinsic_name(ref.intrinsic));
  return ref.name;
}

SearchTrace make_search_trace(const TraceModel& trace, const std::vector<SpansetResult>& spansets,
                              const std::vector<AttributeRef>& span_attributes, SpanValueFn value_of,
                              uint32_t spss) {
  SearchTrace t;
  t.id = trace.id;
  if (trace.root >= 0) {
    t.root_service_name = std::string(trace.root_service_name);
    t.root_trace_name = std::string(trace.root_name);
  }
  t.start_ns = trace.start_ns;
  t.end_ns = trace.end_ns;
  for (const SpanModel& s : trace.spans) {
    std::string_view service =
        s.resource < trace.resources.size() ? trace.resources[s.resource].service_name : std::string_view();
    auto it = t.service_stats.find(service);
    if (it == t.service_stats.end()) it = t.service_stats.emplace(std::string(service), ServiceStats{}).first;
    ++it->second.span_count;
    if (s.status == SpanStatus::Error) ++it->second.error_count;
  }
  std::vector<std::string> keys;
  keys.reserve(span_attributes.size());
  for (const AttributeRef& ref : span_attributes) keys.push_back(search_attribute_key(ref));
  t.spansets.reserve(spansets.size());
  for (const SpansetResult& r : spansets) {
    SearchSpanset ss;
    ss.matched = static_cast<uint32_t>(std::min<size_t>(r.spans.size(), UINT32_MAX));
    size_t keep = std::min<size_t>(r.spans.size(), spss);
    ss.spans.reserve(keep);
    for (size_t i = 0; i < keep; ++i) {
      uint32_t index = r.spans[i];
      if (index >= trace.spans.size()) continue;
      const SpanModel& s = trace.spans[index];
      SearchSpan span;
      span.span_id = std::string(s.span_id);
      span.name = std::string(s.name);
      span.start_ns = s.start_ns;
      span.duration_ns = s.end_ns > s.start_ns ? s.end_ns - s.start_ns : 0;
      for (size_t a = 0; a < span_attributes.size(); ++a) {
        std::optional<Static> v = value_of(trace, index, span_attributes[a]);
        if (!v) continue;
        // `.x` and `span.x` name the same stored attribute: Tempo shows it once.
        bool seen = false;
        for (const auto& [k, existing] : span.attributes) seen |= k == keys[a] && existing == *v;
        if (!seen) span.attributes.emplace_back(keys[a], std::move(*v));
      }
      ss.spans.push_back(std::move(span));
    }
    ss.attributes = r.attributes;
    t.spansets.push_back(std::move(ss));
  }
  return t;
}

void merge_search_trace(SearchTrace& into, SearchTrace&& from) {
  if (into.root_service_name.empty()) into.root_service_name = std::move(from.root_service_name);
  if (into.root_trace_name.empty()) into.root_trace_name = std::move(from.root_trace_name);
  if (from.start_ns != 0 && (into.start_ns == 0 || from.start_ns < into.start_ns)) into.start_ns = from.start_ns;
  into.end_ns = std::max(into.end_ns, from.end_ns);
  for (auto& [service, stats] : from.service_stats) {
    ServiceStats& s = into.service_stats[service];
    s.span_count = std::max(s.span_count, stats.span_count);
    s.error_count = std::max(s.error_count, stats.error_count);
  }
  if (from.spansets.empty()) return;
  std::unordered_map<std::string, size_t> existing;
  for (size_t i = 0; i < into.spansets.size(); ++i) existing.emplace(spanset_identity(into.spansets[i]), i);
  for (SearchSpanset& ss : from.spansets) {
    auto it = existing.find(spanset_identity(ss));
    if (it == existing.end()) {
      into.spansets.push_back(std::move(ss));
      continue;
    }
    // Spansets cannot really be combined; keep the more representative one, as Tempo does.
    SearchSpanset& held = into.spansets[it->second];
    if (held.matched < ss.matched) held = std::move(ss);
  }
}

bool SearchCombiner::add(SearchTrace trace) {
  auto it = index_.find(trace.id);
  if (it != index_.end()) {
    merge_search_trace(traces_[it->second], std::move(trace));
    return true;
  }
  if (full()) return false;
  index_.emplace(trace.id, traces_.size());
  traces_.push_back(std::move(trace));
  if (most_recent_ && limit_ != 0 && traces_.size() >= 2 * static_cast<size_t>(limit_)) prune();
  return true;
}

void SearchCombiner::prune() {
  auto later = [](const SearchTrace& a, const SearchTrace& b) {
    return a.start_ns != b.start_ns ? a.start_ns > b.start_ns : a.id < b.id;
  };
  std::nth_element(traces_.begin(), traces_.begin() + limit_, traces_.end(), later);
  traces_.resize(limit_);
  index_.clear();
  for (size_t i = 0; i < traces_.size(); ++i) index_.emplace(traces_[i].id, i);
}

std::vector<SearchTrace> SearchCombiner::take() {
  std::vector<SearchTrace> out = std::move(traces_);
  traces_.clear();
  index_.clear();
  std::sort(out.begin(), out.end(), [](const SearchTrace& a, const SearchTrace& b) {
    return a.start_ns != b.start_ns ? a.start_ns > b.start_ns : a.id < b.id;
  });
  if (limit_ != 0 && out.size() > limit_) out.resize(limit_);
  return out;
}

std::string search_trace_id(const TraceId& id) {
  std::string hex = id.to_hex();
  size_t first = hex.find_first_not_of('0');
  return first == std::string::npos ? std::string() : hex.substr(first);
}

std::string search_span_id(std::string_view raw) {
  std::string hex = to_hex(raw);
  size_t first = hex.find_first_not_of('0');
  hex = first == std::string::npos ? std::string() : hex.substr(first);
  if (hex.size() < 16) hex.insert(0, 16 - hex.size(), '0');
  return hex;
}

void write_any_value(JsonWriter& w, const Static& v) {
  w.begin_object();
  switch (v.type) {
    case StaticType::Int:
      w.key("intValue");
      w.int_string(v.int_value);
      break;
    case StaticType::Float:
      w.key("doubleValue");
      w.double_value(v.float_value);
      break;
    case StaticType::Bool:
      w.key("boolValue");
      w.bool_value(v.int_value != 0);
      break;
    case StaticType::String:
      w.key("stringValue");
      w.string(v.string_value);
      break;
    case StaticType::Duration:
      w.key("stringValue");
      w.string(format_go_duration(v.int_value));
      break;
    case StaticType::Status:
      w.key("stringValue");
      w.string(status_name(static_cast<SpanStatus>(v.int_value)));
      break;
    case StaticType::Kind:
      w.key("stringValue");
      w.string(kind_name(static_cast<SpanKind>(v.int_value)));
      break;
    case StaticType::Nil:
      w.key("stringValue");
      w.string("nil");
      break;
  }
  w.end_object();
}

std::string encode_search_response(const std::vector<SearchTrace>& traces, const SearchMetrics& metrics) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  if (!traces.empty()) {
    w.key("traces");
    w.begin_array();
    for (const SearchTrace& t : traces) write_trace(w, t);
    w.end_array();
  }
  w.key("metrics");
  write_search_metrics(w, metrics);
  w.end_object();
  return out;
}

std::string encode_tag_names_v1(const TagNames& names, bool intrinsic_only, const TagMetrics& metrics) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.key("tagNames");
  w.begin_array();
  if (intrinsic_only) {
    for (std::string_view n : intrinsic_tag_names()) w.string(n);
  } else {
    std::set<std::string_view> all;
    for (size_t i = 0; i < kTagScopeCount; ++i) {
      if ((names.wanted & (1u << i)) == 0) continue;
      for (const std::string& n : names.scopes[i].values()) all.insert(n);
    }
    for (std::string_view n : all) w.string(n);
  }
  w.end_array();
  write_tag_metrics(w, metrics);
  w.end_object();
  return out;
}

std::string encode_tag_names_v2(const TagNames& names, bool with_intrinsic, const TagMetrics& metrics) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.key("scopes");
  w.begin_array();
  if (with_intrinsic) {
    w.begin_object();
    w.key("name");
    w.string("intrinsic");
    w.key("tags");
    w.begin_array();
    for (std::string_view n : intrinsic_tag_names()) w.string(n);
    w.end_array();
    w.end_object();
  }
  for (size_t i = 0; i < kTagScopeCount; ++i) {
    if ((names.wanted & (1u << i)) == 0 || names.scopes[i].size() == 0) continue;
    w.begin_object();
    w.key("name");
    w.string(tag_scope_name(static_cast<TagScope>(i)));
    w.key("tags");
    w.begin_array();
    for (const std::string& n : names.scopes[i].values()) w.string(n);
    w.end_array();
    w.end_object();
  }
  w.end_array();
  write_tag_metrics(w, metrics);
  w.end_object();
  return out;
}

std::string encode_tag_values_v1(const std::vector<std::string>& values, const TagMetrics& metrics) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.key("tagValues");
  w.begin_array();
  for (const std::string& v : values) w.string(v);
  w.end_array();
  write_tag_metrics(w, metrics);
  w.end_object();
  return out;
}

std::string encode_tag_values_v2(const std::vector<TagValue>& values, const TagMetrics& metrics) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.key("tagValues");
  w.begin_array();
  for (const TagValue& v : values) {
    w.begin_object();
    w.key("type");
    w.string(v.type);
    w.key("value");
    w.string(v.value);
    w.end_object();
  }
  w.end_array();
  write_tag_metrics(w, metrics);
  w.end_object();
  return out;
}

}  // namespace spindle
