#pragma once
// Small libprotobuf-built OTLP requests for API tests.
#include <string>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace spindle {

using ExportRequest = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

// One resource (service.name = `service`), one scope, `spans` spans of trace `trace_id` (raw bytes, 8 or 16),
// span ids starting at `first_span` (big-endian in the last bytes).
inline ExportRequest make_request(const std::string& trace_id, int spans, int first_span = 1,
                                  const std::string& service = "svc", size_t attr_bytes = 8) {
  ExportRequest req;
  auto* rs = req.add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value(service);
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("fixture");
  for (int i = 0; i < spans; ++i) {
    auto* span = ss->add_spans();
    span->set_trace_id(trace_id);
    std::string id(8, '\0');
    int n = first_span + i;
    id[6] = static_cast<char>(n >> 8);
    id[7] = static_cast<char>(n & 0xff);
    span->set_span_id(id);
    span->set_name("op-" + std::to_string(n));
    span->set_kind(opentelemetry::proto::trace::v1::Span::SPAN_KIND_SERVER);
    span->set_start_time_unix_nano(1700000000000000000ull + n);
    span->set_end_time_unix_nano(1700000000250000000ull + n);
    auto* a = span->add_attributes();
    a->set_key("payload");
    a->mutable_value()->set_string_value(std::string(attr_bytes, 'x'));
  }
  return req;
}

inline std::string trace_id_bytes(uint8_t seed, size_t size = 16) {
  std::string id(size, '\0');
  for (size_t i = 0; i < size; ++i) id[i] = static_cast<char>(seed + i * 7 + 1);
  return id;
}

}  // namespace spindle
