#include "bench/loadgen/request_template.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "proto/base64.h"

namespace spindle {
namespace {

namespace otlp_collector = opentelemetry::proto::collector::trace::v1;
namespace otlp_trace = opentelemetry::proto::trace::v1;
namespace otlp_common = opentelemetry::proto::common::v1;

// 19-digit sentinels: the JSON form of a time is then as wide as any real time after 2001.
constexpr uint64_t kTimeSentinelBase = 9'300'000'000'000'000'000ull;
constexpr uint64_t kTimeSentinelSpan = 600'000'000'000'000'000ull;
constexpr int kTimeDigits = 19;
constexpr int kMaxBuildAttempts = 8;
constexpr uint64_t kTemplateBaseNs = 1'700'000'000'000'000'000ull;  // 2023-11-14

struct AttrSpec {
  const char* key;
  const char* str;  // nullptr: int value
  int64_t num;
};

// Realistic HTTP server span attributes (semantic conventions), strings and ints.
constexpr AttrSpec kSpanAttrs[] = {
    {"http.method", "GET", 0},
    {"http.route", "/api/orders/{id}", 0},
    {"http.status_code", nullptr, 200},
    {"net.peer.name", "cart-svc", 0},
    {"http.target", "/api/orders/81723", 0},
    {"net.peer.port", nullptr, 48122},
    {"http.scheme", "http", 0},
    {"http.flavor", "1.1", 0},
    {"net.host.name", "orders-api", 0},
    {"http.user_agent", "Go-http-client/1.1", 0},
    {"thread.id", nullptr, 42},
    {"db.system", "postgresql", 0},
    {"db.name", "orders", 0},
    {"http.response_content_length", nullptr, 5123},
    {"enduser.id", "user-81723", 0},
    {"code.function", "OrdersHandler.list", 0},
};

constexpr const char* kServices[] = {"frontend", "checkout", "cart",     "orders",  "payments",
                                     "shipping", "email",    "currency", "catalog", "recommend"};

std::string service_name(int s) {
  return s < static_cast<int>(std::size(kServices)) ? kServices[s] : "service-" + std::to_string(s);
}

// Exactly `size` bytes made of `seed` repeated (size 0: seed as is).
std::string sized(std::string_view seed, int size) {
  if (size <= 0) return std::string(seed);
  std::string out;
  out.reserve(size);
  while (static_cast<int>(out.size()) < size) out.append(seed.substr(0, size - out.size()));
  return out;
}

void add_string_attr(google::protobuf::RepeatedPtrField<otlp_common::KeyValue>* attrs, std::string key,
                     std::string value) {
  auto* kv = attrs->Add();
  kv->set_key(std::move(key));
  kv->mutable_value()->set_string_value(std::move(value));
}

void add_span_attrs(const RequestShape& shape, int span,
                    google::protobuf::RepeatedPtrField<otlp_common::KeyValue>* attrs) {
  for (int a = 0; a < shape.attrs; ++a) {
    if (a >= static_cast<int>(std::size(kSpanAttrs))) {
      std::string key = "custom.attr_" + std::to_string(a);
      add_string_attr(attrs, key, sized("value-" + std::to_string(a) + "-", shape.attr_size));
      continue;
    }
    const AttrSpec& spec = kSpanAttrs[a];
    if (spec.str) {
      add_string_attr(attrs, spec.key, sized(spec.str, shape.attr_size));
    } else if (shape.attr_size > 0) {
      add_string_attr(attrs, spec.key, sized(std::to_string(spec.num + span), shape.attr_size));
    } else {
      auto* kv = attrs->Add();
      kv->set_key(spec.key);
      kv->mutable_value()->set_int_value(spec.num + span);
    }
  }
}

// How many of n "per-span" occurrences (events, errors) span i gets when the mean is `ratio`.
int share(double ratio, int i) {
  return static_cast<int>(std::floor((i + 1) * ratio + 1e-9) - std::floor(i * ratio + 1e-9));
}

std::string random_bytes(Rng& rng, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng.next_nonzero();
    std::memcpy(s.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return s;
}

void store_le64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

void store_decimal(char* p, uint64_t v) {
  for (int i = kTimeDigits - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

void store_hex(char* p, const uint8_t* bytes, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; ++i) {
    p[2 * i] = kHex[bytes[i] >> 4];
    p[2 * i + 1] = kHex[bytes[i] & 15];
  }
}

// proto3 JSON writes bytes as base64; OTLP/JSON wants the span and trace IDs as hex (the template has no
// links, whose IDs would need the same).
Result<std::string> ids_to_hex(std::string_view json) {
  return rewrite_json_ids(json, [](std::string_view base64) -> Result<std::string> {
    std::string raw;
    SPINDLE_RETURN_IF_ERROR(append_base64_decoded(base64, raw));
    return to_hex(raw);
  });
}

std::string id_text(std::string_view raw, PayloadFormat format) {
  return format == PayloadFormat::Json ? to_hex(raw) : std::string(raw);
}

std::string time_text(uint64_t sentinel, PayloadFormat format) {
  std::string s(format == PayloadFormat::Json ? kTimeDigits : 8, '\0');
  if (format == PayloadFormat::Json) {
    store_decimal(s.data(), sentinel);
  } else {
    store_le64(s.data(), sentinel);
  }
  return s;
}

}  // namespace

Status validate(const RequestShape& s) {
  auto bad = [](const char* what) { return invalid_argument(std::string("bad request shape: ") + what); };
  if (s.spans_per_request < 1 || s.spans_per_request > 100000) return bad("spans per request not in 1..100000");
  if (s.spans_per_trace < 1 || s.spans_per_trace > 100000) return bad("spans per trace not in 1..100000");
  if (s.depth < 1 || s.depth > 1000) return bad("depth not in 1..1000");
  if (s.services < 1 || s.services > 100000) return bad("services not in 1..100000");
  if (s.attrs < 0 || s.attrs > 1000) return bad("attributes per span not in 0..1000");
  if (s.attr_size < 0 || s.attr_size > 1 << 20) return bad("attribute size not in 0..1048576");
  if (!(s.events >= 0 && s.events <= 100)) return bad("events per span not in 0..100");
  if (!(s.error_ratio >= 0 && s.error_ratio <= 1)) return bad("error ratio not in 0..1");
  return Status::ok();
}

Result<RequestTemplate> RequestTemplate::build(const RequestShape& shape, PayloadFormat format, uint64_t seed) {
  SPINDLE_RETURN_IF_ERROR(validate(shape));
  Rng rng(seed);
  const int spans = shape.spans_per_request;
  const int services = std::min(shape.services, spans);
  for (int attempt = 0; attempt < kMaxBuildAttempts; ++attempt) {
    RequestTemplate t;
    t.format_ = format;
    t.span_slots_.assign(spans, {});
    for (int first = 0; first < spans; first += shape.spans_per_trace) {
      t.trace_spans_.push_back(std::min(shape.spans_per_trace, spans - first));
    }
    struct Sentinels {
      std::string trace_id, span_id, parent_span_id;
    };
    std::vector<Sentinels> sentinels(spans);
    std::vector<std::pair<uint64_t, uint64_t>> times;  // (sentinel, relative ns)
    auto time_field = [&](uint64_t relative) {
      uint64_t s = kTimeSentinelBase + rng.next() % kTimeSentinelSpan;
      times.emplace_back(s, relative);
      return s;
    };
    // Parents first: level of span k in its trace, and the latest span seen at each level.
    std::vector<int> level(spans, 0);
    std::vector<int> latest_at_level;
    for (int i = 0; i < spans; ++i) {
      const int k = i % shape.spans_per_trace;
      auto& slot = t.span_slots_[i];
      slot.trace = i / shape.spans_per_trace;
      if (k == 0) latest_at_level.assign(shape.depth, -1);
      level[i] = (k == 0 || shape.depth == 1) ? 0 : 1 + (k - 1) % (shape.depth - 1);
      if (level[i] > 0) slot.parent = latest_at_level[level[i] - 1];
      latest_at_level[level[i]] = i;
      sentinels[i].trace_id = random_bytes(rng, 16);
      sentinels[i].span_id = random_bytes(rng, 8);
      if (slot.parent >= 0) sentinels[i].parent_span_id = random_bytes(rng, 8);
    }

    otlp_collector::ExportTraceServiceRequest req;
    for (int s = 0; s < services; ++s) {
      auto* rs = req.add_resource_spans();
      auto* res_attrs = rs->mutable_resource()->mutable_attributes();
      add_string_attr(res_attrs, "service.name", service_name(s));
      add_string_attr(res_attrs, "service.namespace", "shop");
      add_string_attr(res_attrs, "telemetry.sdk.language", "go");
      add_string_attr(res_attrs, "host.name", "node-17.eu-west-1.compute.internal");
      rs->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
      auto* ss = rs->add_scope_spans();
      ss->mutable_scope()->set_name("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp");
      ss->mutable_scope()->set_version("0.46.1");
      for (int i = s; i < spans; i += services) {
        const auto& slot = t.span_slots_[i];
        auto* span = ss->add_spans();
        span->set_trace_id(sentinels[i].trace_id);
        span->set_span_id(sentinels[i].span_id);
        if (slot.parent >= 0) span->set_parent_span_id(sentinels[i].parent_span_id);
        span->set_name(slot.parent < 0 ? "GET /api/orders/{id}" : "HTTP GET " + service_name(s));
        span->set_kind(slot.parent < 0 ? otlp_trace::Span::SPAN_KIND_SERVER : otlp_trace::Span::SPAN_KIND_CLIENT);
        // Children start after and end before their parents, as real spans do.
        const uint64_t start = 100'000ull * level[i] + 10'000ull * (i % shape.spans_per_trace);
        const uint64_t duration = 5'000'000ull * (shape.depth - level[i]) + rng.next() % 1'000'000;
        span->set_start_time_unix_nano(time_field(start));
        span->set_end_time_unix_nano(time_field(start + duration));
        add_span_attrs(shape, i, span->mutable_attributes());
        for (int e = share(shape.events, i); e > 0; --e) {
          auto* ev = span->add_events();
          ev->set_name("exception");
          ev->set_time_unix_nano(time_field(start + duration / 2));
          add_string_attr(ev->mutable_attributes(), "exception.type", "TimeoutError");
        }
        if (share(shape.error_ratio, i) > 0) {
          span->mutable_status()->set_code(otlp_trace::Status::STATUS_CODE_ERROR);
          span->mutable_status()->set_message("upstream timeout");
        }
      }
    }

    if (format == PayloadFormat::Protobuf) {
      if (!req.SerializeToString(&t.bytes_)) return internal_error("cannot serialize the request template");
    } else {
      std::string json;
      google::protobuf::util::JsonPrintOptions options;
      options.always_print_enums_as_ints = true;  // OTLP/JSON: enums are integers
      if (!google::protobuf::util::MessageToJsonString(req, &json, options).ok()) {
        return internal_error("cannot print the request template as JSON");
      }
      SPINDLE_ASSIGN_OR_RETURN(t.bytes_, ids_to_hex(json));
    }

    // Exactly one occurrence each, or a sentinel collided with other content: try again.
    auto find_once = [&](const std::string& needle, size_t* out) {
      size_t at = t.bytes_.find(needle);
      if (at == std::string::npos || t.bytes_.find(needle, at + 1) != std::string::npos) return false;
      *out = at;
      return true;
    };
    bool found = true;
    for (int i = 0; i < spans && found; ++i) {
      auto& slot = t.span_slots_[i];
      found = find_once(id_text(sentinels[i].trace_id, format), &slot.trace_id) &&
              find_once(id_text(sentinels[i].span_id, format), &slot.span_id) &&
              (slot.parent < 0 || find_once(id_text(sentinels[i].parent_span_id, format), &slot.parent_span_id));
    }
    for (size_t i = 0; i < times.size() && found; ++i) {
      TimeSlot ts{0, times[i].second};
      found = find_once(time_text(times[i].first, format), &ts.at);
      t.time_slots_.push_back(ts);
    }
    if (!found) continue;
    std::vector<TraceId> ids;
    t.patch(rng, kTemplateBaseNs, t.bytes_.data(), ids);
    return t;
  }
  return internal_error("could not locate the per-request fields in the request template");
}

void RequestTemplate::patch(Rng& rng, uint64_t base_ns, char* msg, std::vector<TraceId>& trace_ids) const {
  trace_ids.resize(trace_spans_.size());
  for (TraceId& id : trace_ids) {
    uint64_t hi = rng.next_nonzero(), lo = rng.next_nonzero();
    std::memcpy(id.bytes.data(), &hi, 8);
    std::memcpy(id.bytes.data() + 8, &lo, 8);
  }
  const bool json = format_ == PayloadFormat::Json;
  const size_t span_id_width = json ? 16 : 8;
  for (const SpanSlot& slot : span_slots_) {
    const uint8_t* trace = trace_ids[slot.trace].bytes.data();
    uint64_t span_id = rng.next_nonzero();
    if (json) {
      store_hex(msg + slot.trace_id, trace, 16);
      store_hex(msg + slot.span_id, reinterpret_cast<const uint8_t*>(&span_id), 8);
    } else {
      std::memcpy(msg + slot.trace_id, trace, 16);
      std::memcpy(msg + slot.span_id, &span_id, 8);
    }
    // Parents precede their children, so the parent's new ID is already in place.
    if (slot.parent >= 0) {
      std::memcpy(msg + slot.parent_span_id, msg + span_slots_[slot.parent].span_id, span_id_width);
    }
  }
  for (const TimeSlot& t : time_slots_) {
    if (json) {
      store_decimal(msg + t.at, base_ns + t.relative_ns);
    } else {
      store_le64(msg + t.at, base_ns + t.relative_ns);
    }
  }
}

Result<std::string> rewrite_json_ids(std::string_view json,
                                     const std::function<Result<std::string>(std::string_view)>& convert) {
  static constexpr std::string_view kKeys[] = {"\"traceId\":\"", "\"spanId\":\"", "\"parentSpanId\":\""};
  std::string out;
  out.reserve(json.size() + json.size() / 8);
  size_t pos = 0;
  for (;;) {
    size_t best = std::string_view::npos, key_len = 0;
    for (std::string_view k : kKeys) {
      size_t at = json.find(k, pos);
      if (at < best) best = at, key_len = k.size();
    }
    if (best == std::string_view::npos) break;
    const size_t value = best + key_len;
    const size_t end = json.find('"', value);
    if (end == std::string_view::npos) {
      return invalid_argument("unterminated ID in OTLP/JSON at offset " + std::to_string(value));
    }
    auto converted = convert(json.substr(value, end - value));
    if (!converted.ok()) {
      return invalid_argument(converted.status().message() + " (ID at offset " + std::to_string(value) + ")");
    }
    out.append(json.substr(pos, value - pos));
    out += *converted;
    pos = end;
  }
  out.append(json.substr(pos));
  return out;
}

}  // namespace spindle
