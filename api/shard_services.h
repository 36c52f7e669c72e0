#pragma once
// ShardServices: everything one shard owns (Seastar's sharded<T>, flattened): its trace store (WAL, head,
// blocks), counters, request handlers and listeners. Reached from a Shard through Shard::services.
//
// Threading: each instance is created, used and destroyed on its own shard's thread only. Other shards reach it
// only by submit_to()-ing a function to that shard.
#include <atomic>
#include <memory>
#include <vector>

#include "api/shard_metrics.h"
#include "core/config.h"
#include "shards/shard.h"
#include "storage/trace_store.h"

namespace spindle {

class Listener;
class ApiHandler;

struct ShardServices {
  ShardServices(const Config& config, Shard& shard, const std::atomic<bool>& ready);
  ~ShardServices();

  const Config& config;
  const std::atomic<bool>& ready;  // set by the Server (main thread) once every shard serves; read-only here
  TraceStore store;
  bool store_open = false;  // open() succeeded: close() it before destruction
  ShardMetrics metrics;
  // Ingest requests this shard started whose owners have not all answered. Shutdown waits for zero, so no
  // completion can arrive after these services are gone.
  uint64_t ingests_in_flight = 0;
  std::vector<std::unique_ptr<ApiHandler>> handlers;  // one per port; listeners refer to them
  std::vector<std::unique_ptr<Listener>> listeners;
};

inline ShardServices& services_of(Shard& shard) { return *static_cast<ShardServices*>(shard.services); }

// The trace store settings of one shard, from the config.
TraceStoreOptions trace_store_options(const Config& config, uint32_t shard, uint32_t shard_count);

}  // namespace spindle
