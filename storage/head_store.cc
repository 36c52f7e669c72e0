#include "storage/head_store.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "proto/wire.h"
#include "storage/trace_merge.h"

namespace spindle {
namespace {

// Per-object overheads so the byte limit tracks real memory, not only payload: a StoredSpan in a vector that
// grows by doubling, and a trace's map node plus vector header.
constexpr uint64_t kSpanOverhead = sizeof(uint64_t) * 6;
constexpr uint64_t kTraceOverhead = 128;
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
}

uint32_t HeadStore::intern(std::vector<Interned>& table, std::unordered_map<std::string, uint32_t>& index,
                           const std::string& message, const std::string& schema_url) {
  auto [it, inserted] = index.try_emplace(interned_key(message, schema_url), 0);
  if (inserted) {
    it->second = static_cast<uint32_t>(table.size());
    table.push_back({message, schema_url});
    bytes_ += 2 * (message.size() + schema_url.size()) + kTraceOverhead;
  }
  return it->second;
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

void HeadStore::store(std::string_view bytes, StoredSpan& span) {
  if (chunks_.empty() || chunks_.back().capacity - chunks_.back().used < bytes.size()) {
    Chunk chunk;
    chunk.capacity = std::max<uint32_t>(chunk_bytes_, static_cast<uint32_t>(bytes.size()));
    chunk.data.reset(new char[chunk.capacity]);
    bytes_ += chunk.capacity;
    chunks_.push_back(std::move(chunk));
  }
  Chunk& chunk = chunks_.back();
  span.chunk = static_cast<uint32_t>(chunks_.size() - 1);
  span.offset = chunk.used;
  std::memcpy(chunk.data.get() + chunk.used, bytes.data(), bytes.size());
  chunk.used += static_cast<uint32_t>(bytes.size());
  ++chunk.live_spans;
}

AppendResult HeadStore::append(const SpanBatch& batch) {
  AppendResult result;
  // Worst case for this batch: the chunks its bytes need beyond the current chunk's free room, and every span
  // starting a trace. Refusing on the worst case keeps the head within its budget.
  uint64_t room = chunks_.empty() ? 0 : chunks_.back().capacity - chunks_.back().used;
  uint64_t overflow = batch.byte_size() > room ? batch.byte_size() - room : 0;
  uint64_t new_chunk_bytes = overflow == 0 ? 0 : (overflow / chunk_bytes_ + 1) * uint64_t{chunk_bytes_};
  uint64_t incoming = std::max(new_chunk_bytes, overflow) + batch.spans.size() * (kSpanOverhead + kTraceOverhead);
  if (bytes_ + incoming > limits_.max_bytes) {
    result.status = unavailable("live traces use " + std::to_string(bytes_) + " of " +
                                std::to_string(limits_.max_bytes) +
                                " bytes on this shard (spindle.head.max_bytes); retry later");
    return result;
  }
  std::vector<std::pair<uint32_t, uint32_t>> context_ids;
  context_ids.reserve(batch.contexts.size());
  for (const auto& c : batch.contexts) {
    context_ids.emplace_back(intern(resources_, resource_index_, c.resource, c.resource_schema_url),
                             intern(scopes_, scope_index_, c.scope, c.scope_schema_url));
  }
  for (const SpanBatch::Span& in : batch.spans) {
    std::string_view bytes = std::string_view(batch.data).substr(in.offset, in.size);
    auto [resource, scope] = context_ids[in.context];
    StoredSpan span{resource, scope, 0, 0, in.size,
                    XXH3_64bits_withSeed(bytes.data(), bytes.size(), (uint64_t{resource} << 32) | scope)};
    auto [it, fresh] = traces_.try_emplace(in.trace_id);
    Trace& trace = it->second;
    if (fresh) {
      trace.bytes = kTraceOverhead;
      bytes_ += kTraceOverhead;
    } else if (contains(trace, span, bytes)) {
      ++result.duplicates;
      continue;
    }
    uint64_t cost = bytes.size() + kSpanOverhead;
    if (limits_.max_bytes_per_trace != 0 && trace.bytes + cost > limits_.max_bytes_per_trace) {
      if (result.rejected++ == 0) {
        result.reject_message = "trace " + in.trace_id.to_hex() + " exceeds max_bytes_per_trace (" +
                                std::to_string(limits_.max_bytes_per_trace) + " bytes); span dropped";
      }
      if (trace.spans.empty()) {
        bytes_ -= trace.bytes;
        traces_.erase(it);
      }
      continue;
    }
    store(bytes, span);
    trace.spans.push_back(span);
    if (trace.hash_index) {
      trace.hash_index->insert(span.hash);
    } else if (trace.spans.size() > kLinearScanSpans) {
      trace.hash_index = std::make_unique<std::unordered_set<uint64_t>>();
      for (const StoredSpan& s : trace.spans) trace.hash_index->insert(s.hash);
    }
    trace.bytes += cost;
    bytes_ += kSpanOverhead;
    ++spans_;
    ++result.accepted;
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
    const Interned& resource = resources_[s.resource];
    const Interned& scope = scopes_[s.scope];
    assembler.add_span(resource.message, resource.schema_url, scope.message, scope.schema_url, bytes_of(s));
  }
  return assembler.finish();
}

}  // namespace spindle
