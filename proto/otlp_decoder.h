#pragma once
// The OTLP/protobuf ingest decoder: one zero-copy walk over an ExportTraceServiceRequest that validates every
// byte, buckets the spans by owner shard and copies each accepted span once into its shard's SpanBatch
// (normalised as proto/span_batch.h describes).
//
// Error model:
//   - Malformed protobuf anywhere (truncation, bad varint/tag/length, a known field with the wrong wire type,
//     groups, attribute values nested deeper than 64 messages) fails the whole request: InvalidArgument
//     "malformed ExportTraceServiceRequest: <what> at offset N".
//   - A well-formed span with bad content is rejected alone and counted in rejected_spans: trace_id not 16/8
//   bytes
//     or all zero, span_id not 8 bytes, or invalid UTF-8 in one of its strings (or in its
//     resource's/scope's), which Grafana's Go protobuf decoder would refuse. reject_message keeps the first
//     reason.
// Unknown fields are skipped (and kept inside span bytes).
//
// Thread safety: a pure function; DecodedExport is owned by the caller.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "proto/span_batch.h"

namespace spindle {

struct DecodedExport {
  std::vector<SpanBatch> batches;  // one per owner shard (index = shard); batches with no spans are empty
  uint64_t accepted_spans = 0;
  uint64_t rejected_spans = 0;
  std::string reject_message;  // first reason, e.g. "span 'GET /x': trace_id must be 16 bytes, got 5"
};

// shard_count must be >= 1.
Result<DecodedExport> decode_export_request(std::string_view request, uint32_t shard_count);

}  // namespace spindle
