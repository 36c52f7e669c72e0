#pragma once
// HeadStore: one shard's live traces, in memory. The owner shard appends the spans routed to it (after the WAL
// has them, see storage/trace_store.h) and answers trace-by-ID for them. Bounded by bytes: when full, an append is
// refused as a whole (Unavailable, so clients retry; retries are safe because exact duplicate spans are dropped),
// never accepted and then lost.
//
// Leaving the head: cut() takes traces out (idle ones, ones live too long, or the oldest when the head passes a
// byte target) into a HeadCut, which a block writer reads on another thread. The cut traces' bytes stay where
// they are, untouched, until release_cut() once their block is durable; only then are their chunks recycled.
//
// WAL bookkeeping: every trace remembers the lowest WAL segment (`seq`) any of its spans came from, and the head
// counts traces per such seq until their block is durable. oldest_needed_seq() is therefore the first segment
// that may still hold a span existing nowhere but in memory: every earlier segment may be deleted.
//
// Memory layout: span bytes are appended to per-shard chunks of kChunkBytes (a span larger than that gets a chunk of
// its own), so storing a span never reallocates or moves earlier ones and wastes no doubling slack; each trace keeps
// a small vector of references into the chunks. Resources and scopes repeat across spans, so they are interned
// once per shard (in deques: a cut may point at them while new ones are added) and spans refer to them by id;
// each counts the spans using it and is freed with the last one, so resources that come and go (one per
// process instance, say) do not accumulate.
// Each chunk counts the spans it holds; a chunk whose count reaches zero is kept as a spare and reused, so a
// steady-state head stops asking the kernel for fresh (zeroed) pages.
//
// Threading: owned by one shard; every method is called only on that shard's thread. A HeadCut may be read
// (never written) by one other thread between cut() and release_cut(): nothing it points at changes meanwhile.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/result.h"
#include "core/status.h"
#include "core/trace_id.h"
#include "proto/span_batch.h"

namespace spindle {

// The largest trace storage keeps: a block stores a trace as one row of one page (PageCodec::kMaxRawSize, 64 MiB),
// so a larger one could never leave the head and would stop every cut of its shard.
inline constexpr uint64_t kMaxStoredTraceBytes = 60ull << 20;

struct HeadLimits {
  uint64_t max_bytes = 256 << 20;           // this shard's share of spindle.head.max_bytes
  uint64_t max_bytes_per_trace = 5000000;   // 0 or above kMaxStoredTraceBytes = kMaxStoredTraceBytes
};

struct AppendResult {
  Status status;                  // Unavailable when the head is full (nothing of the batch was kept)
  uint64_t accepted = 0;          // spans stored now
  uint64_t duplicates = 0;        // exact duplicates of stored spans (acknowledged, not stored twice)
  uint64_t rejected = 0;          // refused for good (trace too large): reported as partial success
  std::string reject_message;
  bool storage_error = false;     // set by TraceStore: the WAL could not take the batch (disk full, I/O error)
};

struct HeadStats {
  uint64_t live_traces = 0;
  uint64_t spans = 0;   // spans in live traces
  uint64_t bytes = 0;   // accounted memory, including traces cut but not yet released
  uint64_t chunks = 0;  // chunks holding spans
  uint64_t spare_chunks = 0;
};

// Which traces cut() takes, checked in this order. Times are the shard loop's monotonic milliseconds.
struct CutRules {
  uint64_t now_ms = 0;
  uint64_t idle_ms = 0;      // no span appended for this long (0 = rule off)
  uint64_t max_live_ms = 0;  // first span appended this long ago (0 = rule off)
  // Then, oldest first, every trace whose first span came from a WAL segment below this (0 = rule off): a
  // long-lived trace would otherwise keep every later segment on disk.
  uint64_t min_seq_floor = 0;
  // Then, oldest first, until the bytes of live traces are at most this (UINT64_MAX = rule off).
  uint64_t target_live_bytes = UINT64_MAX;
  // One call takes at most about this many spans (whole traces), so a cut can be made in short slices.
  uint64_t max_spans = UINT64_MAX;
};

class HeadStore {
 public:
  struct Interned {
    std::string message;  // message contents (no tag/length)
    std::string schema_url;
    uint64_t refs = 0;    // stored spans (live or cut, not yet released) that use it
    bool in_use = false;  // false: a free slot
  };
  // One span of a cut trace: views that stay valid until release_cut().
  struct CutSpan {
    const Interned* resource;
    const Interned* scope;
    const char* data;
    uint32_t size;
    uint32_t chunk;
    uint32_t resource_id;  // for release_cut
    uint32_t scope_id;
  };
  struct CutTrace {
    TraceId id;
    std::vector<CutSpan> spans;
  };
  // A cut trace as a serialized tempopb.Trace (find_trace's form). Reads only `trace` and what it points at, so
  // a block writer thread may call it.
  static std::string assemble(const CutTrace& trace);
  // Traces taken out of the head, in the order they were taken (a block writer sorts them). `index` is for
  // lookups on the loop thread; the writer thread reads only `traces`.
  struct HeadCut {
    std::vector<CutTrace> traces;
    std::unordered_map<TraceId, uint32_t, TraceIdHash> index;
    uint64_t spans = 0;
    uint64_t span_bytes = 0;
    uint64_t bytes = 0;          // accounted per-trace and per-span overhead released by release_cut()
    std::vector<uint64_t> seqs;  // one min_seq per trace: the WAL pins released by release_cut()
    // The trace as a serialized tempopb.Trace (HeadStore::find_trace's form), or nullopt if not in this cut.
    std::optional<std::string> find(const TraceId& id) const;
  };
  // How an append is made: which WAL segment holds the batch (0 when there is no WAL), the loop's clock, and
  // whether the byte limit applies (no for replay and for batches whose room was reserved).
  struct AppendContext {
    uint64_t seq = 0;
    uint64_t now_ms = 0;
    bool check_limit = true;
  };

