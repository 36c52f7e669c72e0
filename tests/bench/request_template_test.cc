// The loadgen's request builder checked against libprotobuf: what it sends parses, holds what the options
// asked for, gets fresh IDs per request, and its OTLP/JSON form says exactly what its protobuf form says.
#include "bench/loadgen/request_template.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "bench/loadgen/latency_histogram.h"
#include "bench/loadgen/loadgen_options.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "proto/otlp_json_decoder.h"

namespace spindle {
namespace {

namespace otlp_collector = opentelemetry::proto::collector::trace::v1;
namespace otlp_trace = opentelemetry::proto::trace::v1;

constexpr uint64_t kBase = 1'750'000'000'000'000'000ull;

otlp_collector::ExportTraceServiceRequest patched(const RequestTemplate& t, uint64_t seed,
                                                  std::vector<TraceId>* ids = nullptr) {
  std::string msg = t.bytes();
  Rng rng(seed);
  std::vector<TraceId> trace_ids;
  t.patch(rng, kBase, msg.data(), trace_ids);
  if (ids) *ids = trace_ids;
  if (t.format() == PayloadFormat::Json) {
    auto pb = otlp_json_to_protobuf(msg);
    EXPECT_TRUE(pb.ok()) << pb.status().to_string();
    msg = pb.ok() ? *pb : "";
  }
  otlp_collector::ExportTraceServiceRequest req;
  EXPECT_TRUE(req.ParseFromString(msg));
  return req;
}

struct Census {
  int spans = 0, events = 0, errors = 0;
  std::set<std::string> services;
  std::map<std::string, int> spans_per_trace;
  std::map<std::string, int> roots_per_trace;
  int max_depth = 0;
  std::set<size_t> attr_counts;
  std::set<size_t> string_value_sizes;
  bool times_after_base = true;
  bool parents_resolve = true;
};

Census count(const otlp_collector::ExportTraceServiceRequest& req) {
  Census c;
  std::map<std::string, const otlp_trace::Span*> by_id;
  for (const auto& rs : req.resource_spans()) {
    for (const auto& kv : rs.resource().attributes()) {
      if (kv.key() == "service.name") c.services.insert(kv.value().string_value());
    }
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) by_id[s.span_id()] = &s;
    }
  }
  for (const auto& [id, s] : by_id) {
    ++c.spans;
    c.events += s->events_size();
    c.errors += s->status().code() == otlp_trace::Status::STATUS_CODE_ERROR;
    ++c.spans_per_trace[s->trace_id()];
    c.attr_counts.insert(s->attributes_size());
    for (const auto& kv : s->attributes()) {
      if (kv.value().has_string_value()) c.string_value_sizes.insert(kv.value().string_value().size());
    }
    c.times_after_base = c.times_after_base && s->start_time_unix_nano() >= kBase &&
                         s->end_time_unix_nano() > s->start_time_unix_nano();
    int depth = 1;
    const otlp_trace::Span* at = s;
    while (!at->parent_span_id().empty()) {
      auto parent = by_id.find(at->parent_span_id());
      if (parent == by_id.end() || parent->second->trace_id() != s->trace_id() || depth > 1000) {
        c.parents_resolve = false;
        break;
      }
      at = parent->second;
      ++depth;
    }
    if (s->parent_span_id().empty()) ++c.roots_per_trace[s->trace_id()];
    c.max_depth = std::max(c.max_depth, depth);
  }
  return c;
}

