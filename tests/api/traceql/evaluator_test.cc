#include "api/traceql/evaluator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/traceql/parser.h"
#include "core/trace_id.h"
#include "tests/api/traceql/conformance_cases.h"
#include "tests/api/traceql/trace_corpus.h"

namespace spindle {
namespace {

using namespace corpus;

// Names of the spans one query selects on one trace (union over its spansets), sorted.
std::set<std::string> run(const TraceModel& m, const std::string& q) {
  Result<Query> parsed = parse_traceql(q);
  EXPECT_TRUE(parsed.ok()) << q << ": " << parsed.status().message();
  if (!parsed.ok()) return {"<parse error>"};
  auto compiled = CompiledQuery::compile(std::move(parsed).value());
  EXPECT_TRUE(compiled.ok()) << q << ": " << compiled.status().message();
  if (!compiled.ok()) return {"<compile error>"};
  std::set<std::string> names;
  for (const SpansetResult& ss : (*compiled)->evaluate(m)) {
    EXPECT_TRUE(std::is_sorted(ss.spans.begin(), ss.spans.end())) << q;
    EXPECT_EQ(std::adjacent_find(ss.spans.begin(), ss.spans.end()), ss.spans.end()) << q;
    for (uint32_t s : ss.spans) names.insert(std::string(m.spans[s].name));
  }
  return names;
}

std::vector<SpansetResult> spansets(const TraceModel& m, const std::string& q) {
  Result<Query> parsed = parse_traceql(q);
  EXPECT_TRUE(parsed.ok()) << q;
  if (!parsed.ok()) return {};
  auto compiled = CompiledQuery::compile(std::move(parsed).value());
  EXPECT_TRUE(compiled.ok()) << q << ": " << compiled.status().message();
  if (!compiled.ok()) return {};
  return (*compiled)->evaluate(m);
}

std::set<std::string> names_of(const TraceModel& m, const SpansetResult& ss) {
  std::set<std::string> out;
  for (uint32_t s : ss.spans) out.insert(std::string(m.spans[s].name));
  return out;
}

const Static* find_attr(const SpansetResult& ss, const std::string& key) {
  for (const auto& a : ss.attributes) {
    if (a.first == key) return &a.second;
  }
  return nullptr;
}

class EvaluatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pb_ = corpus_trace();
    ASSERT_TRUE(build_trace_model(*TraceId::from_bytes(corpus_trace_id()), pb_, m_).is_ok());
    incomplete_pb_ = incomplete_trace();
    ASSERT_TRUE(build_trace_model(TraceId{}, incomplete_pb_, incomplete_).is_ok());
  }
  uint32_t index_of(std::string_view name) const {
    for (uint32_t i = 0; i < m_.spans.size(); ++i) {
      if (m_.spans[i].name == name) return i;
    }
    ADD_FAILURE() << name;
    return 0;
  }

  std::string pb_, incomplete_pb_;
  TraceModel m_, incomplete_;
};

// kRoot, kAll and the query table kCases live in conformance_cases.h (shared with the end-to-end test).


TEST_F(EvaluatorTest, QueriesSelectTheExpectedSpans) {
  static_assert(sizeof(kCases) / sizeof(kCases[0]) >= 80);
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.query);
    EXPECT_EQ(run(m_, c.query), c.want);
  }
}

TEST_F(EvaluatorTest, IncompleteTraceStructure) {
  EXPECT_EQ(run(incomplete_, "{ nestedSetParent < 0 }"),
            (std::set<std::string>{"orphan-a", "orphan-b", "lonely"}));
  EXPECT_EQ(run(incomplete_, "{ rootName != nil }"), std::set<std::string>{});
  EXPECT_EQ(run(incomplete_, "{ rootServiceName = nil }").size(), 4u);
  // Siblings under the same missing parent; `lonely` has another missing parent; child-of-a is alone.
  EXPECT_EQ(run(incomplete_, "{ } ~ { }"), (std::set<std::string>{"orphan-a", "orphan-b"}));
  EXPECT_EQ(run(incomplete_, R"({ name = "orphan-a" } > { })"), std::set<std::string>{"child-of-a"});
  EXPECT_EQ(run(incomplete_, R"({ name = "child-of-a" } << { })"), std::set<std::string>{"orphan-a"});
  EXPECT_EQ(run(incomplete_, R"({ span:parentID = "00000000000000ff" })"),
            (std::set<std::string>{"orphan-a", "orphan-b"}));
}

