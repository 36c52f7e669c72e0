#include "storage/head_store.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "proto/wire.h"
#include "storage/trace_merge.h"

namespace spindle {
namespace {

// Per-object overheads so the byte limit tracks real memory, not only payload: a StoredSpan in a vector that
// grows by doubling, and a trace's map node (with its list links) plus vector header.
constexpr uint64_t kSpanOverhead = sizeof(uint64_t) * 6;
constexpr uint64_t kTraceOverhead = 160;
// Above this many spans a trace gets a hash index for duplicate checks instead of a linear scan.
constexpr size_t kLinearScanSpans = 64;
// Buckets reserved up front per byte of head: a trace map that rehashes millions of entries at once stalls the
// shard's loop for tens of milliseconds, so it is sized for the traces the head can hold.
constexpr uint64_t kHeadBytesPerBucket = 2048;

std::string interned_key(const std::string& message, const std::string& schema_url) {
  std::string key;
  key.reserve(message.size() + schema_url.size() + 8);
  WireWriter(key).put_varint(message.size());
  key += message;
  key += schema_url;
  return key;
}

}  // namespace

HeadStore::HeadStore(HeadLimits limits)
    : limits_(limits),
      chunk_bytes_(static_cast<uint32_t>(
          std::clamp<uint64_t>(limits.max_bytes / 16, kMinChunkBytes, kMaxChunkBytes))) {
  traces_.reserve(static_cast<size_t>(limits_.max_bytes / kHeadBytesPerBucket));
  if (limits_.max_bytes_per_trace == 0 || limits_.max_bytes_per_trace > kMaxStoredTraceBytes) {
    limits_.max_bytes_per_trace = kMaxStoredTraceBytes;
  }
}

HeadStore::~HeadStore() = default;

void HeadStore::link(List& list, Trace* t, Trace* Trace::*prev, Trace* Trace::*next) {
  t->*prev = list.tail;
  t->*next = nullptr;
  if (list.tail) list.tail->*next = t;
  list.tail = t;
  if (!list.head) list.head = t;
}

void HeadStore::unlink(List& list, Trace* t, Trace* Trace::*prev, Trace* Trace::*next) {
  if (t->*prev) {
    t->*prev->*next = t->*next;
  } else {
    list.head = t->*next;
  }
  if (t->*next) {
    t->*next->*prev = t->*prev;
  } else {
    list.tail = t->*prev;
  }
  t->*prev = t->*next = nullptr;
}

// Accounted bytes of an interned entry: its strings, its index key and the map node.
uint64_t interned_bytes(const HeadStore::Interned& e) {
  return 2 * (e.message.size() + e.schema_url.size()) + kTraceOverhead;
}

uint32_t HeadStore::intern(InternTable& table, const std::string& message, const std::string& schema_url) {
  auto [it, inserted] = table.index.try_emplace(interned_key(message, schema_url), 0);
  if (inserted) {
    Interned entry{message, schema_url, 0, true};
    if (!table.free.empty()) {
      it->second = table.free.back();
      table.free.pop_back();
      table.entries[it->second] = std::move(entry);
    } else {
      it->second = static_cast<uint32_t>(table.entries.size());
      table.entries.push_back(std::move(entry));
    }
    bytes_ += interned_bytes(table.entries[it->second]);
  }
  return it->second;
}

void HeadStore::unref(InternTable& table, uint32_t id) {
  --table.entries[id].refs;
  drop_if_unused(table, id);
}

void HeadStore::drop_if_unused(InternTable& table, uint32_t id) {
  Interned& e = table.entries[id];
  if (e.refs != 0 || !e.in_use) return;
  bytes_ -= interned_bytes(e);
  table.index.erase(interned_key(e.message, e.schema_url));
  e = Interned{};
  table.free.push_back(id);
}

bool HeadStore::contains(const Trace& trace, const StoredSpan& span, std::string_view bytes) const {
  if (trace.hash_index && !trace.hash_index->contains(span.hash)) {
    return false;
  }
  // Same hash: confirm byte for byte, so a 64-bit collision can never drop a distinct span.
  for (const StoredSpan& s : trace.spans) {
    if (s.hash == span.hash && s.resource == span.resource && s.scope == span.scope && bytes_of(s) == bytes) {
      return true;
    }
  }
  return false;
}

void HeadStore::new_chunk(uint32_t min_capacity) {
  if (current_chunk_ != UINT32_MAX && chunks_[current_chunk_].live_spans == 0) {
    // Every span of the outgoing chunk already left: nothing else will release it.
    uint32_t old = current_chunk_;
    current_chunk_ = UINT32_MAX;
    ++chunks_[old].live_spans;
    drop_span_ref(old);
  }
  Chunk chunk;
  chunk.capacity = std::max(chunk_bytes_, min_capacity);
  if (chunk.capacity == chunk_bytes_ && !spares_.empty()) {
    chunk.data = std::move(spares_.back());
    spares_.pop_back();
  } else {
    chunk.data.reset(new char[chunk.capacity]);
  }
  bytes_ += chunk.capacity;
  ++chunk_count_;
  if (!free_slots_.empty()) {
    current_chunk_ = free_slots_.back();
    free_slots_.pop_back();
    chunks_[current_chunk_] = std::move(chunk);
  } else {
    current_chunk_ = static_cast<uint32_t>(chunks_.size());
    chunks_.push_back(std::move(chunk));
  }
}

void HeadStore::drop_span_ref(uint32_t index) {
  Chunk& chunk = chunks_[index];
  if (--chunk.live_spans != 0 || index == current_chunk_) return;
  bytes_ -= chunk.capacity;
  --chunk_count_;
  // Keep the buffer for reuse while live chunks plus spares stay within the budget: reusing written pages is
  // what spares the kernel from zeroing fresh ones for every chunk.
  if (chunk.capacity == chunk_bytes_ && bytes_ + (spares_.size() + 1) * uint64_t{chunk_bytes_} <= limits_.max_bytes) {
    spares_.push_back(std::move(chunk.data));
  }
  chunk = Chunk{};
  free_slots_.push_back(index);
}

void HeadStore::store(std::string_view bytes, StoredSpan& span) {
  if (current_chunk_ == UINT32_MAX ||
      chunks_[current_chunk_].capacity - chunks_[current_chunk_].used < bytes.size()) {
    new_chunk(static_cast<uint32_t>(bytes.size()));
  }
  Chunk& chunk = chunks_[current_chunk_];
  span.chunk = current_chunk_;
  span.offset = chunk.used;
  std::memcpy(chunk.data.get() + chunk.used, bytes.data(), bytes.size());
  chunk.used += static_cast<uint32_t>(bytes.size());
  ++chunk.live_spans;
}

uint64_t HeadStore::worst_case_bytes(const SpanBatch& batch) const {
  // Every byte in new chunks, every span starting a trace. Refusing on the worst case keeps the head within
  // its budget.
  uint64_t data = batch.byte_size();
  uint64_t chunk_bytes = data == 0 ? 0 : (data / chunk_bytes_ + 1) * uint64_t{chunk_bytes_};
  return std::max(chunk_bytes, data) + batch.spans.size() * (kSpanOverhead + kTraceOverhead);
}

Result<uint64_t> HeadStore::reserve(const SpanBatch& batch) {
  uint64_t incoming = worst_case_bytes(batch);
  if (bytes_ + reserved_ + incoming > limits_.max_bytes) {
    return unavailable("live traces use " + std::to_string(bytes_ + reserved_) + " of " +
                       std::to_string(limits_.max_bytes) +
                       " bytes on this shard (spindle.head.max_bytes); retry later");
  }
  reserved_ += incoming;
  return incoming;
}

void HeadStore::unpin_seq(uint64_t seq) {
  auto it = seq_pins_.find(seq);
  if (it != seq_pins_.end() && --it->second == 0) seq_pins_.erase(it);
}

AppendResult HeadStore::append(const SpanBatch& batch, AppendContext ctx) {
  AppendResult result;
  if (ctx.check_limit) {
    auto reserved = reserve(batch);
    if (!reserved.ok()) {
      result.status = reserved.status();
      return result;
    }
    unreserve(*reserved);
  }
  std::vector<std::pair<uint32_t, uint32_t>> context_ids;
  context_ids.reserve(batch.contexts.size());
  for (const auto& c : batch.contexts) {
    context_ids.emplace_back(intern(resources_, c.resource, c.resource_schema_url),
                             intern(scopes_, c.scope, c.scope_schema_url));
  }
  for (const SpanBatch::Span& in : batch.spans) {
    std::string_view bytes = std::string_view(batch.data).substr(in.offset, in.size);
    auto [resource, scope] = context_ids[in.context];
    StoredSpan span{resource, scope, 0, 0, in.size,
                    XXH3_64bits_withSeed(bytes.data(), bytes.size(), (uint64_t{resource} << 32) | scope)};
    auto [it, fresh] = traces_.try_emplace(in.trace_id);
    Trace& trace = it->second;
    if (fresh) {
      trace.id = in.trace_id;
      trace.bytes = kTraceOverhead;
      trace.first_ms = trace.last_ms = ctx.now_ms;
      trace.min_seq = ctx.seq;
      pin_seq(ctx.seq);
      link(lru_, &trace, &Trace::lru_prev, &Trace::lru_next);
      link(age_, &trace, &Trace::age_prev, &Trace::age_next);
      bytes_ += kTraceOverhead;
      live_bytes_ += kTraceOverhead;
    } else if (contains(trace, span, bytes)) {
      ++result.duplicates;
      continue;
    }
    uint64_t cost = bytes.size() + kSpanOverhead;
    if (trace.bytes + cost > limits_.max_bytes_per_trace) {
      if (result.rejected++ == 0) {
        result.reject_message = "trace " + in.trace_id.to_hex() + " exceeds max_bytes_per_trace (" +
                                std::to_string(limits_.max_bytes_per_trace) + " bytes); span dropped";
      }
      if (trace.spans.empty()) {
        bytes_ -= trace.bytes;
        live_bytes_ -= trace.bytes;
        unpin_seq(trace.min_seq);
        unlink(lru_, &trace, &Trace::lru_prev, &Trace::lru_next);
        unlink(age_, &trace, &Trace::age_prev, &Trace::age_next);
        traces_.erase(it);
      }
      continue;
    }
    store(bytes, span);
    ++resources_.entries[resource].refs;
    ++scopes_.entries[scope].refs;
    trace.spans.push_back(span);
    if (trace.hash_index) {
      trace.hash_index->insert(span.hash);
    } else if (trace.spans.size() > kLinearScanSpans) {
      trace.hash_index = std::make_unique<std::unordered_set<uint64_t>>();
      for (const StoredSpan& s : trace.spans) trace.hash_index->insert(s.hash);
    }
    trace.bytes += cost;
    trace.last_ms = ctx.now_ms;
    if (lru_.tail != &trace) {
      unlink(lru_, &trace, &Trace::lru_prev, &Trace::lru_next);
      link(lru_, &trace, &Trace::lru_prev, &Trace::lru_next);
    }
    bytes_ += kSpanOverhead;
    live_bytes_ += cost;
    ++spans_;
    ++result.accepted;
  }
  // Contexts whose spans were all duplicates or refused hold nothing.
  for (auto [resource, scope] : context_ids) {
    drop_if_unused(resources_, resource);
    drop_if_unused(scopes_, scope);
  }
  return result;
}

std::optional<std::string> HeadStore::find_trace(const TraceId& id) const {
  auto it = traces_.find(id);
  if (it == traces_.end() || it->second.spans.empty()) {
    return std::nullopt;
  }
  TraceAssembler assembler;
  for (const StoredSpan& s : it->second.spans) {
    const Interned& resource = resources_.entries[s.resource];
    const Interned& scope = scopes_.entries[s.scope];
    assembler.add_unique_span(s.resource, resource.message, resource.schema_url, s.scope, scope.message,
                              scope.schema_url, bytes_of(s));
  }
  return assembler.finish();
}

void HeadStore::take(Trace& trace, HeadCut& out) {
  CutTrace cut;
  cut.id = trace.id;
  cut.spans.reserve(trace.spans.size());
  for (const StoredSpan& s : trace.spans) {
    cut.spans.push_back({&resources_.entries[s.resource], &scopes_.entries[s.scope],
                         chunks_[s.chunk].data.get() + s.offset, s.size, s.chunk, s.resource, s.scope});
    out.span_bytes += s.size;
  }
  uint64_t overhead = kTraceOverhead + trace.spans.size() * kSpanOverhead;
  out.bytes += overhead;
  out.spans += trace.spans.size();
  out.seqs.push_back(trace.min_seq);
  out.index.emplace(trace.id, static_cast<uint32_t>(out.traces.size()));
  out.traces.push_back(std::move(cut));
  spans_ -= trace.spans.size();
  live_bytes_ -= trace.bytes;
  unlink(lru_, &trace, &Trace::lru_prev, &Trace::lru_next);
  unlink(age_, &trace, &Trace::age_prev, &Trace::age_next);
  TraceId id = trace.id;  // erase() must not read its key from the node it frees
  traces_.erase(id);
}

bool HeadStore::cut(const CutRules& rules, HeadCut& into) {
  uint64_t taken = 0;
  auto budget_left = [&] { return taken < rules.max_spans; };
  auto take_one = [&](Trace* t) {
    taken += t->spans.size();
    take(*t, into);
  };
  if (rules.idle_ms != 0) {
    while (lru_.head && lru_.head->last_ms + rules.idle_ms <= rules.now_ms) {
      if (!budget_left()) return true;
      take_one(lru_.head);
    }
  }
  if (rules.max_live_ms != 0) {
    while (age_.head && age_.head->first_ms + rules.max_live_ms <= rules.now_ms) {
      if (!budget_left()) return true;
      take_one(age_.head);
    }
  }
  // Traces are created in WAL order, so the creation list is also ordered by min_seq.
  while (age_.head && age_.head->min_seq < rules.min_seq_floor) {
    if (!budget_left()) return true;
    take_one(age_.head);
  }
  while (age_.head && live_bytes_ > rules.target_live_bytes) {
    if (!budget_left()) return true;
    take_one(age_.head);
  }
  return false;
}

void HeadStore::release_cut(const HeadCut& cut) {
  for (const CutTrace& t : cut.traces) {
    for (const CutSpan& s : t.spans) {
      drop_span_ref(s.chunk);
      unref(resources_, s.resource_id);
      unref(scopes_, s.scope_id);
    }
  }
  for (uint64_t seq : cut.seqs) unpin_seq(seq);
  bytes_ -= cut.bytes;
}

HeadStats HeadStore::stats() const {
  return {traces_.size(), spans_, bytes_, chunk_count_, spares_.size()};
}

std::optional<std::string> HeadStore::HeadCut::find(const TraceId& id) const {
  auto it = index.find(id);
  if (it == index.end()) return std::nullopt;
  return assemble(traces[it->second]);
}

std::string HeadStore::assemble(const CutTrace& trace) {
  TraceAssembler assembler;
  for (const CutSpan& s : trace.spans) {
    assembler.add_unique_span(s.resource_id, s.resource->message, s.resource->schema_url, s.scope_id,
                              s.scope->message, s.scope->schema_url, std::string_view(s.data, s.size));
  }
  return assembler.finish();
}

}  // namespace spindle
