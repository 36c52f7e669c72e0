#include "api/search_grpc.h"

#include "api/query_params.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <unordered_set>
#include <utility>

#include "api/search.h"
#include "api/shard_services.h"
#include "api/traceql/ast.h"
#include "core/wall_clock.h"
#include "proto/wire.h"

namespace spindle {
namespace {

// Tempo's default per-message cap for streamed responses: larger results are split over several messages.
constexpr size_t kMaxPacketBytes = 1 << 20;
// Tempo's streaming interval: progress messages at most this often.
constexpr std::chrono::milliseconds kProgressInterval{500};

// name=value with the value percent-encoded, so QueryParams decodes it back verbatim.
void append_query_param(std::string& out, std::string_view name, std::string_view value) {
  if (!out.empty()) out.push_back('&');
  out += name;
  out.push_back('=');
  out += percent_encode(value);
}

// logfmt value as parse_logfmt_tags reads it: always quoted, with " and \ escaped.
std::string logfmt_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

Status bad_request(const Status& wire_error) {
  return invalid_argument("invalid SearchRequest: " + wire_error.message());
}

// One map<string,string> entry of SearchRequest.Tags.
Status decode_tag_entry(WireReader r, std::map<std::string, std::string>& tags) {
  std::string key, value;
  while (!r.done()) {
    auto tag = r.read_tag();
    if (!tag.ok()) return tag.status();
    if ((tag->field == 1 || tag->field == 2) && tag->type == WireType::Len) {
      auto v = r.read_length_delimited();
      if (!v.ok()) return v.status();
      (tag->field == 1 ? key : value) = std::string(*v);
    } else if (Status s = r.skip_field(tag->type); !s.is_ok()) {
      return s;
    }
  }
  tags[std::move(key)] = std::move(value);
  return Status();
}

void put_any_value(WireWriter& w, uint32_t field, const Static& v) {
  size_t m = w.begin_message(field);
  switch (v.type) {  // OTLP AnyValue: 1 string, 2 bool, 3 int, 4 double (Tempo's Static.AsAnyValue)
    case StaticType::Int:
      w.put_varint_field(3, static_cast<uint64_t>(v.int_value));
      break;
    case StaticType::Float:
      w.put_double_field(4, v.float_value);
      break;
    case StaticType::Bool:
      w.put_varint_field(2, v.int_value != 0 ? 1 : 0);
      break;
    case StaticType::String:
      w.put_len_field(1, v.string_value);
      break;
    case StaticType::Duration:
      w.put_len_field(1, format_go_duration(v.int_value));
      break;
    case StaticType::Status:
      w.put_len_field(1, status_name(static_cast<SpanStatus>(v.int_value)));
      break;
    case StaticType::Kind:
      w.put_len_field(1, kind_name(static_cast<SpanKind>(v.int_value)));
      break;
    case StaticType::Nil:
      w.put_len_field(1, "nil");
      break;
  }
  w.end_message(m);
}

void put_key_values(WireWriter& w, uint32_t field, const KeyedValues& kvs) {
  for (const auto& [key, value] : kvs) {
    size_t m = w.begin_message(field);
    if (!key.empty()) w.put_len_field(1, key);
    put_any_value(w, 2, value);
    w.end_message(m);
  }
}

void put_spanset(WireWriter& w, uint32_t field, const SearchSpanset& ss) {
  size_t m = w.begin_message(field);
  for (const SearchSpan& s : ss.spans) {
    size_t sm = w.begin_message(1);
    std::string id = search_span_id(s.span_id);
    if (!id.empty()) w.put_len_field(1, id);
    if (!s.name.empty()) w.put_len_field(2, s.name);
    if (s.start_ns != 0) w.put_varint_field(3, s.start_ns);
    if (s.duration_ns != 0) w.put_varint_field(4, s.duration_ns);
    put_key_values(w, 5, s.attributes);
    w.end_message(sm);
  }
  if (ss.matched != 0) w.put_varint_field(2, ss.matched);
  put_key_values(w, 3, ss.attributes);
  w.end_message(m);
}

// TraceSearchMetadata, with the same fields and zero-value rules as the JSON answer (write_trace).
void put_trace(WireWriter& w, const SearchTrace& t) {
  size_t m = w.begin_message(1);
  std::string id = search_trace_id(t.id);
  if (!id.empty()) w.put_len_field(1, id);
  w.put_len_field(2, t.root_service_name.empty() ? kRootSpanNotYetReceived : std::string_view(t.root_service_name));
  if (!t.root_trace_name.empty()) w.put_len_field(3, t.root_trace_name);
  if (t.start_ns != 0) w.put_varint_field(4, t.start_ns);
  if (uint32_t d = t.duration_ms(); d != 0) w.put_varint_field(5, d);
  if (!t.spansets.empty()) {
    // spanSet (deprecated) = spanSets[0]: Grafana prefers it when present.
    put_spanset(w, 6, t.spansets[0]);
    for (const SearchSpanset& ss : t.spansets) put_spanset(w, 7, ss);
  }
  for (const auto& [service, stats] : t.service_stats) {
    size_t e = w.begin_message(8);  // map entry: 1 key, 2 ServiceStats
    w.put_len_field(1, service);
    size_t v = w.begin_message(2);
    if (stats.span_count != 0) w.put_varint_field(1, stats.span_count);
    if (stats.error_count != 0) w.put_varint_field(2, stats.error_count);
    w.end_message(v);
    w.end_message(e);
  }
  w.end_message(m);
}

void put_metrics(WireWriter& w, const SearchMetrics& m) {
  size_t t = w.begin_message(2);
  // uint32 fields are clamped like the JSON answer does.
  if (m.inspected_traces != 0) w.put_varint_field(1, std::min<uint64_t>(m.inspected_traces, UINT32_MAX));
  if (m.inspected_bytes != 0) w.put_varint_field(2, m.inspected_bytes);
  if (m.total_blocks != 0) w.put_varint_field(3, std::min<uint64_t>(m.total_blocks, UINT32_MAX));
  if (m.completed_jobs != 0) w.put_varint_field(4, m.completed_jobs);
  if (m.total_jobs != 0) w.put_varint_field(5, m.total_jobs);
  if (m.total_block_bytes != 0) w.put_varint_field(6, m.total_block_bytes);
  if (m.inspected_spans != 0) w.put_varint_field(7, m.inspected_spans);
  w.end_message(t);
}

// Sends `traces` as one or more messages of at most ~kMaxPacketBytes, each with the metrics; at least one
// message even without traces (Grafana's health check waits for a message or EOF).
void send_packets(const Responder& responder, const std::vector<const SearchTrace*>& traces,
                  const SearchMetrics& metrics) {
  std::string out;
  WireWriter w(out);
  size_t in_packet = 0;
  for (const SearchTrace* t : traces) {
    size_t before = out.size();
    put_trace(w, *t);
    if (out.size() > kMaxPacketBytes && in_packet != 0) {
      // This trace overflows the packet: send what came before it, then start the next packet with it.
      std::string trace_bytes = out.substr(before);
      out.resize(before);
      put_metrics(w, metrics);
      responder.grpc_message(out);
      out = std::move(trace_bytes);
      in_packet = 0;
    }
    ++in_packet;
  }
  put_metrics(w, metrics);
  responder.grpc_message(out);
}

class GrpcSearchSink final : public SearchResultSink {
 public:
  GrpcSearchSink(Shard& shard, Responder responder) : shard_(shard), responder_(std::move(responder)) {}