// The two-trace table of the end-to-end conformance test, checked on each trace model on its own.
TEST_F(EvaluatorTest, TwoTraceCasesSelectTheExpectedSpans) {
  for (const TwoTraceCase& c : kIncompleteCases) {
    SCOPED_TRACE(c.query);
    EXPECT_EQ(run(m_, c.query), c.want_corpus);
    EXPECT_EQ(run(incomplete_, c.query), c.want_incomplete);
  }
}

TEST_F(EvaluatorTest, GroupsCarryTheirKeyAndAggregates) {
  auto sets = spansets(m_, "{ } | by(resource.service.name) | count() > 2");
  ASSERT_EQ(sets.size(), 2u);  // frontend and db; checkout has 2 spans
  EXPECT_EQ(names_of(m_, sets[0]), (std::set<std::string>{kRoot, "auth", "render"}));
  ASSERT_NE(find_attr(sets[0], "by(resource.service.name)"), nullptr);
  EXPECT_EQ(*find_attr(sets[0], "by(resource.service.name)"), Static::string("frontend"));
  EXPECT_EQ(*find_attr(sets[0], "count()"), Static::integer(3));
  EXPECT_EQ(*find_attr(sets[1], "by(resource.service.name)"), Static::string("db"));
  EXPECT_EQ(sets[0].attributes.size(), 2u);

  // Spans without the attribute form a nil group.
  sets = spansets(m_, "{ } | by(span.cached)");
  ASSERT_EQ(sets.size(), 3u);
  EXPECT_EQ(*find_attr(sets[0], "by(span.cached)"), Static::boolean(false));
  EXPECT_EQ(*find_attr(sets[1], "by(span.cached)"), Static::nil());
  EXPECT_EQ(sets[1].spans.size(), 6u);

  // coalesce() merges the groups and drops their attributes.
  sets = spansets(m_, "{ } | by(resource.service.name) | coalesce()");
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].spans.size(), 8u);
  EXPECT_TRUE(sets[0].attributes.empty());
}

TEST_F(EvaluatorTest, AggregateValuesAndTypes) {
  auto one = [&](const std::string& q, const std::string& key) -> Static {
    auto sets = spansets(m_, q);
    EXPECT_EQ(sets.size(), 1u) << q;
    if (sets.size() != 1) return Static::nil();
    const Static* v = find_attr(sets[0], key);
    EXPECT_NE(v, nullptr) << q;
    return v != nullptr ? *v : Static::nil();
  };
  // (1000+50+600+250+10+270+20+70) / 8 ms
  EXPECT_EQ(one("{ } | avg(duration) > 1ms", "avg(duration)"), Static::duration(283'750'000));
  EXPECT_EQ(one("{ } | sum(span.retries) = 6", "sum(span.retries)"), Static::integer(6));
  EXPECT_EQ(one("{ } | avg(span.retries) > 1", "avg(span.retries)"), Static::floating(1.5));
  EXPECT_EQ(one("{ } | max(span.ratio) > 1", "max(span.ratio)"), Static::floating(1.5));
  EXPECT_EQ(one("{ } | min(span.ratio) < 1", "min(span.ratio)"), Static::floating(0.5));
  EXPECT_EQ(one("{ } | sum(duration) > 1s", "sum(duration)"), Static::duration(2270 * 1'000'000LL));
  EXPECT_EQ(one("{ } | max(span.retries) >= 3.0", "max(span.retries)"), Static::integer(3));
  auto sets = spansets(m_, "{ } | count() > 1 | avg(duration) > 1ms");
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].attributes.size(), 2u);
  EXPECT_EQ(sets[0].attributes[0].first, "count()");
  EXPECT_EQ(sets[0].attributes[1].first, "avg(duration)");
}

