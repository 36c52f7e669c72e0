#pragma once
// RequestTemplate: one OTLP ExportTraceServiceRequest, built once with libprotobuf and serialized as protobuf
// or as OTLP/JSON, plus the byte offsets of every field that changes per request. Per request the caller
// copies bytes() and patch()es the copy: fresh random trace IDs (one per trace), span IDs, parent span IDs and
// timestamps shifted to "now". Every rewritten field has a fixed width in the serialized form, so patching
// never moves anything and costs a few hundred nanoseconds per 100 spans:
//   - protobuf: trace_id (16 raw bytes), span_id / parent_span_id (8 raw bytes), times (fixed64, LE);
//   - OTLP/JSON: the same IDs as lowercase hex (32 / 16 digits, as OTLP/JSON requires, not proto3's base64),
//     times as 19 decimal digits inside the string proto3 JSON uses for 64-bit integers (any time after
//     2001-09-09 has 19 digits in nanoseconds).
// The offsets are found by building the message with unique random sentinels in those fields and searching
// the serialized bytes for each exactly once (a sentinel that collides with other content makes build() try
// again with other sentinels).
//
// The shape (RequestShape) is deterministic given the options: span i of the request belongs to trace
// i / spans_per_trace (the last trace may be shorter) and to service i % services (one ResourceSpans per
// service, so every trace crosses min(spans_per_trace, services) services); within a trace, span k > 0 sits at
// level 1 + (k - 1) % (depth - 1) and its parent is the latest span one level up (depth 1: every span is a
// root); span i carries floor((i+1)*events) - floor(i*events) events and has status ERROR when
// floor((i+1)*error_ratio) - floor(i*error_ratio) is 1, so a request holds exactly floor(spans*events) events
// and floor(spans*error_ratio) error spans.
//
// Threading: immutable after build(); patch() may be called from any thread with its own Rng and buffer.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/loadgen/rng.h"
#include "core/result.h"
#include "core/trace_id.h"

namespace spindle {

struct RequestShape {
  int spans_per_request = 100;
  int spans_per_trace = 10;
  int depth = 3;
  int services = 10;
  int attrs = 8;      // per span; the first 16 are HTTP semantic-convention attributes, then "custom.attr_N"
  int attr_size = 0;  // >0: every string attribute value is exactly this many bytes; 0: natural values
  double events = 0.25;       // mean events per span
  double error_ratio = 0.05;  // fraction of spans with status ERROR
};

// Checks ranges; InvalidArgument naming the bad field.
Status validate(const RequestShape& shape);

enum class PayloadFormat { Protobuf, Json };

class RequestTemplate {
 public:
  static Result<RequestTemplate> build(const RequestShape& shape, PayloadFormat format, uint64_t seed);

  // The serialized request (protobuf ExportTraceServiceRequest or its OTLP/JSON form) with the IDs and times
  // of its build; always patch a copy before sending.
  const std::string& bytes() const { return bytes_; }
  PayloadFormat format() const { return format_; }
  int spans() const { return static_cast<int>(span_slots_.size()); }
  int traces() const { return static_cast<int>(trace_spans_.size()); }
  int spans_in_trace(int trace) const { return trace_spans_[trace]; }

  // Writes fresh IDs and times (relative to base_ns, the wall clock in ns) into `msg`, a copy of bytes() of
  // the same size, and returns the new trace IDs in trace order in `trace_ids`.
  void patch(Rng& rng, uint64_t base_ns, char* msg, std::vector<TraceId>& trace_ids) const;

 private:
  struct SpanSlot {
    size_t trace_id = 0;
    size_t span_id = 0;
    size_t parent_span_id = SIZE_MAX;  // SIZE_MAX: a root
    int trace = 0;
    int parent = -1;  // index of the parent span in the request
  };
  struct TimeSlot {
    size_t at = 0;
    uint64_t relative_ns = 0;
  };

  PayloadFormat format_ = PayloadFormat::Protobuf;
  std::string bytes_;
  std::vector<SpanSlot> span_slots_;
  std::vector<TimeSlot> time_slots_;
  std::vector<int> trace_spans_;
};

// Rewrites the values of every "traceId", "spanId" and "parentSpanId" key of an OTLP/JSON (or proto3 JSON) text
// with `convert`: the template turns proto3's base64 IDs into OTLP's hex, the ack log does the reverse.
Result<std::string> rewrite_json_ids(std::string_view json,
                                     const std::function<Result<std::string>(std::string_view)>& convert);

}  // namespace spindle
