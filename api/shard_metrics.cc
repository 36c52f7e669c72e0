#include "api/shard_metrics.h"

namespace spindle {

const char* ingest_protocol_name(IngestProtocol p) {
  switch (p) {
    case IngestProtocol::Grpc: return "grpc";
    case IngestProtocol::HttpProtobuf: return "http-protobuf";
    case IngestProtocol::HttpJson: return "http-json";
  }
  return "unknown";
}

const char* refusal_reason_name(RefusalReason r) {
  switch (r) {
    case RefusalReason::Invalid: return "invalid";
    case RefusalReason::HeadFull: return "head_full";
    case RefusalReason::TraceTooLarge: return "trace_too_large";
    case RefusalReason::Storage: return "storage";
  }
  return "unknown";
}

void ShardMetrics::merge(const ShardMetrics& other) {
  for (int p = 0; p < kIngestProtocols; ++p) {
    spans_received[p] += other.spans_received[p];
    bytes_received[p] += other.bytes_received[p];
    for (int r = 0; r < kRefusalReasons; ++r) spans_refused[p][r] += other.spans_refused[p][r];
  }
  for (const auto& [key, n] : other.requests) requests[key] += n;
}

}  // namespace spindle
