#pragma once
// Seeded random OTLP messages built with libprotobuf, shared by the differential tests of the hand-written
// decoders and encoders. Everything is deterministic for a given seed, so a failure names its seed.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace spindle::testing {

namespace otlp_common = opentelemetry::proto::common::v1;
namespace otlp_trace = opentelemetry::proto::trace::v1;
namespace otlp_resource = opentelemetry::proto::resource::v1;
namespace otlp_collector = opentelemetry::proto::collector::trace::v1;

struct RandomOptions {
  bool invalid_ids = false;     // sometimes bad trace/span ids (per-span rejections)
  bool unknown_fields = false;  // sometimes unknown fields (the JSON paths drop them)
  bool short_trace_ids = true;  // sometimes 8-byte trace ids
  bool unknown_enums = true;    // sometimes enum values with no name
  int max_resources = 3;
  int max_scopes = 3;
  int max_spans = 4;
};

class OtlpRandom {
 public:
  explicit OtlpRandom(uint64_t seed, RandomOptions opts = {}) : rng_(seed), opts_(opts) {
    for (int i = 0; i < 6; ++i) trace_pool_.push_back(bytes(16));
  }

  uint64_t u64() { return rng_(); }
  uint64_t below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool chance(int percent) { return below(100) < static_cast<uint64_t>(percent); }

  std::string bytes(size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(below(256));
    return s;
  }
  std::string nonzero_bytes(size_t n) {
    std::string s = bytes(n);
    s[n - 1] = static_cast<char>(1 + below(255));
    return s;
  }
  // Valid UTF-8 with ASCII, quotes/escapes/control characters and multi-byte characters.
  std::string text(size_t max_len = 12) {
    static const char* const kPieces[] = {"a",
                                          "b",
                                          "Z",
                                          "0",
                                          " ",
                                          "/",
                                          "_",
                                          ".",
                                          "\"",
                                          "\\",
                                          "\n",
                                          "\t",
                                          "\x01",
                                          "<",
                                          "&",
                                          "\xC3\xA9",
                                          "\xE6\x97\xA5",
                                          "\xF0\x9F\x9A\x80",
                                          "\xE2\x80\xA8",
                                          "x",
                                          "y",
                                          "GET",
                                          "\x7F"};
    std::string s;
    size_t n = below(max_len + 1);
    for (size_t i = 0; i < n; ++i) s += kPieces[below(std::size(kPieces))];
    return s;
  }

  void any_value(otlp_common::AnyValue* v, int depth) {
    switch (below(depth < 2 ? 8 : 6)) {
      case 0:
        v->set_string_value(text());
        break;
      case 1:
        v->set_bool_value(chance(50));
        break;
      case 2:
        v->set_int_value(chance(50) ? static_cast<int64_t>(u64()) : static_cast<int64_t>(below(1000)) - 500);
        break;
      case 3: {
        static const double kSpecial[] = {0.0,
                                          -0.0,
                                          1.5,
                                          -2.25e-300,
                                          1e21,
                                          1e-7,
                                          123456789.125,
                                          std::numeric_limits<double>::infinity(),
                                          -std::numeric_limits<double>::infinity(),
                                          std::numeric_limits<double>::quiet_NaN(),
                                          3.0e300};
        double d;
        if (chance(50)) {
          d = kSpecial[below(std::size(kSpecial))];
        } else {
          uint64_t bits = u64();
          std::memcpy(&d, &bits, sizeof d);
          if (std::isnan(d)) d = 0.5;
        }
        v->set_double_value(d);
        break;
      }
      case 4:
        v->set_bytes_value(bytes(below(9)));
        break;
      case 5:
        // An AnyValue with no value set.
        break;
      case 6: {
        auto* a = v->mutable_array_value();
        for (uint64_t i = 0, n = below(4); i < n; ++i) any_value(a->add_values(), depth + 1);
        break;
      }
      default: {
        auto* kv = v->mutable_kvlist_value();
        for (uint64_t i = 0, n = below(4); i < n; ++i) key_value(kv->add_values(), depth + 1);
        break;
      }
    }
  }
  void key_value(otlp_common::KeyValue* kv, int depth) {
    kv->set_key(text(8));
    if (!chance(5)) any_value(kv->mutable_value(), depth);
  }
  template <class Repeated>
  void attributes(Repeated* attrs, int max = 4) {
    for (uint64_t i = 0, n = below(max + 1); i < n; ++i) key_value(attrs->Add(), 0);
  }
  uint32_t small_count() { return chance(70) ? 0 : static_cast<uint32_t>(below(1000)); }

