#include "api/tag_collector.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace spindle {
namespace {

bool selected(const std::vector<uint8_t>* mask, size_t span) { return mask == nullptr || (*mask)[span] != 0; }

// Which resources and instrumentation scopes own a selected span.
void owners(const TraceModel& trace, const std::vector<uint8_t>* mask, std::vector<uint8_t>& resources,
            std::vector<uint8_t>& scopes) {
  resources.assign(trace.resources.size(), 0);
  scopes.assign(trace.scopes.size(), 0);
  for (size_t i = 0; i < trace.spans.size(); ++i) {
    if (!selected(mask, i)) continue;
    const SpanModel& s = trace.spans[i];
    if (s.resource < resources.size()) resources[s.resource] = 1;
    if (s.scope < scopes.size()) scopes[s.scope] = 1;
  }
}

void add_names(const std::vector<Attribute>& attributes, TagScope scope, TagNames& out) {
  if ((out.wanted & tag_scope_bit(scope)) == 0) return;
  BoundedStringSet& set = out.scopes[static_cast<size_t>(scope)];
  for (const Attribute& a : attributes) {
    switch (set.add(a.key)) {
      case AddResult::Added:
        out.stale_run = 0;
        break;
      case AddResult::Known:
        ++out.stale_run;
        break;
      case AddResult::Full:
        return;
    }
  }
}

void add_values(const std::vector<Attribute>& attributes, std::string_view key, TagValueSet& out) {
  for (const Attribute& a : attributes) {
    if (a.key != key) continue;
    if (a.value.is_array) {
      for (const Static& v : a.value.array) out.add(v);
    } else {
      out.add(a.value.scalar);
    }
  }
}

}  // namespace

std::string_view tag_scope_name(TagScope scope) {
  switch (scope) {
    case TagScope::Resource:
      return "resource";
    case TagScope::Span:
      return "span";
    case TagScope::Event:
      return "event";
    case TagScope::Link:
      return "link";
    case TagScope::Instrumentation:
      return "instrumentation";
  }
  return "?";
}

const std::vector<std::string_view>& intrinsic_tag_names() {
  static const std::vector<std::string_view> kNames = {
      "duration",          "event:name",        "event:timeSinceStart", "instrumentation:name",
      "instrumentation:version", "kind",        "link:spanID",          "link:traceID",
      "name",              "rootName",          "rootServiceName",      "span:duration",
      "span:id",           "span:kind",         "span:name",            "span:parentID",
      "span:status",       "span:statusMessage", "status",              "statusMessage",
      "trace:duration",    "trace:id",          "trace:rootName",       "trace:rootService",
      "traceDuration"};
  return kNames;
}

bool TagNames::full() const {
  for (size_t i = 0; i < kTagScopeCount; ++i) {
    if ((wanted & (1u << i)) != 0 && !scopes[i].full()) return false;
  }
  return true;
}

void TagNames::merge(const TagNames& other) {
  for (size_t i = 0; i < kTagScopeCount; ++i) scopes[i].merge(other.scopes[i]);
}

void collect_tag_names(const TraceModel& trace, const std::vector<uint8_t>* mask, TagNames& out) {
  std::vector<uint8_t> resources, scopes;
  owners(trace, mask, resources, scopes);
  for (size_t r = 0; r < trace.resources.size(); ++r) {
    if (resources[r]) add_names(trace.resources[r].attributes, TagScope::Resource, out);
  }
  for (size_t s = 0; s < trace.scopes.size(); ++s) {
    if (scopes[s]) add_names(trace.scopes[s].attributes, TagScope::Instrumentation, out);
  }
  for (size_t i = 0; i < trace.spans.size(); ++i) {
    if (!selected(mask, i)) continue;
    const SpanModel& span = trace.spans[i];
    add_names(span.attributes, TagScope::Span, out);
    for (const EventModel& e : span.events) add_names(e.attributes, TagScope::Event, out);
    for (const LinkModel& l : span.links) add_names(l.attributes, TagScope::Link, out);
  }
}

AddResult TagValueSet::add(const Static& value) {
  if (value.type == StaticType::Nil) return AddResult::Known;
  return add(tag_value_of(value));
}

