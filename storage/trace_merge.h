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

#include <unordered_map>
#include <unordered_set>

#include "core/result.h"
#include "proto/wire.h"

namespace spindle {

// Malformed protobuf in any input is InvalidArgument (the message names the input's position).
Result<std::string> merge_traces(const std::vector<std::string_view>& traces);

// Builds one serialized tempopb.Trace from pieces: spans given with their resource and scope, or whole serialized
// traces. Output: ResourceSpans grouped by resource (message bytes + schema_url), then ScopeSpans by scope, in
// order of first appearance; an exact duplicate span under the same resource and scope is kept once; every
// ResourceSpans carries `resource` and every ScopeSpans `scope`, even when empty (Grafana needs them). The head
// store, block lookup and compaction all produce traces through this one path.
// The span and schema_url views passed in must stay valid until finish().
class TraceAssembler {
 public:
  void add_span(std::string_view resource, std::string_view resource_schema_url, std::string_view scope,
                std::string_view scope_schema_url, std::string_view span);
  Status add_trace(std::string_view trace);
  // The head's fast path: spans whose resource and scope the caller has interned (equal ids <=> equal message
  // and schema_url) and that hold no exact duplicates (the head drops them on append). Groups by id without
  // hashing span bytes or building keys; the output is what add_span would give for the same spans. Use it
  // alone: not mixed with add_span or add_trace in one assembler.
  void add_unique_span(uint32_t resource_id, std::string_view resource, std::string_view resource_schema_url,
                       uint32_t scope_id, std::string_view scope, std::string_view scope_schema_url,
                       std::string_view span);
  std::string finish() const;

 private:
  // A Resource or InstrumentationScope with its schema_url. Repeated occurrences of a singular message field
  // merge in protobuf; concatenating their bytes is exactly that merge, so `message` may be several pieces.
  struct Context {
    std::string message;
    std::string_view schema_url;
    std::string key() const;
  };
  struct Scope {
    Context context;
    std::vector<std::string_view> spans;
    std::unordered_set<std::string_view> seen;
  };
  struct ResourceGroup {
    Context context;
    std::vector<Scope> scopes;
    std::unordered_map<std::string, size_t> scope_index;
  };

  size_t resource_group(Context context);
  Scope& scope_of(size_t group, Context context);
  Status add_resource_spans(WireReader r);
  Status add_scope_spans(size_t group, WireReader r);

  std::vector<ResourceGroup> resources_;
  std::unordered_map<std::string, size_t> resource_index_;
  // add_unique_span: resource id -> group, and per group (scope id -> scope); traces have few of each, so a
  // linear search beats hashing.
  std::vector<std::pair<uint32_t, size_t>> unique_resources_;
  std::vector<std::vector<std::pair<uint32_t, size_t>>> unique_scopes_;
};

}  // namespace spindle
