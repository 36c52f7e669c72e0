// QueryColumnFilter against the conformance corpus: it must never rule out a trace the evaluator matches (every
// query of the hand-computed tables, at block, page and row level), and it must rule out what the columns can
// decide. Also: which queries get no filter at all.
#include "api/traceql/column_filter.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "api/traceql/evaluator.h"
#include "api/traceql/parser.h"
#include "api/traceql/trace_model.h"
#include "storage/search_columns.h"
#include "tests/api/traceql/conformance_cases.h"
#include "tests/api/traceql/trace_corpus.h"

namespace spindle {
namespace {

using namespace corpus;

// One trace as a block would store it: its column page (one row), the page entry and the block summary.
struct Stored {
  std::string raw;
  ColumnPage page;
  ColumnPageEntry entry;
  ColumnBlockSummary summary;
};

Stored store(const std::string& trace_pb) {
  Stored s;
  ColumnPageBuilder b;
  EXPECT_TRUE(b.add_row(trace_pb).ok());
  s.raw = b.take_page(s.entry);
  s.summary = b.summary();
  EXPECT_TRUE(s.page.decode(s.raw, 1).is_ok());
  return s;
}

std::shared_ptr<const QueryColumnFilter> filter_of(const std::string& q) {
  auto parsed = parse_traceql(q);
  EXPECT_TRUE(parsed.ok()) << q;
  if (!parsed.ok()) return nullptr;
  return QueryColumnFilter::build(*parsed);
}

// Whether the filter lets the trace through at each level (a null filter lets everything through).
struct Verdict {
  bool block = true, page = true, row = true;
  bool any_level_rules_out() const { return !block || !page || !row; }
};

Verdict judge(const QueryColumnFilter* f, const Stored& s) {
  Verdict v;
  if (f == nullptr) return v;
  std::unique_ptr<ColumnBlockFilter> block = f->for_block(s.summary);
  v.block = block->block_may_match();
  v.page = block->page_may_match(s.entry);
  std::vector<uint8_t> candidates;
  block->match_rows(s.page, candidates);
  EXPECT_EQ(candidates.size(), 1u);
  v.row = !candidates.empty() && candidates[0] != 0;
  return v;
}

TEST(ColumnFilterTest, NeverRulesOutATraceTheConformanceTablesMatch) {
  const Stored corpus = store(corpus_trace());
  const Stored incomplete = store(incomplete_trace());
  int filtered = 0;
  int ruled_out = 0;
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.query);
    auto f = filter_of(c.query);
    filtered += f != nullptr;
    Verdict v = judge(f.get(), corpus);
    if (!c.want.empty()) {
      EXPECT_TRUE(v.block && v.page && v.row);
    } else {
      ruled_out += v.any_level_rules_out();
    }
  }
  for (const TwoTraceCase& c : kIncompleteCases) {
    SCOPED_TRACE(c.query);
    auto f = filter_of(c.query);
    Verdict a = judge(f.get(), corpus);
    Verdict b = judge(f.get(), incomplete);
    if (!c.want_corpus.empty()) {
      EXPECT_TRUE(a.block && a.page && a.row);
    }
    if (!c.want_incomplete.empty()) {
      EXPECT_TRUE(b.block && b.page && b.row);
    }
  }
  // The tables exercise the filter, not only queries it ignores, and some empty answers are found by columns.
  EXPECT_GE(filtered, 40);
  EXPECT_GE(ruled_out, 3);
}

TEST(ColumnFilterTest, RulesOutWhatTheColumnsDecide) {
  const Stored corpus = store(corpus_trace());
  // `summaries`: the block's and the page's verdict (the page is the whole block here); `row`: the spans'.
  struct Want {
    const char* query;
    bool summaries, row;
  };
  const Want cases[] = {
      {R"({ resource.service.name = "nope" })", false, false},
      {R"({ resource.service.name =~ "front.*" && name = "charge" })", true, false},
      {R"({ name = "auth" && status = error })", true, false},
      {R"({ duration > 1h })", false, false},
      {R"({ kind = producer && status = error })", true, false},
      {R"({ span.http.method = "DELETE" })", false, false},
      {R"({ span.http.method = "GET" && status = error })", true, false},
      {R"({ .http.method = "DELETE" })", true, true},  // unscoped: resources, events, links may have it
      // auth's subtree has no error, but columns cannot see structure: both sides exist.
      {R"({ name = "auth" } >> { status = error })", true, true},
      {R"({ name = "nope" } >> { status = error })", false, false},
      {R"({ name = "nope" } || { status = error })", true, true},
      {R"({ name = "nope" } !>> { status = error })", true, true},
      // Summaries judge each comparison alone: that the three cover every status shows only per span.
      {R"({ !(status = error || status = ok || status = unset) })", true, false},
      {R"({ duration < 1ms || duration > 2s })", false, false},
      {R"({ name = "nope" } | count() > 1)", false, false},
      // `status = error && maybe` is not "yes" on the error spans: negated it must not become "no" (charge and
      // db.query match: no span has span.foo).
      {R"({ status = error && !(status = error && span.foo = "x") })", true, true},
      {R"({ name = "nope" && span.foo = "x" })", false, false},
  };
  for (const Want& w : cases) {
    SCOPED_TRACE(w.query);
    auto f = filter_of(w.query);
    ASSERT_NE(f, nullptr);
    Verdict v = judge(f.get(), corpus);
    EXPECT_EQ(v.block, w.summaries);
    EXPECT_EQ(v.page, w.summaries);
    EXPECT_EQ(v.row, w.row);
  }
}

