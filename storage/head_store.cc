#include "storage/head_store.h"

#include <xxhash.h>

#include <algorithm>

#include "proto/wire.h"

namespace spindle {
namespace {

// Rough per-object overheads so the byte limit tracks real memory, not just payload.
constexpr uint64_t kSpanOverhead = sizeof(uint64_t) * 8;  // StoredSpan + hash-set node
constexpr uint64_t kTraceOverhead = 192;                   // map node, vectors, set buckets

std::string interned_key(const std::string& message, const std::string& schema_url) {
  std::string key;
  key.reserve(message.size() + schema_url.size() + 8);
  WireWriter(key).put_varint(message.size());
  key += message;
  key += schema_url;
  return key;
}

}  // namespace

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
  if (!trace.hashes.contains(span.hash)) {
    return false;
  }
  // Same hash: confirm byte for byte, so a 64-bit collision can never drop a distinct span.
  for (const StoredSpan& s : trace.spans) {
    if (s.hash == span.hash && s.resource == span.resource && s.scope == span.scope &&
        std::string_view(trace.data).substr(s.offset, s.size) == bytes) {
      return true;
    }
  }
  return false;
}

AppendResult HeadStore::append(const SpanBatch& batch) {
  AppendResult result;
  uint64_t incoming = batch.byte_size() + batch.spans.size() * kSpanOverhead;
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
    StoredSpan span{resource, scope, 0, in.size,
                    XXH3_64bits_withSeed(bytes.data(), bytes.size(), (uint64_t{resource} << 32) | scope)};
    auto [it, fresh] = traces_.try_emplace(in.trace_id);
    Trace& trace = it->second;
    if (fresh) {
      trace.bytes = kTraceOverhead;
      bytes_ += kTraceOverhead;
    }
    if (!fresh && contains(trace, span, bytes)) {
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
    span.offset = static_cast<uint32_t>(trace.data.size());
    trace.data.append(bytes);
    trace.spans.push_back(span);
    trace.hashes.insert(span.hash);
    trace.bytes += cost;
    bytes_ += cost;
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
  const Trace& trace = it->second;
  // Resources in order of first arrival, and within each its scopes in order of first arrival.
  std::vector<uint32_t> resource_order;
  std::vector<std::pair<uint32_t, uint32_t>> scope_order;
  for (const StoredSpan& s : trace.spans) {
    if (std::find(resource_order.begin(), resource_order.end(), s.resource) == resource_order.end()) {
      resource_order.push_back(s.resource);
    }
    std::pair<uint32_t, uint32_t> rs{s.resource, s.scope};
    if (std::find(scope_order.begin(), scope_order.end(), rs) == scope_order.end()) {
      scope_order.push_back(rs);
    }
  }
  std::string out;
  std::string resource_spans;
  std::string scope_spans;
  for (uint32_t r : resource_order) {
    resource_spans.clear();
    WireWriter(resource_spans).put_len_field(1, resources_[r].message);
    for (auto [sr, sc] : scope_order) {
      if (sr != r) continue;
      scope_spans.clear();
      WireWriter(scope_spans).put_len_field(1, scopes_[sc].message);
      for (const StoredSpan& s : trace.spans) {
        if (s.resource == r && s.scope == sc) {
          WireWriter(scope_spans).put_len_field(2, std::string_view(trace.data).substr(s.offset, s.size));
        }
      }
      if (!scopes_[sc].schema_url.empty()) WireWriter(scope_spans).put_len_field(3, scopes_[sc].schema_url);
      WireWriter(resource_spans).put_len_field(2, scope_spans);
    }
    if (!resources_[r].schema_url.empty()) WireWriter(resource_spans).put_len_field(3, resources_[r].schema_url);
    WireWriter(out).put_len_field(1, resource_spans);
  }
  return out;
}

}  // namespace spindle
