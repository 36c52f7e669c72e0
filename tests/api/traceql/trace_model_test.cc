#include "api/traceql/trace_model.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

#include "core/trace_id.h"
#include "tests/api/traceql/trace_corpus.h"
#include "tests/proto/otlp_random.h"

namespace spindle {
namespace {

using namespace corpus;

TraceId corpus_id() { return *TraceId::from_bytes(corpus_trace_id()); }

const SpanModel& by_name(const TraceModel& m, std::string_view name) {
  for (const SpanModel& s : m.spans) {
    if (s.name == name) return s;
  }
  ADD_FAILURE() << "no span " << name;
  return m.spans.front();
}

const AttributeValue* attr(const std::vector<Attribute>& attrs, std::string_view key) {
  for (const Attribute& a : attrs) {
    if (a.key == key) return &a.value;
  }
  return nullptr;
}

TEST(TraceModelTest, DecodesResourcesScopesAndSpans) {
  std::string pb = corpus_trace();
  TraceModel m;
  ASSERT_TRUE(build_trace_model(corpus_id(), pb, m).is_ok());
  EXPECT_EQ(m.id, corpus_id());
  ASSERT_EQ(m.resources.size(), 3u);
  EXPECT_EQ(m.resources[0].service_name, "frontend");
  EXPECT_EQ(m.resources[1].service_name, "checkout");
  EXPECT_EQ(m.resources[2].service_name, "db");
  EXPECT_EQ(m.resources[0].attributes.size(), 5u);
  ASSERT_EQ(m.scopes.size(), 3u);
  EXPECT_EQ(m.scopes[0].name, "io.otel.http");
  EXPECT_EQ(m.scopes[0].version, "1.2.0");
  ASSERT_EQ(m.scopes[0].attributes.size(), 1u);
  EXPECT_EQ(m.scopes[0].attributes[0].key, "lib.kind");
  EXPECT_EQ(m.scopes[2].name, "");

  ASSERT_EQ(m.spans.size(), 8u);
  const char* order[] = {"GET /checkout", "auth",     "render",    "charge",
                         "async.consume", "db.query", "cache.get", "db.commit"};
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(m.spans[i].name, order[i]) << i;

  const SpanModel& charge = by_name(m, "charge");
  EXPECT_EQ(charge.resource, 1u);
  EXPECT_EQ(charge.scope, 1u);
  EXPECT_EQ(charge.span_id, span_id(3));
  EXPECT_EQ(charge.parent_span_id, span_id(1));
  EXPECT_EQ(charge.kind, SpanKind::Client);
  EXPECT_EQ(charge.status, SpanStatus::Error);
  EXPECT_EQ(charge.status_message, "card declined");
  EXPECT_EQ(charge.start_ns, kBaseNs + 100 * kMs);
  EXPECT_EQ(charge.end_ns, kBaseNs + 700 * kMs);
  ASSERT_EQ(charge.events.size(), 2u);
  EXPECT_EQ(charge.events[0].name, "exception");
  EXPECT_EQ(charge.events[0].time_ns, kBaseNs + 250 * kMs);
  ASSERT_EQ(charge.events[0].attributes.size(), 2u);
  EXPECT_EQ(charge.events[1].attributes[0].value.scalar, Static::integer(2));
  EXPECT_EQ(by_name(m, "db.query").scope, 2u);

  const SpanModel& root = by_name(m, "GET /checkout");
  EXPECT_TRUE(root.parent_span_id.empty());
  EXPECT_EQ(root.kind, SpanKind::Server);
  ASSERT_EQ(root.links.size(), 1u);
  EXPECT_EQ(root.links[0].trace_id.size(), 16u);
  EXPECT_EQ(root.links[0].span_id, raw_id({0, 0, 0, 0, 0, 0, 0, 0xee}));
  ASSERT_EQ(root.links[0].attributes.size(), 1u);
  EXPECT_EQ(root.links[0].attributes[0].value.scalar, Static::string("follows"));
}

TEST(TraceModelTest, TypesAttributeValues) {
  std::string pb = corpus_trace();
  TraceModel m;
  ASSERT_TRUE(build_trace_model(corpus_id(), pb, m).is_ok());
  const SpanModel& root = by_name(m, "GET /checkout");
  EXPECT_EQ(attr(root.attributes, "http.method")->scalar, Static::string("GET"));
  EXPECT_EQ(attr(root.attributes, "http.status_code")->scalar, Static::integer(200));
  EXPECT_EQ(attr(root.attributes, "ratio")->scalar, Static::floating(0.5));
  EXPECT_EQ(attr(root.attributes, "cached")->scalar, Static::boolean(false));
  const AttributeValue* tags = attr(root.attributes, "tags");
  ASSERT_TRUE(tags->is_array);
  EXPECT_EQ(tags->scalar.type, StaticType::Nil);
  ASSERT_EQ(tags->array.size(), 2u);
  EXPECT_EQ(tags->array[1], Static::string("b"));
  const AttributeValue* codes = attr(root.attributes, "codes");
  ASSERT_TRUE(codes->is_array);
  EXPECT_EQ(codes->array[1], Static::integer(404));

  const SpanModel& consume = by_name(m, "async.consume");
  EXPECT_EQ(attr(consume.attributes, "payload")->scalar, Static::string(std::string("\x01\x02", 2)));
  const AttributeValue* kv = attr(consume.attributes, "kv");
  ASSERT_NE(kv, nullptr);
  EXPECT_EQ(kv->scalar.type, StaticType::Nil);
  EXPECT_FALSE(kv->is_array);
  EXPECT_EQ(attr(m.resources[0].attributes, "host.cores")->scalar, Static::integer(8));
}

TEST(TraceModelTest, DerivesTreeNestedSetAndTraceFields) {
  std::string pb = corpus_trace();
  TraceModel m;
  ASSERT_TRUE(build_trace_model(corpus_id(), pb, m).is_ok());
  EXPECT_EQ(m.start_ns, kBaseNs);
  EXPECT_EQ(m.end_ns, kBaseNs + 1000 * kMs);
  ASSERT_GE(m.root, 0);
  EXPECT_EQ(m.spans[static_cast<size_t>(m.root)].name, "GET /checkout");
  EXPECT_EQ(m.root_name, "GET /checkout");
  EXPECT_EQ(m.root_service_name, "frontend");

  // name -> {parent name, child count, left, right, nestedSetParent}, worked out by hand (siblings by start).
  struct Want {
    const char* parent;
    uint32_t children;
    int32_t left, right, nsp;
  };
  std::map<std::string, Want> want = {
      {"GET /checkout", {nullptr, 3, 1, 16, -1}}, {"auth", {"GET /checkout", 0, 2, 3, 1}},
      {"charge", {"GET /checkout", 2, 4, 13, 1}}, {"db.query", {"charge", 1, 5, 10, 4}},
      {"db.commit", {"db.query", 1, 6, 9, 5}},    {"async.consume", {"db.commit", 0, 7, 8, 6}},
      {"cache.get", {"charge", 0, 11, 12, 4}},    {"render", {"GET /checkout", 0, 14, 15, 1}},
  };
  for (const SpanModel& s : m.spans) {
    SCOPED_TRACE(std::string(s.name));
    const Want& w = want.at(std::string(s.name));
    if (w.parent == nullptr) {
      EXPECT_EQ(s.parent, -1);
    } else {
      ASSERT_GE(s.parent, 0);
      EXPECT_EQ(m.spans[static_cast<size_t>(s.parent)].name, w.parent);
    }
    EXPECT_EQ(s.child_count, w.children);
    EXPECT_EQ(s.nested_set_left, w.left);
    EXPECT_EQ(s.nested_set_right, w.right);
    EXPECT_EQ(s.nested_set_parent, w.nsp);
  }
}

TEST(TraceModelTest, IncompleteTraceWalksOrphansAsRoots) {
  std::string pb = incomplete_trace();
  TraceModel m;
  ASSERT_TRUE(
      build_trace_model(*TraceId::from_bytes(raw_id({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})),
                        pb, m)
          .is_ok());
  EXPECT_EQ(m.root, -1);
  EXPECT_EQ(m.root_name, "");
  EXPECT_EQ(m.root_service_name, "");
  EXPECT_EQ(m.start_ns, kBaseNs + 5 * kMs);
  EXPECT_EQ(m.end_ns, kBaseNs + 50 * kMs);
  // Roots by start: orphan-b [1,2], orphan-a [3,6] with child-of-a [4,5], lonely [7,8].
  EXPECT_EQ(by_name(m, "orphan-b").nested_set_left, 1);
  EXPECT_EQ(by_name(m, "orphan-b").nested_set_right, 2);
  EXPECT_EQ(by_name(m, "orphan-a").nested_set_left, 3);
  EXPECT_EQ(by_name(m, "orphan-a").nested_set_right, 6);
  EXPECT_EQ(by_name(m, "orphan-a").nested_set_parent, -1);
  EXPECT_EQ(by_name(m, "orphan-a").parent, -1);
  EXPECT_EQ(by_name(m, "orphan-a").child_count, 1u);
  EXPECT_EQ(by_name(m, "child-of-a").nested_set_left, 4);
  EXPECT_EQ(by_name(m, "child-of-a").nested_set_parent, 3);
  EXPECT_EQ(by_name(m, "lonely").nested_set_left, 7);
  EXPECT_EQ(by_name(m, "lonely").nested_set_right, 8);
}

std::string one_batch(const std::vector<SpanSpec>& spans) {
  ResourceSpec r{{{"service.name", str("s")}}, {{"lib", "1", {}, spans}}};
  return build_trace(raw_id({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}), {r});
}

SpanSpec plain(std::string id, std::string parent, std::string name, uint64_t start,
               otlp_trace::Span::SpanKind kind = otlp_trace::Span::SPAN_KIND_INTERNAL) {
  SpanSpec s;
  s.id = std::move(id);
  s.parent = std::move(parent);
  s.name = std::move(name);
  s.kind = kind;
  s.start_ms = start;
  s.end_ms = start + 1;
  return s;
}

TEST(TraceModelTest, SharedClientServerIdPicksParentByKind) {
  using S = otlp_trace::Span;
  std::string shared = raw_id({0, 0, 0, 0, 0, 0, 0, 2});
  std::string pb =
      one_batch({plain(raw_id({0, 0, 0, 0, 0, 0, 0, 1}), "", "root", 0),
                 plain(shared, raw_id({0, 0, 0, 0, 0, 0, 0, 1}), "client", 1, S::SPAN_KIND_CLIENT),
                 plain(shared, shared, "server", 2, S::SPAN_KIND_SERVER),
                 plain(raw_id({0, 0, 0, 0, 0, 0, 0, 3}), shared, "work", 3)});
  TraceModel m;
  ASSERT_TRUE(build_trace_model(TraceId{}, pb, m).is_ok());
  auto parent_name = [&](std::string_view n) {
    int32_t p = by_name(m, n).parent;
    return p < 0 ? std::string_view("-") : m.spans[static_cast<size_t>(p)].name;
  };
  EXPECT_EQ(parent_name("client"), "root");
  EXPECT_EQ(parent_name("server"), "client");
  EXPECT_EQ(parent_name("work"), "server");
  EXPECT_EQ(by_name(m, "work").nested_set_parent, by_name(m, "server").nested_set_left);
}

TEST(TraceModelTest, ParentCyclesAndSelfParentsAreCut) {
  std::string a = raw_id({0, 0, 0, 0, 0, 0, 0, 0xa});
  std::string b = raw_id({0, 0, 0, 0, 0, 0, 0, 0xb});
  std::string c = raw_id({0, 0, 0, 0, 0, 0, 0, 0xc});
  std::string pb = one_batch({plain(a, b, "a", 5), plain(b, a, "b", 3), plain(c, c, "self", 1)});
  TraceModel m;
  ASSERT_TRUE(build_trace_model(TraceId{}, pb, m).is_ok());
  // self: no other span has its id, so it has no parent. The a<->b cycle is cut above b (earliest start).
  EXPECT_EQ(by_name(m, "self").parent, -1);
  EXPECT_EQ(by_name(m, "b").parent, -1);
  EXPECT_EQ(by_name(m, "b").child_count, 1u);
  EXPECT_EQ(m.spans[static_cast<size_t>(by_name(m, "a").parent)].name, "b");
  EXPECT_EQ(m.root, -1);  // every span has a parent_span_id
  std::vector<int32_t> bounds;
  for (const SpanModel& s : m.spans) {
    EXPECT_LT(s.nested_set_left, s.nested_set_right);
    bounds.push_back(s.nested_set_left);
    bounds.push_back(s.nested_set_right);
  }
  std::sort(bounds.begin(), bounds.end());
  for (size_t i = 0; i < bounds.size(); ++i) EXPECT_EQ(bounds[i], static_cast<int32_t>(i + 1));
}

TEST(TraceModelTest, EmptyTraceAndUnknownFields) {
  TraceModel m;
  ASSERT_TRUE(build_trace_model(TraceId{}, "", m).is_ok());
  EXPECT_TRUE(m.spans.empty());
  EXPECT_EQ(m.root, -1);
  // An unknown top-level field (varint field 7) is skipped.
  std::string pb = std::string("\x38\x01", 2) + corpus_trace();
  ASSERT_TRUE(build_trace_model(corpus_id(), pb, m).is_ok());
  EXPECT_EQ(m.spans.size(), 8u);
}

TEST(TraceModelTest, MalformedInputIsInvalidArgument) {
  std::string pb = corpus_trace();
  TraceModel m;
  // Cut in the middle of a nested message.
  Status st = build_trace_model(corpus_id(), std::string_view(pb).substr(0, pb.size() / 2), m);
  EXPECT_EQ(st.code(), StatusCode::InvalidArgument);
  EXPECT_NE(st.message().find("malformed trace"), std::string::npos) << st.message();
  EXPECT_TRUE(m.spans.empty());
  // ResourceSpans with the wrong wire type (varint).
  st = build_trace_model(corpus_id(), std::string("\x08\x01", 2), m);
  EXPECT_EQ(st.code(), StatusCode::InvalidArgument);
  EXPECT_NE(st.message().find("wrong wire type"), std::string::npos) << st.message();
  // Field number 0.
  st = build_trace_model(corpus_id(), std::string("\x00\x01", 2), m);
  EXPECT_EQ(st.code(), StatusCode::InvalidArgument);
}

TEST(TraceModelTest, MutatedBytesNeverCrash) {
  // Every prefix and a few thousand random byte flips: the decoder must fail cleanly or succeed, and a
  // successful model must be internally consistent (ASan/UBSan builds check the memory side).
  std::string pb = corpus_trace();
  TraceModel m;
  for (size_t n = 0; n <= pb.size(); ++n) {
    Status st = build_trace_model(corpus_id(), std::string_view(pb).substr(0, n), m);
    if (st.is_ok()) {
      for (const SpanModel& s : m.spans) {
        EXPECT_LT(s.resource, m.resources.size());
      }
    }
  }
  std::mt19937_64 rng(42);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string x = pb;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) x[rng() % x.size()] = static_cast<char>(rng() % 256);
    Status st = build_trace_model(corpus_id(), x, m);
    if (!st.is_ok()) continue;
    for (const SpanModel& s : m.spans) {
      ASSERT_LT(s.resource, m.resources.size());
      ASSERT_LT(s.scope, m.scopes.size());
      ASSERT_LT(s.nested_set_left, s.nested_set_right);
      if (s.parent >= 0) {
        ASSERT_LT(static_cast<size_t>(s.parent), m.spans.size());
      }
    }
  }
}

