#include "bench/loadgen/run_report.h"

#include <cinttypes>
#include <cstdio>

namespace spindle {
namespace {

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string ms(uint64_t micros) { return fmt("%.3f", static_cast<double>(micros) / 1000.0); }

std::string json_counts(const std::map<std::string, uint64_t>& m) {
  std::string out = "{";
  for (const auto& [k, v] : m) {
    if (out.size() > 1) out += ",";
    out += "\"" + k + "\":" + std::to_string(v);  // reasons are [a-z0-9_] only
  }
  return out + "}";
}

double per_second(double v, double seconds) { return seconds > 0 ? v / seconds : 0; }

}  // namespace

uint64_t RunReport::error_count() const {
  uint64_t n = 0;
  for (const auto& [reason, count] : errors) n += count;
  return n;
}

std::string report_json(const RunReport& r) {
  const LatencyHistogram& l = r.latency;
  std::string o = "{\"protocol\":\"" + r.protocol + "\",\"gzip\":" + (r.gzip ? "true" : "false");
  o += ",\"requests\":" + std::to_string(r.requests) + ",\"spans\":" + std::to_string(r.spans);
  o += ",\"bytes\":" + std::to_string(r.bytes) + ",\"wire_bytes\":" + std::to_string(r.wire_bytes);
  o += ",\"seconds\":" + fmt("%.3f", r.seconds);
  o += ",\"requests_per_second\":" + fmt("%.1f", per_second(r.requests, r.seconds));
  o += ",\"spans_per_second\":" + fmt("%.1f", per_second(r.spans, r.seconds));
  o += ",\"mb_per_second\":" + fmt("%.3f", per_second(r.bytes, r.seconds) / 1e6);
  const std::string errors = std::to_string(r.error_count());
  o += ",\"errors\":" + errors + ",\"error_count\":" + errors + ",\"errors_by_status\":" + json_counts(r.errors);
  o += ",\"latency_ms\":{\"p50\":" + ms(l.percentile(0.5)) + ",\"p90\":" + ms(l.percentile(0.9)) +
       ",\"p99\":" + ms(l.percentile(0.99)) + ",\"p99_9\":" + ms(l.percentile(0.999)) + ",\"max\":" + ms(l.max()) +
       "}";
  o += ",\"connections\":" + std::to_string(r.connections) + ",\"in_flight\":" + std::to_string(r.in_flight);
  o += ",\"spans_per_request\":" + std::to_string(r.spans_per_request);
  o += ",\"request_bytes\":" + std::to_string(r.request_bytes);
  o += ",\"first_trace_id\":\"" + r.first_trace_id + "\"";
  if (r.verify) {
    const VerifyResult& v = *r.verify;
    o += ",\"verified_traces\":" + std::to_string(v.traces) + ",\"verified_spans\":" + std::to_string(v.spans);
    o += ",\"missing_traces\":" + std::to_string(v.missing_traces);
    o += ",\"missing_spans\":" + std::to_string(v.missing_spans);
    o += ",\"differing_spans\":" + std::to_string(v.differing_spans);
    o += ",\"verify_query_errors\":" + std::to_string(v.query_errors);
    o += ",\"verify_errors_by_status\":" + json_counts(v.query_errors_by_status);
    o += ",\"verify_seconds\":" + fmt("%.3f", v.seconds);
  }
  return o + "}\n";
}

std::string report_text(const RunReport& r) {
  const LatencyHistogram& l = r.latency;
  char buf[1024];
  std::string o;
  std::snprintf(buf, sizeof buf,
                "protocol   %s%s, %d connections x %d in flight, %d spans/request (%zu bytes)\n"
                "requests   %" PRIu64 " ok in %.2f s (%.0f/s)\n"
                "spans      %" PRIu64 " (%.0f spans/s)\n"
                "bytes      %" PRIu64 " OTLP, %" PRIu64 " on the wire (%.2f MB/s OTLP)\n"
                "latency    p50 %s ms, p90 %s ms, p99 %s ms, p99.9 %s ms, max %s ms\n"
                "errors     %" PRIu64,
                r.protocol.c_str(), r.gzip ? "+gzip" : "", r.connections, r.in_flight, r.spans_per_request,
                r.request_bytes, r.requests, r.seconds, per_second(r.requests, r.seconds), r.spans,
                per_second(r.spans, r.seconds), r.bytes, r.wire_bytes, per_second(r.bytes, r.seconds) / 1e6,
                ms(l.percentile(0.5)).c_str(), ms(l.percentile(0.9)).c_str(), ms(l.percentile(0.99)).c_str(),
                ms(l.percentile(0.999)).c_str(), ms(l.max()).c_str(), r.error_count());
  o += buf;
  for (const auto& [reason, n] : r.errors) o += "  " + reason + "=" + std::to_string(n);
  o += "\n";
  if (r.verify) {
    const VerifyResult& v = *r.verify;
    std::snprintf(buf, sizeof buf,
                  "verify     %" PRIu64 " traces / %" PRIu64 " spans checked in %.2f s: %" PRIu64
                  " missing traces, %" PRIu64 " missing spans, %" PRIu64 " differing spans, %" PRIu64
                  " query errors",
                  v.traces, v.spans, v.seconds, v.missing_traces, v.missing_spans, v.differing_spans,
                  v.query_errors);
    o += buf;
    for (const auto& [reason, n] : v.query_errors_by_status) o += "  " + reason + "=" + std::to_string(n);
    o += v.lossless() ? "  (OK)\n" : "  (LOSS)\n";
  }
  return o;
}

}  // namespace spindle
