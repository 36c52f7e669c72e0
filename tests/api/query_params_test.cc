#include "api/query_params.h"

#include <gtest/gtest.h>

#include "api/status_mapping.h"

namespace spindle {
namespace {

TEST(QueryParamsTest, DecodesPercentAndPlusAndKeepsFirstValue) {
  QueryParams p("q=%7B%20span.x%20%3D%20%22a%2Bb%22%20%7D&limit=20&limit=30&empty=&flag&a+b=c+d");
  EXPECT_EQ(p.get("q"), "{ span.x = \"a+b\" }");
  EXPECT_EQ(p.get("limit"), "20");
  EXPECT_EQ(p.get("empty"), "");
  EXPECT_EQ(p.get("flag"), "");
  EXPECT_EQ(p.get("a b"), "c d");
  EXPECT_FALSE(p.get("missing").has_value());
}

TEST(QueryParamsTest, StrayPercentIsKeptLiterally) {
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");
  EXPECT_EQ(percent_decode("%41%62"), "Ab");
}

TEST(StatusMappingTest, MapsCodesToHttp) {
  EXPECT_EQ(http_status_for(StatusCode::Ok), 200);
  EXPECT_EQ(http_status_for(StatusCode::InvalidArgument), 400);
  EXPECT_EQ(http_status_for(StatusCode::NotFound), 404);
  EXPECT_EQ(http_status_for(StatusCode::ResourceExhausted), 413);
  EXPECT_EQ(http_status_for(StatusCode::Unavailable), 503);
  EXPECT_EQ(http_status_for(StatusCode::Internal), 500);
  HttpResponse r = text_error_response(unavailable("full"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "full\n");
  bool retry_after = false;
  for (const auto& h : r.headers) retry_after |= h.name == "retry-after" && h.value == "1";
  EXPECT_TRUE(retry_after);
}

}  // namespace
}  // namespace spindle