TEST(TraceModelTest, ReusedModelHoldsOnlyTheNewTrace) {
  TraceModel m;
  ASSERT_TRUE(build_trace_model(corpus_id(), corpus_trace(), m).is_ok());
  std::string small = one_batch({plain(raw_id({0, 0, 0, 0, 0, 0, 0, 1}), "", "only", 7)});
  ASSERT_TRUE(build_trace_model(TraceId{}, small, m).is_ok());
  ASSERT_EQ(m.spans.size(), 1u);
  EXPECT_EQ(m.spans[0].name, "only");
  EXPECT_TRUE(m.spans[0].attributes.empty());
  EXPECT_TRUE(m.spans[0].events.empty());
  EXPECT_TRUE(m.spans[0].links.empty());
  EXPECT_EQ(m.spans[0].status, SpanStatus::Unset);
  EXPECT_EQ(m.spans[0].status_message, "");
  ASSERT_EQ(m.resources.size(), 1u);
  EXPECT_EQ(m.resources[0].attributes.size(), 1u);
  EXPECT_EQ(m.resources[0].service_name, "s");
  ASSERT_EQ(m.scopes.size(), 1u);
  EXPECT_TRUE(m.scopes[0].attributes.empty());
  EXPECT_EQ(m.root, 0);
  EXPECT_EQ(m.root_name, "only");
  // And back to the big one.
  std::string pb = corpus_trace();
  ASSERT_TRUE(build_trace_model(corpus_id(), pb, m).is_ok());
  EXPECT_EQ(m.spans.size(), 8u);
  EXPECT_EQ(attr(by_name(m, "GET /checkout").attributes, "tags")->array.size(), 2u);
  EXPECT_EQ(by_name(m, "charge").events.size(), 2u);
}

