#pragma once
// /metrics in the Prometheus text exposition format (version 0.0.4). Each shard contributes a snapshot taken on
// its own thread; the scraping shard sums counters and labels gauges by shard.
#include <string>
#include <vector>

#include "api/shard_metrics.h"
#include "net/listener.h"
#include "shards/shard.h"
#include "storage/trace_store.h"

namespace spindle {

struct ListenerSnapshot {
  std::string name;  // "otlp_grpc", "otlp_http", "query"
  ListenerStats stats;
  uint64_t connections = 0;
};

struct ShardSnapshot {
  ShardMetrics metrics;
  HeadStats head;
  TraceStoreStats storage;
  uint64_t head_max_bytes = 0;
  uint64_t queue_depth = 0;  // cross-shard items waiting in this shard's inbound rings
  uint64_t in_flight = 0;    // cross-shard items this shard sent that have not completed
  std::vector<ListenerSnapshot> listeners;
};

// Runs on `shard`'s own thread.
ShardSnapshot take_snapshot(Shard& shard);
std::string render_metrics(const std::vector<ShardSnapshot>& shards);

}  // namespace spindle