  // Chunk size: 1/16 of the shard's head budget, between 4 KiB and 1 MiB, so the last partly filled chunk is a
  // small part of any budget.
  static constexpr uint32_t kMaxChunkBytes = 1 << 20;
  static constexpr uint32_t kMinChunkBytes = 4 << 10;

  explicit HeadStore(HeadLimits limits);
  ~HeadStore();

  AppendResult append(const SpanBatch& batch, AppendContext context);
  AppendResult append(const SpanBatch& batch) { return append(batch, AppendContext{}); }

  // Room for a batch about to be written to the WAL: Unavailable if the head cannot take it, else the bytes set
  // aside (pass them to unreserve() before appending with check_limit = false, or when the WAL write failed).
  Result<uint64_t> reserve(const SpanBatch& batch);
  void unreserve(uint64_t bytes) { reserved_ -= bytes; }

  // The trace as a serialized tempopb.Trace (repeated ResourceSpans, field 1), spans grouped by resource then
  // scope in order of arrival; nullopt if the shard holds no span of it. Every ResourceSpans carries `resource`
  // and every ScopeSpans carries `scope`, even when empty: Grafana dereferences them without nil checks.
  std::optional<std::string> find_trace(const TraceId& id) const;

  // Moves the traces `rules` select out of the head into `into` (see CutRules). Returns true if it stopped at
  // rules.max_spans with more traces still qualifying.
  bool cut(const CutRules& rules, HeadCut& into);
  // Frees a cut's memory and WAL pins: call once its block is durable, on the loop thread.
  void release_cut(const HeadCut& cut);

  // Pins a WAL segment while a batch in it travels to append() (so it cannot be deleted under it).
  void pin_seq(uint64_t seq) { ++seq_pins_[seq]; }
  void unpin_seq(uint64_t seq);
  // The lowest WAL seq still needed by a live trace, a cut not yet released or a pin; UINT64_MAX if none.
  uint64_t oldest_needed_seq() const { return seq_pins_.empty() ? UINT64_MAX : seq_pins_.begin()->first; }

