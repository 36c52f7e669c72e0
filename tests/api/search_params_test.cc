// Search and tag parameters: Tempo's defaults, validation order and error texts (pkg/api/http.go and the
// frontend's checks), logfmt tags, Go durations.
#include "api/search_params.h"

#include <gtest/gtest.h>

namespace spindle {
namespace {

std::string error_of(std::string_view query) {
  auto r = parse_search_params(query);
  EXPECT_FALSE(r.ok()) << query;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::InvalidArgument);
  return r.status().message();
}

TEST(SearchParamsTest, Defaults) {
  auto p = parse_search_params("q=%7B%7D");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_TRUE(p->has_query);
  EXPECT_EQ(p->query, "{}");
  EXPECT_FALSE(p->has_tags);
  EXPECT_EQ(p->limit, 20u);
  EXPECT_EQ(p->spss, 3u);
  EXPECT_TRUE(p->window.recent_only());
  EXPECT_TRUE(p->window.overlaps(1, 2));
}

TEST(SearchParamsTest, LimitSpssAndWindow) {
  auto p = parse_search_params("q=%7B%7D&limit=5&spss=10&start=1700000000&end=1700003600&unknown=1");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->limit, 5u);
  EXPECT_EQ(p->spss, 10u);
  EXPECT_EQ(p->window.start_s, 1700000000u);
  EXPECT_EQ(p->window.end_s, 1700003600u);
  EXPECT_EQ(p->window.start_ns(), 1700000000ull * 1000000000ull);
  EXPECT_EQ(p->window.end_ns(), 1700003600ull * 1000000000ull + 999999999ull);
  // Overlap: the trace [a, b] meets [start, end].
  EXPECT_TRUE(p->window.overlaps(1699999990ull * 1000000000ull, 1700000000ull * 1000000000ull));
  EXPECT_FALSE(p->window.overlaps(1699999990ull * 1000000000ull, 1699999999ull * 1000000000ull));
  EXPECT_TRUE(p->window.overlaps(1700003600ull * 1000000000ull + 5, 1700003700ull * 1000000000ull));
  EXPECT_FALSE(p->window.overlaps(1700003601ull * 1000000000ull, 1700003700ull * 1000000000ull));
  // spss=0 maps to the default, as Tempo's engine does.
  auto zero = parse_search_params("spss=0");
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->spss, 3u);
  auto max = parse_search_params("limit=262144&spss=100");
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max->limit, 262144u);
  EXPECT_EQ(max->spss, 100u);
}

TEST(SearchParamsTest, TemposErrorMessages) {
  EXPECT_EQ(error_of("q=%7B%7D&tags=a%3Db"), "invalid request: can't specify tags and q in the same query");
  EXPECT_EQ(error_of("limit=0"), "invalid limit: must be a positive number");
  EXPECT_EQ(error_of("limit=-4"), "invalid limit: must be a positive number");
  EXPECT_EQ(error_of("limit=abc"), "invalid limit: strconv.Atoi: parsing \"abc\": invalid syntax");
  EXPECT_EQ(error_of("limit=262145"), "limit 262145 exceeds max limit 262144");
  EXPECT_EQ(error_of("spss=101"), "spans per span set exceeds 100. received 101");
  EXPECT_EQ(error_of("spss=-1"), "invalid spss: must be a non-negative number");
  EXPECT_EQ(error_of("start=x"), "invalid start: strconv.ParseInt: parsing \"x\": invalid syntax");
  EXPECT_EQ(error_of("end=99999999999"), "invalid end: strconv.ParseInt: parsing \"99999999999\": value out of range");
  EXPECT_EQ(error_of("start=200&end=100"), "http parameter start must be before end. received start=200 end=100");
  EXPECT_EQ(error_of("start=200"), "http parameter start must be before end. received start=200 end=0");
  EXPECT_EQ(error_of("start=1000&end=606000"),
            "range specified by start and end exceeds 168h0m0s. received start=1000 end=606000");
  EXPECT_EQ(error_of("minDuration=abc"), "invalid minDuration: time: invalid duration \"abc\"");
  EXPECT_EQ(error_of("minDuration=2s&maxDuration=1s"), "invalid maxDuration: must be greater than minDuration");
  EXPECT_EQ(error_of("tags=a%3D1%20a%3D2"), "invalid tags: tag a has been set twice");
  // Exactly 168h is allowed.
  EXPECT_TRUE(parse_search_params("start=1000&end=605800").ok());
}

