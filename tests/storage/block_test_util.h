#pragma once
// Fixtures shared by the block-format tests: temporary directories and traces built with libprotobuf, the
// reference encoder the hand-written storage code is checked against.
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/trace_id.h"
#include "storage/search_columns.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "tempopb/tempo.pb.h"
#include "tests/support/temp_dir.h"

namespace spindle::testing {

namespace otlp = opentelemetry::proto;

// The time range and span count a block row records for `trace` (what BlockWriter computes).
inline TraceSummary summary_of(std::string_view trace) {
  ColumnPageBuilder b;
  auto s = b.add_row(trace);
  return s.ok() ? *s : TraceSummary{};
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

inline TraceId random_id(std::mt19937_64& rng) {
  TraceId id;
  uint64_t a = rng(), b = rng();
  for (int i = 0; i < 8; ++i) {
    id.bytes[i] = static_cast<uint8_t>(a >> (8 * i));
    id.bytes[8 + i] = static_cast<uint8_t>(b >> (8 * i));
  }
  return id;
}

inline otlp::trace::v1::Span make_span(const TraceId& id, uint64_t span_no, const std::string& name,
                                       uint64_t start_ns, uint64_t end_ns) {
  otlp::trace::v1::Span span;
  span.set_trace_id(std::string(id.as_view()));
  std::string sid(8, '\0');
  for (int i = 0; i < 8; ++i) sid[i] = static_cast<char>(span_no >> (8 * i));
  span.set_span_id(sid);
  span.set_name(name);
  span.set_kind(otlp::trace::v1::Span::SPAN_KIND_SERVER);
  span.set_start_time_unix_nano(start_ns);
  span.set_end_time_unix_nano(end_ns);
  auto* kv = span.add_attributes();
  kv->set_key("http.route");
  kv->mutable_value()->set_string_value("/api/" + name);
  span.mutable_status();
  return span;
}

inline otlp::resource::v1::Resource make_resource(const std::string& service) {
  otlp::resource::v1::Resource r;
  auto* kv = r.add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value(service);
  return r;
}

inline otlp::common::v1::InstrumentationScope make_scope(const std::string& name) {
  otlp::common::v1::InstrumentationScope s;
  s.set_name(name);
  s.set_version("1.0");
  return s;
}

// Adds `span` to `trace` under a new ResourceSpans(service)/ScopeSpans(scope).
inline void add_span(tempopb::Trace& trace, const std::string& service, const std::string& scope,
                     const otlp::trace::v1::Span& span) {
  auto* rs = trace.add_resourcespans();
  *rs->mutable_resource() = make_resource(service);
  auto* ss = rs->add_scope_spans();
  *ss->mutable_scope() = make_scope(scope);
  *ss->add_spans() = span;
}

// A trace of 1-5 spans across up to 2 services, timestamps around `base_ns`, already in merge normal form
// (one ResourceSpans per service, one ScopeSpans each).
inline tempopb::Trace random_trace(std::mt19937_64& rng, const TraceId& id, uint64_t base_ns) {
  tempopb::Trace trace;
  int spans = 1 + static_cast<int>(rng() % 5);
  int services = 1 + static_cast<int>(rng() % 2);
  for (int s = 0; s < services; ++s) {
    auto* rs = trace.add_resourcespans();
    *rs->mutable_resource() = make_resource("svc-" + std::to_string(s));
    auto* ss = rs->add_scope_spans();
    *ss->mutable_scope() = make_scope("lib");
  }
  for (int i = 0; i < spans; ++i) {
    uint64_t start = base_ns + rng() % 1000000;
    auto* ss = trace.mutable_resourcespans(i % services)->mutable_scope_spans(0);
    *ss->add_spans() = make_span(id, rng(), "op" + std::to_string(i), start, start + 1 + rng() % 5000);
  }
  return trace;
}

}  // namespace spindle::testing
