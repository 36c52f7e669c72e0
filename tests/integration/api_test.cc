// The server's HTTP and gRPC behaviour at its edges: Tempo's trace-by-ID contract, OTLP error statuses, limits,
// merging and de-duplication, and the admin endpoints. 2 shards on loopback, port 0.
#include <gtest/gtest.h>

#include <regex>

#include <string>

#include "core/trace_id.h"
#include "tempopb/tempo.pb.h"
#include "tests/integration/otlp_fixtures.h"
#include "tests/support/http_client.h"
#include "tests/support/test_server.h"

namespace spindle {
namespace {

constexpr const char* kExport = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

std::string hex(const std::string& raw) { return to_hex(raw); }

int count_spans(const tempopb::Trace& t) {
  int n = 0;
  for (const auto& rs : t.resourcespans())
    for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
  return n;
}

// Spans of a trace as stored, via v2 protobuf; -1 on transport failure.
int stored_spans(uint16_t port, const std::string& hex_id) {
  auto r = http1_request(port, "GET", "/api/v2/traces/" + hex_id, {{"Accept", "application/protobuf"}});
  if (!r.ok() || r->status != 200) return -1;
  tempopb::TraceByIDResponse resp;
  if (!resp.ParseFromString(r->body)) return -1;
  return count_spans(resp.trace());
}

HttpResult post_traces(uint16_t port, const std::string& body, const std::string& type = "application/x-protobuf",
                       HeaderList extra = {}) {
  extra.push_back({"Content-Type", type});
  auto r = http1_request(port, "POST", "/v1/traces", extra, body);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : HttpResult{};
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.start(); }
  uint16_t grpc() { return server_->otlp_grpc_port(); }
  uint16_t http() { return server_->otlp_http_port(); }
  uint16_t query() { return server_->query_port(); }
  TestServer server_;
};

TEST_F(ApiTest, AdminEndpoints) {
  auto echo = http1_request(query(), "GET", "/api/echo");
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->status, 200);
  EXPECT_EQ(echo->body, "echo\n");
  auto ready = http1_request(query(), "GET", "/ready");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, "ready\n");
  auto info = http1_request(query(), "GET", "/api/status/buildinfo");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->status, 200);
  EXPECT_NE(info->body.find("\"version\":"), std::string::npos);
  EXPECT_NE(info->body.find("\"revision\":"), std::string::npos);
  auto missing = http1_request(query(), "GET", "/api/nothing-here");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
}

TEST_F(ApiTest, TraceIdErrorsUseTemposMessages) {
  auto bad = http1_request(query(), "GET", "/api/v2/traces/xyz");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("trace IDs can only contain hex characters: invalid character 'x' at position 1"),
            std::string::npos)
      << bad->body;
  auto big = http1_request(query(), "GET", "/api/traces/" + std::string(34, 'a'));
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->status, 400);
  EXPECT_NE(big->body.find("can't be larger than 128 bits"), std::string::npos);
  auto range = http1_request(query(), "GET", "/api/traces/abc?start=200&end=100");
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->status, 400);
  EXPECT_NE(range->body.find("http parameter start must be before end. received start=200 end=100"),
            std::string::npos);
}

TEST_F(ApiTest, MissingTraceIs404OnV1And200EmptyOnV2) {
  auto v1 = http1_request(query(), "GET", "/api/traces/0123456789abcdef", {{"Accept", "application/protobuf"}});
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->status, 404);
  EXPECT_EQ(v1->body, "");
  auto v2 = http1_request(query(), "GET", "/api/v2/traces/0123456789abcdef", {{"Accept", "application/protobuf"}});
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->status, 200);
  EXPECT_EQ(v2->body, std::string("\x0a\x00", 2));  // field 1 present and empty: Grafana needs it
  auto v2json = http1_request(query(), "GET", "/api/v2/traces/0123456789abcdef");
  ASSERT_TRUE(v2json.ok());
  EXPECT_EQ(v2json->status, 200);
  EXPECT_EQ(v2json->body, "{\"trace\":{},\"metrics\":{}}");
}

TEST_F(ApiTest, EightByteTraceIdsAreLeftPadded) {
  std::string id8 = trace_id_bytes(40, 8);
  auto r = grpc_unary(grpc(), kExport, make_request(id8, 3).SerializeAsString());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->grpc_status, 0) << r->grpc_message;
  EXPECT_EQ(stored_spans(query(), hex(id8)), 3);
  EXPECT_EQ(stored_spans(query(), std::string(16, '0') + hex(id8)), 3);
  auto v1 = http1_request(query(), "GET", "/api/traces/" + hex(id8), {{"Accept", "application/protobuf"}});
  ASSERT_TRUE(v1.ok());
  tempopb::Trace t;
  ASSERT_TRUE(t.ParseFromString(v1->body));
  EXPECT_EQ(t.resourcespans(0).scope_spans(0).spans(0).trace_id(), std::string(8, '\0') + id8);
}