TEST(SearchParamsTest, LegacyTagsAndDurations) {
  auto p = parse_search_params(
      "tags=service.name%3Dcart%20http.url%3D%22%2Fapi%2Fx%20y%22%20flag&minDuration=100ms&maxDuration=1.5s");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_TRUE(p->has_tags);
  ASSERT_EQ(p->tags.size(), 3u);
  EXPECT_EQ(p->tags[0], (std::pair<std::string, std::string>{"service.name", "cart"}));
  EXPECT_EQ(p->tags[1], (std::pair<std::string, std::string>{"http.url", "/api/x y"}));
  EXPECT_EQ(p->tags[2], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ(p->min_duration_ms, 100u);
  EXPECT_EQ(p->max_duration_ms, 1500u);
}

TEST(SearchParamsTest, Logfmt) {
  auto t = parse_logfmt_tags(R"(a=1 b="x \"q\" \\ z"  c=)");
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[1].second, "x \"q\" \\ z");
  EXPECT_EQ((*t)[2].second, "");
  EXPECT_FALSE(parse_logfmt_tags("a=\"open").ok());
  EXPECT_FALSE(parse_logfmt_tags("=x").ok());
  EXPECT_TRUE(parse_logfmt_tags("").ok());
}

TEST(SearchParamsTest, GoDurations) {
  EXPECT_EQ(*parse_go_duration("100ms"), 100000000);
  EXPECT_EQ(*parse_go_duration("1.5s"), 1500000000);
  EXPECT_EQ(*parse_go_duration("2h45m"), (2 * 3600 + 45 * 60) * 1000000000ll);
  EXPECT_EQ(*parse_go_duration("0"), 0);
  EXPECT_FALSE(parse_go_duration("").ok());
  EXPECT_FALSE(parse_go_duration("5").ok());
  EXPECT_FALSE(parse_go_duration("ms").ok());
}

TEST(SearchParamsTest, TagsParams) {
  auto all = parse_tags_params("limit=5000", true);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->scope, TagScopeParam::All);
  EXPECT_EQ(all->limit, 5000u);
  auto none = parse_tags_params("scope=none", true);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->scope, TagScopeParam::All);
  auto span = parse_tags_params("scope=span&q=%7B%20.a%20%7D&maxStaleValues=10", true);
  ASSERT_TRUE(span.ok());
  EXPECT_EQ(span->scope, TagScopeParam::Span);
  EXPECT_EQ(span->query, "{ .a }");
  EXPECT_EQ(span->max_stale, 10u);
  auto v1 = parse_tags_params("scope=intrinsic&q=ignored", false);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->scope, TagScopeParam::Intrinsic);
  EXPECT_EQ(v1->query, "");
  auto bad = parse_tags_params("scope=bogus", true);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "invalid scope: bogus");
  auto range = parse_tags_params("start=1000&end=900000", true);
  ASSERT_FALSE(range.ok());
  EXPECT_NE(range.status().message().find("range specified by start and end exceeds 168h0m0s"), std::string::npos);
}

TEST(SearchParamsTest, TagValuesParams) {
  auto v2 = parse_tag_values_params("resource.service.name", "q=%7B%7D&limit=10&tag=x", true);
  ASSERT_TRUE(v2.ok()) << v2.status().to_string();
  EXPECT_EQ(v2->tag, "resource.service.name");
  EXPECT_EQ(v2->query, "{}");
  EXPECT_EQ(v2->limit, 10u);
  auto quoted = parse_tag_values_params("span.%22http%20method%22", "", true);
  ASSERT_TRUE(quoted.ok()) << quoted.status().to_string();
  EXPECT_EQ(quoted->tag, "span.\"http method\"");
  auto empty = parse_tag_values_params("", "", true);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().message(), "please provide a non-empty tagName");
  auto invalid = parse_tag_values_params("%7B", "", true);
  ASSERT_FALSE(invalid.ok());
  EXPECT_TRUE(invalid.status().message().starts_with("please provide a valid tagName: ")) << invalid.status().message();
  // v1 takes any bare name.
  auto v1 = parse_tag_values_params("%7B", "q=x", false);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->tag, "{");
  EXPECT_EQ(v1->query, "");
}

}  // namespace
}  // namespace spindle
