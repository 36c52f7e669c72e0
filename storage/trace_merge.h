#pragma once
// Combining the pieces of one trace. A trace can reach storage several times: its spans cut from the head at
// different moments land in different blocks, a client retries a batch, compaction meets the same trace in
// several inputs. Every piece is a serialized tempopb.Trace (repeated ResourceSpans, field 1); merging yields
// the single Trace a query returns.
//
// Output shape (the same normal form HeadStore::find_trace produces):
//   - one ResourceSpans per distinct (Resource bytes, schema_url), in order of first appearance;
//   - within it one ScopeSpans per distinct (InstrumentationScope bytes, schema_url), in order of first
//     appearance;
//   - spans in order of first appearance; a span whose bytes equal an earlier span's under the same resource
//     and scope is an exact duplicate (a retry, a replica) and is dropped;
//   - every ResourceSpans carries `resource` (field 1) and every ScopeSpans carries `scope` (field 1), even
//     when empty: Grafana dereferences them without nil checks;
//   - fields unknown to OTLP at the ResourceSpans/ScopeSpans level are dropped (nothing sends any today).
// Merging is idempotent: merge_traces({merge_traces(x)}) == merge_traces(x).
//
// Thread safety: pure functions.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace spindle {

// Malformed protobuf in any input is InvalidArgument (the message names the input's position).
Result<std::string> merge_traces(const std::vector<std::string_view>& traces);

struct TraceSummary {
  uint64_t spans = 0;
  // Earliest span start and latest span end (Span fields 7 and 8, fixed64 unix ns). A zero timestamp means
  // "unset" and is ignored; a trace with no timestamp at all summarises to 0/0. end_ns >= start_ns always.
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
};

// Walks a serialized tempopb.Trace; malformed protobuf is InvalidArgument.
Result<TraceSummary> summarize_trace(std::string_view trace);

}  // namespace spindle
