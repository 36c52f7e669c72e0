#pragma once
// Small deterministic traces for the TraceQL trace-model and evaluator tests, built with libprotobuf so the
// hand-written decoder is checked against the reference encoder. Every expected result in the tests is
// derived by hand from the tables below.
//
// Corpus trace (times in ms after kBaseNs; ids a1b2c3d4e5f607NN):
//
//   01 "GET /checkout"  frontend  server    unset  [0,1000]   (root)
//   ├─ 02 "auth"        frontend  internal  ok     [10,60]
//   ├─ 03 "charge"      checkout  client    error  [100,700]  statusMessage "card declined"
//   │  ├─ 04 "db.query" db        client    error  [200,450]
//   │  │  └─ 07 "db.commit"     db        producer unset [300,320]
//   │  │     └─ 08 "async.consume" checkout consumer ok  [330,400]
//   │  └─ 05 "cache.get" db       internal  unset  [460,470]
//   └─ 06 "render"      frontend  internal  ok     [720,990]
//
// Byte order (span index in the model): frontend batch {01, 02, 06}, checkout {03, 08}, db {04, 05, 07}.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "opentelemetry/proto/trace/v1/trace.pb.h"
#include "tempopb/tempo.pb.h"

namespace spindle::corpus {

namespace otlp_common = opentelemetry::proto::common::v1;
namespace otlp_trace = opentelemetry::proto::trace::v1;

inline constexpr uint64_t kBaseNs = 1'700'000'000'000'000'000ULL;
inline constexpr uint64_t kMs = 1'000'000ULL;

// 0abcdef0123456789abcdef012345678: the leading zero nibble checks trace:id trimming.
inline std::string corpus_trace_id() {
  const uint8_t b[16] = {0x0a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78,
                         0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78};
  return std::string(reinterpret_cast<const char*>(b), 16);
}

inline std::string span_id(uint8_t n) {
  const uint8_t b[8] = {0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, n};
  return std::string(reinterpret_cast<const char*>(b), 8);
}

inline std::string raw_id(std::initializer_list<uint8_t> bytes) {
  std::string s;
  for (uint8_t b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

// Attribute values.
struct V {
  otlp_common::AnyValue v;
};
inline V str(const std::string& s) {
  V x;
  x.v.set_string_value(s);
  return x;
}
inline V i64(int64_t n) {
  V x;
  x.v.set_int_value(n);
  return x;
}
inline V f64(double d) {
  V x;
  x.v.set_double_value(d);
  return x;
}
inline V boolean(bool b) {
  V x;
  x.v.set_bool_value(b);
  return x;
}
inline V bytes(const std::string& b) {
  V x;
  x.v.set_bytes_value(b);
  return x;
}
inline V str_array(std::initializer_list<const char*> items) {
  V x;
  for (const char* s : items) x.v.mutable_array_value()->add_values()->set_string_value(s);
  return x;
}
inline V int_array(std::initializer_list<int64_t> items) {
  V x;
  for (int64_t n : items) x.v.mutable_array_value()->add_values()->set_int_value(n);
  return x;
}
inline V kvlist() {
  V x;
  auto* kv = x.v.mutable_kvlist_value()->add_values();
  kv->set_key("a");
  kv->mutable_value()->set_int_value(1);
  return x;
}

using Attrs = std::vector<std::pair<std::string, V>>;

inline void add_attrs(google::protobuf::RepeatedPtrField<otlp_common::KeyValue>* out, const Attrs& attrs) {
  for (const auto& [k, v] : attrs) {
    auto* kv = out->Add();
    kv->set_key(k);
    *kv->mutable_value() = v.v;
  }
}

struct EventSpec {
  std::string name;
  uint64_t at_ms;
  Attrs attrs;
};
struct LinkSpec {
  std::string trace_id;
  std::string span_id;
  Attrs attrs;
};

struct SpanSpec {
  std::string id;
  std::string parent;  // raw bytes, empty for a root
  std::string name;
  otlp_trace::Span::SpanKind kind = otlp_trace::Span::SPAN_KIND_INTERNAL;
  otlp_trace::Status::StatusCode status = otlp_trace::Status::STATUS_CODE_UNSET;
  std::string status_message;
  uint64_t start_ms = 0;
  uint64_t end_ms = 0;
  Attrs attrs;
  std::vector<EventSpec> events;
  std::vector<LinkSpec> links;
};

inline void fill_span(otlp_trace::Span* s, const std::string& trace_id, const SpanSpec& spec) {
  s->set_trace_id(trace_id);
  s->set_span_id(spec.id);
  if (!spec.parent.empty()) s->set_parent_span_id(spec.parent);
  s->set_name(spec.name);
  s->set_kind(spec.kind);
  s->set_start_time_unix_nano(kBaseNs + spec.start_ms * kMs);
  s->set_end_time_unix_nano(kBaseNs + spec.end_ms * kMs);
  s->mutable_status()->set_code(spec.status);
  if (!spec.status_message.empty()) s->mutable_status()->set_message(spec.status_message);
  add_attrs(s->mutable_attributes(), spec.attrs);
  for (const EventSpec& e : spec.events) {
    auto* ev = s->add_events();
    ev->set_name(e.name);
    ev->set_time_unix_nano(kBaseNs + e.at_ms * kMs);
    add_attrs(ev->mutable_attributes(), e.attrs);
  }
  for (const LinkSpec& l : spec.links) {
    auto* ln = s->add_links();
    ln->set_trace_id(l.trace_id);
    ln->set_span_id(l.span_id);
    add_attrs(ln->mutable_attributes(), l.attrs);
  }
}

struct ScopeSpec {
  std::string name;
  std::string version;
  Attrs attrs;
  std::vector<SpanSpec> spans;
};
struct ResourceSpec {
  Attrs attrs;
  std::vector<ScopeSpec> scopes;
};

inline std::string build_trace(const std::string& trace_id, const std::vector<ResourceSpec>& resources) {
  tempopb::Trace t;
  for (const ResourceSpec& r : resources) {
    auto* rs = t.add_resourcespans();
    add_attrs(rs->mutable_resource()->mutable_attributes(), r.attrs);
    for (const ScopeSpec& sc : r.scopes) {
      auto* ss = rs->add_scope_spans();
      ss->mutable_scope()->set_name(sc.name);
      ss->mutable_scope()->set_version(sc.version);
      add_attrs(ss->mutable_scope()->mutable_attributes(), sc.attrs);
      for (const SpanSpec& sp : sc.spans) fill_span(ss->add_spans(), trace_id, sp);
    }
  }
  return t.SerializeAsString();
}

inline std::string corpus_trace() {
  using S = otlp_trace::Span;
  using St = otlp_trace::Status;
  const std::string tid = corpus_trace_id();

  SpanSpec root{span_id(1),
                "",
                "GET /checkout",
                S::SPAN_KIND_SERVER,
                St::STATUS_CODE_UNSET,
                "",
                0,
                1000,
                {{"http.method", str("GET")},
                 {"http.status_code", i64(200)},
                 {"ratio", f64(0.5)},
                 {"cached", boolean(false)},
                 {"tags", str_array({"a", "b"})},
                 {"codes", int_array({200, 404})},
                 {"dup", str("span")}},
                {{"request.start", 10, {{"evt.level", str("info")}, {"dup", str("event")}}}},
                {{raw_id({0, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}),
                  raw_id({0, 0, 0, 0, 0, 0, 0, 0xee}),
                  {{"link.kind", str("follows")}}}}};
  SpanSpec auth{span_id(2),
                span_id(1),
                "auth",
                S::SPAN_KIND_INTERNAL,
                St::STATUS_CODE_OK,
                "",
                10,
                60,
                {{"user.id", str("u-42")}, {"retries", i64(0)}, {"ratio", f64(1.5)}},
                {},
                {}};
  SpanSpec render{span_id(6),
                  span_id(1),
                  "render",
                  S::SPAN_KIND_INTERNAL,
                  St::STATUS_CODE_OK,
                  "",
                  720,
                  990,
                  {{"template", str("cart.html")}},
                  {},
                  {{tid, span_id(3), {{"link.kind", str("child-of")}}}}};
  SpanSpec charge{
      span_id(3),
      span_id(1),
      "charge",
      S::SPAN_KIND_CLIENT,
      St::STATUS_CODE_ERROR,
      "card declined",
      100,
      700,
      {{"http.status_code", i64(500)},
       {"amount", f64(12.75)},
       {"retries", i64(3)},
       {"tags", str_array({"c"})}},
      {{"exception", 250, {{"exception.type", str("CardError")}, {"exception.message", str("declined")}}},
       {"retry", 400, {{"attempt", i64(2)}}}},
      {}};
  SpanSpec consume{span_id(8),
                   span_id(7),
                   "async.consume",
                   S::SPAN_KIND_CONSUMER,
                   St::STATUS_CODE_OK,
                   "",
                   330,
                   400,
                   {{"retries", i64(2)}, {"payload", bytes(std::string("\x01\x02", 2))}, {"kv", kvlist()}},
                   {},
                   {}};
  SpanSpec query{span_id(4),
                 span_id(3),
                 "db.query",
                 S::SPAN_KIND_CLIENT,
                 St::STATUS_CODE_ERROR,
                 "",
                 200,
                 450,
                 {{"db.system", str("postgres")}, {"db.rows", i64(17)}, {"retries", i64(1)}},
                 {},
                 {}};
  SpanSpec cache{span_id(5),
                 span_id(3),
                 "cache.get",
                 S::SPAN_KIND_INTERNAL,
                 St::STATUS_CODE_UNSET,
                 "",
                 460,
                 470,
                 {{"cached", boolean(true)}, {"db.system", str("redis")}},
                 {},
                 {}};
  SpanSpec commit{
      span_id(7), span_id(4), "db.commit", S::SPAN_KIND_PRODUCER, St::STATUS_CODE_UNSET, "", 300, 320,
      {},         {},         {}};

  ResourceSpec frontend{{{"service.name", str("frontend")},
                         {"deployment.env", str("prod")},
                         {"host.cores", i64(8)},
                         {"region", str("eu")},
                         {"dup", str("resource")}},
                        {{"io.otel.http", "1.2.0", {{"lib.kind", str("http")}}, {root, auth, render}}}};
  ResourceSpec checkout{
      {{"service.name", str("checkout")}, {"deployment.env", str("prod")}, {"region", str("us")}},
      {{"io.otel.grpc", "0.9", {}, {charge, consume}}}};
  ResourceSpec db{{{"service.name", str("db")}, {"deployment.env", str("staging")}},
                  {{"", "", {}, {query, cache, commit}}}};
  return build_trace(tid, {frontend, checkout, db});
}

// A trace whose root has not arrived: two spans under the same missing parent (ff), one under another
// missing parent (fe), and a child.
//   orphan-b [5,30] parent ff; orphan-a [10,20] parent ff; child-of-a [12,15] parent orphan-a;
//   lonely [40,50] parent fe.
inline std::string incomplete_trace() {
  using S = otlp_trace::Span;
  using St = otlp_trace::Status;
  const std::string tid = raw_id({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
  const std::string missing = raw_id({0, 0, 0, 0, 0, 0, 0, 0xff});
  SpanSpec a{raw_id({0, 0, 0, 0, 0, 0, 0, 0xb1}),
             missing,
             "orphan-a",
             S::SPAN_KIND_INTERNAL,
             St::STATUS_CODE_UNSET,
             "",
             10,
             20,
             {},
             {},
             {}};
  SpanSpec b{raw_id({0, 0, 0, 0, 0, 0, 0, 0xb2}),
             missing,
             "orphan-b",
             S::SPAN_KIND_INTERNAL,
             St::STATUS_CODE_UNSET,
             "",
             5,
             30,
             {},
             {},
             {}};
  SpanSpec c{raw_id({0, 0, 0, 0, 0, 0, 0, 0xb3}),
             a.id,
             "child-of-a",
             S::SPAN_KIND_INTERNAL,
             St::STATUS_CODE_UNSET,
             "",
             12,
             15,
             {},
             {},
             {}};
  SpanSpec d{raw_id({0, 0, 0, 0, 0, 0, 0, 0xb4}),
             raw_id({0, 0, 0, 0, 0, 0, 0, 0xfe}),
             "lonely",
             S::SPAN_KIND_INTERNAL,
             St::STATUS_CODE_UNSET,
             "",
             40,
             50,
             {},
             {},
             {}};
  ResourceSpec r{{{"service.name", str("svc2")}}, {{"lib", "1", {}, {a, b, c, d}}}};
  return build_trace(tid, {r});
}

}  // namespace spindle::corpus
