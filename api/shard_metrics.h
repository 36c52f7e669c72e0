#pragma once
// ShardMetrics: the counters one shard keeps. Plain integers: each shard writes only its own, and a scrape of
// /metrics collects copies from every shard through submit_to (no atomics, no sharing), then sums them.
//
// Threading: mutated only on the owning shard's thread; copied out on that thread for a scrape.
#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace spindle {

enum class IngestProtocol { Grpc = 0, HttpProtobuf = 1, HttpJson = 2 };
inline constexpr int kIngestProtocols = 3;
const char* ingest_protocol_name(IngestProtocol p);  // "grpc", "http-protobuf", "http-json"

enum class RefusalReason { Invalid = 0, HeadFull = 1, TraceTooLarge = 2, Storage = 3 };
inline constexpr int kRefusalReasons = 4;
// "invalid", "head_full", "trace_too_large", "storage" (the WAL could not take the spans: disk full, I/O error)
const char* refusal_reason_name(RefusalReason r);

struct ShardMetrics {
  uint64_t spans_received[kIngestProtocols] = {};  // accepted (incl. duplicates acknowledged)
  uint64_t bytes_received[kIngestProtocols] = {};  // request payload bytes as received on the wire
  uint64_t spans_refused[kIngestProtocols][kRefusalReasons] = {};
  // (route, status code text) -> count
  std::map<std::pair<std::string, std::string>, uint64_t> requests;

  void count_request(const std::string& route, const std::string& status) { ++requests[{route, status}]; }
  void merge(const ShardMetrics& other);
};

}  // namespace spindle