// Pages of one block: each page's value set decides for that page alone.
TEST(ColumnFilterTest, PagesAreJudgedByTheirOwnValues) {
  ColumnPageBuilder b;
  ColumnPageEntry first, second;
  ASSERT_TRUE(b.add_row(corpus_trace()).ok());  // services frontend, checkout, db
  b.take_page(first);
  ASSERT_TRUE(b.add_row(incomplete_trace()).ok());  // service svc2
  b.take_page(second);
  auto f = filter_of(R"({ resource.service.name = "svc2" && name =~ "orphan.*" })");
  ASSERT_NE(f, nullptr);
  auto block = f->for_block(b.summary());
  EXPECT_TRUE(block->block_may_match());
  EXPECT_FALSE(block->page_may_match(first));
  EXPECT_TRUE(block->page_may_match(second));
  auto other = filter_of(R"({ resource.service.name = "db" })");
  EXPECT_TRUE(other->for_block(b.summary())->page_may_match(first));
  EXPECT_FALSE(other->for_block(b.summary())->page_may_match(second));
}

// Random queries against the evaluator: whenever the evaluator matches a trace, the filter must let it through
// at every level. Atoms mix what the columns decide with what they cannot; !, && and || nest them.
TEST(ColumnFilterTest, RandomQueriesNeverRuleOutAMatch) {
  const std::string corpus_pb = corpus_trace();
  const std::string incomplete_pb = incomplete_trace();
  TraceModel corpus_model, incomplete_model;
  ASSERT_TRUE(build_trace_model(*TraceId::from_bytes(corpus_trace_id()), corpus_pb, corpus_model).is_ok());
  ASSERT_TRUE(build_trace_model(TraceId{}, incomplete_pb, incomplete_model).is_ok());
  const Stored corpus = store(corpus_pb);
  const Stored incomplete = store(incomplete_pb);
  const char* const atoms[] = {
      "status = error", "status != ok", "status = unset", "kind = client", "kind != internal",
      "duration > 50ms", "duration <= 10ms", "duration = 20ms", "duration >= 250ms",
      R"(name = "auth")", R"(name =~ "db.*")", R"(name !~ ".*a.*")", R"(name != "render")", R"(name = "orphan-a")",
      R"(resource.service.name = "frontend")", R"(resource.service.name =~ "c.*")",
      R"(resource.service.name != "db")", R"(resource.service.name = "svc2")",
      R"(span.http.method = "GET")", R"(.http.method = "GET")", R"(span.http.method != "POST")",
      R"(.http.method !~ "G.*")", "span.retries > 1", R"(span.foo = "x")", R"(.db.system = "redis")",
      R"(resource.deployment.env = "prod")", "true", "false", "span.cached = true",
  };
  std::mt19937 rng(4242);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  std::function<std::string(int)> expr = [&](int depth) -> std::string {
    size_t choice = depth <= 0 ? 0 : pick(4);
    switch (choice) {
      case 0:
        return atoms[pick(std::size(atoms))];
      case 1:
        return "!(" + expr(depth - 1) + ")";
      case 2:
        return "(" + expr(depth - 1) + " && " + expr(depth - 1) + ")";
      default:
        return "(" + expr(depth - 1) + " || " + expr(depth - 1) + ")";
    }
  };
  const char* const joins[] = {" >> ", " > ", " && ", " || ", " !> ", " ~ ", " &>> ", " !<< "};
  int checked = 0, matched = 0, ruled_out = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string q = "{ " + expr(3) + " }";
    if (i % 3 == 1) q += std::string(joins[pick(std::size(joins))]) + "{ " + expr(2) + " }";
    if (i % 7 == 2) q += " | count() > 1";
    auto parsed = parse_traceql(q);
    ASSERT_TRUE(parsed.ok()) << q << ": " << parsed.status().message();
    auto again = parse_traceql(q);  // compile() takes the tree; the filter reads its own copy
    auto compiled = CompiledQuery::compile(std::move(again).value());
    if (!compiled.ok()) continue;  // type errors (e.g. comparing a status with a string) are not searches
    auto f = QueryColumnFilter::build(*parsed);
    ++checked;
    auto check = [&](const TraceModel& model, const Stored& stored) {
      const bool matches = !(*compiled)->evaluate(model).empty();
      Verdict v = judge(f.get(), stored);
      if (matches) {
        ++matched;
        EXPECT_TRUE(v.block && v.page && v.row) << q;
      } else {
        ruled_out += v.any_level_rules_out();
      }
    };
    check(corpus_model, corpus);
    check(incomplete_model, incomplete);
  }
  EXPECT_GE(checked, 2000);
  EXPECT_GE(matched, 500);
  EXPECT_GE(ruled_out, 500);
}

TEST(ColumnFilterTest, QueriesTheColumnsCannotJudgeGetNoFilter) {
  for (const char* q : {"{}", "{ span.user.id = \"u-42\" }", "{ .service.name = \"db\" }",
                        "{ parent.name = \"auth\" }", "{ name = \"auth\" || span.retries > 1 }",
                        "({ } | count()) > 2", "{ duration * 2 > 1s }", "{ \"auth\" =~ name }",
                        "{ name > \"a\" }", "{ duration > 1.5 }"}) {
    SCOPED_TRACE(q);
    EXPECT_EQ(filter_of(q), nullptr);
  }
}

}  // namespace
}  // namespace spindle