  std::string trace_id() {
    if (opts_.invalid_ids && chance(8)) {
      static const size_t kBadLens[] = {0, 5, 15, 17};
      if (chance(30)) return std::string(chance(50) ? 16 : 8, '\0');
      return bytes(kBadLens[below(4)]);
    }
    std::string id = trace_pool_[below(trace_pool_.size())];
    if (opts_.short_trace_ids && chance(20)) return nonzero_bytes(8);
    return id;
  }
  std::string span_id() {
    if (opts_.invalid_ids && chance(5)) return bytes(chance(50) ? 0 : 7);
    return bytes(8);
  }

  void span(otlp_trace::Span* s) {
    s->set_trace_id(trace_id());
    s->set_span_id(span_id());
    if (chance(30)) s->set_trace_state(text());
    if (chance(60)) s->set_parent_span_id(bytes(8));
    if (chance(40)) s->set_flags(static_cast<uint32_t>(u64()));
    s->set_name(text(20));
    s->set_kind(static_cast<otlp_trace::Span_SpanKind>(opts_.unknown_enums && chance(5) ? 9 : below(6)));
    uint64_t start = chance(10) ? 0 : u64();
    s->set_start_time_unix_nano(start);
    s->set_end_time_unix_nano(chance(10) ? 0 : start + below(1000000000));
    attributes(s->mutable_attributes(), 6);
    s->set_dropped_attributes_count(small_count());
    for (uint64_t i = 0, n = below(3); i < n; ++i) {
      auto* e = s->add_events();
      e->set_time_unix_nano(u64());
      e->set_name(text());
      attributes(e->mutable_attributes());
      e->set_dropped_attributes_count(small_count());
    }
    s->set_dropped_events_count(small_count());
    for (uint64_t i = 0, n = below(3); i < n; ++i) {
      auto* l = s->add_links();
      l->set_trace_id(bytes(16));
      l->set_span_id(bytes(8));
      if (chance(30)) l->set_trace_state(text());
      attributes(l->mutable_attributes());
      l->set_dropped_attributes_count(small_count());
      if (chance(40)) l->set_flags(static_cast<uint32_t>(u64()));
    }
    s->set_dropped_links_count(small_count());
    if (chance(70)) {
      auto* st = s->mutable_status();
      if (chance(50)) st->set_message(text());
      st->set_code(
          static_cast<otlp_trace::Status_StatusCode>(opts_.unknown_enums && chance(5) ? 7 : below(3)));
    }
    if (opts_.unknown_fields && chance(20)) add_unknown(s->GetReflection()->MutableUnknownFields(s));
  }

  void add_unknown(google::protobuf::UnknownFieldSet* u) {
    u->AddVarint(static_cast<int>(1000 + below(100)), u64());
    u->AddLengthDelimited(static_cast<int>(2000 + below(100)), text());
    u->AddFixed32(3000, static_cast<uint32_t>(u64()));
    u->AddFixed64(3001, u64());
  }

  void resource_spans(otlp_trace::ResourceSpans* rs) {
    if (chance(90)) {
      auto* r = rs->mutable_resource();
      attributes(r->mutable_attributes());
      r->set_dropped_attributes_count(small_count());
      if (opts_.unknown_fields && chance(20)) add_unknown(r->GetReflection()->MutableUnknownFields(r));
    }
    if (chance(40)) rs->set_schema_url("https://opentelemetry.io/schemas/1." + std::to_string(below(30)));
    for (uint64_t i = 0, n = below(opts_.max_scopes + 1); i < n; ++i) {
      auto* ss = rs->add_scope_spans();
      if (chance(85)) {
        auto* sc = ss->mutable_scope();
        sc->set_name(text());
        if (chance(50)) sc->set_version(text(5));
        attributes(sc->mutable_attributes(), 2);
        sc->set_dropped_attributes_count(small_count());
      }
      if (chance(30)) ss->set_schema_url("https://example.com/" + text(4));
      for (uint64_t j = 0, m = below(opts_.max_spans + 1); j < m; ++j) span(ss->add_spans());
    }
  }

  otlp_collector::ExportTraceServiceRequest request() {
    otlp_collector::ExportTraceServiceRequest req;
    for (uint64_t i = 0, n = 1 + below(opts_.max_resources); i < n; ++i)
      resource_spans(req.add_resource_spans());
    if (opts_.unknown_fields && chance(20)) add_unknown(req.GetReflection()->MutableUnknownFields(&req));
    return req;
  }

 private:
  std::mt19937_64 rng_;
  RandomOptions opts_;
  std::vector<std::string> trace_pool_;
};

}  // namespace spindle::testing
