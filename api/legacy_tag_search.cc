#include "api/legacy_tag_search.h"

#include <charconv>

#include "api/tag_collector.h"

namespace spindle {
namespace {

bool is_resource_key(std::string_view k) {
  return k == "service.name" || k == "cluster" || k == "namespace" || k == "pod" || k == "container" ||
         k == "k8s.cluster.name" || k == "k8s.namespace.name" || k == "k8s.pod.name" ||
         k == "k8s.container.name";
}

const AttributeValue* find_attr(const std::vector<Attribute>& attrs, std::string_view key) {
  for (const Attribute& a : attrs) {
    if (a.key == key) return &a.value;
  }
  return nullptr;
}

bool scalar_text_equals(const Static& v, std::string_view text) {
  if (v.type == StaticType::Nil) return false;
  if (v.type == StaticType::String) return v.string_value == text;
  return tag_value_of(v).value == text;
}

bool value_equals(const AttributeValue* v, std::string_view text) {
  if (v == nullptr) return false;
  if (!v->is_array) return scalar_text_equals(v->scalar, text);
  for (const Static& e : v->array) {
    if (scalar_text_equals(e, text)) return true;
  }
  return false;
}

bool value_contains(const AttributeValue* v, std::string_view text) {
  return v != nullptr && !v->is_array && v->scalar.type == StaticType::String &&
         v->scalar.string_value.find(text) != std::string::npos;
}

}  // namespace

LegacyTagSearch::LegacyTagSearch(std::vector<std::pair<std::string, std::string>> tags, uint32_t min_duration_ms,
                                 uint32_t max_duration_ms)
    : min_ns_(uint64_t{min_duration_ms} * 1000000), max_ns_(uint64_t{max_duration_ms} * 1000000) {
  for (auto& [key, value] : tags) {
    Condition c;
    if (is_resource_key(key)) {
      c.kind = Kind::ResourceSubstring;
    } else if (key == "name") {
      c.kind = Kind::SpanNameSubstring;
    } else if (key == "http.url" || key == "http.method") {
      c.kind = Kind::SpanAttrSubstring;
    } else if (key == "root.service.name") {
      c.kind = Kind::RootServiceSubstring;
    } else if (key == "root.name") {
      c.kind = Kind::RootNameSubstring;
    } else if (key == "status.code") {
      c.kind = Kind::StatusCode;
    } else if (key == "error") {
      c.kind = Kind::Error;
    } else if (key == "http.status_code") {
      c.kind = Kind::HttpStatusCode;
      auto r = std::from_chars(value.data(), value.data() + value.size(), c.int_value);
      c.int_valid = r.ec == std::errc() && r.ptr == value.data() + value.size();
    } else {
      c.kind = Kind::AnyAttrEquals;
    }
    c.key = std::move(key);
    c.value = std::move(value);
    conditions_.push_back(std::move(c));
  }
}

bool LegacyTagSearch::span_matches(const TraceModel& trace, const SpanModel& span, const Condition& c) const {
  const ResourceModel* resource = span.resource < trace.resources.size() ? &trace.resources[span.resource] : nullptr;
  switch (c.kind) {
    case Kind::ResourceSubstring:
      return resource != nullptr && value_contains(find_attr(resource->attributes, c.key), c.value);
    case Kind::SpanNameSubstring:
      return span.name.find(c.value) != std::string_view::npos;
    case Kind::SpanAttrSubstring:
      return value_contains(find_attr(span.attributes, c.key), c.value);
    case Kind::RootServiceSubstring:
      return trace.root >= 0 && trace.root_service_name.find(c.value) != std::string_view::npos;
    case Kind::RootNameSubstring:
      return trace.root >= 0 && trace.root_name.find(c.value) != std::string_view::npos;
    case Kind::StatusCode:
      return status_name(span.status) == c.value;
    case Kind::Error:
      return c.value == "true" && span.status == SpanStatus::Error;
    case Kind::HttpStatusCode: {
      const AttributeValue* v = find_attr(span.attributes, c.key);
      if (v == nullptr || v->is_array || !c.int_valid) return false;
      return v->scalar.type == StaticType::Int && v->scalar.int_value == c.int_value;
    }
    case Kind::AnyAttrEquals:
      return value_equals(find_attr(span.attributes, c.key), c.value) ||
             (resource != nullptr && value_equals(find_attr(resource->attributes, c.key), c.value));
  }
  return false;
}

bool LegacyTagSearch::matches(const TraceModel& trace) const {
  uint64_t duration = trace.end_ns > trace.start_ns ? trace.end_ns - trace.start_ns : 0;
  if (min_ns_ != 0 && duration < min_ns_) return false;
  if (max_ns_ != 0 && duration > max_ns_) return false;
  if (conditions_.empty()) return true;
  for (const SpanModel& span : trace.spans) {
    bool all = true;
    for (const Condition& c : conditions_) {
      if (!span_matches(trace, span, c)) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

}  // namespace spindle
