// Durable storage through the whole server: traces survive a restart whether they were only in the WAL or
// already cut into blocks; a trace whose spans are spread over blocks, the WAL and the head reads back whole
// with every span exactly once; start/end prune blocks. 2 shards on loopback, port 0, data directories the
// test owns so a second server can start on them.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/trace_id.h"
#include "core/wall_clock.h"
#include "tempopb/tempo.pb.h"
#include "tests/integration/otlp_export.h"
#include "tests/integration/otlp_fixtures.h"
#include "tests/support/http_client.h"
#include "tests/support/server_metrics.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

namespace spindle {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t k2020Ns = 1577836800ull * 1000000000;  // 2020-01-01T00:00:00Z
constexpr uint64_t k2020Seconds = 1577836800;
constexpr uint64_t k2025Seconds = 1735689600;
constexpr uint64_t kDaySeconds = 24 * 3600;

// Span names of a trace, sorted, read through /api/v2/traces/<id>`query` as protobuf or JSON. A lookup that
// fails is a test failure and gives no names.
std::vector<std::string> read_spans(uint16_t port, const std::string& hex_id, bool json,
                                    const std::string& query = "") {
  std::vector<std::string> names;
  HeaderList headers;
  if (!json) headers.push_back({"Accept", "application/protobuf"});
  auto r = http1_request(port, "GET", "/api/v2/traces/" + hex_id + query, headers);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return names;
  EXPECT_EQ(r->status, 200) << r->body;
  tempopb::TraceByIDResponse resp;
  if (json) {
    auto st = google::protobuf::util::JsonStringToMessage(r->body, &resp);
    EXPECT_TRUE(st.ok()) << st.ToString() << "\n" << r->body.substr(0, 200);
  } else {
    EXPECT_TRUE(resp.ParseFromString(r->body));
  }
  for (const auto& rs : resp.trace().resourcespans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) names.push_back(s.name());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// "op-<n>" for n in [first, last], sorted like read_spans.
std::vector<std::string> ops(int first, int last) {
  std::vector<std::string> names;
  for (int n = first; n <= last; ++n) names.push_back("op-" + std::to_string(n));
  std::sort(names.begin(), names.end());
  return names;
}

// Spans first..first+count-1 of trace `id`, with every span's start/end moved to `base_ns` + n.
ExportRequest request_at(const std::string& id, int count, int first, uint64_t base_ns) {
  ExportRequest req = make_request(id, count, first);
  auto* spans = req.mutable_resource_spans(0)->mutable_scope_spans(0)->mutable_spans();
  for (auto& span : *spans) {
    uint64_t n = span.start_time_unix_nano() - 1700000000000000000ull;
    span.set_start_time_unix_nano(base_ns + n * 1000);
    span.set_end_time_unix_nano(base_ns + n * 1000 + 500);
  }
  return req;
}

class StorageIT : public ::testing::Test {
 protected:
  Config config_keeping_head() const { return test_config_keeping_head(dir_.path()); }
  Config config_cutting_fast() const { return test_config_cutting_fast(dir_.path()); }

  Server& start(Config c) {
    server_ = std::make_unique<TestServer>(std::move(c));
    return server_->start();
  }
  // Graceful stop: drains, finishes block jobs, syncs and closes the WAL.
  void stop() { server_.reset(); }
  uint16_t query() { return (*server_)->query_port(); }

  void send_http(const ExportRequest& req) { export_http((*server_)->otlp_http_port(), req); }
  void send_grpc(const ExportRequest& req) { export_grpc((*server_)->otlp_grpc_port(), req); }
  // Waits until at least `spans` spans were written into blocks since start and the head is empty.
  void wait_for_cut(int64_t spans) {
    uint16_t port = query();
    bool cut = eventually([&] {
      return scrape_metric(port, "spindle_storage_cut_spans_total") >= spans &&
             scrape_metric(port, "spindle_head_spans") == 0;
    });
    ASSERT_TRUE(cut) << "cut_spans_total=" << scrape_metric(port, "spindle_storage_cut_spans_total")
                     << " head_spans=" << scrape_metric(port, "spindle_head_spans") << " (wanted " << spans << ")";
    EXPECT_GT(scrape_metric(port, "spindle_storage_cuts_total"), 0);
    EXPECT_EQ(scrape_metric(port, "spindle_storage_block_write_errors_total"), 0);
  }

  // A batch of traces spread over both shards and both receivers; the expected spans of each.
  struct Sent {
    std::string hex;
    int spans;
  };
  std::vector<Sent> send_many_traces(int count) {
    std::vector<Sent> sent;
    for (int i = 0; i < count; ++i) {
      std::string id = trace_id_bytes(static_cast<uint8_t>(100 + i));
      int first = 1 + i % 3;
      int n = 1 + i % 5;
      if (i % 2 == 0) {
        send_http(make_request(id, first, 1));
      } else {
        send_grpc(make_request(id, first, 1));
      }
      send_grpc(make_request(id, n, first + 1));  // a second request for the same trace
      sent.push_back({to_hex(id), first + n});
    }
    return sent;
  }
  void expect_all_readable(const std::vector<Sent>& sent) {
    for (const Sent& s : sent) {
      EXPECT_EQ(read_spans(query(), s.hex, false), ops(1, s.spans)) << s.hex;
    }
  }

  TempDir dir_{"spindle-storage-it"};
  std::unique_ptr<TestServer> server_;  // after dir_: stopped before the directory goes
};

TEST_F(StorageIT, RestartKeepsTracesThatWereOnlyInTheWal) {
  start(config_keeping_head());
  std::vector<Sent> sent = send_many_traces(24);
  expect_all_readable(sent);
  EXPECT_EQ(scrape_metric(query(), "spindle_storage_cuts_total"), 0);
  stop();

  start(config_keeping_head());
  EXPECT_GT(scrape_metric(query(), "spindle_wal_replay_records_total"), 0);
  EXPECT_EQ(scrape_metric(query(), "spindle_storage_blocks"), 0);  // so every span read below came from the WAL
  expect_all_readable(sent);
  // Once more: the replayed traces are still only in the WAL, and nothing doubled.
  stop();
  start(config_keeping_head());
  expect_all_readable(sent);
}

TEST_F(StorageIT, RestartKeepsTracesThatWereCutIntoBlocks) {
  start(config_cutting_fast());
  std::vector<Sent> sent = send_many_traces(24);
  int64_t spans = 0;
  for (const Sent& s : sent) spans += s.spans;
  wait_for_cut(spans);
  EXPECT_GT(scrape_metric(query(), "spindle_storage_blocks"), 0);
  expect_all_readable(sent);
  stop();

  start(config_keeping_head());
  EXPECT_GT(scrape_metric(query(), "spindle_storage_blocks"), 0);
  expect_all_readable(sent);
  // The blocks alone hold everything: a start with an emptied WAL reads the same.
  stop();
  std::filesystem::remove_all(dir_.path() + "/wal");
  start(config_keeping_head());
  EXPECT_EQ(scrape_metric(query(), "spindle_wal_replay_records_total"), 0);
  expect_all_readable(sent);
}

TEST_F(StorageIT, TraceSplitOverBlocksWalAndHeadReadsBackWhole) {
  const std::string id = trace_id_bytes(77);
  const std::string hex = to_hex(id);
  // Current timestamps keep the blocks in an open compaction window, so they stay separate blocks.
  const uint64_t now = wall_now_ns();

  // Phases 1 and 2 are each cut into a block of their own; span 3 is sent again in phase 2 (a client retry
  // after the cut, so it is in both blocks).
  start(config_cutting_fast());
  send_http(request_at(id, 3, 1, now));  // spans 1-3
  wait_for_cut(3);
  send_grpc(request_at(id, 4, 3, now));  // spans 3-6
  wait_for_cut(7);
  EXPECT_EQ(read_spans(query(), hex, false), ops(1, 6));
  stop();

  // Phase 3 stays in the WAL: this server never cuts, and a stop does not cut either.
  start(config_keeping_head());
  EXPECT_GE(scrape_metric(query(), "spindle_storage_blocks"), 2);
  send_grpc(request_at(id, 3, 7, now));  // spans 7-9
  EXPECT_EQ(read_spans(query(), hex, false), ops(1, 9));
  stop();

  // Phase 4 in the head of a server that replayed phase 3 from the WAL; span 5 again, already in a block.
  start(config_keeping_head());
  EXPECT_GE(scrape_metric(query(), "spindle_storage_blocks"), 2);
  EXPECT_GT(scrape_metric(query(), "spindle_wal_replay_records_total"), 0);
  send_http(request_at(id, 2, 10, now));  // spans 10-11
  send_http(request_at(id, 1, 5, now));   // span 5
  EXPECT_EQ(read_spans(query(), hex, false), ops(1, 11));
  EXPECT_EQ(read_spans(query(), hex, true), ops(1, 11));
  // The v1 endpoint merges the same pieces.
  auto v1 = http1_request(query(), "GET", "/api/traces/" + hex, {{"Accept", "application/protobuf"}});
  ASSERT_TRUE(v1.ok());
  ASSERT_EQ(v1->status, 200);
  tempopb::Trace t;
  ASSERT_TRUE(t.ParseFromString(v1->body));
  int spans = 0;
  for (const auto& rs : t.resourcespans()) {
    for (const auto& ss : rs.scope_spans()) spans += ss.spans_size();
  }
  EXPECT_EQ(spans, 11);
}

TEST_F(StorageIT, StartAndEndPruneBlocks) {
  const std::string id = trace_id_bytes(90);
  const std::string hex = to_hex(id);
  start(config_cutting_fast());
  send_grpc(request_at(id, 4, 1, k2020Ns));
  wait_for_cut(4);
  auto range = [](uint64_t start, uint64_t end) {
    return "?start=" + std::to_string(start) + "&end=" + std::to_string(end);
  };
  EXPECT_EQ(read_spans(query(), hex, false), ops(1, 4));
  EXPECT_EQ(read_spans(query(), hex, false, range(k2020Seconds - kDaySeconds, k2020Seconds + kDaySeconds)),
            ops(1, 4));
  EXPECT_EQ(read_spans(query(), hex, true, range(k2020Seconds, k2020Seconds + 1)), ops(1, 4));
  EXPECT_TRUE(read_spans(query(), hex, false, range(k2025Seconds, k2025Seconds + kDaySeconds)).empty());
  EXPECT_TRUE(read_spans(query(), hex, true, range(k2025Seconds, k2025Seconds + kDaySeconds)).empty());
  EXPECT_TRUE(
      read_spans(query(), hex, false, range(k2020Seconds - 2 * kDaySeconds, k2020Seconds - kDaySeconds))
          .empty());
  // v1 answers a pruned lookup like any other missing trace.
  auto v1 =
      http1_request(query(), "GET", "/api/traces/" + hex + range(k2025Seconds, k2025Seconds + kDaySeconds),
                    {{"Accept", "application/protobuf"}});
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->status, 404);
}

}  // namespace
}  // namespace spindle
