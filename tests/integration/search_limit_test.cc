// A search stops every shard once `limit` traces are in, or once its client has left: shard 0 holds the only
// matches, shard 1 many blocks' worth of traces that do not match (under an attribute the search columns cannot
// judge, so shard 1 has to decode its pages). The pages read are compared with what a search without matches
// reads: stopping must come long before the end.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "api/query_params.h"
#include "core/trace_id.h"
#include "core/wall_clock.h"
#include "tempopb/tempo.pb.h"
#include "tests/integration/otlp_export.h"
#include "tests/integration/otlp_fixtures.h"
#include "tests/support/http_client.h"
#include "tests/support/server_metrics.h"
#include "tests/support/test_server.h"
#include "tests/support/temp_dir.h"

namespace spindle {
namespace {

constexpr uint64_t kSecondNs = 1000000000;
constexpr int kHits = 3;
constexpr int kFillerTraces = 150000;  // on shard 1: about 170 block pages, a scan of ~0.1 s

size_t count_substr(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + what.size())) ++n;
  return n;
}

// The n-th trace ID (counting from 0) owned by `shard` of 2.
std::string id_on_shard(uint32_t shard, uint32_t& counter) {
  for (;;) {
    std::string bytes(16, '\0');
    uint32_t n = counter++;
    bytes[0] = static_cast<char>(0x5a);
    for (int i = 0; i < 4; ++i) bytes[12 + i] = static_cast<char>(n >> (8 * (3 - i)));
    if (shard_for(*TraceId::from_bytes(bytes), 2) == shard) return bytes;
  }
}

void add_trace(ExportRequest& req, const std::string& id, const std::string& tag, uint64_t start_ns) {
  auto* rs = req.mutable_resource_spans()->empty() ? req.add_resource_spans() : req.mutable_resource_spans(0);
  if (!rs->has_resource()) {
    auto* kv = rs->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value("svc");
  }
  auto* ss = rs->scope_spans().empty() ? rs->add_scope_spans() : rs->mutable_scope_spans(0);
  auto* s = ss->add_spans();
  s->set_trace_id(id);
  s->set_span_id(std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  s->set_name("op");
  s->set_start_time_unix_nano(start_ns);
  s->set_end_time_unix_nano(start_ns + 1000000);
  auto* kv = s->add_attributes();
  kv->set_key("tag");
  kv->mutable_value()->set_string_value(tag);
}

class SearchLimitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    base_s_ = wall_now_s() - 300;
    uint32_t counter = 0;
    int sent = 0;
    ExportRequest hits;
    for (int i = 0; i < kHits; ++i) add_trace(hits, id_on_shard(0, counter), "hit", base_s_ * kSecondNs + i);
    send(hits);
    sent += kHits;
    for (int batch = 0; batch < kFillerTraces / 5000; ++batch) {
      ExportRequest filler;
      for (int i = 0; i < 5000; ++i) add_trace(filler, id_on_shard(1, counter), "filler", base_s_ * kSecondNs + i);
      send(filler);
      sent += 5000;
    }
    ASSERT_TRUE(eventually([&] { return scrape_metric(query(), "spindle_storage_cut_spans_total") == sent; }))
        << "not everything was cut into blocks";
    // Without matches every page of every block is read: that is the whole.
    const int64_t before = pages_read();
    auto none = http1_request(query(), "GET", search_target(R"({ span.tag = "none" })", 20));
    ASSERT_TRUE(none.ok());
    ASSERT_EQ(none->status, 200) << none->body;
    ASSERT_TRUE(settled());
    whole_ = pages_read() - before;
    ASSERT_GE(whole_, 100) << "too few pages for the comparison to mean anything";
  }

  void send(const ExportRequest& req) { export_http(server_->otlp_http_port(), req); }
  uint16_t query() { return server_->query_port(); }
  std::string search_target(const std::string& q, int limit) const {
    return "/api/search?q=" + percent_encode(q) + "&limit=" + std::to_string(limit) +
           "&start=" + std::to_string(base_s_ - 60) + "&end=" + std::to_string(base_s_ + 60);
  }
  // Until no scan runs on any shard.
  bool settled() {
    return eventually([&] { return scrape_metric(query(), "spindle_search_scans_active") == 0; });
  }
  int64_t pages_read() { return scrape_metric(query(), "spindle_search_block_pages_read_total"); }

  TempDir dir_{"spindle-search-limit"};
  TestServer server_{test_config_cutting_fast(dir_.path())};
  uint64_t base_s_ = 0;
  int64_t whole_ = 0;
};

TEST_F(SearchLimitTest, OtherShardsStopOnceTheLimitIsIn) {
  const int64_t before = pages_read();
  auto limited = http1_request(query(), "GET", search_target(R"({ span.tag = "hit" })", kHits));
  ASSERT_TRUE(limited.ok());
  ASSERT_EQ(limited->status, 200) << limited->body;
  EXPECT_EQ(count_substr(limited->body, "\"traceID\""), static_cast<size_t>(kHits)) << limited->body;
  ASSERT_TRUE(settled());
  EXPECT_LT(pages_read() - before, whole_ / 2) << "shard 1 kept scanning after the answer";
}

// A client that goes away (closes its connection, as Go's HTTP client does when Grafana cancels a query) stops
// the search on every shard; the server stays healthy.
TEST_F(SearchLimitTest, ShardsStopWhenTheClientLeaves) {
  const int64_t before = pages_read();
  const std::string request = "GET " + search_target(R"({ span.tag = "none" })", 20) +
                              " HTTP/1.1\r\nHost: spindle\r\nAccept: application/json\r\n\r\n";
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(query());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  ::close(fd);
  // The search was taken up and given up (answered 499, as Tempo logs a request its client closed).
  ASSERT_TRUE(eventually([&] {
    return scrape_metric(query(), "spindle_requests_total", R"(route="search",status_code="499")") == 1;
  }));
  ASSERT_TRUE(settled());
  EXPECT_LT(pages_read() - before, whole_ / 2) << "the shards kept scanning for a client that had left";
  auto health = http1_request(query(), "GET", "/ready");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
}

// Grafana cancels a streaming search with RST_STREAM on a connection it keeps: the search is given up too.
TEST_F(SearchLimitTest, StreamingSearchStopsWhenTheCallIsCancelled) {
  const int64_t before = pages_read();
  tempopb::SearchRequest req;
  req.set_query(R"({ span.tag = "none" })");
  req.set_start(static_cast<uint32_t>(base_s_ - 60));
  req.set_end(static_cast<uint32_t>(base_s_ + 60));
  auto scanning = [&] {
    // The search has been taken up: a reset arriving with the request would make the server skip it.
    EXPECT_TRUE(eventually([&] { return scrape_metric(query(), "spindle_search_scans_active") > 0; }));
  };
  auto stopped = [&] {
    EXPECT_TRUE(eventually([&] {
      return scrape_metric(query(), "spindle_requests_total", R"(route="search_grpc",status_code="CANCELLED")") == 1;
    }));
    EXPECT_TRUE(settled());
  };
  Status s = grpc_cancelled_call(query(), "/tempopb.StreamingQuerier/Search", req.SerializeAsString(), scanning,
                                 stopped);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  // Given up before any shard had finished (a finished search counts OK, never CANCELLED); how far the shards
  // got depends on how long the wait for the scan took, so only "not to the end" is asserted.
  EXPECT_EQ(scrape_metric(query(), "spindle_requests_total", R"(route="search_grpc",status_code="OK")"), 0);
  EXPECT_LT(pages_read() - before, whole_) << "the shards kept scanning for a cancelled call";
}

}  // namespace
}  // namespace spindle