  void partial(const SearchCombiner& combined, const SearchMetrics& metrics) override {
    if (responder_.is_closed()) return;
    auto now = std::chrono::steady_clock::now();
    if (sent_any_ && now - last_progress_ < kProgressInterval) return;
    // A diff: traces this call has not streamed yet (Grafana keeps the first copy of a traceID anyway).
    std::vector<const SearchTrace*> fresh;
    for (const SearchTrace& t : combined.traces()) {
      if (sent_.insert(t.id).second) fresh.push_back(&t);
    }
    if (fresh.empty() && sent_any_) return;
    send_packets(responder_, fresh, metrics);
    sent_any_ = true;
    last_progress_ = now;
  }

  void final(std::vector<SearchTrace> traces, const SearchMetrics& metrics) override {
    std::vector<const SearchTrace*> all;
    all.reserve(traces.size());
    for (const SearchTrace& t : traces) all.push_back(&t);
    send_packets(responder_, all, metrics);
    services_of(shard_).metrics.count_request("search_grpc", std::string(status_code_name(StatusCode::Ok)));
    responder_.grpc_finish(Status());
  }

  // Grafana cancels a streaming search with RST_STREAM (or by dropping the connection).
  bool client_gone() const override { return responder_.peer_gone(); }
  void abandoned() override {
    services_of(shard_).metrics.count_request("search_grpc", std::string(status_code_name(StatusCode::Cancelled)));
    responder_.grpc_finish(Status(StatusCode::Cancelled, "client cancelled the search"));
  }