void collect_tag_values(const TraceModel& trace, const std::vector<uint8_t>* mask, const AttributeRef& ref,
                        TagValueSet& out) {
  if (ref.parent) return;  // parent.x: not offered for autocomplete
  if (ref.is_intrinsic()) {
    switch (ref.intrinsic) {
      case Intrinsic::TraceRootName:
      case Intrinsic::TraceRootService: {
        bool any = false;
        for (size_t i = 0; i < trace.spans.size() && !any; ++i) any = selected(mask, i);
        if (!any || trace.root < 0) return;
        std::string_view v = ref.intrinsic == Intrinsic::TraceRootName ? trace.root_name : trace.root_service_name;
        if (!v.empty()) out.add("string", v);
        return;
      }
      case Intrinsic::InstrumentationName:
      case Intrinsic::InstrumentationVersion: {
        std::vector<uint8_t> resources, scopes;
        owners(trace, mask, resources, scopes);
        for (size_t s = 0; s < trace.scopes.size(); ++s) {
          if (!scopes[s]) continue;
          const ScopeModel& sc = trace.scopes[s];
          std::string_view v = ref.intrinsic == Intrinsic::InstrumentationName ? sc.name : sc.version;
          if (!v.empty()) out.add("string", v);
        }
        return;
      }
      default:
        break;
    }
    for (size_t i = 0; i < trace.spans.size(); ++i) {
      if (!selected(mask, i)) continue;
      const SpanModel& s = trace.spans[i];
      switch (ref.intrinsic) {
        // An unset OTLP string is empty: not a value worth offering.
        case Intrinsic::Name:
          if (!s.name.empty()) out.add("string", s.name);
          break;
        case Intrinsic::StatusMessage:
          if (!s.status_message.empty()) out.add("string", s.status_message);
          break;
        case Intrinsic::EventName:
          for (const EventModel& e : s.events) {
            if (!e.name.empty()) out.add("string", e.name);
          }
          break;
        default:
          return;  // IDs, durations, counters: not offered
      }
    }
    return;
  }
  std::vector<uint8_t> resources, scopes;
  if (ref.scope == AttributeScope::Resource || ref.scope == AttributeScope::None ||
      ref.scope == AttributeScope::Instrumentation) {
    owners(trace, mask, resources, scopes);
  }
  switch (ref.scope) {
    case AttributeScope::Resource:
      for (size_t r = 0; r < trace.resources.size(); ++r) {
        if (resources[r]) add_values(trace.resources[r].attributes, ref.name, out);
      }
      return;
    case AttributeScope::Instrumentation:
      for (size_t s = 0; s < trace.scopes.size(); ++s) {
        if (scopes[s]) add_values(trace.scopes[s].attributes, ref.name, out);
      }
      return;
    case AttributeScope::None:
      for (size_t r = 0; r < trace.resources.size(); ++r) {
        if (resources[r]) add_values(trace.resources[r].attributes, ref.name, out);
      }
      [[fallthrough]];
    case AttributeScope::Span:
    case AttributeScope::Event:
    case AttributeScope::Link:
      for (size_t i = 0; i < trace.spans.size(); ++i) {
        if (!selected(mask, i)) continue;
        const SpanModel& s = trace.spans[i];
        if (ref.scope == AttributeScope::Span || ref.scope == AttributeScope::None) {
          add_values(s.attributes, ref.name, out);
        } else if (ref.scope == AttributeScope::Event) {
          for (const EventModel& e : s.events) add_values(e.attributes, ref.name, out);
        } else {
          for (const LinkModel& l : s.links) add_values(l.attributes, ref.name, out);
        }
      }
      return;
  }
}

std::optional<std::vector<TagValue>> virtual_tag_values_v2(const AttributeRef& ref) {
  if (!ref.is_intrinsic() || ref.parent) return std::nullopt;
  switch (ref.intrinsic) {
    case Intrinsic::Status:
      return std::vector<TagValue>{{"keyword", "ok"}, {"keyword", "error"}, {"keyword", "unset"}};
    case Intrinsic::Kind:
      return std::vector<TagValue>{{"keyword", "client"},   {"keyword", "server"},   {"keyword", "producer"},
                                   {"keyword", "consumer"}, {"keyword", "internal"}, {"keyword", "unspecified"}};
    case Intrinsic::Duration:
    case Intrinsic::TraceDuration:
      return std::vector<TagValue>{};
    default:
      return std::nullopt;
  }
}

std::optional<std::vector<std::string>> virtual_tag_values_v1(std::string_view tag) {
  if (tag == "status.code") return std::vector<std::string>{"unset", "ok", "error"};
  if (tag == "error") return std::vector<std::string>{"true"};
  return std::nullopt;
}

AttributeRef v1_tag_attribute(std::string_view tag) {
  AttributeRef ref;
  if (tag == "name") {
    ref.intrinsic = Intrinsic::Name;
  } else {
    ref.name = std::string(tag);
  }
  return ref;
}

std::string format_go_float(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char sci[64];
  auto r = std::to_chars(sci, sci + sizeof sci, v, std::chars_format::scientific);
  std::string_view s(sci, static_cast<size_t>(r.ptr - sci));
  size_t e = s.find('e');
  int exp = std::atoi(std::string(s.substr(e + 1)).c_str());
  // Go's 'g' with the shortest precision: %e when the decimal exponent is < -4 or >= 6 (a fixed 6, ftoa.go).
  if (exp < -4 || exp >= 6) return std::string(s);
  char fixed[400];
  auto f = std::to_chars(fixed, fixed + sizeof fixed, v, std::chars_format::fixed);
  return std::string(fixed, static_cast<size_t>(f.ptr - fixed));
}

TagValue tag_value_of(const Static& v) {
  switch (v.type) {
    case StaticType::String:
      return {"string", v.string_value};
    case StaticType::Int:
      return {"int", std::to_string(v.int_value)};
    case StaticType::Float:
      return {"float", format_go_float(v.float_value)};
    case StaticType::Bool:
      return {"bool", v.int_value != 0 ? "true" : "false"};
    case StaticType::Duration:
      return {"duration", format_go_duration(v.int_value)};
    case StaticType::Status:
      return {"keyword", std::string(status_name(static_cast<SpanStatus>(v.int_value)))};
    case StaticType::Kind:
      return {"keyword", std::string(kind_name(static_cast<SpanKind>(v.int_value)))};
    case StaticType::Nil:
      break;
  }
  return {"string", "nil"};
}

}  // namespace spindle
