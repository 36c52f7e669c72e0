// QueryColumnFilter against the conformance corpus: it must never rule out a trace the evaluator matches (every
// query of the hand-computed tables, at block, page and row level), and it must rule out what the columns can
// decide. Also: which queries get no filter at all.
#include "api/traceql/column_filter.h"

#include <gtest/gtest.h>

#include "api/traceql/parser.h"
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