TEST_F(ApiTest, SpansOfOneTraceFromSeparateRequestsMergeAndExactDuplicatesDrop) {
  std::string id = trace_id_bytes(7);
  auto first = make_request(id, 4, 1);
  ASSERT_EQ(post_traces(http(), first.SerializeAsString()).status, 200);
  auto g = grpc_unary(grpc(), kExport, make_request(id, 4, 5).SerializeAsString());
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->grpc_status, 0);
  EXPECT_EQ(stored_spans(query(), hex(id)), 8);
  // The same request again (a client retry): nothing new is stored.
  ASSERT_EQ(post_traces(http(), first.SerializeAsString()).status, 200);
  EXPECT_EQ(stored_spans(query(), hex(id)), 8);
  // Same span id but different content is a different span, kept.
  auto changed = make_request(id, 1, 1);
  changed.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(0)->set_name("renamed");
  ASSERT_EQ(post_traces(http(), changed.SerializeAsString()).status, 200);
  EXPECT_EQ(stored_spans(query(), hex(id)), 9);
}

TEST_F(ApiTest, BadOtlpHttpInputGetsActionableErrors) {
  auto garbage = post_traces(http(), "\xff\xff\xff\xff garbage");
  EXPECT_EQ(garbage.status, 400);
  EXPECT_EQ(garbage.header("content-type"), "application/x-protobuf");

  std::string valid = make_request(trace_id_bytes(3), 2).SerializeAsString();
  auto truncated = post_traces(http(), valid.substr(0, valid.size() - 5));
  EXPECT_EQ(truncated.status, 400);

  auto json = post_traces(http(), "{\"resourceSpans\": [", "application/json");
  EXPECT_EQ(json.status, 400);
  EXPECT_EQ(json.header("content-type"), "application/json");
  EXPECT_NE(json.body.find("\"message\""), std::string::npos) << json.body;

  auto type = post_traces(http(), valid, "text/plain");
  EXPECT_EQ(type.status, 415);
  EXPECT_NE(type.body.find("application/x-protobuf"), std::string::npos);

  auto get = http1_request(http(), "GET", "/v1/traces");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->status, 405);

  auto bad_gzip = post_traces(http(), "not gzip", "application/x-protobuf", {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(bad_gzip.status, 400);
  auto br = post_traces(http(), valid, "application/x-protobuf", {{"Content-Encoding", "br"}});
  EXPECT_EQ(br.status, 415);
}

TEST_F(ApiTest, SpansWithInvalidIdsArePartialSuccess) {
  auto req = make_request(trace_id_bytes(9), 3);
  req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans(1)->set_trace_id("short");
  auto r = post_traces(http(), req.SerializeAsString());
  ASSERT_EQ(r.status, 200);
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse resp;
  ASSERT_TRUE(resp.ParseFromString(r.body));
  EXPECT_EQ(resp.partial_success().rejected_spans(), 1);
  EXPECT_FALSE(resp.partial_success().error_message().empty());
  EXPECT_EQ(stored_spans(query(), hex(trace_id_bytes(9))), 2);
}

TEST_F(ApiTest, GrpcErrors) {
  auto garbage = grpc_unary(grpc(), kExport, "\xff\xff\xff garbage");
  ASSERT_TRUE(garbage.ok());
  EXPECT_EQ(garbage->grpc_status, 3);  // INVALID_ARGUMENT
  EXPECT_FALSE(garbage->grpc_message.empty());
  auto unknown = grpc_unary(grpc(), "/opentelemetry.proto.collector.trace.v1.TraceService/Nope", "");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->grpc_status, 12);  // UNIMPLEMENTED
  auto ok = grpc_unary(grpc(), kExport, make_request(trace_id_bytes(11), 2).SerializeAsString(), true);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->grpc_status, 0);
  ASSERT_EQ(ok->messages.size(), 1u);
  EXPECT_EQ(ok->messages[0], "");  // empty ExportTraceServiceResponse: full success
}