 private:
  Shard& shard_;
  Responder responder_;
  std::unordered_set<TraceId, TraceIdHash> sent_;
  bool sent_any_ = false;
  std::chrono::steady_clock::time_point last_progress_;
};

}  // namespace

Result<SearchParams> decode_search_request(std::string_view message) {
  std::map<std::string, std::string> tags;
  uint64_t min_ms = 0, max_ms = 0, limit = 0, start = 0, end = 0, spss = 0;
  std::string query;
  bool has_query = false;
  WireReader r(message);
  while (!r.done()) {
    auto tag = r.read_tag();
    if (!tag.ok()) return bad_request(tag.status());
    uint64_t* number = nullptr;
    switch (tag->field) {
      case 2: number = &min_ms; break;
      case 3: number = &max_ms; break;
      case 4: number = &limit; break;
      case 5: number = &start; break;
      case 6: number = &end; break;
      case 9: number = &spss; break;
      default: break;
    }
    if (number != nullptr && tag->type == WireType::Varint) {
      auto v = r.read_varint();
      if (!v.ok()) return bad_request(v.status());
      *number = static_cast<uint32_t>(*v);  // uint32 fields: protobuf truncates wider varints
    } else if ((tag->field == 1 || tag->field == 8) && tag->type == WireType::Len) {
      auto v = r.read_length_delimited();
      if (!v.ok()) return bad_request(v.status());
      if (tag->field == 8) {
        query = std::string(*v);
        has_query = true;
      } else if (Status s = decode_tag_entry(r.nested(*v), tags); !s.is_ok()) {
        return bad_request(s);
      }
    } else if (Status s = r.skip_field(tag->type); !s.is_ok()) {
      return bad_request(s);
    }
  }
  // proto3 zero = unset: only what was given becomes a parameter, so defaults and checks match GET /api/search.
  std::string qs;
  if (start != 0) append_query_param(qs, "start", std::to_string(start));
  if (end != 0) append_query_param(qs, "end", std::to_string(end));
  if (has_query && !query.empty()) append_query_param(qs, "q", query);
  if (!tags.empty()) {
    std::string logfmt;
    for (const auto& [k, v] : tags) {
      if (!logfmt.empty()) logfmt.push_back(' ');
      logfmt += k + "=" + logfmt_quote(v);
    }
    append_query_param(qs, "tags", logfmt);
  }
  if (min_ms != 0) append_query_param(qs, "minDuration", std::to_string(min_ms) + "ms");
  if (max_ms != 0) append_query_param(qs, "maxDuration", std::to_string(max_ms) + "ms");
  if (limit != 0) append_query_param(qs, "limit", std::to_string(limit));
  if (spss != 0) append_query_param(qs, "spss", std::to_string(spss));
  return parse_search_params(qs);
}

std::string encode_search_response_proto(const std::vector<const SearchTrace*>& traces,
                                         const SearchMetrics& metrics) {
  std::string out;
  WireWriter w(out);
  for (const SearchTrace* t : traces) put_trace(w, *t);
  put_metrics(w, metrics);
  return out;
}

void handle_search_grpc(Shard& shard, const GrpcRequest& request, Responder responder) {
  auto fail = [&](const Status& s) {
    services_of(shard).metrics.count_request("search_grpc", std::string(status_code_name(s.code())));
    responder.grpc_finish(s);
  };
  auto params = decode_search_request(request.message);
  if (!params.ok()) {
    fail(params.status());
    return;
  }
  auto job = make_search_job(*params, wall_now_ns());
  if (!job.ok()) {
    fail(job.status());
    return;
  }
  start_search(shard, std::move(job).value(), std::make_unique<GrpcSearchSink>(shard, std::move(responder)));
}

}  // namespace spindle
