// Tag names and values from a hand-built TraceModel (scopes, span masks, bounds, virtual answers) and the
// legacy tag search's matching rules.
#include "api/tag_collector.h"

#include <gtest/gtest.h>

#include "api/legacy_tag_search.h"

namespace spindle {
namespace {

Attribute attr(std::string_view key, Static v) {
  Attribute a;
  a.key = key;
  a.value.scalar = std::move(v);
  return a;
}

// Resource 0 "frontend" (k8s.pod.name), resource 1 "payments"; scope 0 with "lib.lang"; spans:
//   0 "GET /cart" frontend, http.method=GET, event "exception" (exception.message), status ok
//   1 "charge" payments, http.status_code=500, retries=[1,2] (array), link (link.kind), status error
//   2 "db" payments, ratio=0.25, flag=true
TraceModel model() {
  TraceModel t;
  t.resources.resize(2);
  t.resources[0].service_name = "frontend";
  t.resources[0].attributes = {attr("service.name", Static::string("frontend")),
                               attr("k8s.pod.name", Static::string("pod-1"))};
  t.resources[1].service_name = "payments";
  t.resources[1].attributes = {attr("service.name", Static::string("payments"))};
  t.scopes.resize(1);
  t.scopes[0].name = "otel-go";
  t.scopes[0].version = "1.2.0";
  t.scopes[0].attributes = {attr("lib.lang", Static::string("go"))};
  t.spans.resize(3);
  t.spans[0].resource = 0;
  t.spans[0].name = "GET /cart";
  t.spans[0].status = SpanStatus::Ok;
  t.spans[0].start_ns = 1000;
  t.spans[0].end_ns = 9000000;
  t.spans[0].attributes = {attr("http.method", Static::string("GET"))};
  EventModel e;
  e.name = "exception";
  e.attributes = {attr("exception.message", Static::string("boom"))};
  t.spans[0].events = {e};
  t.spans[1].resource = 1;
  t.spans[1].name = "charge";
  t.spans[1].status = SpanStatus::Error;
  t.spans[1].parent_span_id = "p";
  t.spans[1].attributes = {attr("http.status_code", Static::integer(500))};
  Attribute retries;
  retries.key = "retries";
  retries.value.is_array = true;
  retries.value.array = {Static::integer(1), Static::integer(2)};
  t.spans[1].attributes.push_back(retries);
  LinkModel l;
  l.attributes = {attr("link.kind", Static::string("follows"))};
  t.spans[1].links = {l};
  t.spans[2].resource = 1;
  t.spans[2].name = "db";
  t.spans[2].parent_span_id = "p";
  t.spans[2].attributes = {attr("ratio", Static::floating(0.25)), attr("flag", Static::boolean(true))};
  t.start_ns = 1000;
  t.end_ns = 9000000;
  t.root = 0;
  t.root_name = "GET /cart";
  t.root_service_name = "frontend";
  return t;
}

std::vector<std::string> names_of(const TagNames& n, TagScope s) {
  const auto& v = n.scopes[static_cast<size_t>(s)].values();
  return {v.begin(), v.end()};
}

std::vector<std::string> values_of(const TagValueSet& set) {
  std::vector<std::string> out;
  for (const TagValue& v : set.values()) out.push_back(v.type + ":" + v.value);
  return out;
}

AttributeRef ref(AttributeScope scope, std::string name) {
  AttributeRef r;
  r.scope = scope;
  r.name = std::move(name);
  return r;
}

AttributeRef intrinsic(Intrinsic i) {
  AttributeRef r;
  r.intrinsic = i;
  return r;
}

TEST(TagCollectorTest, NamesPerScope) {
  TraceModel t = model();
  TagNames n;
  collect_tag_names(t, nullptr, n);
  EXPECT_EQ(names_of(n, TagScope::Resource), (std::vector<std::string>{"k8s.pod.name", "service.name"}));
  EXPECT_EQ(names_of(n, TagScope::Span),
            (std::vector<std::string>{"flag", "http.method", "http.status_code", "ratio", "retries"}));
  EXPECT_EQ(names_of(n, TagScope::Event), (std::vector<std::string>{"exception.message"}));
  EXPECT_EQ(names_of(n, TagScope::Link), (std::vector<std::string>{"link.kind"}));
  EXPECT_EQ(names_of(n, TagScope::Instrumentation), (std::vector<std::string>{"lib.lang"}));
}

TEST(TagCollectorTest, MaskLimitsNamesToMatchingSpansAndTheirResources) {
  TraceModel t = model();
  std::vector<uint8_t> mask = {0, 0, 1};  // only "db"
  TagNames n;
  collect_tag_names(t, &mask, n);
  EXPECT_EQ(names_of(n, TagScope::Resource), (std::vector<std::string>{"service.name"}));
  EXPECT_EQ(names_of(n, TagScope::Span), (std::vector<std::string>{"flag", "ratio"}));
  EXPECT_TRUE(names_of(n, TagScope::Event).empty());
}

TEST(TagCollectorTest, WantedScopesAndBounds) {
  TraceModel t = model();
  TagNames n(tag_scope_bit(TagScope::Span), 2);
  collect_tag_names(t, nullptr, n);
  EXPECT_EQ(names_of(n, TagScope::Span).size(), 2u);
  EXPECT_TRUE(names_of(n, TagScope::Resource).empty());
  EXPECT_TRUE(n.full());
  BoundedStringSet bytes(100, 5);
  EXPECT_EQ(bytes.add("abc"), AddResult::Added);
  EXPECT_EQ(bytes.add("abc"), AddResult::Known);
  EXPECT_EQ(bytes.stale_run(), 1u);
  EXPECT_EQ(bytes.add("defg"), AddResult::Full);
  EXPECT_TRUE(bytes.full());
  EXPECT_EQ(bytes.size(), 1u);
}

TEST(TagCollectorTest, ValuesByScopeWithTypes) {
  TraceModel t = model();
  auto collect = [&](const AttributeRef& r, const std::vector<uint8_t>* mask = nullptr) {
    TagValueSet set;
    collect_tag_values(t, mask, r, set);
    return values_of(set);
  };
  EXPECT_EQ(collect(ref(AttributeScope::Resource, "service.name")),
            (std::vector<std::string>{"string:frontend", "string:payments"}));
  EXPECT_EQ(collect(ref(AttributeScope::Span, "http.status_code")), (std::vector<std::string>{"int:500"}));
  EXPECT_EQ(collect(ref(AttributeScope::Span, "retries")), (std::vector<std::string>{"int:1", "int:2"}));
  EXPECT_EQ(collect(ref(AttributeScope::Span, "ratio")), (std::vector<std::string>{"float:0.25"}));
  EXPECT_EQ(collect(ref(AttributeScope::None, "flag")), (std::vector<std::string>{"bool:true"}));
  // Unscoped: span and resource attributes.
  EXPECT_EQ(collect(ref(AttributeScope::None, "service.name")),
            (std::vector<std::string>{"string:frontend", "string:payments"}));
  EXPECT_TRUE(collect(ref(AttributeScope::Span, "service.name")).empty());
  EXPECT_EQ(collect(ref(AttributeScope::Event, "exception.message")), (std::vector<std::string>{"string:boom"}));
  EXPECT_EQ(collect(ref(AttributeScope::Link, "link.kind")), (std::vector<std::string>{"string:follows"}));
  EXPECT_EQ(collect(ref(AttributeScope::Instrumentation, "lib.lang")), (std::vector<std::string>{"string:go"}));
  EXPECT_EQ(collect(intrinsic(Intrinsic::Name)),
            (std::vector<std::string>{"string:GET /cart", "string:charge", "string:db"}));
  EXPECT_EQ(collect(intrinsic(Intrinsic::TraceRootService)), (std::vector<std::string>{"string:frontend"}));
  EXPECT_EQ(collect(intrinsic(Intrinsic::EventName)), (std::vector<std::string>{"string:exception"}));
  EXPECT_EQ(collect(intrinsic(Intrinsic::InstrumentationName)), (std::vector<std::string>{"string:otel-go"}));
  EXPECT_TRUE(collect(intrinsic(Intrinsic::SpanId)).empty());
  EXPECT_TRUE(collect(intrinsic(Intrinsic::StatusMessage)).empty());  // unset (empty) everywhere
  // Masked: resources of the matching spans only.
  std::vector<uint8_t> only_charge = {0, 1, 0};
  EXPECT_EQ(collect(ref(AttributeScope::Resource, "service.name"), &only_charge),
            (std::vector<std::string>{"string:payments"}));
  EXPECT_EQ(collect(intrinsic(Intrinsic::Name), &only_charge), (std::vector<std::string>{"string:charge"}));
}

TEST(TagCollectorTest, ValueLimit) {
  TraceModel t = model();
  TagValueSet set(2);
  collect_tag_values(t, nullptr, intrinsic(Intrinsic::Name), set);
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.full());
}

TEST(TagCollectorTest, VirtualValues) {
  auto status = virtual_tag_values_v2(intrinsic(Intrinsic::Status));
  ASSERT_TRUE(status);
  EXPECT_EQ(status->size(), 3u);
  EXPECT_EQ((*status)[0], (TagValue{"keyword", "ok"}));
  auto kind = virtual_tag_values_v2(intrinsic(Intrinsic::Kind));
  ASSERT_TRUE(kind);
  EXPECT_EQ(kind->size(), 6u);
  auto duration = virtual_tag_values_v2(intrinsic(Intrinsic::Duration));
  ASSERT_TRUE(duration);
  EXPECT_TRUE(duration->empty());
  EXPECT_TRUE(virtual_tag_values_v2(intrinsic(Intrinsic::TraceDuration))->empty());
  EXPECT_FALSE(virtual_tag_values_v2(intrinsic(Intrinsic::Name)));
  EXPECT_FALSE(virtual_tag_values_v2(ref(AttributeScope::Span, "status")));
  EXPECT_EQ(*virtual_tag_values_v1("status.code"), (std::vector<std::string>{"unset", "ok", "error"}));
  EXPECT_EQ(*virtual_tag_values_v1("error"), (std::vector<std::string>{"true"}));
  EXPECT_FALSE(virtual_tag_values_v1("service.name"));
  EXPECT_EQ(v1_tag_attribute("name").intrinsic, Intrinsic::Name);
  EXPECT_EQ(v1_tag_attribute("service.name").scope, AttributeScope::None);
  EXPECT_EQ(intrinsic_tag_names().size(), 25u);
  EXPECT_TRUE(std::is_sorted(intrinsic_tag_names().begin(), intrinsic_tag_names().end()));
}

TEST(TagCollectorTest, GoFloatFormatting) {
  EXPECT_EQ(format_go_float(0.25), "0.25");
  EXPECT_EQ(format_go_float(123456), "123456");
  EXPECT_EQ(format_go_float(1234567), "1.234567e+06");
  EXPECT_EQ(format_go_float(1e6), "1e+06");
  EXPECT_EQ(format_go_float(0.0001), "0.0001");
  EXPECT_EQ(format_go_float(0.00001), "1e-05");
  EXPECT_EQ(format_go_float(-2.5), "-2.5");
  EXPECT_EQ(format_go_float(0), "0");
  EXPECT_EQ(format_go_float(1.0 / 0.0), "+Inf");
  EXPECT_EQ(tag_value_of(Static::duration(1500000)).value, "1.5ms");
  EXPECT_EQ(tag_value_of(Static::kind(SpanKind::Server)).type, "keyword");
}

TEST(LegacyTagSearchTest, WellKnownKeysAreSubstringsOthersExact) {
  TraceModel t = model();
  auto matches = [&](std::vector<std::pair<std::string, std::string>> tags, uint32_t min_ms = 0,
                     uint32_t max_ms = 0) { return LegacyTagSearch(std::move(tags), min_ms, max_ms).matches(t); };
  EXPECT_TRUE(matches({}));
  EXPECT_TRUE(matches({{"service.name", "pay"}}));
  EXPECT_TRUE(matches({{"name", "char"}, {"service.name", "payments"}}));
  // Every tag must hold on one span (with its resource): "GET" is on the frontend span.
  EXPECT_FALSE(matches({{"http.method", "GE"}, {"service.name", "payments"}}));
  EXPECT_TRUE(matches({{"http.method", "GE"}, {"k8s.pod.name", "pod"}}));
  EXPECT_FALSE(matches({{"pod", "pod"}}));  // "pod" is a resource attribute of its own
  EXPECT_TRUE(matches({{"root.service.name", "front"}, {"root.name", "/cart"}}));
  EXPECT_TRUE(matches({{"http.status_code", "500"}}));
  EXPECT_FALSE(matches({{"http.status_code", "50"}}));
  EXPECT_TRUE(matches({{"status.code", "error"}}));
  EXPECT_FALSE(matches({{"status.code", "error"}, {"name", "db"}}));
  EXPECT_TRUE(matches({{"error", "true"}}));
  EXPECT_TRUE(matches({{"ratio", "0.25"}}));
  EXPECT_TRUE(matches({{"k8s.pod.name", "pod-1"}}));
  EXPECT_FALSE(matches({{"lib.lang", "go"}}));  // instrumentation attributes are not tags here
  // Trace duration is 8.999 ms.
  EXPECT_TRUE(matches({}, 8, 9));
  EXPECT_FALSE(matches({}, 9, 0));
  EXPECT_FALSE(matches({}, 0, 8));
}

}  // namespace
}  // namespace spindle
