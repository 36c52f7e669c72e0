#pragma once
// TraceVerifier: reads traces back through Tempo's `GET /api/v2/traces/<id>` (Accept: application/protobuf,
// a tempopb.TraceByIDResponse) and compares them with what the load generator sent, in the spirit of
// tempo-vulture. Queries go over a few pipelined HTTP/1.1 keep-alive connections. A trace not found, or found
// with fewer spans than sent, is read again after a second until `timeout_s` has passed (ingest may be
// acknowledged just before the trace becomes readable).
//
// Per trace, a returned span "differs" when it carries another trace ID, a different number of attributes
// than sent, or an ID already seen in the trace; spans beyond the number sent count as differing too.
//
// Threading: single-threaded; run() blocks.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/loadgen/client_connection.h"
#include "core/trace_id.h"

namespace spindle {

struct ExpectedTrace {
  TraceId id;
  uint32_t spans = 0;
};

struct VerifyResult {
  uint64_t traces = 0;          // traces checked
  uint64_t spans = 0;           // spans expected in them
  uint64_t found_spans = 0;     // distinct matching spans read back
  uint64_t missing_traces = 0;  // not found at all
  uint64_t missing_spans = 0;   // expected but not read back (including those of missing traces)
  uint64_t differing_spans = 0;
  uint64_t query_errors = 0;  // queries that got no usable answer
  std::map<std::string, uint64_t> query_errors_by_status;
  double seconds = 0;
  bool lossless() const {
    return missing_traces == 0 && missing_spans == 0 && differing_spans == 0 && query_errors == 0;
  }
};

class TraceVerifier {
 public:
  TraceVerifier(std::string host, std::string port, int attrs_per_span, int connections, double timeout_s)
      : host_(std::move(host)),
        port_(std::move(port)),
        attrs_per_span_(attrs_per_span),
        connections_(connections),
        timeout_s_(timeout_s) {}

  // Unavailable when the query endpoint cannot be reached at all.
  Result<VerifyResult> run(const std::vector<ExpectedTrace>& traces);

 private:
  struct Outcome {
    uint64_t found = 0;  // distinct matching spans
    uint64_t differing = 0;
    std::string error;  // non-empty: no usable answer
  };
  Outcome judge(const ExpectedTrace& expected, const ClientReply& reply) const;

  std::string host_;
  std::string port_;
  int attrs_per_span_;
  int connections_;
  double timeout_s_;
};

}  // namespace spindle
