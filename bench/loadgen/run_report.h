#pragma once
// RunReport: what a spindle-loadgen run measured, and its two renderings.
//
// JSON (--json), one object on one line:
//   {"protocol":"grpc","gzip":false,"requests":N,"spans":N,"bytes":N,"wire_bytes":N,"seconds":F,
//    "requests_per_second":F,"spans_per_second":F,"mb_per_second":F,"errors":N,"error_count":N,
//    "errors_by_status":{"grpc_14":N,...},
//    "latency_ms":{"p50":F,"p90":F,"p99":F,"p99_9":F,"max":F},
//    "connections":N,"in_flight":N,"spans_per_request":N,"request_bytes":N,"first_trace_id":"<hex>"
//    [,"verified_traces":N,"verified_spans":N,"missing_traces":N,"missing_spans":N,"differing_spans":N,
//      "verify_query_errors":N,"verify_errors_by_status":{...},"verify_seconds":F]}
// requests/spans/bytes count only acknowledged requests (gRPC status 0 / HTTP 200 without rejected spans);
// bytes are the OTLP payload before compression, wire_bytes the request bodies as sent (after gzip, with the
// 5-byte gRPC prefix); MB = 10^6 bytes; latency covers every completed request, from submit to response.
// errors (error_count is the same number, for older scripts) counts failed requests; errors_by_status splits
// them by reason: "grpc_<code>", "http_<status>", "no_grpc_status", "rejected_spans", "rst_<h2 code>",
// "connection_lost", "goaway", "timeout".
//
// Threading: plain data.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "bench/loadgen/latency_histogram.h"
#include "bench/loadgen/trace_verifier.h"

namespace spindle {

struct RunReport {
  std::string protocol;
  bool gzip = false;
  uint64_t requests = 0;
  uint64_t spans = 0;
  uint64_t bytes = 0;
  uint64_t wire_bytes = 0;
  double seconds = 0;
  std::map<std::string, uint64_t> errors;
  LatencyHistogram latency;
  int connections = 0;
  int in_flight = 0;
  int spans_per_request = 0;
  size_t request_bytes = 0;
  std::string first_trace_id;
  std::optional<VerifyResult> verify;

  uint64_t error_count() const;
};

std::string report_json(const RunReport& r);
std::string report_text(const RunReport& r);

}  // namespace spindle
