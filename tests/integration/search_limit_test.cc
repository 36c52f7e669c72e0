// A search stops every shard once `limit` traces are in: shard 0 holds the only matches, shard 1 holds many
// blocks' worth of traces that do not match (under an attribute the search columns cannot judge, so shard 1 has
// to decode its pages). Once the answer is out, shard 1 must stop scanning long before it has read its blocks:
// the pages it read are compared with what a search without matches reads.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "api/query_params.h"
#include "core/trace_id.h"
#include "tests/integration/otlp_fixtures.h"
#include "tests/support/http_client.h"
#include "tests/support/server_metrics.h"
#include "tests/support/test_server.h"
#include "tests/support/temp_dir.h"

namespace spindle {
namespace {

constexpr uint64_t kSecondNs = 1000000000;
constexpr int kHits = 3;
constexpr int kFillerTraces = 30000;  // on shard 1: about 40 block pages

uint64_t wall_now_s() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

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

TEST(SearchLimitTest, OtherShardsStopOnceTheLimitIsIn) {
  TempDir dir("spindle-search-limit");
  TestServer server(test_config_cutting_fast(dir.path()));
  server.start();
  const uint16_t otlp = server->otlp_http_port();
  const uint16_t query = server->query_port();
  const uint64_t base_s = wall_now_s() - 300;
  uint32_t counter = 0;
  int sent = 0;
  auto send = [&](const ExportRequest& req) {
    auto r = http1_request(otlp, "POST", "/v1/traces", {{"Content-Type", "application/x-protobuf"}},
                           req.SerializeAsString());
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(r->status, 200) << r->body;
  };
  ExportRequest hits;
  for (int i = 0; i < kHits; ++i) add_trace(hits, id_on_shard(0, counter), "hit", base_s * kSecondNs + i);
  send(hits);
  sent += kHits;
  for (int batch = 0; batch < kFillerTraces / 5000; ++batch) {
    ExportRequest filler;
    for (int i = 0; i < 5000; ++i) add_trace(filler, id_on_shard(1, counter), "filler", base_s * kSecondNs + i);
    send(filler);
    sent += 5000;
  }
  ASSERT_TRUE(eventually([&] { return scrape_metric(query, "spindle_storage_cut_spans_total") == sent; }))
      << "not everything was cut into blocks";

  const std::string window = "&start=" + std::to_string(base_s - 60) + "&end=" + std::to_string(base_s + 60);
  auto settled = [&] {
    return eventually([&] { return scrape_metric(query, "spindle_search_scans_active") == 0; });
  };
  auto pages_read = [&] { return scrape_metric(query, "spindle_search_block_pages_read_total"); };

  // Without matches every page of every block is read: that is the whole.
  const int64_t before_full = pages_read();
  auto none = http1_request(query, "GET", "/api/search?q=" + percent_encode(R"({ span.tag = "none" })") + window);
  ASSERT_TRUE(none.ok());
  ASSERT_EQ(none->status, 200) << none->body;
  ASSERT_TRUE(settled());
  const int64_t whole = pages_read() - before_full;
  ASSERT_GE(whole, 20) << "too few pages for the comparison to mean anything";

  const int64_t before = pages_read();
  auto limited = http1_request(query, "GET",
                               "/api/search?q=" + percent_encode(R"({ span.tag = "hit" })") + "&limit=" +
                                   std::to_string(kHits) + window);
  ASSERT_TRUE(limited.ok());
  ASSERT_EQ(limited->status, 200) << limited->body;
  EXPECT_EQ(count_substr(limited->body, "\"traceID\""), static_cast<size_t>(kHits)) << limited->body;
  ASSERT_TRUE(settled());
  EXPECT_LT(pages_read() - before, whole / 2) << "shard 1 kept scanning after the answer";
}

}  // namespace
}  // namespace spindle
