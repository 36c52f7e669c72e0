// gRPC tempopb.StreamingQuerier/Search over h2c on the query port (tempo-api.md 3.1, 3.3), as Grafana calls it
// with streaming on: traces ingested over OTLP/gRPC into a 2-shard server are searched with libprotobuf-built
// SearchRequests; every response message must parse as tempopb::SearchResponse, the final one must hold the
// full result (trace IDs without leading zeros, spanSet/spanSets with matched, root names, metrics), and bad
// requests must fail with grpc-status INVALID_ARGUMENT and the same text GET /api/search gives.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tempopb/tempo.pb.h"
#include "api/query_params.h"
#include "core/wall_clock.h"
#include "tests/integration/otlp_fixtures.h"
#include "tests/support/http_client.h"
#include "tests/support/test_server.h"

namespace spindle {
namespace {

namespace otlp = opentelemetry::proto;

constexpr std::string_view kSearch = "/tempopb.StreamingQuerier/Search";
constexpr uint64_t kSecondNs = 1000000000;
constexpr uint64_t kMsNs = 1000000;
constexpr int kGrpcInvalidArgument = 3;
constexpr int kGrpcUnimplemented = 12;

// Leading zero bytes: Tempo's traceID text drops them ("abc").
std::string id_cart() { return std::string(14, '\0') + "\x0a\xbc"; }
std::string id_home() { return trace_id_bytes(0x1b); }
std::string id_pay() { return trace_id_bytes(0x3d); }

std::string hex(const std::string& raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

otlp::trace::v1::ScopeSpans* scope_of(ExportRequest& req, const std::string& service) {
  auto* rs = req.add_resource_spans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value(service);
  return rs->add_scope_spans();
}

void add_span(otlp::trace::v1::ScopeSpans* ss, const std::string& trace, int id, int parent, const std::string& name,
              uint64_t start_ns, uint64_t duration_ns, bool error = false) {
  auto* s = ss->add_spans();
  s->set_trace_id(trace);
  std::string sid(8, '\0');
  sid[0] = 0x40;
  sid[7] = static_cast<char>(id);
  s->set_span_id(sid);
  if (parent != 0) {
    std::string pid(8, '\0');
    pid[0] = 0x40;
    pid[7] = static_cast<char>(parent);
    s->set_parent_span_id(pid);
  }
  s->set_name(name);
  s->set_start_time_unix_nano(start_ns);
  s->set_end_time_unix_nano(start_ns + duration_ns);
  if (error) s->mutable_status()->set_code(otlp::trace::v1::Status::STATUS_CODE_ERROR);
  auto* a = s->add_attributes();
  a->set_key("http.status_code");
  a->mutable_value()->set_int_value(error ? 500 : 200);
}

// cart: frontend "GET /cart" + payments "charge-card" (error); home: frontend "GET /home" + 3 db "db-query";
// pay: backend "POST /pay". Newest first: pay, cart, home.
ExportRequest corpus(uint64_t base_ns) {
  ExportRequest req;
  auto* frontend = scope_of(req, "frontend");
  add_span(frontend, id_cart(), 1, 0, "GET /cart", base_ns + 3 * kSecondNs, 480 * kMsNs);
  add_span(frontend, id_home(), 10, 0, "GET /home", base_ns + 2 * kSecondNs, 100 * kMsNs);
  auto* payments = scope_of(req, "payments");
  add_span(payments, id_cart(), 2, 1, "charge-card", base_ns + 3 * kSecondNs + 100 * kMsNs, 300 * kMsNs, true);
  auto* db = scope_of(req, "db");
  for (int i = 0; i < 3; ++i) {
    add_span(db, id_home(), 11 + i, 10, "db-query", base_ns + 2 * kSecondNs + (10 + 10 * i) * kMsNs, 10 * kMsNs);
  }
  auto* backend = scope_of(req, "backend");
  add_span(backend, id_pay(), 30, 0, "POST /pay", base_ns + 4 * kSecondNs, 50 * kMsNs);
  return req;
}

struct Streamed {
  GrpcResult raw;
  std::vector<tempopb::SearchResponse> messages;
  // Grafana's view: traces by traceID, first occurrence kept.
  std::map<std::string, tempopb::TraceSearchMetadata> first_seen;
};

class SearchGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    base_s_ = wall_now_s() - 120;
    auto r = grpc_unary(server_->otlp_grpc_port(), "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                        corpus(base_s_ * kSecondNs).SerializeAsString());
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(r->grpc_status, 0) << r->grpc_message;
  }

  tempopb::SearchRequest request(const std::string& query) const {
    tempopb::SearchRequest req;
    req.set_query(query);
    req.set_start(static_cast<uint32_t>(base_s_ - 60));
    req.set_end(static_cast<uint32_t>(base_s_ + 60));
    req.set_spansperspanset(3);  // Grafana's default
    return req;
  }

  Streamed call(const std::string& message, uint16_t port = 0) {
    Streamed s;
    auto r = grpc_unary(port == 0 ? server_->query_port() : port, std::string(kSearch), message);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (!r.ok()) return s;
    s.raw = std::move(r).value();
    for (const std::string& m : s.raw.messages) {
      tempopb::SearchResponse resp;
      EXPECT_TRUE(resp.ParseFromString(m)) << "response message does not parse";
      for (const auto& t : resp.traces()) s.first_seen.emplace(t.traceid(), t);
      s.messages.push_back(std::move(resp));
    }
    return s;
  }
  Streamed search(const tempopb::SearchRequest& req) {
    Streamed s = call(req.SerializeAsString());
    EXPECT_EQ(s.raw.grpc_status, 0) << s.raw.grpc_message;
    EXPECT_FALSE(s.messages.empty()) << "a search always sends at least its final message";
    return s;
  }
  static std::vector<std::string> final_ids(const Streamed& s) {
    std::vector<std::string> ids;
    if (s.messages.empty()) return ids;
    for (const auto& t : s.messages.back().traces()) ids.push_back(t.traceid());
    return ids;
  }

  TestServer server_;
  uint64_t base_s_ = 0;
};

TEST_F(SearchGrpcTest, FinalMessageHoldsEveryMatchNewestFirst) {
  Streamed s = search(request("{}"));
  EXPECT_EQ(final_ids(s), (std::vector<std::string>{hex(id_pay()), "abc", hex(id_home())}));
  // Grafana's accumulated view has the same traces.
  EXPECT_EQ(s.first_seen.size(), 3u);
  const tempopb::SearchResponse& last = s.messages.back();
  ASSERT_TRUE(last.has_metrics());
  EXPECT_EQ(last.metrics().totaljobs(), 2u);  // one job per shard
  EXPECT_EQ(last.metrics().completedjobs(), 2u);
  EXPECT_GE(last.metrics().inspectedtraces(), 3u);
  for (const auto& t : last.traces()) {
    EXPECT_NE(t.traceid()[0], '0') << "leading zeros must be stripped";
  }
  const auto& cart = last.traces(1);
  EXPECT_EQ(cart.rootservicename(), "frontend");
  EXPECT_EQ(cart.roottracename(), "GET /cart");
  EXPECT_EQ(cart.starttimeunixnano(), (base_s_ + 3) * kSecondNs);
  EXPECT_EQ(cart.durationms(), 480u);
  ASSERT_EQ(cart.servicestats().count("payments"), 1u);
  EXPECT_EQ(cart.servicestats().at("payments").spancount(), 1u);
  EXPECT_EQ(cart.servicestats().at("payments").errorcount(), 1u);
  EXPECT_EQ(cart.servicestats().at("frontend").spancount(), 1u);
}

TEST_F(SearchGrpcTest, SpanSetsCarryMatchedAndSpansUpToSpss) {
  tempopb::SearchRequest req = request("{ name = \"db-query\" }");
  req.set_spansperspanset(2);
  Streamed s = search(req);
  ASSERT_EQ(final_ids(s), (std::vector<std::string>{hex(id_home())}));
  const auto& t = s.messages.back().traces(0);
  EXPECT_EQ(t.rootservicename(), "frontend");
  EXPECT_EQ(t.roottracename(), "GET /home");
  ASSERT_EQ(t.spansets_size(), 1);
  EXPECT_EQ(t.spansets(0).matched(), 3u);
  ASSERT_EQ(t.spansets(0).spans_size(), 2);
  // The deprecated spanSet repeats spanSets[0] (Grafana prefers it).
  ASSERT_TRUE(t.has_spanset());
  EXPECT_EQ(t.spanset().matched(), 3u);
  EXPECT_EQ(t.spanset().SerializeAsString(), t.spansets(0).SerializeAsString());
  std::set<std::string> span_ids;
  for (const auto& sp : t.spansets(0).spans()) {
    EXPECT_EQ(sp.name(), "db-query");
    EXPECT_EQ(sp.spanid().size(), 16u);
    EXPECT_EQ(sp.durationnanos(), 10 * kMsNs);
    EXPECT_GT(sp.starttimeunixnano(), (base_s_ + 2) * kSecondNs);
    span_ids.insert(sp.spanid());
  }
  EXPECT_EQ(span_ids.size(), 2u);
}

TEST_F(SearchGrpcTest, SelectedAttributesAreAnyValues) {
  Streamed s = search(request("{ status = error } | select(span.http.status_code)"));
  ASSERT_EQ(final_ids(s), (std::vector<std::string>{"abc"}));
  const auto& ss = s.messages.back().traces(0).spansets(0);
  EXPECT_EQ(ss.matched(), 1u);
  ASSERT_EQ(ss.spans_size(), 1);
  EXPECT_EQ(ss.spans(0).name(), "charge-card");
  bool found = false;
  for (const auto& kv : ss.spans(0).attributes()) {
    if (kv.key() != "http.status_code") continue;
    found = true;
    EXPECT_EQ(kv.value().int_value(), 500);
  }
  EXPECT_TRUE(found) << "selected attribute missing";
}

TEST_F(SearchGrpcTest, LimitKeepsThatManyTraces) {
  tempopb::SearchRequest req = request("{}");
  req.set_limit(2);
  Streamed s = search(req);
  EXPECT_EQ(final_ids(s).size(), 2u);
}

TEST_F(SearchGrpcTest, GrafanaHealthCheckSucceeds) {
  // Grafana's check: Query "{}", Limit 1, the last 15 minutes; success = a message or a clean EOF.
  tempopb::SearchRequest req;
  req.set_query("{}");
  req.set_limit(1);
  uint64_t now = wall_now_s();
  req.set_start(static_cast<uint32_t>(now - 15 * 60));
  req.set_end(static_cast<uint32_t>(now));
  Streamed s = search(req);
  EXPECT_EQ(final_ids(s).size(), 1u);
}

TEST_F(SearchGrpcTest, BadTraceQLIsInvalidArgumentWithHttpText) {
  const std::string bad = "{ span.foo = }";
  Streamed s = call(request(bad).SerializeAsString());
  EXPECT_EQ(s.raw.grpc_status, kGrpcInvalidArgument);
  EXPECT_TRUE(s.messages.empty());
  EXPECT_TRUE(s.raw.grpc_message.starts_with("invalid TraceQL query: ")) << s.raw.grpc_message;
  auto http = http1_request(server_->query_port(), "GET", "/api/search?q=" + percent_encode(bad));
  ASSERT_TRUE(http.ok());
  EXPECT_EQ(http->status, 400);
  EXPECT_NE(http->body.find(s.raw.grpc_message), std::string::npos)
      << "gRPC: " << s.raw.grpc_message << "\nHTTP: " << http->body;
}

TEST_F(SearchGrpcTest, LimitsAreValidatedLikeHttp) {
  tempopb::SearchRequest big = request("{}");
  big.set_limit(1000000);
  Streamed s = call(big.SerializeAsString());
  EXPECT_EQ(s.raw.grpc_status, kGrpcInvalidArgument);
  EXPECT_NE(s.raw.grpc_message.find("exceeds max limit"), std::string::npos) << s.raw.grpc_message;

  tempopb::SearchRequest spss = request("{}");
  spss.set_spansperspanset(101);
  s = call(spss.SerializeAsString());
  EXPECT_EQ(s.raw.grpc_status, kGrpcInvalidArgument);
  EXPECT_NE(s.raw.grpc_message.find("spans per span set exceeds 100"), std::string::npos) << s.raw.grpc_message;

  tempopb::SearchRequest backwards = request("{}");
  backwards.set_start(static_cast<uint32_t>(base_s_ + 60));
  backwards.set_end(static_cast<uint32_t>(base_s_ - 60));
  s = call(backwards.SerializeAsString());
  EXPECT_EQ(s.raw.grpc_status, kGrpcInvalidArgument);
  EXPECT_NE(s.raw.grpc_message.find("start must be before end"), std::string::npos) << s.raw.grpc_message;
}

TEST_F(SearchGrpcTest, MalformedProtobufIsInvalidArgument) {
  // Field 8 (Query) claims 100 bytes but the message ends.
  Streamed s = call(std::string("\x42\x64{}", 4));
  EXPECT_EQ(s.raw.grpc_status, kGrpcInvalidArgument);
  EXPECT_TRUE(s.raw.grpc_message.starts_with("invalid SearchRequest: ")) << s.raw.grpc_message;
  // A group wire type is rejected too.
  s = call(std::string("\x0b", 1));
  EXPECT_EQ(s.raw.grpc_status, kGrpcInvalidArgument);
}

TEST_F(SearchGrpcTest, OtherMethodsAndPortsAreUnimplemented) {
  auto r = grpc_unary(server_->query_port(), "/tempopb.StreamingQuerier/SearchTags", "");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->grpc_status, kGrpcUnimplemented);
  // Search belongs to the query port, not the OTLP receiver.
  Streamed s = call(request("{}").SerializeAsString(), server_->otlp_grpc_port());
  EXPECT_EQ(s.raw.grpc_status, kGrpcUnimplemented);
}

TEST_F(SearchGrpcTest, UnknownFieldsAreSkipped) {
  tempopb::SearchRequest req = request("{ name = \"POST /pay\" }");
  std::string message = req.SerializeAsString();
  message += std::string("\xa0\x06\x07", 3);  // field 100, varint 7: a newer client's field
  Streamed s = call(message);
  EXPECT_EQ(s.raw.grpc_status, 0) << s.raw.grpc_message;
  EXPECT_EQ(final_ids(s), (std::vector<std::string>{hex(id_pay())}));
}

TEST_F(SearchGrpcTest, LargeResultsAreSplitIntoPacketsThatEachRepeatMetrics) {
  // 24 traces whose root names are 64 KiB: the final result (~4.5 MiB) must come as several messages of at most
  // ~1 MiB, each with the metrics (Tempo's streaming packet size).
  constexpr int kBig = 24;
  const std::string long_name(64 * 1024, 'n');
  for (int batch = 0; batch < 3; ++batch) {
    ExportRequest req;
    auto* ss = scope_of(req, "bulk");
    for (int i = 0; i < kBig / 3; ++i) {
      int n = batch * (kBig / 3) + i;
      add_span(ss, trace_id_bytes(static_cast<uint8_t>(0x80 + n)), 50 + n, 0, long_name + std::to_string(n),
               (base_s_ + 10) * kSecondNs + n * kMsNs, kMsNs);
    }
    auto r = grpc_unary(server_->otlp_grpc_port(), "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                        req.SerializeAsString());
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(r->grpc_status, 0) << r->grpc_message;
  }
  tempopb::SearchRequest req = request("{}");
  req.set_limit(100);
  Streamed s = search(req);
  std::set<std::string> final_ids;
  int final_packets = 0;
  for (size_t i = 0; i < s.messages.size(); ++i) {
    EXPECT_LE(s.raw.messages[i].size(), (1u << 20) + 256u) << "packet " << i;
    ASSERT_TRUE(s.messages[i].has_metrics()) << "packet " << i;
    // The final result is the packets sent after every shard answered; progress packets come before.
    if (s.messages[i].metrics().completedjobs() != 2) {
      EXPECT_EQ(final_packets, 0) << "progress after the final result";
      continue;
    }
    ++final_packets;
    for (const auto& t : s.messages[i].traces()) {
      EXPECT_TRUE(final_ids.insert(t.traceid()).second) << "trace twice in the final result: " << t.traceid();
    }
  }
  EXPECT_GE(final_packets, 4);
  EXPECT_EQ(final_ids.size(), static_cast<size_t>(kBig + 3));
  EXPECT_EQ(s.first_seen.size(), static_cast<size_t>(kBig + 3));
}

TEST_F(SearchGrpcTest, ProgressMessagesPrecedeTheFinalResult) {
  // With 2 shards the first shard's reply may be streamed as progress (completedJobs 1, only new traces); the
  // last message is the final result with every trace and completedJobs 2.
  Streamed s = search(request("{}"));
  ASSERT_FALSE(s.messages.empty());
  std::set<std::string> progress_ids;
  for (size_t i = 0; i + 1 < s.messages.size(); ++i) {
    EXPECT_EQ(s.messages[i].metrics().completedjobs(), 1u);
    for (const auto& t : s.messages[i].traces()) {
      EXPECT_TRUE(progress_ids.insert(t.traceid()).second) << "progress resent " << t.traceid();
    }
  }
  EXPECT_LE(s.messages.size(), 2u);  // one progress at most: the interval is 500 ms
  EXPECT_EQ(s.messages.back().metrics().completedjobs(), 2u);
  EXPECT_EQ(s.messages.back().traces_size(), 3);
}

}  // namespace
}  // namespace spindle