  HeadStats stats() const;
  // Appends the ID of every live trace to `out`: a search snapshots them, then looks each up in later slices.
  void live_trace_ids(std::vector<TraceId>& out) const {
    out.reserve(out.size() + traces_.size());
    for (const auto& entry : traces_) out.push_back(entry.first);
  }
  uint64_t live_bytes() const { return live_bytes_; }
  const HeadLimits& limits() const { return limits_; }

 private:
  struct StoredSpan {
    uint32_t resource;  // index into resources_
    uint32_t scope;     // index into scopes_
    uint32_t chunk;     // index into chunks_
    uint32_t offset;    // within the chunk
    uint32_t size;
    uint64_t hash;  // of (resource, scope, bytes): duplicate detection
  };
  struct Trace {
    TraceId id;
    std::vector<StoredSpan> spans;
    uint64_t bytes = 0;  // accounted bytes of this trace, for max_bytes_per_trace
    uint64_t first_ms = 0;
    uint64_t last_ms = 0;
    uint64_t min_seq = 0;
    // Intrusive lists over the map's (address-stable) nodes: by last append (idle cuts) and by creation (age
    // and size cuts). Both ends are O(1) to find and every move is O(1).
    Trace* lru_prev = nullptr;
    Trace* lru_next = nullptr;
    Trace* age_prev = nullptr;
    Trace* age_next = nullptr;
    // Span hashes, built only once a trace is large enough that a linear scan for duplicates would cost more.
    std::unique_ptr<std::unordered_set<uint64_t>> hash_index;
  };
  struct List {
    Trace* head = nullptr;
    Trace* tail = nullptr;
  };
  struct Chunk {
    std::unique_ptr<char[]> data;
    uint32_t capacity = 0;
    uint32_t used = 0;
    uint32_t live_spans = 0;
  };

  struct InternTable {
    std::deque<Interned> entries;
    std::unordered_map<std::string, uint32_t> index;  // interned_key(message, schema_url) -> entry
    std::vector<uint32_t> free;                       // entries with refs == 0, for reuse
  };
  uint32_t intern(InternTable& table, const std::string& message, const std::string& schema_url);
  void unref(InternTable& table, uint32_t id);
  void drop_if_unused(InternTable& table, uint32_t id);
  bool contains(const Trace& trace, const StoredSpan& span, std::string_view bytes) const;
  std::string_view bytes_of(const StoredSpan& span) const {
    return {chunks_[span.chunk].data.get() + span.offset, span.size};
  }
  uint64_t worst_case_bytes(const SpanBatch& batch) const;
  // Copies `bytes` into the current chunk (or a new one) and fills span.chunk / span.offset.
  void store(std::string_view bytes, StoredSpan& span);
  void new_chunk(uint32_t min_capacity);
  void drop_span_ref(uint32_t chunk);
  void take(Trace& trace, HeadCut& out);
  static void link(List& list, Trace* t, Trace* Trace::*prev, Trace* Trace::*next);
  static void unlink(List& list, Trace* t, Trace* Trace::*prev, Trace* Trace::*next);

  HeadLimits limits_;
  std::unordered_map<TraceId, Trace, TraceIdHash> traces_;
  List lru_;
  List age_;
  std::vector<Chunk> chunks_;
  std::vector<uint32_t> free_slots_;              // indexes of chunks_ without data
  std::vector<std::unique_ptr<char[]>> spares_;   // recycled chunk buffers of chunk_bytes_
  uint32_t current_chunk_ = UINT32_MAX;
  uint32_t chunk_bytes_;
  InternTable resources_;
  InternTable scopes_;
  std::map<uint64_t, uint64_t> seq_pins_;  // WAL seq -> traces and in-transit batches that need it
  uint64_t spans_ = 0;       // in live traces
  uint64_t bytes_ = 0;       // everything accounted, cut traces until released
  uint64_t live_bytes_ = 0;  // the live traces' share of bytes_
  uint64_t reserved_ = 0;
  uint64_t chunk_count_ = 0;
};

}  // namespace spindle