// Differential: random OTLP traces decoded by libprotobuf and by build_trace_model agree field by field.
TEST(TraceModelTest, AgreesWithLibprotobufOnRandomTraces) {
  namespace otlp = testing::otlp_trace;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    testing::RandomOptions opts;
    opts.invalid_ids = true;
    testing::OtlpRandom rnd(seed, opts);
    auto req = rnd.request();
    tempopb::Trace t;
    t.mutable_resourcespans()->Swap(req.mutable_resource_spans());
    std::string pb = t.SerializeAsString();
    TraceModel m;
    ASSERT_TRUE(build_trace_model(TraceId{}, pb, m).is_ok());
    size_t si = 0;
    size_t scope_i = 0;
    ASSERT_EQ(m.resources.size(), static_cast<size_t>(t.resourcespans_size()));
    for (int r = 0; r < t.resourcespans_size(); ++r) {
      const auto& rs = t.resourcespans(r);
      ASSERT_EQ(m.resources[static_cast<size_t>(r)].attributes.size(),
                static_cast<size_t>(rs.resource().attributes_size()));
      for (const auto& ss : rs.scope_spans()) {
        const ScopeModel& sm = m.scopes[scope_i];
        EXPECT_EQ(sm.name, ss.scope().name());
        EXPECT_EQ(sm.version, ss.scope().version());
        for (const otlp::Span& s : ss.spans()) {
          ASSERT_LT(si, m.spans.size());
          const SpanModel& x = m.spans[si];
          EXPECT_EQ(x.resource, static_cast<uint32_t>(r));
          EXPECT_EQ(x.scope, scope_i);
          EXPECT_EQ(x.span_id, s.span_id());
          EXPECT_EQ(x.parent_span_id, s.parent_span_id());
          EXPECT_EQ(x.name, s.name());
          EXPECT_EQ(x.start_ns, s.start_time_unix_nano());
          EXPECT_EQ(x.end_ns, s.end_time_unix_nano());
          EXPECT_EQ(x.status_message, s.status().message());
          EXPECT_EQ(x.events.size(), static_cast<size_t>(s.events_size()));
          EXPECT_EQ(x.links.size(), static_cast<size_t>(s.links_size()));
          ASSERT_EQ(x.attributes.size(), static_cast<size_t>(s.attributes_size()));
          for (int a = 0; a < s.attributes_size(); ++a) {
            const auto& kv = s.attributes(a);
            const Attribute& got = x.attributes[static_cast<size_t>(a)];
            EXPECT_EQ(got.key, kv.key());
            switch (kv.value().value_case()) {
              case testing::otlp_common::AnyValue::kStringValue:
                EXPECT_EQ(got.value.scalar, Static::string(kv.value().string_value()));
                break;
              case testing::otlp_common::AnyValue::kIntValue:
                EXPECT_EQ(got.value.scalar, Static::integer(kv.value().int_value()));
                break;
              case testing::otlp_common::AnyValue::kBoolValue:
                EXPECT_EQ(got.value.scalar, Static::boolean(kv.value().bool_value()));
                break;
              case testing::otlp_common::AnyValue::kArrayValue:
                EXPECT_TRUE(got.value.is_array);
                break;
              default:
                break;
            }
          }
          ++si;
        }
        ++scope_i;
      }
    }
    EXPECT_EQ(si, m.spans.size());
  }
}

}  // namespace
}  // namespace spindle
