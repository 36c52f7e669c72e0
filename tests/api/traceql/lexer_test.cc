#include "api/traceql/lexer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/traceql/parser.h"

namespace spindle {
namespace {

std::vector<Token> lex(std::string_view s) { return lex_traceql(s, kMaxTraceqlTokens); }

std::vector<TokenKind> kinds(std::string_view s) {
  std::vector<TokenKind> out;
  for (const Token& t : lex(s)) out.push_back(t.kind);
  return out;
}

using K = TokenKind;

TEST(TraceqlLexer, OperatorsAreGreedy) {
  EXPECT_EQ(kinds("= != =~ !~ > >= < <= && || ! + - * / % ^"),
            (std::vector<K>{K::Eq, K::Neq, K::Regex, K::NotRegex, K::Gt, K::Gte, K::Lt, K::Lte, K::And, K::Or,
                            K::Not, K::Add, K::Sub, K::Mul, K::Div, K::Mod, K::Pow, K::End}));
  EXPECT_EQ(
      kinds(">> << ~ !> !>> !< !<< &> &>> &< &<< &~"),
      (std::vector<K>{K::Desc, K::Ance, K::Tilde, K::NotChild, K::NotDesc, K::NotParent, K::NotAnce,
                      K::UnionChild, K::UnionDesc, K::UnionParent, K::UnionAnce, K::UnionSibl, K::End}));
  EXPECT_EQ(kinds("{}()|,"),
            (std::vector<K>{K::LBrace, K::RBrace, K::LParen, K::RParen, K::Pipe, K::Comma, K::End}));
  // No spaces: `<>` is two tokens, `!>=` is `!>` then `=`.
  EXPECT_EQ(kinds("<>"), (std::vector<K>{K::Lt, K::Gt, K::End}));
  EXPECT_EQ(kinds("!>="), (std::vector<K>{K::NotChild, K::Eq, K::End}));
  EXPECT_EQ(kinds("&"), (std::vector<K>{K::Identifier, K::End}));
}

TEST(TraceqlLexer, KeywordsAndLiterals) {
  EXPECT_EQ(kinds("true false nil ok error unset unspecified internal server client producer "
                  "consumer minInt maxInt"),
            (std::vector<K>{K::True, K::False, K::Nil, K::StatusOk, K::StatusError, K::StatusUnset,
                            K::KindUnspecified, K::KindInternal, K::KindServer, K::KindClient,
                            K::KindProducer, K::KindConsumer, K::MinInt, K::MaxInt, K::End}));
  EXPECT_EQ(kinds("count avg min max sum by select coalesce with"),
            (std::vector<K>{K::Count, K::Avg, K::Min, K::Max, K::Sum, K::By, K::Select, K::Coalesce, K::With,
                            K::End}));
  EXPECT_EQ(kinds("rate count_over_time quantile_over_time histogram_over_time min_over_time "
                  "max_over_time avg_over_time sum_over_time compare topk bottomk"),
            (std::vector<K>{K::Rate, K::CountOverTime, K::QuantileOverTime, K::HistogramOverTime,
                            K::MinOverTime, K::MaxOverTime, K::AvgOverTime, K::SumOverTime, K::Compare,
                            K::Topk, K::Bottomk, K::End}));
  EXPECT_EQ(kinds("foo most_recent"), (std::vector<K>{K::Identifier, K::Identifier, K::End}));
}

TEST(TraceqlLexer, PositionsAreLineAndCharacterColumn) {
  auto t = lex("{ .a\n  = \"x\" }\n");
  ASSERT_EQ(t.size(), 6u);
  EXPECT_EQ(t[0].pos.line, 1u);
  EXPECT_EQ(t[0].pos.col, 1u);
  EXPECT_EQ(t[1].pos.col, 3u);
  EXPECT_EQ(t[2].pos.line, 2u);
  EXPECT_EQ(t[2].pos.col, 3u);
  EXPECT_EQ(t[3].pos.col, 5u);
  EXPECT_EQ(t[4].pos.col, 9u);
  EXPECT_EQ(t[5].kind, K::End);
  EXPECT_EQ(t[5].pos.line, 3u);
  EXPECT_EQ(t[5].pos.col, 1u);
  // Multi-byte characters count once.
  auto u = lex("{ .\xC3\xA9t\xC3\xA9 = 1 }");
  EXPECT_EQ(u[1].attr.name, "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(u[2].pos.col, 8u);
}

TEST(TraceqlLexer, Numbers) {
  auto t = lex("42 1.5 .99 1e3 2.5E-2 0");
  EXPECT_EQ(t[0].kind, K::Integer);
  EXPECT_EQ(t[0].int_value, 42);
  EXPECT_EQ(t[1].kind, K::Float);
  EXPECT_DOUBLE_EQ(t[1].float_value, 1.5);
  EXPECT_EQ(t[2].kind, K::Float);
  EXPECT_DOUBLE_EQ(t[2].float_value, 0.99);
  EXPECT_EQ(t[3].kind, K::Float);
  EXPECT_DOUBLE_EQ(t[3].float_value, 1000);
  EXPECT_DOUBLE_EQ(t[4].float_value, 0.025);
  EXPECT_EQ(t[5].int_value, 0);
  auto big = lex("9223372036854775807 9223372036854775808");
  EXPECT_EQ(big[0].int_value, INT64_MAX);
  EXPECT_EQ(big[1].kind, K::Error);
  EXPECT_EQ(big[1].str, "strconv.Atoi: parsing \"9223372036854775808\": value out of range");
}

TEST(TraceqlLexer, Durations) {
  struct Case {
    const char* text;
    int64_t ns;
  } cases[] = {
      {"1s", 1000000000LL},       {"100ms", 100000000LL},
      {"1.5m", 90000000000LL},    {"2h", 7200000000000LL},
      {"10us", 10000LL},          {"10\xC2\xB5s", 10000LL},
      {"100ns", 100LL},           {"1d", 86400000000000LL},
      {"1w", 604800000000000LL},  {"1y", 31536000000000000LL},
      {"1h30m", 5400000000000LL}, {"1m30s500ms", 90500000000LL},
      {".5s", 500000000LL},       {"1.5h", 5400000000000LL},
      {"30m1h", 5400000000000LL}, {"0s", 0},
  };
  for (const Case& c : cases) {
    auto t = lex(c.text);
    ASSERT_EQ(t[0].kind, K::Duration) << c.text;
    EXPECT_EQ(t[0].int_value, c.ns) << c.text;
    EXPECT_EQ(t[1].kind, K::End) << c.text;
  }
  // Not durations: the number stands alone and the letters lex on their own.
  EXPECT_EQ(kinds("3foo"), (std::vector<K>{K::Integer, K::Identifier, K::End}));
  EXPECT_EQ(kinds("1x"), (std::vector<K>{K::Integer, K::Identifier, K::End}));
  EXPECT_EQ(kinds("1.5d"), (std::vector<K>{K::Float, K::Identifier, K::End}));
  EXPECT_EQ(kinds("5s}"), (std::vector<K>{K::Duration, K::RBrace, K::End}));
  int64_t ns = 0;
  EXPECT_FALSE(parse_traceql_duration("", &ns));
  EXPECT_FALSE(parse_traceql_duration("s", &ns));
  EXPECT_FALSE(parse_traceql_duration("99999999999h", &ns));
  EXPECT_TRUE(parse_traceql_duration("-1.5s", &ns));
  EXPECT_EQ(ns, -1500000000LL);
}

TEST(TraceqlLexer, Strings) {
  auto t = lex(R"("a\"b\\c\n\t\x41\u00e9\101" `raw \n "q"`)");
  ASSERT_EQ(t[0].kind, K::String);
  EXPECT_EQ(t[0].str,
            "a\"b\\c\n\tA\xC3\xA9"
            "A");
  ASSERT_EQ(t[1].kind, K::String);
  EXPECT_EQ(t[1].str, "raw \\n \"q\"");
  auto multi = lex("`a\nb`");
  EXPECT_EQ(multi[0].str, "a\nb");

  auto bad = lex(R"({ .a = "x\q" })");
  EXPECT_EQ(bad[3].kind, K::Error);
  EXPECT_EQ(bad[3].str, "invalid syntax");
  EXPECT_EQ(bad[3].pos.col, 8u);
  auto open = lex("\"abc");
  EXPECT_EQ(open[0].kind, K::Error);
  EXPECT_EQ(open[0].str, "literal not terminated");
  auto newline = lex("\"ab\ncd\"");
  EXPECT_EQ(newline[0].str, "literal not terminated");
  auto raw_open = lex("`abc");
  EXPECT_EQ(raw_open[0].str, "literal not terminated");
  EXPECT_EQ(kinds("'single'"), (std::vector<K>{K::Identifier, K::Identifier, K::Identifier, K::End}));
}

TEST(TraceqlLexer, Attributes) {
  struct Case {
    const char* text;
    AttributeScope scope;
    bool parent;
    const char* name;
  } cases[] = {
      {".foo", AttributeScope::None, false, "foo"},
      {".http.status_code", AttributeScope::None, false, "http.status_code"},
      {"span.http.method", AttributeScope::Span, false, "http.method"},
      {"resource.service.name", AttributeScope::Resource, false, "service.name"},
      {"event.exception.message", AttributeScope::Event, false, "exception.message"},
      {"link.opentracing.ref_type", AttributeScope::Link, false, "opentracing.ref_type"},
      {"instrumentation.language", AttributeScope::Instrumentation, false, "language"},
      {"parent.foo", AttributeScope::None, true, "foo"},
      {"parent.span.foo", AttributeScope::Span, true, "foo"},
      {"parent.resource.foo.bar", AttributeScope::Resource, true, "foo.bar"},
      {"parent.duration.foo", AttributeScope::None, true, "duration.foo"},
      {"span.\"foo bar\"", AttributeScope::Span, false, "foo bar"},
      {"span.attribute.\"x y\".z", AttributeScope::Span, false, "attribute.x y.z"},
      {".\"a\\\"b\\\\c\"", AttributeScope::None, false, "a\"b\\c"},
      {".http-status+/x:y", AttributeScope::None, false, "http-status+/x:y"},
      {".max", AttributeScope::None, false, "max"},
      {"span.duration", AttributeScope::Span, false, "duration"},
      {".\xF0\x9F\x98\x9D", AttributeScope::None, false, "\xF0\x9F\x98\x9D"},
  };
  for (const Case& c : cases) {
    auto t = lex(c.text);
    ASSERT_EQ(t[0].kind, K::Attribute) << c.text << ": " << t[0].str;
    EXPECT_EQ(t[0].attr.scope, c.scope) << c.text;
    EXPECT_EQ(t[0].attr.parent, c.parent) << c.text;
    EXPECT_EQ(t[0].attr.name, c.name) << c.text;
    EXPECT_EQ(t[0].attr.intrinsic, Intrinsic::None) << c.text;
    EXPECT_EQ(t[1].kind, K::End) << c.text;
  }
  // The name ends at whitespace and at `{ } ( ) = ~ ! < > & | ^ ,`.
  EXPECT_EQ(kinds(".a=1"), (std::vector<K>{K::Attribute, K::Eq, K::Integer, K::End}));
  EXPECT_EQ(kinds(".a}"), (std::vector<K>{K::Attribute, K::RBrace, K::End}));
  EXPECT_EQ(kinds(".a,.b)"), (std::vector<K>{K::Attribute, K::Comma, K::Attribute, K::RParen, K::End}));
  EXPECT_EQ(kinds(".a!=.b"), (std::vector<K>{K::Attribute, K::Neq, K::Attribute, K::End}));

  auto parent_intrinsic = lex("parent.duration");
  EXPECT_EQ(parent_intrinsic[0].kind, K::Attribute);
  EXPECT_EQ(parent_intrinsic[0].attr.intrinsic, Intrinsic::Duration);
  EXPECT_TRUE(parent_intrinsic[0].attr.parent);

  auto empty = lex("{ span. }");
  EXPECT_EQ(empty[1].kind, K::Error);
  EXPECT_EQ(empty[1].str, "syntax error: unexpected END_ATTRIBUTE, expecting IDENTIFIER");
  auto open_quote = lex("span.\"abc");
  EXPECT_EQ(open_quote[0].str, "unexpected EOF, expecting \"");
  auto bad_escape = lex("span.\"a\\nb\"");
  EXPECT_EQ(bad_escape[0].str, "invalid escape sequence");
}

TEST(TraceqlLexer, Intrinsics) {
  struct Case {
    const char* text;
    Intrinsic intrinsic;
  } cases[] = {
      {"duration", Intrinsic::Duration},
      {"name", Intrinsic::Name},
      {"status", Intrinsic::Status},
      {"statusMessage", Intrinsic::StatusMessage},
      {"kind", Intrinsic::Kind},
      {"childCount", Intrinsic::ChildCount},
      {"traceDuration", Intrinsic::TraceDuration},
      {"rootName", Intrinsic::TraceRootName},
      {"rootServiceName", Intrinsic::TraceRootService},
      {"nestedSetLeft", Intrinsic::NestedSetLeft},
      {"nestedSetRight", Intrinsic::NestedSetRight},
      {"nestedSetParent", Intrinsic::NestedSetParent},
      {"parent", Intrinsic::Parent},
      {"span:name", Intrinsic::Name},
      {"span:status", Intrinsic::Status},
      {"span:statusMessage", Intrinsic::StatusMessage},
      {"span:kind", Intrinsic::Kind},
      {"span:duration", Intrinsic::Duration},
      {"span:id", Intrinsic::SpanId},
      {"span:parentID", Intrinsic::ParentId},
      {"span:childCount", Intrinsic::ChildCount},
      {"trace:duration", Intrinsic::TraceDuration},
      {"trace:rootName", Intrinsic::TraceRootName},
      {"trace:rootService", Intrinsic::TraceRootService},
      {"trace:id", Intrinsic::TraceId},
      {"event:name", Intrinsic::EventName},
      {"event:timeSinceStart", Intrinsic::EventTimeSinceStart},
      {"link:traceID", Intrinsic::LinkTraceId},
      {"link:spanID", Intrinsic::LinkSpanId},
      {"instrumentation:name", Intrinsic::InstrumentationName},
      {"instrumentation:version", Intrinsic::InstrumentationVersion},
  };
  for (const Case& c : cases) {
    auto t = lex(c.text);
    ASSERT_EQ(t[0].kind, K::Intrinsic) << c.text;
    EXPECT_EQ(t[0].attr.intrinsic, c.intrinsic) << c.text;
    EXPECT_EQ(t[1].kind, K::End) << c.text;
  }
  auto unknown = lex("{ span:foo }");
  EXPECT_EQ(unknown[1].kind, K::Error);
  EXPECT_EQ(unknown[1].str, "syntax error: unexpected IDENTIFIER");
  EXPECT_EQ(unknown[1].pos.col, 8u);
}

TEST(TraceqlLexer, CommentsAreSkipped) {
  EXPECT_EQ(kinds("{ // line comment\n .a /* block\n comment */ }"),
            (std::vector<K>{K::LBrace, K::Attribute, K::RBrace, K::End}));
  auto open = lex("{ /* never closed");
  EXPECT_EQ(open[1].kind, K::Error);
  EXPECT_EQ(open[1].str, "comment not terminated");
}

TEST(TraceqlLexer, TokenLimitEndsWithError) {
  auto t = lex_traceql("{ .a = 1 }", 3);
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[3].kind, K::Error);
  EXPECT_EQ(t[3].str, "query has too many tokens (max 3)");
}

TEST(TraceqlLexer, TokenDisplayNamesLikeTempo) {
  auto t = lex("{ .a span.b parent.c \"s\" 1 1.5 1s foo count span:name && $");
  std::vector<std::string> shown;
  for (const Token& tok : t) shown.push_back(token_display(tok));
  EXPECT_EQ(shown,
            (std::vector<std::string>{"{", ".", "span.", "parent.", "STRING", "INTEGER", "FLOAT", "DURATION",
                                      "IDENTIFIER", "count", "span:", "&&", "IDENTIFIER", "$end"}));
}

TEST(TraceqlFormat, GoDurations) {
  EXPECT_EQ(format_go_duration(0), "0s");
  EXPECT_EQ(format_go_duration(1), "1ns");
  EXPECT_EQ(format_go_duration(1500), "1.5\xC2\xB5s");
  EXPECT_EQ(format_go_duration(100000000), "100ms");
  EXPECT_EQ(format_go_duration(1500000000), "1.5s");
  EXPECT_EQ(format_go_duration(90000000000), "1m30s");
  EXPECT_EQ(format_go_duration(3600000000000), "1h0m0s");
  EXPECT_EQ(format_go_duration(5400000000001), "1h30m0.000000001s");
  EXPECT_EQ(format_go_duration(-1000000000), "-1s");
  EXPECT_EQ(format_go_duration(INT64_MIN), "-2562047h47m16.854775808s");
  EXPECT_EQ(format_go_duration(INT64_MAX), "2562047h47m16.854775807s");
}

}  // namespace
}  // namespace spindle
