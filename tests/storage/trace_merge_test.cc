#include "storage/trace_merge.h"

#include <gtest/gtest.h>

#include <map>
#include <tuple>

#include "proto/wire.h"
#include "tests/storage/block_test_util.h"

namespace spindle {
namespace {

using namespace spindle::testing;

TraceId tid() {
  TraceId id;
  id.bytes[0] = 7;
  id.bytes[15] = 9;
  return id;
}

tempopb::Trace parse(const Result<std::string>& bytes) {
  tempopb::Trace t;
  EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
  if (bytes.ok()) {
    EXPECT_TRUE(t.ParseFromString(*bytes));
  }
  return t;
}

std::vector<std::string> names(const otlp::trace::v1::ScopeSpans& ss) {
  std::vector<std::string> out;
  for (const auto& s : ss.spans()) out.push_back(s.name());
  return out;
}

TEST(TraceMergeTest, GroupsByResourceThenScopeInOrderOfFirstAppearance) {
  tempopb::Trace a, b;
  add_span(a, "svc-a", "lib1", make_span(tid(), 1, "a1", 10, 20));
  add_span(a, "svc-b", "lib1", make_span(tid(), 2, "b1", 15, 40));
  add_span(b, "svc-a", "lib2", make_span(tid(), 3, "a2", 5, 30));
  add_span(b, "svc-a", "lib1", make_span(tid(), 4, "a3", 12, 18));
  std::string sa = a.SerializeAsString(), sb = b.SerializeAsString();
  tempopb::Trace m = parse(merge_traces({sa, sb}));
  ASSERT_EQ(m.resourcespans_size(), 2);
  EXPECT_EQ(m.resourcespans(0).resource().attributes(0).value().string_value(), "svc-a");
  EXPECT_EQ(m.resourcespans(1).resource().attributes(0).value().string_value(), "svc-b");
  const auto& rs_a = m.resourcespans(0);
  ASSERT_EQ(rs_a.scope_spans_size(), 2);
  EXPECT_EQ(rs_a.scope_spans(0).scope().name(), "lib1");
  EXPECT_EQ(names(rs_a.scope_spans(0)), (std::vector<std::string>{"a1", "a3"}));
  EXPECT_EQ(rs_a.scope_spans(1).scope().name(), "lib2");
  EXPECT_EQ(names(rs_a.scope_spans(1)), (std::vector<std::string>{"a2"}));
  EXPECT_EQ(names(m.resourcespans(1).scope_spans(0)), (std::vector<std::string>{"b1"}));
}

TEST(TraceMergeTest, DropsExactDuplicatesOnlyUnderTheSameResourceAndScope) {
  auto span = make_span(tid(), 1, "x", 10, 20);
  tempopb::Trace a;
  add_span(a, "svc", "lib", span);
  add_span(a, "svc", "lib", span);        // duplicate within one piece
  add_span(a, "other", "lib", span);      // same bytes, other resource: kept
  add_span(a, "svc", "lib-other", span);  // other scope: kept
  auto changed = span;
  changed.set_end_time_unix_nano(21);  // differs by one field: kept
  add_span(a, "svc", "lib", changed);
  std::string sa = a.SerializeAsString();
  tempopb::Trace m = parse(merge_traces({sa, sa, sa}));
  int total = 0;
  for (const auto& rs : m.resourcespans()) {
    for (const auto& ss : rs.scope_spans()) total += ss.spans_size();
  }
  EXPECT_EQ(total, 4);
  ASSERT_EQ(m.resourcespans_size(), 2);
  EXPECT_EQ(m.resourcespans(0).scope_spans(0).spans_size(), 2);
}

TEST(TraceMergeTest, SchemaUrlSeparatesResourcesAndScopes) {
  tempopb::Trace a;
  add_span(a, "svc", "lib", make_span(tid(), 1, "x", 1, 2));
  add_span(a, "svc", "lib", make_span(tid(), 2, "y", 1, 2));
  a.mutable_resourcespans(1)->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
  add_span(a, "svc", "lib", make_span(tid(), 3, "z", 1, 2));
  a.mutable_resourcespans(2)->mutable_scope_spans(0)->set_schema_url("s");
  std::string sa = a.SerializeAsString();
  tempopb::Trace m = parse(merge_traces({sa}));
  ASSERT_EQ(m.resourcespans_size(), 2);
  EXPECT_EQ(m.resourcespans(0).scope_spans_size(), 2);
  EXPECT_EQ(m.resourcespans(0).scope_spans(1).schema_url(), "s");
  EXPECT_EQ(m.resourcespans(1).schema_url(), "https://opentelemetry.io/schemas/1.21.0");
}

TEST(TraceMergeTest, AlwaysEmitsResourceAndScope) {
  tempopb::Trace a;
  *a.add_resourcespans()->add_scope_spans()->add_spans() = make_span(tid(), 1, "x", 1, 2);
  std::string sa = a.SerializeAsString();
  auto merged = merge_traces({sa});
  ASSERT_TRUE(merged.ok());
  tempopb::Trace m = parse(merged);
  ASSERT_EQ(m.resourcespans_size(), 1);
  EXPECT_TRUE(m.resourcespans(0).has_resource());
  EXPECT_TRUE(m.resourcespans(0).scope_spans(0).has_scope());
  EXPECT_EQ(m.resourcespans(0).scope_spans(0).spans(0).name(), "x");
}

TEST(TraceMergeTest, ContextAfterScopeSpansOnTheWireIsHonoured) {
  // Protobuf allows fields in any order: scope_spans first, resource last.
  std::string span = make_span(tid(), 1, "x", 1, 2).SerializeAsString();
  std::string resource = make_resource("late").SerializeAsString();
  std::string ss, rs, trace;
  WireWriter(ss).put_len_field(2, span);
  WireWriter(ss).put_len_field(1, make_scope("lib").SerializeAsString());
  WireWriter(rs).put_len_field(2, ss);
  WireWriter(rs).put_len_field(3, "url");
  WireWriter(rs).put_len_field(1, resource);
  WireWriter(trace).put_len_field(1, rs);
  tempopb::Trace m = parse(merge_traces({trace}));
  ASSERT_EQ(m.resourcespans_size(), 1);
  EXPECT_EQ(m.resourcespans(0).resource().attributes(0).value().string_value(), "late");
  EXPECT_EQ(m.resourcespans(0).schema_url(), "url");
  EXPECT_EQ(m.resourcespans(0).scope_spans(0).scope().name(), "lib");
}

TEST(TraceMergeTest, IsIdempotentAndKeepsNormalFormBytes) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 50; ++i) {
    TraceId id = random_id(rng);
    std::string t = random_trace(rng, id, 1000).SerializeAsString();
    auto once = merge_traces({t});
    ASSERT_TRUE(once.ok());
    EXPECT_EQ(*once, t);  // random_trace is already in normal form
    auto twice = merge_traces({*once, *once});
    ASSERT_TRUE(twice.ok());
    EXPECT_EQ(*twice, *once);
  }
}

