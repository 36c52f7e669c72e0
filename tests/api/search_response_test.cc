// Search results: building TraceSearchMetadata from a hand-built TraceModel, Tempo's merge rules, the limit
// and ordering of the combiner, and the exact JSON Grafana's strict decoder gets.
#include "api/search_response.h"

#include <gtest/gtest.h>

#include <string>

#include "proto/json_reader.h"
#include "proto/json_writer.h"

namespace spindle {
namespace {

TraceId trace_id(uint8_t last, uint8_t first = 0) {
  TraceId id;
  id.bytes[0] = first;
  id.bytes[15] = last;
  return id;
}

Attribute attr(std::string_view key, Static v) {
  Attribute a;
  a.key = key;
  a.value.scalar = std::move(v);
  return a;
}

// Two services; the root "GET /cart" (frontend) and children "charge" (payments, error) and "db" (payments).
TraceModel sample_trace() {
  TraceModel t;
  t.id = trace_id(0xab);
  t.resources.resize(2);
  t.resources[0].service_name = "frontend";
  t.resources[0].attributes.push_back(attr("service.name", Static::string("frontend")));
  t.resources[1].service_name = "payments";
  t.resources[1].attributes.push_back(attr("service.name", Static::string("payments")));
  t.scopes.resize(1);
  SpanModel root;
  root.resource = 0;
  root.span_id = std::string_view("\x00\x00\x00\x00\x00\x00\x00\x01", 8);
  root.name = "GET /cart";
  root.kind = SpanKind::Server;
  root.start_ns = 1700000000000000000ull;
  root.end_ns = 1700000000480000000ull;
  SpanModel charge;
  charge.resource = 1;
  charge.span_id = std::string_view("\x0a\x1b\x2c\x3d\x4e\x5f\x60\x71", 8);
  charge.parent_span_id = root.span_id;
  charge.name = "charge";
  charge.status = SpanStatus::Error;
  charge.start_ns = 1700000000100000000ull;
  charge.end_ns = 1700000000412000000ull;
  charge.attributes.push_back(attr("http.status_code", Static::integer(500)));
  SpanModel db = charge;
  db.span_id = std::string_view("\x00\x00\x00\x00\x00\x00\x00\x03", 8);
  db.name = "db";
  db.status = SpanStatus::Unset;
  db.attributes.clear();
  t.spans = {root, charge, db};
  t.start_ns = root.start_ns;
  t.end_ns = root.end_ns;
  t.root = 0;
  t.root_service_name = "frontend";
  t.root_name = "GET /cart";
  return t;
}

// Stands in for CompiledQuery::value_of: span attributes by name, the `status` intrinsic.
std::optional<Static> fake_value_of(const TraceModel& t, uint32_t span, const AttributeRef& ref) {
  const SpanModel& s = t.spans[span];
  if (ref.intrinsic == Intrinsic::Status) return Static::status(s.status);
  for (const Attribute& a : s.attributes) {
    if (a.key == ref.name) return a.value.scalar;
  }
  return std::nullopt;
}

AttributeRef span_attr(std::string name) {
  AttributeRef r;
  r.scope = AttributeScope::Span;
  r.name = std::move(name);
  return r;
}

AttributeRef intrinsic(Intrinsic i) {
  AttributeRef r;
  r.intrinsic = i;
  return r;
}

TEST(SearchResponseTest, MakeSearchTraceKeepsSpssSpansAndCountsAll) {
  TraceModel t = sample_trace();
  SpansetResult ss;
  ss.spans = {0, 1, 2};
  ss.attributes.push_back({"count()", Static::integer(3)});
  // The same attribute referenced twice (`.x` and `span.x`) is shown once.
  std::vector<AttributeRef> attrs = {span_attr("http.status_code"), intrinsic(Intrinsic::Status),
                                     span_attr("http.status_code")};
  SearchTrace st = make_search_trace(t, {ss}, attrs, &fake_value_of, 2);
  EXPECT_EQ(st.id, t.id);
  EXPECT_EQ(st.root_service_name, "frontend");
  EXPECT_EQ(st.root_trace_name, "GET /cart");
  EXPECT_EQ(st.duration_ms(), 480u);
  ASSERT_EQ(st.spansets.size(), 1u);
  EXPECT_EQ(st.spansets[0].matched, 3u);
  ASSERT_EQ(st.spansets[0].spans.size(), 2u);
  const SearchSpan& charge = st.spansets[0].spans[1];
  EXPECT_EQ(charge.name, "charge");
  EXPECT_EQ(charge.duration_ns, 312000000u);
  ASSERT_EQ(charge.attributes.size(), 2u);
  EXPECT_EQ(charge.attributes[0].first, "http.status_code");
  EXPECT_EQ(charge.attributes[0].second, Static::integer(500));
  EXPECT_EQ(charge.attributes[1].first, "status");
  // The root has no http.status_code: only `status`.
  ASSERT_EQ(st.spansets[0].spans[0].attributes.size(), 1u);
  EXPECT_EQ(st.service_stats.at("frontend").span_count, 1u);
  EXPECT_EQ(st.service_stats.at("payments").span_count, 2u);
  EXPECT_EQ(st.service_stats.at("payments").error_count, 1u);
  EXPECT_EQ(st.service_stats.at("frontend").error_count, 0u);
}

TEST(SearchResponseTest, TraceWithoutRootHasEmptyRootNames) {
  TraceModel t = sample_trace();
  t.root = -1;
  t.root_service_name = "";
  t.root_name = "";
  SearchTrace st = make_search_trace(t, {}, {}, nullptr, 3);
  EXPECT_EQ(st.root_service_name, "");
  std::string json = encode_search_response({st}, {});
  EXPECT_NE(json.find("\"rootServiceName\":\"\\u003croot span not yet received\\u003e\""), std::string::npos)
      << json;
  EXPECT_EQ(json.find("rootTraceName"), std::string::npos);
  EXPECT_EQ(json.find("spanSet"), std::string::npos);  // legacy results carry no spansets
}

TEST(SearchResponseTest, IdsAreRenderedLikeTempo) {
  EXPECT_EQ(search_trace_id(trace_id(0xab)), "ab");
  EXPECT_EQ(search_trace_id(trace_id(0x01, 0x10)), "10000000000000000000000000000001");
  EXPECT_EQ(search_trace_id(TraceId{}), "");
  EXPECT_EQ(search_span_id(std::string_view("\x00\x00\x00\x00\x00\x00\x00\x01", 8)), "0000000000000001");
  EXPECT_EQ(search_span_id(std::string_view("\x0a\x1b\x2c\x3d\x4e\x5f\x60\x71", 8)), "0a1b2c3d4e5f6071");
  EXPECT_EQ(search_span_id(""), "0000000000000000");
}

TEST(SearchResponseTest, MergeFollowsTemposCombiner) {
  SearchTrace a;
  a.id = trace_id(1);
  a.start_ns = 2000;
  a.end_ns = 5000;
  a.service_stats["svc"] = {3, 1};
  SearchSpanset by_a;
  by_a.matched = 2;
  by_a.attributes.push_back({"by(resource.service.name)j", Static::string("a")});
  a.spansets.push_back(by_a);

  SearchTrace b;
  b.id = a.id;
  b.root_service_name = "svc";
  b.root_trace_name = "root";
  b.start_ns = 1000;
  b.end_ns = 4000;
  b.service_stats["svc"] = {2, 2};
  b.service_stats["other"] = {1, 0};
  SearchSpanset by_a_bigger = by_a;
  by_a_bigger.matched = 7;
  SearchSpanset by_b;
  by_b.matched = 1;
  by_b.attributes.push_back({"by(resource.service.name)j", Static::string("b")});
  b.spansets = {by_a_bigger, by_b};

  merge_search_trace(a, std::move(b));
  EXPECT_EQ(a.root_service_name, "svc");
  EXPECT_EQ(a.root_trace_name, "root");
  EXPECT_EQ(a.start_ns, 1000u);
  EXPECT_EQ(a.end_ns, 5000u);
  EXPECT_EQ(a.service_stats["svc"].span_count, 3u);
  EXPECT_EQ(a.service_stats["svc"].error_count, 2u);
  EXPECT_EQ(a.service_stats["other"].span_count, 1u);
  ASSERT_EQ(a.spansets.size(), 2u);
  EXPECT_EQ(a.spansets[0].matched, 7u);  // same by() identity: the larger one wins
  EXPECT_EQ(a.spansets[1].matched, 1u);

  // A root name already known is kept.
  SearchTrace c;
  c.id = a.id;
  c.root_service_name = "late";
  merge_search_trace(a, std::move(c));
  EXPECT_EQ(a.root_service_name, "svc");
}

TEST(SearchResponseTest, CombinerStopsAtLimitButMergesHeldTraces) {
  SearchCombiner c(2, false);
  for (uint8_t i = 1; i <= 2; ++i) {
    SearchTrace t;
    t.id = trace_id(i);
    t.start_ns = i * 100;
    t.end_ns = i * 100 + 10;
    EXPECT_TRUE(c.add(std::move(t)));
  }
  EXPECT_TRUE(c.full());
  SearchTrace extra;
  extra.id = trace_id(3);
  EXPECT_FALSE(c.add(std::move(extra)));
  SearchTrace piece;
  piece.id = trace_id(1);
  piece.start_ns = 50;
  EXPECT_TRUE(c.add(std::move(piece)));
  std::vector<SearchTrace> out = c.take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].id, trace_id(2));  // start 200 first
  EXPECT_EQ(out[1].id, trace_id(1));
  EXPECT_EQ(out[1].start_ns, 50u);
}

