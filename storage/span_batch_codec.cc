#include "storage/span_batch_codec.h"

#include <cstring>

#include "proto/wire.h"

namespace spindle {
namespace {

// The fewest bytes an encoded context (four empty strings) and span can take: counts larger than the input
// could hold are rejected before anything is reserved.
constexpr size_t kMinContextBytes = 4;
constexpr size_t kMinSpanBytes = 16 + 1 + 1 + 1 + 8 + 1;

void put_bytes(WireWriter& w, std::string_view s) {
  w.put_varint(s.size());
  w.out().append(s);
}

Status corrupt(std::string_view what) { return data_loss("corrupt span batch: " + std::string(what)); }

// Reads a varint that must fit in 32 bits.
Result<uint32_t> read_u32(WireReader& r, std::string_view what) {
  auto v = r.read_varint();
  if (!v.ok()) return corrupt(v.status().message());
  if (*v > UINT32_MAX) return corrupt(std::string(what) + " exceeds 32 bits");
  return static_cast<uint32_t>(*v);
}

Result<std::string_view> read_bytes(WireReader& r) {
  auto v = r.read_length_delimited();
  if (!v.ok()) return corrupt(v.status().message());
  return *v;
}

size_t remaining(const WireReader& r) { return r.data().size() - r.position(); }

Status decode_contexts(WireReader& r, uint64_t count, SpanBatch& out) {
  out.contexts.resize(count);
  for (auto& c : out.contexts) {
    for (std::string* field : {&c.resource, &c.resource_schema_url, &c.scope, &c.scope_schema_url}) {
      SPINDLE_ASSIGN_OR_RETURN(std::string_view s, read_bytes(r));
      field->assign(s);
    }
  }
  return Status::ok();
}

Status decode_spans(WireReader& r, uint64_t count, uint64_t data_size, SpanBatch& out) {
  out.spans.resize(count);
  uint32_t prev_end = 0;
  for (auto& s : out.spans) {
    if (remaining(r) < 16) return corrupt("truncated trace id");
    std::memcpy(s.trace_id.bytes.data(), r.data().data() + r.position(), 16);
    r = WireReader(r.data().substr(r.position() + 16), r.offset() + 16);
    SPINDLE_ASSIGN_OR_RETURN(s.context, read_u32(r, "context index"));
    if (s.context >= out.contexts.size()) return corrupt("context index out of range");
    SPINDLE_ASSIGN_OR_RETURN(uint32_t delta, read_u32(r, "offset delta"));
    s.offset = prev_end + delta;  // wraps modulo 2^32, as encoded
    SPINDLE_ASSIGN_OR_RETURN(s.size, read_u32(r, "span size"));
    if (static_cast<uint64_t>(s.offset) + s.size > data_size) return corrupt("span outside data");
    prev_end = s.offset + s.size;
    auto start = r.read_fixed64();
    if (!start.ok()) return corrupt(start.status().message());
    auto duration = r.read_varint();
    if (!duration.ok()) return corrupt(duration.status().message());
    s.start_ns = *start;
    s.end_ns = *start + *duration;
  }
  return Status::ok();
}

}  // namespace

std::string encode_span_batch(const SpanBatch& batch) {
  std::string out;
  out.reserve(16 + batch.data.size() + batch.spans.size() * 40 + batch.contexts.size() * 64);
  WireWriter w(out);
  out.push_back(static_cast<char>(kSpanBatchCodecVersion));
  w.put_varint(batch.contexts.size());
  w.put_varint(batch.spans.size());
  w.put_varint(batch.data.size());
  for (const auto& c : batch.contexts) {
    put_bytes(w, c.resource);
    put_bytes(w, c.resource_schema_url);
    put_bytes(w, c.scope);
    put_bytes(w, c.scope_schema_url);
  }
  uint32_t prev_end = 0;
  for (const auto& s : batch.spans) {
    out.append(reinterpret_cast<const char*>(s.trace_id.bytes.data()), 16);
    w.put_varint(s.context);
    w.put_varint(static_cast<uint32_t>(s.offset - prev_end));
    w.put_varint(s.size);
    w.put_fixed64(s.start_ns);
    w.put_varint(s.end_ns - s.start_ns);
    prev_end = s.offset + s.size;
  }
  out.append(batch.data);
  return out;
}

Result<SpanBatch> decode_span_batch(std::string_view bytes) {
  if (bytes.empty()) return corrupt("empty");
  if (static_cast<uint8_t>(bytes[0]) != kSpanBatchCodecVersion) {
    return corrupt("unsupported version " + std::to_string(static_cast<uint8_t>(bytes[0])));
  }
  WireReader r(bytes.substr(1), 1);
  auto context_count = r.read_varint();
  if (!context_count.ok()) return corrupt(context_count.status().message());
  auto span_count = r.read_varint();
  if (!span_count.ok()) return corrupt(span_count.status().message());
  auto data_size = r.read_varint();
  if (!data_size.ok()) return corrupt(data_size.status().message());
  // Bound every count by the bytes left before allocating for it.
  size_t left = remaining(r);
  if (*data_size > left) return corrupt("data size exceeds input");
  left -= *data_size;
  if (*context_count > left / kMinContextBytes) return corrupt("context count exceeds input");
  if (*span_count > left / kMinSpanBytes) return corrupt("span count exceeds input");
  if (*data_size > UINT32_MAX) return corrupt("data size exceeds 32 bits");

  SpanBatch out;
  SPINDLE_RETURN_IF_ERROR(decode_contexts(r, *context_count, out));
  SPINDLE_RETURN_IF_ERROR(decode_spans(r, *span_count, *data_size, out));
  if (remaining(r) != *data_size) return corrupt("data size does not match the bytes left");
  out.data.assign(r.data().substr(r.position()));
  return out;
}

}  // namespace spindle