TEST(TraceMergeTest, MatchesAReferenceModelOnRandomPieces) {
  std::mt19937_64 rng(42);
  std::vector<otlp::trace::v1::Span> pool;
  for (int i = 0; i < 12; ++i)
    pool.push_back(make_span(tid(), i, "s" + std::to_string(i % 5), 100 + i, 200 + i));
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> pieces;
    // Reference: (service, scope) groups in first-appearance order, spans deduplicated by bytes.
    std::vector<std::string> services;
    std::map<std::string, std::vector<std::string>> scopes;  // service -> scopes in order
    std::map<std::pair<std::string, std::string>, std::vector<std::string>> spans;
    int n = 1 + static_cast<int>(rng() % 4);
    for (int p = 0; p < n; ++p) {
      tempopb::Trace t;
      int k = 1 + static_cast<int>(rng() % 6);
      for (int j = 0; j < k; ++j) {
        std::string svc = "svc" + std::to_string(rng() % 3);
        std::string sc = "lib" + std::to_string(rng() % 2);
        const auto& span = pool[rng() % pool.size()];
        add_span(t, svc, sc, span);
        if (std::find(services.begin(), services.end(), svc) == services.end()) services.push_back(svc);
        auto& sl = scopes[svc];
        if (std::find(sl.begin(), sl.end(), sc) == sl.end()) sl.push_back(sc);
        auto& v = spans[{svc, sc}];
        std::string bytes = span.SerializeAsString();
        if (std::find(v.begin(), v.end(), bytes) == v.end()) v.push_back(bytes);
      }
      pieces.push_back(t.SerializeAsString());
    }
    std::vector<std::string_view> views(pieces.begin(), pieces.end());
    tempopb::Trace m = parse(merge_traces(views));
    ASSERT_EQ(m.resourcespans_size(), static_cast<int>(services.size()));
    for (int r = 0; r < m.resourcespans_size(); ++r) {
      const auto& rs = m.resourcespans(r);
      ASSERT_EQ(rs.resource().attributes(0).value().string_value(), services[r]);
      const auto& sl = scopes[services[r]];
      ASSERT_EQ(rs.scope_spans_size(), static_cast<int>(sl.size()));
      for (int s = 0; s < rs.scope_spans_size(); ++s) {
        ASSERT_EQ(rs.scope_spans(s).scope().name(), sl[s]);
        const auto& want = spans[{services[r], sl[s]}];
        ASSERT_EQ(rs.scope_spans(s).spans_size(), static_cast<int>(want.size()));
        for (size_t i = 0; i < want.size(); ++i) {
          EXPECT_EQ(rs.scope_spans(s).spans(static_cast<int>(i)).SerializeAsString(), want[i]);
        }
      }
    }
  }
}

TEST(TraceMergeTest, EmptyInputsGiveAnEmptyTrace) {
  auto m = merge_traces({});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(*m, "");
  auto m2 = merge_traces({"", ""});
  ASSERT_TRUE(m2.ok());
  EXPECT_EQ(*m2, "");
}

TEST(TraceMergeTest, MalformedInputIsInvalidArgument) {
  tempopb::Trace a;
  add_span(a, "svc", "lib", make_span(tid(), 1, "x", 1, 2));
  std::string good = a.SerializeAsString();
  for (size_t cut = 1; cut < good.size(); ++cut) {
    std::string bad = good.substr(0, cut);
    auto m = merge_traces({good, bad});
    // A cut can land on a field boundary of the outer message only at the end, so every prefix is malformed.
    EXPECT_FALSE(m.ok()) << cut;
    if (!m.ok()) {
      EXPECT_EQ(m.status().code(), StatusCode::InvalidArgument);
      EXPECT_NE(m.status().message().find("trace piece 1"), std::string::npos) << m.status().message();
    }
  }
  EXPECT_FALSE(merge_traces({std::string("\x0b\x00", 2)}).ok());  // group wire type
}

}  // namespace
}  // namespace spindle