TEST(SearchResponseTest, MostRecentKeepsTheLatestStarts) {
  SearchCombiner c(3, true);
  for (uint8_t i = 1; i <= 20; ++i) {
    SearchTrace t;
    t.id = trace_id(i);
    t.start_ns = (i * 7919u) % 101;  // a scrambled order
    c.add(std::move(t));
    EXPECT_FALSE(c.full());
  }
  std::vector<uint64_t> starts;
  for (uint8_t i = 1; i <= 20; ++i) starts.push_back((i * 7919u) % 101);
  std::sort(starts.rbegin(), starts.rend());
  std::vector<SearchTrace> out = c.take();
  ASSERT_EQ(out.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(out[i].start_ns, starts[i]);
}

TEST(SearchResponseTest, JsonMatchesTempoShape) {
  TraceModel t = sample_trace();
  SpansetResult ss;
  ss.spans = {1};
  ss.attributes.push_back({"count()", Static::integer(1)});
  std::vector<AttributeRef> attrs = {span_attr("http.status_code"), intrinsic(Intrinsic::Status)};
  SearchTrace st = make_search_trace(t, {ss}, attrs, &fake_value_of, 3);
  SearchMetrics m;
  m.inspected_traces = 4;
  m.inspected_bytes = 1234;
  m.completed_jobs = 2;
  m.total_jobs = 2;
  std::string json = encode_search_response({st}, m);
  const std::string spanset =
      R"j({"spans":[{"spanID":"0a1b2c3d4e5f6071","name":"charge","startTimeUnixNano":"1700000000100000000",)j"
      R"j("durationNanos":"312000000","attributes":[{"key":"http.status_code","value":{"intValue":"500"}},)j"
      R"j({"key":"status","value":{"stringValue":"error"}}]}],"matched":1,)j"
      R"j("attributes":[{"key":"count()","value":{"intValue":"1"}}]})j";
  EXPECT_EQ(json, R"j({"traces":[{"traceID":"ab","rootServiceName":"frontend","rootTraceName":"GET /cart",)j"
                  R"j("startTimeUnixNano":"1700000000000000000","durationMs":480,"spanSet":)j" +
                      spanset + R"j(,"spanSets":[)j" + spanset +
                      R"j(],"serviceStats":{"frontend":{"spanCount":1},"payments":{"spanCount":2,"errorCount":1}}}],)j"
                      R"j("metrics":{"inspectedTraces":4,"inspectedBytes":"1234","completedJobs":2,"totalJobs":2}})j");
  EXPECT_TRUE(JsonReader::parse(json).ok());
}

TEST(SearchResponseTest, ZeroResultsHaveOnlyMetrics) {
  EXPECT_EQ(encode_search_response({}, {}), R"j({"metrics":{}})j");
  SearchMetrics m;
  m.total_blocks = 3;
  m.total_block_bytes = 99;
  m.inspected_spans = 7;
  EXPECT_EQ(encode_search_response({}, m),
            R"j({"metrics":{"totalBlocks":3,"totalBlockBytes":"99","inspectedSpans":"7"}})j");
}

TEST(SearchResponseTest, AnyValuesFollowStaticAsAnyValue) {
  auto render = [](const Static& v) {
    std::string out;
    JsonWriter w(out);
    write_any_value(w, v);
    return out;
  };
  EXPECT_EQ(render(Static::integer(-3)), R"j({"intValue":"-3"})j");
  EXPECT_EQ(render(Static::floating(1.5)), R"j({"doubleValue":1.5})j");
  EXPECT_EQ(render(Static::boolean(false)), R"j({"boolValue":false})j");
  EXPECT_EQ(render(Static::string("x")), R"j({"stringValue":"x"})j");
  EXPECT_EQ(render(Static::duration(1500000000)), R"j({"stringValue":"1.5s"})j");
  EXPECT_EQ(render(Static::status(SpanStatus::Ok)), R"j({"stringValue":"ok"})j");
  EXPECT_EQ(render(Static::kind(SpanKind::Client)), R"j({"stringValue":"client"})j");
  EXPECT_EQ(render(Static::nil()), R"j({"stringValue":"nil"})j");
}

TEST(SearchResponseTest, TagAnswers) {
  TagNames names(tag_scope_bit(TagScope::Resource) | tag_scope_bit(TagScope::Span));
  names.scopes[static_cast<size_t>(TagScope::Resource)].add("service.name");
  names.scopes[static_cast<size_t>(TagScope::Span)].add("http.method");
  names.scopes[static_cast<size_t>(TagScope::Span)].add("service.name");
  TagMetrics m;
  m.inspected_bytes = 10;
  EXPECT_EQ(encode_tag_names_v1(names, false, m),
            R"j({"tagNames":["http.method","service.name"],"metrics":{"inspectedBytes":"10"}})j");
  std::string v2 = encode_tag_names_v2(names, true, m);
  EXPECT_TRUE(v2.starts_with(R"j({"scopes":[{"name":"intrinsic","tags":["duration","event:name",)j")) << v2;
  EXPECT_NE(v2.find(R"j({"name":"resource","tags":["service.name"]},{"name":"span","tags":["http.method",)j"
                    R"j("service.name"]}],"metrics":{"inspectedBytes":"10"}})j"),
            std::string::npos)
      << v2;
  EXPECT_EQ(encode_tag_values_v2({{"string", "a"}, {"int", "200"}}, {}),
            R"j({"tagValues":[{"type":"string","value":"a"},{"type":"int","value":"200"}],"metrics":{}})j");
  EXPECT_EQ(encode_tag_values_v1({"a", "b"}, {}), R"j({"tagValues":["a","b"],"metrics":{}})j");
}

}  // namespace
}  // namespace spindle