TEST(RequestTemplateTest, DefaultShapeParsesAndHoldsWhatWasAskedFor) {
  RequestShape shape;  // 100 spans, 10 per trace, depth 3, 10 services, 8 attrs, 0.25 events, 5% errors
  auto t = RequestTemplate::build(shape, PayloadFormat::Protobuf, 42);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->spans(), 100);
  EXPECT_EQ(t->traces(), 10);
  std::vector<TraceId> ids;
  Census c = count(patched(*t, 7, &ids));
  EXPECT_EQ(c.spans, 100);
  EXPECT_EQ(c.spans_per_trace.size(), 10u);
  for (const auto& [trace, n] : c.spans_per_trace) EXPECT_EQ(n, 10);
  for (const auto& [trace, n] : c.roots_per_trace) EXPECT_EQ(n, 1);
  EXPECT_EQ(c.roots_per_trace.size(), 10u);
  EXPECT_EQ(c.services.size(), 10u);
  EXPECT_EQ(c.events, 25);
  EXPECT_EQ(c.errors, 5);
  EXPECT_EQ(c.max_depth, 3);
  EXPECT_EQ(c.attr_counts, std::set<size_t>{8});
  EXPECT_TRUE(c.parents_resolve);
  EXPECT_TRUE(c.times_after_base);
  ASSERT_EQ(ids.size(), 10u);
  for (const TraceId& id : ids) EXPECT_EQ(c.spans_per_trace.count(std::string(id.as_view())), 1u);
  // About 335 bytes per span, as the benchmark's figures assume.
  EXPECT_GT(t->bytes().size(), 100u * 250);
  EXPECT_LT(t->bytes().size(), 100u * 450);
}

TEST(RequestTemplateTest, OddShapesAreHonoured) {
  RequestShape shape;
  shape.spans_per_request = 37;
  shape.spans_per_trace = 8;  // 4 traces of 8 and one of 5
  shape.depth = 5;
  shape.services = 3;
  shape.attrs = 20;  // beyond the 16 semantic-convention ones
  shape.attr_size = 40;
  shape.events = 1.5;
  shape.error_ratio = 0.5;
  for (PayloadFormat f : {PayloadFormat::Protobuf, PayloadFormat::Json}) {
    auto t = RequestTemplate::build(shape, f, 3);
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    EXPECT_EQ(t->traces(), 5);
    EXPECT_EQ(t->spans_in_trace(4), 5);
    Census c = count(patched(*t, 11));
    EXPECT_EQ(c.spans, 37);
    std::multiset<int> sizes;
    for (const auto& [trace, n] : c.spans_per_trace) sizes.insert(n);
    EXPECT_EQ(sizes, (std::multiset<int>{5, 8, 8, 8, 8}));
    EXPECT_EQ(c.services.size(), 3u);
    EXPECT_EQ(c.events, 55);  // floor(37 * 1.5)
    EXPECT_EQ(c.errors, 18);  // floor(37 * 0.5)
    EXPECT_EQ(c.max_depth, 5);
    EXPECT_EQ(c.attr_counts, std::set<size_t>{20});
    EXPECT_EQ(c.string_value_sizes, std::set<size_t>{40});
    EXPECT_TRUE(c.parents_resolve);
  }
}

TEST(RequestTemplateTest, DepthOneMakesEverySpanARoot) {
  RequestShape shape;
  shape.spans_per_request = 12;
  shape.spans_per_trace = 4;
  shape.depth = 1;
  auto t = RequestTemplate::build(shape, PayloadFormat::Protobuf, 5);
  ASSERT_TRUE(t.ok());
  Census c = count(patched(*t, 1));
  EXPECT_EQ(c.max_depth, 1);
  for (const auto& [trace, n] : c.roots_per_trace) EXPECT_EQ(n, 4);
}

TEST(RequestTemplateTest, EveryPatchGivesFreshIdsAndKeepsTheRest) {
  auto t = RequestTemplate::build(RequestShape{}, PayloadFormat::Protobuf, 9);
  ASSERT_TRUE(t.ok());
  std::vector<TraceId> a_ids, b_ids;
  auto a = patched(*t, 100, &a_ids);
  auto b = patched(*t, 200, &b_ids);
  std::set<std::string> seen;
  for (const auto& id : a_ids) seen.insert(std::string(id.as_view()));
  for (const auto& id : b_ids) EXPECT_EQ(seen.count(std::string(id.as_view())), 0u);
  // Apart from IDs the two requests are the same message.
  for (auto* req : {&a, &b}) {
    for (auto& rs : *req->mutable_resource_spans()) {
      for (auto& ss : *rs.mutable_scope_spans()) {
        for (auto& s : *ss.mutable_spans()) {
          s.clear_trace_id();
          s.clear_span_id();
          s.clear_parent_span_id();
        }
      }
    }
  }
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(a, b));
  // Patching never changes the size: only fixed-width fields move.
  std::string msg = t->bytes();
  Rng rng(1);
  std::vector<TraceId> ids;
  t->patch(rng, kBase, msg.data(), ids);
  EXPECT_EQ(msg.size(), t->bytes().size());
}

