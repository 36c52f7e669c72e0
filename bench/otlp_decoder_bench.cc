// Micro-benchmarks of the ingest decode path: the hand-written OTLP decoder (full validating walk + one copy
// per span into its owner's batch) against libprotobuf's generated parser on the same bytes.
//   build-release/bench/otlp_decoder_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <random>
#include <string>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "proto/otlp_decoder.h"

namespace spindle {
namespace {

namespace otlp = opentelemetry::proto;

// 10 resources x 10 spans, 8 string/int attributes per span, 25% of spans with one event: ~300 bytes a span,
// the corpus architecture.md section 5.2 measured.
std::string make_request(uint32_t seed) {
  std::mt19937_64 rng(seed);
  otlp::collector::trace::v1::ExportTraceServiceRequest req;
  for (int r = 0; r < 10; ++r) {
    auto* rs = req.add_resource_spans();
    auto* kv = rs->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value("service-" + std::to_string(r));
    auto* host = rs->mutable_resource()->add_attributes();
    host->set_key("host.name");
    host->mutable_value()->set_string_value("node-17.eu-west-1.compute.internal");
    auto* ss = rs->add_scope_spans();
    ss->mutable_scope()->set_name("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp");
    ss->mutable_scope()->set_version("0.46.1");
    for (int s = 0; s < 10; ++s) {
      auto* span = ss->add_spans();
      std::string id(16, '\0');
      for (char& c : id) c = static_cast<char>(rng());
      span->set_trace_id(id);
      span->set_span_id(id.substr(0, 8));
      span->set_parent_span_id(id.substr(8, 8));
      span->set_name("HTTP GET /api/orders/{id}");
      span->set_kind(otlp::trace::v1::Span::SPAN_KIND_CLIENT);
      span->set_start_time_unix_nano(1700000000000000000ull + rng() % 1000000);
      span->set_end_time_unix_nano(span->start_time_unix_nano() + 250000);
      const char* keys[] = {"http.method", "http.route", "http.status_code", "net.peer.name",
                            "http.target", "net.peer.port", "http.scheme", "thread.id"};
      for (int a = 0; a < 8; ++a) {
        auto* attr = span->add_attributes();
        attr->set_key(keys[a]);
        if (a % 3 == 2) {
          attr->mutable_value()->set_int_value(static_cast<int64_t>(rng() % 100000));
        } else {
          attr->mutable_value()->set_string_value("value-" + std::to_string(rng() % 1000));
        }
      }
      if (s % 4 == 3) {
        auto* e = span->add_events();
        e->set_name("exception");
        e->set_time_unix_nano(span->start_time_unix_nano() + 100);
      }
      span->mutable_status()->set_code(otlp::trace::v1::Status::STATUS_CODE_OK);
    }
  }
  return req.SerializeAsString();
}

void BM_OtlpDecoder(benchmark::State& state) {
  const std::string request = make_request(1);
  const auto shards = static_cast<uint32_t>(state.range(0));
  for (auto _ : state) {
    auto decoded = decode_export_request(request, shards);
    if (!decoded.ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(decoded);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * request.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 100));  // spans
}
BENCHMARK(BM_OtlpDecoder)->Arg(1)->Arg(2);

void BM_LibprotobufParse(benchmark::State& state) {
  const std::string request = make_request(1);
  otlp::collector::trace::v1::ExportTraceServiceRequest msg;
  for (auto _ : state) {
    msg.Clear();
    if (!msg.ParseFromString(request)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(msg);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * request.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 100));
}
BENCHMARK(BM_LibprotobufParse);

}  // namespace
}  // namespace spindle

BENCHMARK_MAIN();
