#pragma once
// SpanBatch: the spans of one ingest request that belong to one owner shard. It travels by pointer through the
// cross-shard queue; the owner copies what it keeps into its own memory and the origin frees the batch.
//
// Every byte string is protobuf wire format as defined by opentelemetry/proto/trace/v1/trace.proto. Span bytes are
// the *contents* of one `Span` message (no tag/length prefix), normalised by the decoder:
//   - trace_id (field 1) is always 16 bytes (8-byte Jaeger/Zipkin IDs are left-padded with zeros);
//   - a `status` (field 15) is always present (an empty one `7A 00` is appended if the client sent none),
//     because Grafana dereferences it without a nil check.
// Other fields are kept byte for byte, so a span read back is the span that was sent.
#include <cstdint>
#include <string>
#include <vector>

#include "core/trace_id.h"

namespace spindle {

struct SpanBatch {
  // Where a span came from: its ResourceSpans' resource and schema_url, and its ScopeSpans' scope and
  // schema_url. `resource` / `scope` are message contents without tag/length; absent and empty are both "".
  struct Context {
    std::string resource;
    std::string resource_schema_url;
    std::string scope;
    std::string scope_schema_url;
  };
  struct Span {
    TraceId trace_id;
    uint32_t context = 0;  // index into contexts
    uint32_t offset = 0;   // span contents are data[offset, offset + size)
    uint32_t size = 0;
    uint64_t start_ns = 0;
    uint64_t end_ns = 0;
  };

  std::vector<Context> contexts;
  std::vector<Span> spans;
  std::string data;

  size_t byte_size() const { return data.size(); }
};

}  // namespace spindle