TEST_F(EvaluatorTest, RootLevelScalarPipelineFilter) {
  auto sets = spansets(m_, "({ span.retries != nil } | count()) > 3");
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(*find_attr(sets[0], "count()"), Static::integer(4));
  // count() = 0 holds for a trace without such spans: the trace matches with no spans to show.
  sets = spansets(m_, R"(({ name = "nope" } | count()) = 0)");
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_TRUE(sets[0].spans.empty());
  EXPECT_EQ(*find_attr(sets[0], "count()"), Static::integer(0));
  EXPECT_TRUE(spansets(m_, R"(({ name = "nope" } | avg(duration)) > 0)").empty());
}

Status compile_error(const std::string& q) {
  Result<Query> parsed = parse_traceql(q);
  EXPECT_TRUE(parsed.ok()) << q << ": " << parsed.status().message();
  if (!parsed.ok()) return parsed.status();
  auto compiled = CompiledQuery::compile(std::move(parsed).value());
  if (compiled.ok()) return Status::ok();
  return compiled.status();
}

TEST(EvaluatorCompileTest, TypeErrorsAreInvalidArgument) {
  struct Bad {
    const char* query;
    const char* message;
  };
  const Bad bad[] = {
      {"{ status = 1 }", "binary operations must operate on the same type: status = 1"},
      {R"({ name = 1 })", "binary operations must operate on the same type"},
      {"{ kind = error }", "binary operations must operate on the same type"},
      {R"({ duration > "1s" })", "binary operations must operate on the same type"},
      {R"({ span:id = 5 })", "binary operations must operate on the same type"},
      {"{ 1 }", "span filter field expressions must resolve to a boolean: { 1 }"},
      {"{ .a + 1 }", "span filter field expressions must resolve to a boolean"},
      {R"({ "x" })", "span filter field expressions must resolve to a boolean"},
      {"{ status > ok }", "illegal operation for the given types"},
      {"{ .a && 1 }", "illegal operation for the given types"},
      {"{ .a > nil }", "illegal operation for the given types"},
      {"{ kind =~ server }", "illegal operation for the given types"},
      {"{ true > false }", "illegal operation for the given types"},
      {R"({ -name = "x" })", "illegal operation for the given type: -name"},
      {"{ !duration }", "illegal operation for the given type"},
      {R"({ .a =~ "(" })", "invalid regex"},
      {R"({ name !~ "[a-" })", "invalid regex"},
      {"{ } | avg(name) > 1", "aggregate field expressions must resolve to a number type: avg(name)"},
      {"{ } | sum(1) > 1", "aggregate field expressions must reference the span: sum(1)"},
      {"{ } | by(1)", "grouping field expressions must reference the span: by(1)"},
      {"{ parent = nil }", "intrinsic (parent) not yet supported"},
      {"({ } | avg(statusMessage)) > 3", "aggregate field expressions must resolve to a number type"},
      {"({ status = 2 } | count() > 1) && { }", "binary operations must operate on the same type"},
      {"{ } | count() > 1 | select(status = 3)", "binary operations must operate on the same type"},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.query);
    Status st = compile_error(b.query);
    EXPECT_EQ(st.code(), StatusCode::InvalidArgument);
    EXPECT_NE(st.message().find(b.message), std::string::npos) << st.message();
  }
  // And their valid neighbours compile.
  for (const char* ok : {"{ .a }", "{ .a = nil }", "{ status = nil }", "{ .a = 1 && .b =~ \"x\" }",
                         "{ } | count() > 1s", "{ duration > 1.5 }", "{ .a > .b }", "{ nestedSetParent < 0 }",
                         "{ } | avg(.a) > 1", "{ span:childCount = 1 }", "{ parent.duration > 1s }"}) {
    EXPECT_TRUE(compile_error(ok).is_ok()) << ok << ": " << compile_error(ok).message();
  }
}

TEST_F(EvaluatorTest, ValueOfShowsSearchResultValues) {
  auto v = [&](std::string_view span, const std::string& ident) {
    Result<AttributeRef> ref = parse_traceql_identifier(ident);
    EXPECT_TRUE(ref.ok()) << ident;
    return CompiledQuery::value_of(m_, index_of(span), *ref);
  };
  EXPECT_EQ(v("auth", "name"), Static::string("auth"));
  EXPECT_EQ(v("auth", "duration"), Static::duration(50'000'000));
  EXPECT_EQ(v("auth", "status"), Static::status(SpanStatus::Ok));
  EXPECT_EQ(v("charge", "kind"), Static::kind(SpanKind::Client));
  EXPECT_EQ(v("charge", "statusMessage"), Static::string("card declined"));
  EXPECT_EQ(v("charge", "span:id"), Static::string("a1b2c3d4e5f60703"));
  EXPECT_EQ(v("charge", "span:parentID"), Static::string("a1b2c3d4e5f60701"));
  EXPECT_EQ(v(kRoot, "span:parentID"), std::nullopt);
  EXPECT_EQ(v("auth", "trace:id"), Static::string("abcdef0123456789abcdef012345678"));
  EXPECT_EQ(v("auth", "traceDuration"), Static::duration(1'000'000'000));
  EXPECT_EQ(v("auth", "rootServiceName"), Static::string("frontend"));
  EXPECT_EQ(v("auth", "rootName"), Static::string(kRoot));
  EXPECT_EQ(v(kRoot, "span:childCount"), Static::integer(3));
  EXPECT_EQ(v(kRoot, "nestedSetParent"), Static::integer(-1));
  EXPECT_EQ(v("charge", "event:name"), Static::string("exception"));  // the first event
  EXPECT_EQ(v("charge", "event:timeSinceStart"), Static::duration(150'000'000));
  EXPECT_EQ(v("charge", "event.attempt"), Static::integer(2));  // the first event that has it
  EXPECT_EQ(v("auth", "event:name"), std::nullopt);
  EXPECT_EQ(v(kRoot, "link:traceID"), Static::string("1122334455667788"));
  EXPECT_EQ(v(kRoot, "link:spanID"), Static::string("00000000000000ee"));
  EXPECT_EQ(v(kRoot, "link.link.kind"), Static::string("follows"));
  EXPECT_EQ(v("render", "instrumentation:name"), Static::string("io.otel.http"));
  EXPECT_EQ(v("render", "instrumentation:version"), Static::string("1.2.0"));
  EXPECT_EQ(v("render", "instrumentation.lib.kind"), Static::string("http"));
  EXPECT_EQ(v("db.query", "resource.service.name"), Static::string("db"));
  EXPECT_EQ(v("auth", ".dup"), Static::string("resource"));
  EXPECT_EQ(v(kRoot, ".dup"), Static::string("span"));
  EXPECT_EQ(v(kRoot, "span.tags"), Static::string(R"(["a","b"])"));
  EXPECT_EQ(v(kRoot, "span.codes"), Static::string("[200,404]"));
  EXPECT_EQ(v(kRoot, "span.cached"), Static::boolean(false));
  EXPECT_EQ(v(kRoot, "span.ratio"), Static::floating(0.5));
  EXPECT_EQ(v("async.consume", "span.kv"), std::nullopt);
  EXPECT_EQ(v("async.consume", "span.missing"), std::nullopt);
  EXPECT_EQ(v("db.query", "parent.name"), Static::string("charge"));
  EXPECT_EQ(v(kRoot, "parent.name"), std::nullopt);
  Result<AttributeRef> name = parse_traceql_identifier("name");
  EXPECT_EQ(CompiledQuery::value_of(m_, 99, *name), std::nullopt);
}

std::vector<std::string> attribute_texts(const std::string& q) {
  Result<Query> parsed = parse_traceql(q);
  EXPECT_TRUE(parsed.ok()) << q;
  auto compiled = CompiledQuery::compile(std::move(parsed).value());
  EXPECT_TRUE(compiled.ok()) << q;
  std::vector<std::string> out;
  if (!compiled.ok()) return out;
  for (const AttributeRef& r : (*compiled)->span_attributes()) out.push_back(to_string(r));
  return out;
}

TEST(EvaluatorCompileTest, SpanAttributesListsReferencedAttributes) {
  using V = std::vector<std::string>;
  EXPECT_EQ(attribute_texts(R"({ span.http.method = "GET" && name = "x" && duration > 1s && status = error } |
                                select(resource.service.name, span:id, kind, span.http.method))"),
            (V{"span.http.method", "status", "resource.service.name", "kind"}));
  EXPECT_EQ(attribute_texts("{ .a = 1 || .a = 2 }"), (V{".a"}));
  EXPECT_EQ(attribute_texts("{ } | by(resource.service.name) | avg(span.retries) > 1"),
            (V{"resource.service.name", "span.retries"}));
  EXPECT_EQ(attribute_texts("{ nestedSetParent < 0 }"), V{});
  EXPECT_EQ(attribute_texts(
                "{ traceDuration > 1s && rootName = \"a\" && rootServiceName = \"b\" && trace:id = \"1\" }"),
            V{});
  EXPECT_EQ(attribute_texts("{ statusMessage != \"\" } >> { event:name = \"e\" && link:spanID != nil }"),
            (V{"statusMessage", "event:name", "link:spanID"}));
  EXPECT_EQ(attribute_texts("({ span.a = 1 } | count()) > 1"), V{"span.a"});
  EXPECT_EQ(attribute_texts("{ parent.span.x = 1 && instrumentation:name = \"y\" }"),
            (V{"parent.span.x", "instrumentation:name"}));
}

// Long chains reach the parser's height bound (kMaxTraceqlTreeHeight): evaluation must not overflow.
TEST_F(EvaluatorTest, DeepQueriesEvaluate) {
  std::string q = "{ span.retries >= 0";
  for (int i = 0; i < 1990; ++i) q += " && span.retries >= 0";
  q += " }";
  EXPECT_EQ(run(m_, q), (std::set<std::string>{"auth", "charge", "db.query", "async.consume"}));

  q = "{ span.retries";
  for (int i = 0; i < 1990; ++i) q += " + 0";
  q += " = 3 }";
  EXPECT_EQ(run(m_, q), std::set<std::string>{"charge"});

  q = "{ }";
  for (int i = 0; i < 1990; ++i) q += " && { }";
  EXPECT_EQ(run(m_, q), kAll);

  q = R"({ name = "x" })";
  for (int i = 0; i < 1990; ++i) q += R"( || { name = "auth" })";
  EXPECT_EQ(run(m_, q), std::set<std::string>{"auth"});

  q = R"({ name = "charge" })";
  for (int i = 0; i < 1990; ++i) q += " >> { }";
  EXPECT_EQ(run(m_, q), std::set<std::string>{});
  q = R"({ name = "charge" })";
  for (int i = 0; i < 1990; ++i) q += " &>> { }";  // a fixed point: charge and its subtree
  EXPECT_EQ(run(m_, q),
            (std::set<std::string>{"charge", "db.query", "cache.get", "db.commit", "async.consume"}));

  std::string zeros;
  for (int i = 0; i < 1990; ++i) zeros += " + 0";
  EXPECT_EQ(run(m_, "{ } | count()" + zeros + " = 8"), kAll);
  EXPECT_EQ(run(m_, "{ } | avg(span.retries" + zeros + ") = 1.5"), kAll);
  EXPECT_EQ(run(m_, "{ } | by(span.retries" + zeros + ") | count() = 1"),
            (std::set<std::string>{"auth", "charge", "db.query", "async.consume"}));
  EXPECT_EQ(run(m_, "({ span.retries" + zeros + " > 0 } | count()) = 3"),
            (std::set<std::string>{"charge", "db.query", "async.consume"}));
  // A deep invalid expression reports its error instead of overflowing.
  Result<Query> bad = parse_traceql("{ name" + zeros + " = 1 }");
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(CompiledQuery::compile(std::move(bad).value()).ok());
}

// Structural operators on large chain- and star-shaped traces stay fast (no quadratic blowup).
TEST(EvaluatorScaleTest, StructuralOperatorsOnLargeTraces) {
  constexpr int kSpans = 50000;
  auto id = [](int i) {
    std::string s(8, '\0');
    for (int b = 0; b < 4; ++b) s[7 - b] = static_cast<char>((i + 1) >> (8 * b));
    return s;
  };
  for (bool chain : {true, false}) {
    SCOPED_TRACE(chain ? "chain" : "star");
    std::vector<SpanSpec> specs;
    specs.reserve(kSpans);
    for (int i = 0; i < kSpans; ++i) {
      SpanSpec s;
      s.id = id(i);
      if (i > 0) s.parent = chain ? id(i - 1) : id(0);
      s.name = "s";
      s.start_ms = static_cast<uint64_t>(i);
      s.end_ms = static_cast<uint64_t>(i) + 1;
      specs.push_back(std::move(s));
    }
    ResourceSpec r{{{"service.name", str("big")}}, {{"lib", "1", {}, std::move(specs)}}};
    std::string pb = build_trace(raw_id({9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9}), {r});
    TraceModel m;
    ASSERT_TRUE(build_trace_model(TraceId{}, pb, m).is_ok());
    auto count = [&](const char* q) {
      auto compiled = CompiledQuery::compile(std::move(parse_traceql(q)).value());
      EXPECT_TRUE(compiled.ok());
      size_t n = 0;
      for (const auto& ss : (*compiled)->evaluate(m)) n += ss.spans.size();
      return n;
    };
    auto start = std::chrono::steady_clock::now();
    const size_t all_but_one = kSpans - 1;
    EXPECT_EQ(count("{ } >> { }"), all_but_one);
    EXPECT_EQ(count("{ } << { }"), chain ? all_but_one : 1u);
    EXPECT_EQ(count("{ } > { }"), all_but_one);
    EXPECT_EQ(count("{ } < { }"), chain ? all_but_one : 1u);
    EXPECT_EQ(count("{ } ~ { }"), chain ? 0u : all_but_one);
    EXPECT_EQ(count("{ } &>> { }"), static_cast<size_t>(kSpans));
    EXPECT_EQ(count("{ } !~ { }"), chain ? static_cast<size_t>(kSpans) : 1u);
    EXPECT_EQ(count("{ nestedSetParent < 0 } !>> { }"), 1u);
    EXPECT_EQ(count("{ } | by(span:id) | count() = 1"), static_cast<size_t>(kSpans));
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(secs, 20.0);  // O(n log n) runs in well under a second here; quadratic would take minutes
  }
}

TEST_F(EvaluatorTest, ConcurrentEvaluationOfOneCompiledQuery) {
  auto compiled = CompiledQuery::compile(
      std::move(parse_traceql(R"({ span.tags =~ "[bc]" } | by(resource.service.name) | count() > 0)"))
          .value());
  ASSERT_TRUE(compiled.ok());
  std::shared_ptr<const CompiledQuery> q = *compiled;
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        auto sets = q->evaluate(m_);
        if (sets.size() == 2 && sets[0].spans.size() == 1 && sets[1].spans.size() == 1) ++ok[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(ok[t], 500);
}

TEST_F(EvaluatorTest, EmptyTraceMatchesNothing) {
  TraceModel empty;
  ASSERT_TRUE(build_trace_model(TraceId{}, "", empty).is_ok());
  EXPECT_TRUE(run(empty, "{ }").empty());
  EXPECT_TRUE(run(empty, "({ } | count()) = 0").empty());
}

}  // namespace
}  // namespace spindle
