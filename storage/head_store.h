#pragma once
// HeadStore: one shard's live traces, in memory. The owner shard appends the spans routed to it and answers
// trace-by-ID for them. Bounded by bytes: when full, an append is refused as a whole (Unavailable, so clients
// retry; retries are safe because exact duplicate spans are dropped), never accepted and then lost.
//
// The WAL and blocks of the storage issue slot in behind append() (durability before the ack) and beside
// find_trace() (merging what blocks hold); cut rules will evict from here once a block is durable.
//
// Memory layout: span bytes are appended to per-shard chunks of kChunkBytes (a span larger than that gets a chunk of
// its own), so storing a span never reallocates or moves earlier ones and wastes no doubling slack; each trace keeps
// a small vector of references into the chunks. Resources and scopes repeat across spans, so they are interned
// once per shard and spans refer to them by id. Each chunk counts the spans it holds, so once traces leave the
// head (the storage issue) a chunk whose count reaches zero can be freed whole.
//
// Threading: owned by one shard; every method is called only on that shard's thread.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/status.h"
#include "core/trace_id.h"
#include "proto/span_batch.h"

namespace spindle {

struct HeadLimits {
  uint64_t max_bytes = 256 << 20;           // this shard's share of spindle.head.max_bytes
  uint64_t max_bytes_per_trace = 5000000;   // 0 = unlimited
};

struct AppendResult {
  Status status;                  // Unavailable when the head is full (nothing of the batch was kept)
  uint64_t accepted = 0;          // spans stored now
  uint64_t duplicates = 0;        // exact duplicates of stored spans (acknowledged, not stored twice)
  uint64_t rejected = 0;          // refused for good (trace too large): reported as partial success
  std::string reject_message;
};

struct HeadStats {
  uint64_t live_traces = 0;
  uint64_t spans = 0;
  uint64_t bytes = 0;
};

class HeadStore {
 public:
  // Chunk size: 1/16 of the shard's head budget, between 4 KiB and 1 MiB, so the last partly filled chunk is a
  // small part of any budget.
  static constexpr uint32_t kMaxChunkBytes = 1 << 20;
  static constexpr uint32_t kMinChunkBytes = 4 << 10;

  explicit HeadStore(HeadLimits limits);

  AppendResult append(const SpanBatch& batch);
  // The trace as a serialized tempopb.Trace (repeated ResourceSpans, field 1), spans grouped by resource then
  // scope in order of arrival; nullopt if the shard holds no span of it. Every ResourceSpans carries `resource`
  // and every ScopeSpans carries `scope`, even when empty: Grafana dereferences them without nil checks.
  std::optional<std::string> find_trace(const TraceId& id) const;

  HeadStats stats() const { return {traces_.size(), spans_, bytes_}; }
  const HeadLimits& limits() const { return limits_; }

 private:
  // A resource or scope with its schema_url, interned per shard.
  struct Interned {
    std::string message;  // message contents (no tag/length)
    std::string schema_url;
  };
  struct StoredSpan {
    uint32_t resource;  // index into resources_
    uint32_t scope;     // index into scopes_
    uint32_t chunk;     // index into chunks_
    uint32_t offset;    // within the chunk
    uint32_t size;
    uint64_t hash;  // of (resource, scope, bytes): duplicate detection
  };
  struct Trace {
    std::vector<StoredSpan> spans;
    uint64_t bytes = 0;  // accounted bytes of this trace, for max_bytes_per_trace
    // Span hashes, built only once a trace is large enough that a linear scan for duplicates would cost more.
    std::unique_ptr<std::unordered_set<uint64_t>> hash_index;
  };
  struct Chunk {
    std::unique_ptr<char[]> data;
    uint32_t capacity = 0;
    uint32_t used = 0;
    uint32_t live_spans = 0;
  };

  uint32_t intern(std::vector<Interned>& table, std::unordered_map<std::string, uint32_t>& index,
                  const std::string& message, const std::string& schema_url);
  bool contains(const Trace& trace, const StoredSpan& span, std::string_view bytes) const;
  std::string_view bytes_of(const StoredSpan& span) const {
    return {chunks_[span.chunk].data.get() + span.offset, span.size};
  }
  // Copies `bytes` into the current chunk (or a new one) and fills span.chunk / span.offset.
  void store(std::string_view bytes, StoredSpan& span);

  HeadLimits limits_;
  std::unordered_map<TraceId, Trace, TraceIdHash> traces_;
  std::vector<Chunk> chunks_;
  uint32_t chunk_bytes_;
  std::vector<Interned> resources_;
  std::vector<Interned> scopes_;
  std::unordered_map<std::string, uint32_t> resource_index_;
  std::unordered_map<std::string, uint32_t> scope_index_;
  uint64_t spans_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace spindle