TEST(RequestTemplateTest, JsonSaysWhatProtobufSays) {
  RequestShape shape;
  shape.spans_per_request = 50;
  shape.events = 0.5;
  auto pb = RequestTemplate::build(shape, PayloadFormat::Protobuf, 77);
  auto json = RequestTemplate::build(shape, PayloadFormat::Json, 77);
  ASSERT_TRUE(pb.ok() && json.ok());
  // Hex IDs, as OTLP/JSON wants, never proto3's base64.
  EXPECT_NE(json->bytes().find("\"traceId\":\""), std::string::npos);
  EXPECT_EQ(json->bytes().find("=\""), std::string::npos);
  std::string diff;
  google::protobuf::util::MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  EXPECT_TRUE(d.Compare(patched(*pb, 5), patched(*json, 5))) << diff;
}

TEST(RequestTemplateTest, BadShapesAreRejected) {
  RequestShape shape;
  shape.spans_per_request = 0;
  EXPECT_EQ(RequestTemplate::build(shape, PayloadFormat::Protobuf, 1).status().code(),
            StatusCode::InvalidArgument);
  shape = {};
  shape.error_ratio = 1.5;
  EXPECT_FALSE(validate(shape).is_ok());
}

TEST(LoadgenOptionsTest, ParsesTheIssueSpellings) {
  auto o = parse_loadgen_options({"--target", "10.0.0.1:4318", "--protocol", "http-json", "--duration", "500ms",
                                  "--rate", "2000", "--connections", "3", "--in-flight", "2", "--verify",
                                  "--query=10.0.0.2:3201", "--json", "--gzip", "--spans-per-trace", "4"});
  ASSERT_TRUE(o.ok()) << o.status().to_string();
  EXPECT_EQ(o->protocol, LoadProtocol::HttpJson);
  EXPECT_EQ(o->host, "10.0.0.1");
  EXPECT_EQ(o->port, "4318");
  EXPECT_DOUBLE_EQ(o->duration_s, 0.5);
  EXPECT_DOUBLE_EQ(o->rate, 2000);
  EXPECT_EQ(o->connections, 3);
  EXPECT_EQ(o->in_flight, 2);
  EXPECT_TRUE(o->verify && o->json && o->gzip);
  EXPECT_EQ(o->query_host, "10.0.0.2");
  EXPECT_EQ(o->query_port, "3201");
  EXPECT_EQ(o->shape.spans_per_trace, 4);

  auto d = parse_loadgen_options({"--target", "db:9999", "--count", "1000"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->protocol, LoadProtocol::Grpc);
  EXPECT_EQ(d->query_host, "db");  // verify reads from the target host on port 3200 by default
  EXPECT_EQ(d->query_port, "3200");
  EXPECT_EQ(d->count, 1000u);
  EXPECT_EQ(d->duration_s, 0);
  EXPECT_EQ(d->connections, 2);
  EXPECT_EQ(d->in_flight, 16);

  EXPECT_EQ(parse_loadgen_options({}).value().duration_s, 15);
  EXPECT_DOUBLE_EQ(parse_duration_seconds("2m").value(), 120);
  for (auto bad : std::vector<std::vector<std::string>>{{"--protocol", "thrift"}, {"--duration", "soon"},
                                                         {"--connections", "0"}, {"--bogus", "1"},
                                                         {"--target", "nohostport"}, {"--rate"}}) {
    EXPECT_FALSE(parse_loadgen_options(bad).ok()) << bad[0];
  }
}

TEST(LatencyHistogramTest, PercentilesAreCloseAndNeverLow) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.record(v);
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.max(), 100000u);
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    double exact = q * 100000;
    EXPECT_GE(h.percentile(q), exact) << q;
    EXPECT_LE(h.percentile(q), exact * 1.003) << q;
  }
  EXPECT_EQ(h.percentile(0.0), 1u);
  h.clear();
  EXPECT_EQ(h.percentile(0.5), 0u);
  h.record(uint64_t{1} << 40);
  EXPECT_EQ(h.percentile(1.0), uint64_t{1} << 40);
}

}  // namespace
}  // namespace spindle
