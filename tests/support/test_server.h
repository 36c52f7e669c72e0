#pragma once
// An in-process Spindle node for integration tests: 2 shards (cross-shard paths always exercised), every port 0
// on loopback, short timeouts. Stops gracefully in the destructor.
#include <memory>

#include <gtest/gtest.h>

#include "api/server.h"
#include "core/config.h"
#include "tests/support/temp_dir.h"

namespace spindle {

// wal_path/blocks_path stay empty: TestServer puts them in a fresh temporary directory of its own.
inline Config test_config() {
  Config c;
  c.wal_path.clear();
  c.blocks_path.clear();
  c.shards = 2;
  c.http_listen_address = "127.0.0.1";
  c.http_listen_port = 0;
  c.otlp_grpc = {"127.0.0.1", 0};
  c.otlp_http = {"127.0.0.1", 0};
  c.head_max_bytes = 256 << 20;
  c.shutdown_timeout_ms = 5000;
  return c;
}

// Storage under `dir` (which outlives the servers, so a test can restart on the same data) that never cuts on
// its own during a test: spans stay in the head and the WAL.
inline Config test_config_keeping_head(const std::string& dir) {
  constexpr uint64_t kHourMs = 3600 * 1000;
  Config c = test_config();
  c.wal_path = dir + "/wal";
  c.blocks_path = dir + "/blocks";
  c.trace_idle_period_ms = kHourMs;
  c.max_trace_live_ms = 10 * kHourMs;
  c.flush_check_period_ms = kHourMs;
  return c;
}

// The same, but a trace is cut into a block as soon as it has been idle for a millisecond.
inline Config test_config_cutting_fast(const std::string& dir) {
  Config c = test_config_keeping_head(dir);
  c.trace_idle_period_ms = 1;
  c.flush_check_period_ms = 50;
  return c;
}

class TestServer {
 public:
  explicit TestServer(Config config = test_config()) {
    if (config.wal_path.empty()) config.wal_path = data_.path() + "/wal";
    if (config.blocks_path.empty()) config.blocks_path = data_.path() + "/blocks";
    server_ = std::make_unique<Server>(std::move(config));
  }
  ~TestServer() {
    server_->request_stop();
    server_->join();
  }
  // Fatal test failure if the server cannot start.
  Server& start() {
    Status s = server_->start();
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    return *server_;
  }
  Server& operator*() { return *server_; }
  Server* operator->() { return server_.get(); }

 private:
  TempDir data_{"spindle-test-server"};
  std::unique_ptr<Server> server_;
};

}  // namespace spindle