TEST_F(ApiTest, MetricsCountWhatHappened) {
  ASSERT_EQ(post_traces(http(), make_request(trace_id_bytes(21), 5).SerializeAsString()).status, 200);
  auto g = grpc_unary(grpc(), kExport, make_request(trace_id_bytes(22), 3).SerializeAsString());
  ASSERT_TRUE(g.ok());
  auto m = http1_request(query(), "GET", "/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->status, 200);
  EXPECT_NE(m->body.find("spindle_receiver_spans_total{protocol=\"http-protobuf\"} 5"), std::string::npos)
      << m->body;
  EXPECT_NE(m->body.find("spindle_receiver_spans_total{protocol=\"grpc\"} 3"), std::string::npos);
  EXPECT_NE(m->body.find("spindle_requests_total{route=\"otlp_http_traces\",status_code=\"200\"} 1"),
            std::string::npos);
  EXPECT_NE(m->body.find("spindle_head_live_traces{shard=\"1\"}"), std::string::npos);
  EXPECT_NE(m->body.find("spindle_shard_queue_depth{shard=\"0\"}"), std::string::npos);
}

TEST(ApiLimitsTest, OversizeBodiesAndMessagesAreRefused) {
  Config c = test_config();
  c.http_max_body_bytes = 64 << 10;
  c.otlp_grpc_max_recv_msg_bytes = 64 << 10;
  TestServer server(c);
  Server& s = server.start();
  std::string big = make_request(trace_id_bytes(5), 100, 1, "svc", 2048).SerializeAsString();
  ASSERT_GT(big.size(), 64u << 10);
  auto h = http1_request(s.otlp_http_port(), "POST", "/v1/traces", {{"Content-Type", "application/x-protobuf"}}, big);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->status, 413);
  auto g = grpc_unary(s.otlp_grpc_port(), kExport, big);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->grpc_status, 8);  // RESOURCE_EXHAUSTED
  // A gzip body that inflates past the limit is refused too.
  std::string zipped = gzip_compress(std::string(1 << 20, 'a'));
  auto z = http1_request(s.otlp_http_port(), "POST", "/v1/traces",
                         {{"Content-Type", "application/x-protobuf"}, {"Content-Encoding", "gzip"}}, zipped);
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(z->status, 413);
  // The server still serves normal requests.
  auto ok = grpc_unary(s.otlp_grpc_port(), kExport, make_request(trace_id_bytes(6), 2).SerializeAsString());
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->grpc_status, 0);
}

// Four times more data than the head holds: the head cuts its oldest traces into blocks as it passes 3/4 of its
// budget, so every request is taken (a retryable refusal while a cut is written is allowed, and retried as a
// client would), and every span can be read back, most of them from blocks.
TEST(ApiLimitsTest, HeadUnderPressureCutsToBlocksAndKeepsEverySpan) {
  Config c = test_config();
  c.head_max_bytes = 2 << 20;  // 1 MiB per shard
  TestServer server(c);
  Server& s = server.start();
  std::vector<std::string> ids;
  int refusals = 0;
  for (int i = 0; i < 200; ++i) {
    std::string id = trace_id_bytes(static_cast<uint8_t>(i), 16);
    id[0] = static_cast<char>(i);
    id[1] = static_cast<char>(i >> 8);
    std::string body = make_request(id, 20, 1, "svc", 1024).SerializeAsString();
    bool acknowledged = false;
    for (int attempt = 0; attempt < 2000 && !acknowledged; ++attempt) {
      if (i % 2 == 0) {
        auto g = grpc_unary(s.otlp_grpc_port(), kExport, body);
        ASSERT_TRUE(g.ok());
        acknowledged = g->grpc_status == 0;
        if (!acknowledged) {
          ASSERT_EQ(g->grpc_status, 14) << g->grpc_message;  // UNAVAILABLE: retryable
          EXPECT_NE(g->grpc_message.find("spindle.head.max_bytes"), std::string::npos) << g->grpc_message;
        }
      } else {
        auto h = http1_request(s.otlp_http_port(), "POST", "/v1/traces",
                               {{"Content-Type", "application/x-protobuf"}}, body);
        ASSERT_TRUE(h.ok());
        acknowledged = h->status == 200;
        if (!acknowledged) {
          ASSERT_EQ(h->status, 503);
          EXPECT_EQ(h->header("retry-after"), "1");
        }
      }
      if (!acknowledged) ++refusals;
    }
    ASSERT_TRUE(acknowledged) << "request " << i << " refused 2000 times";
    ids.push_back(id);
  }
  auto m = http1_request(s.query_port(), "GET", "/metrics");
  ASSERT_TRUE(m.ok());
  std::smatch cuts;
  ASSERT_TRUE(std::regex_search(m->body, cuts, std::regex("spindle_storage_cuts_total ([0-9]+)"))) << m->body;
  EXPECT_GE(std::stoi(cuts[1]), 2);  // 4 MiB through 2 MiB of head: at least one cut per shard
  for (const auto& id : ids) EXPECT_EQ(stored_spans(s.query_port(), hex(id)), 20) << hex(id);
  RecordProperty("refusals", refusals);
}

TEST(ApiLimitsTest, TraceOverMaxBytesPerTraceIsPartiallyRejected) {
  Config c = test_config();
  c.max_bytes_per_trace = 4096;
  TestServer server(c);
  Server& s = server.start();
  std::string id = trace_id_bytes(77);
  auto r = http1_request(s.otlp_http_port(), "POST", "/v1/traces", {{"Content-Type", "application/x-protobuf"}},
                         make_request(id, 40, 1, "svc", 200).SerializeAsString());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200);
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse resp;
  ASSERT_TRUE(resp.ParseFromString(r->body));
  EXPECT_GT(resp.partial_success().rejected_spans(), 0);
  EXPECT_NE(resp.partial_success().error_message().find("max_bytes_per_trace"), std::string::npos);
  int kept = stored_spans(s.query_port(), hex(id));
  EXPECT_GT(kept, 0);
  EXPECT_EQ(kept + resp.partial_success().rejected_spans(), 40);
}

}  // namespace
}  // namespace spindle
