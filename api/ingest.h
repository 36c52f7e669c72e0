#pragma once
// Ingest: the OTLP receive path shared by OTLP/gRPC and OTLP/HTTP. The receiving shard decodes the request
// (hand-written zero-copy walker), buckets spans by owner shard, ships one SpanBatch to each owner through
// submit_async, and answers once every owner has stored its spans (WAL first, then head: storage/trace_store.h),
// so an acknowledged span is durable per spindle.wal.ack.
//
// Outcome rules (OTLP): every owner accepted -> success (partial_success if some spans were refused for good);
// any owner full -> the whole request is refused with a retryable status. The spans other owners did take stay;
// the client's retry re-sends them and the head store drops exact duplicates, so nothing is stored twice and
// nothing acknowledged is lost.
//
// Threading: one instance per shard, called on that shard's thread.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "api/shard_metrics.h"
#include "core/status.h"
#include "net/http_message.h"
#include "shards/shard.h"

namespace spindle {

struct IngestOutcome {
  Status status;  // Ok, InvalidArgument (malformed request) or Unavailable (an owner's head is full)
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  std::string reject_message;
};

class Ingest {
 public:
  explicit Ingest(Shard& shard) : shard_(shard) {}

  void export_grpc(GrpcRequest&& request, Responder responder);
  void export_http(HttpRequest&& request, Responder responder);

 private:
  using Done = std::function<void(const IngestOutcome&)>;
  // Decodes an ExportTraceServiceRequest and delivers its spans to their owners; `done` runs on this shard.
  void ingest(std::string_view request, IngestProtocol protocol, Done done);

  Shard& shard_;
};

}  // namespace spindle
