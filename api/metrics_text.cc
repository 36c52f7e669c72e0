#include "api/metrics_text.h"

#include <map>

#include "api/build_info.h"
#include "api/shard_services.h"

namespace spindle {
namespace {

class Exposition {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // labels: already formatted `a="x",b="y"` (values are our own identifiers: nothing to escape).
  void sample(const char* name, const std::string& labels, uint64_t value) {
    sample_text(name, labels, std::to_string(value));
  }
  void sample_text(const char* name, const std::string& labels, const std::string& value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string label(const char* k, const std::string& v) { return std::string(k) + "=\"" + v + "\""; }

// Microseconds as seconds with six decimals ("0.000250"), exact for any integer input.
std::string format_seconds_us(uint64_t us) {
  std::string frac = std::to_string(us % 1000000);
  return std::to_string(us / 1000000) + "." + std::string(6 - frac.size(), '0') + frac;
}

// WAL, blocks, compaction and retention. Counters are summed over shards; a few gauges are per shard.
void render_storage_metrics(Exposition& e, const std::vector<ShardSnapshot>& shards) {
  auto sum = [&](auto value) {
    uint64_t total = 0;
    for (const auto& s : shards) total += value(s.storage);
    return total;
  };
  struct Counter {
    const char* name;
    const char* help;
    uint64_t (*value)(const TraceStoreStats&);
  };
  static const Counter kCounters[] = {
      {"spindle_wal_bytes_total", "Bytes written to the WAL (record headers included).",
       [](const TraceStoreStats& s) { return s.wal.bytes_written; }},
      {"spindle_wal_records_total", "Records (one per owner shard and request) written to the WAL.",
       [](const TraceStoreStats& s) { return s.wal.records_written; }},
      {"spindle_wal_syncs_total", "fdatasync rounds of the WAL.",
       [](const TraceStoreStats& s) { return s.wal.syncs; }},
      {"spindle_wal_sync_errors_total", "Failed WAL syncs (the acks they covered were refused as retryable).",
       [](const TraceStoreStats& s) { return s.wal.sync_errors; }},
      {"spindle_wal_append_errors_total", "WAL writes that failed, for any reason.",
       [](const TraceStoreStats& s) { return s.wal.append_errors; }},
      {"spindle_wal_disk_full_errors_total", "WAL writes that failed because the disk was full (ENOSPC/EDQUOT).",
       [](const TraceStoreStats& s) { return s.wal.disk_full_errors; }},
      {"spindle_wal_segments_created_total", "WAL segment files created.",
       [](const TraceStoreStats& s) { return s.wal.segments_created; }},
      {"spindle_wal_segments_removed_total", "WAL segment files deleted once their spans were in blocks.",
       [](const TraceStoreStats& s) { return s.wal.segments_removed; }},
      {"spindle_wal_replay_records_total", "WAL records replayed at start.",
       [](const TraceStoreStats& s) { return s.replay.records; }},
      {"spindle_wal_replay_bytes_total", "WAL payload bytes replayed at start.",
       [](const TraceStoreStats& s) { return s.replay.payload_bytes; }},
      {"spindle_wal_corrupt_records_total", "Damaged WAL regions skipped at replay (logged).",
       [](const TraceStoreStats& s) { return s.replay.corrupt_records + s.replay_bad_records; }},
      {"spindle_wal_torn_tail_bytes_total", "Bytes of torn WAL tails truncated at replay.",
       [](const TraceStoreStats& s) { return s.replay.torn_tail_bytes; }},
      {"spindle_storage_cuts_total", "Blocks written from the head.",
       [](const TraceStoreStats& s) { return s.cuts; }},
      {"spindle_storage_cut_spans_total", "Spans moved from the head into blocks.",
       [](const TraceStoreStats& s) { return s.cut_spans; }},
      {"spindle_storage_block_write_errors_total", "Failed block writes (retried; the spans stay in memory and WAL).",
       [](const TraceStoreStats& s) { return s.block_write_errors; }},
      {"spindle_storage_compactions_total", "Compactions completed.",
       [](const TraceStoreStats& s) { return s.compactions; }},
      {"spindle_storage_compacted_blocks_total", "Blocks merged away by compaction.",
       [](const TraceStoreStats& s) { return s.compacted_blocks; }},
      {"spindle_storage_compaction_errors_total", "Failed compactions (their inputs are left as they are).",
       [](const TraceStoreStats& s) { return s.compaction_errors; }},
      {"spindle_storage_retention_deleted_blocks_total",
       "Blocks deleted because they passed compactor.compaction.block_retention.",
       [](const TraceStoreStats& s) { return s.retention_deleted_blocks; }},
      {"spindle_storage_block_read_errors_total", "Lookups that met a damaged block page (logged).",
       [](const TraceStoreStats& s) { return s.block_read_errors; }},
      {"spindle_search_block_pages_read_total", "Block data pages searches decoded.",
       [](const TraceStoreStats& s) { return s.search_pages_read; }},
      {"spindle_search_block_pages_pruned_total",
       "Block data pages searches left undecoded because their search columns ruled every trace out.",
       [](const TraceStoreStats& s) { return s.search_pages_pruned; }},
      {"spindle_search_blocks_pruned_total", "Blocks searches skipped whole by their search column summary.",
       [](const TraceStoreStats& s) { return s.search_blocks_pruned; }},
      {"spindle_storage_blocks_skipped_total", "Unreadable blocks skipped at start (left on disk, logged).",
       [](const TraceStoreStats& s) { return s.blocks_skipped_at_open; }},
  };
  for (const Counter& c : kCounters) {
    e.family(c.name, "counter", c.help);
    e.sample(c.name, "", sum(c.value));
  }

  e.family("spindle_wal_sync_duration_seconds", "histogram", "Duration of WAL fdatasync rounds.");
  uint64_t cumulative = 0;
  for (size_t b = 0; b <= kWalSyncLatencyBoundsUs.size(); ++b) {
    cumulative += sum([b](const TraceStoreStats& s) { return s.wal.sync_latency_buckets[b]; });
    std::string le = b < kWalSyncLatencyBoundsUs.size() ? format_seconds_us(kWalSyncLatencyBoundsUs[b]) : "+Inf";
    e.sample("spindle_wal_sync_duration_seconds_bucket", label("le", le), cumulative);
  }
  e.sample_text("spindle_wal_sync_duration_seconds_sum", "",
                format_seconds_us(sum([](const TraceStoreStats& s) { return s.wal.sync_latency_sum_us; })));
  e.sample("spindle_wal_sync_duration_seconds_count", "", cumulative);

  e.family("spindle_shard_loop_lag_seconds", "histogram",
           "How late each shard's 100 ms storage tick fired: how long its loop went without polling.");
  uint64_t lag_count = 0;
  for (size_t b = 0; b <= kLoopLagBoundsMs.size(); ++b) {
    lag_count += sum([b](const TraceStoreStats& s) { return s.loop_lag_buckets[b]; });
    std::string le = b < kLoopLagBoundsMs.size() ? format_seconds_us(kLoopLagBoundsMs[b] * 1000) : "+Inf";
    e.sample("spindle_shard_loop_lag_seconds_bucket", label("le", le), lag_count);
  }
  e.sample_text("spindle_shard_loop_lag_seconds_sum", "",
                format_seconds_us(sum([](const TraceStoreStats& s) { return s.loop_lag_sum_ms; }) * 1000));
  e.sample("spindle_shard_loop_lag_seconds_count", "", lag_count);
  e.family("spindle_shard_loop_lag_max_seconds", "gauge", "The worst loop lag seen since start, by shard.");
  for (size_t i = 0; i < shards.size(); ++i) {
    e.sample_text("spindle_shard_loop_lag_max_seconds", label("shard", std::to_string(i)),
                  format_seconds_us(shards[i].storage.loop_lag_max_ms * 1000));
  }

  e.family("spindle_storage_blocks", "gauge", "Blocks on disk, by compaction level (the last level counts higher ones).");
  for (uint32_t l = 0; l < kMaxBlockLevels; ++l) {
    e.sample("spindle_storage_blocks", label("level", std::to_string(l)),
             sum([l](const TraceStoreStats& s) { return s.blocks[l]; }));
  }
  e.family("spindle_storage_block_bytes", "gauge", "Bytes of block data on disk, by compaction level.");
  for (uint32_t l = 0; l < kMaxBlockLevels; ++l) {
    e.sample("spindle_storage_block_bytes", label("level", std::to_string(l)),
             sum([l](const TraceStoreStats& s) { return s.block_bytes[l]; }));
  }
  e.family("spindle_search_scans_active", "gauge", "Searches and tag lookups scanning a shard's data now, by shard.");
  for (size_t i = 0; i < shards.size(); ++i) {
    e.sample("spindle_search_scans_active", label("shard", std::to_string(i)), shards[i].storage.search_scans_active);
  }
  e.family("spindle_wal_segments", "gauge", "WAL segment files on disk, by shard.");
  for (size_t i = 0; i < shards.size(); ++i) {
    e.sample("spindle_wal_segments", label("shard", std::to_string(i)), shards[i].storage.wal.live_segments);
  }
  e.family("spindle_wal_replay_duration_seconds", "gauge", "How long the WAL replay at start took, by shard.");
  for (size_t i = 0; i < shards.size(); ++i) {
    e.sample_text("spindle_wal_replay_duration_seconds", label("shard", std::to_string(i)),
                  format_seconds_us(shards[i].storage.replay.duration_us));
  }
}

}  // namespace

ShardSnapshot take_snapshot(Shard& shard) {
  ShardServices& svc = services_of(shard);
  ShardSnapshot snap;
  snap.metrics = svc.metrics;
  snap.storage = svc.store.stats();
  snap.head = snap.storage.head;
  snap.head_max_bytes = svc.store.head().limits().max_bytes;
  snap.queue_depth = shard.inbound_depth();
  snap.in_flight = shard.in_flight();
  for (const auto& l : svc.listeners) {
    snap.listeners.push_back({l->name(), l->stats(), l->connection_count()});
  }
  return snap;
}

std::string render_metrics(const std::vector<ShardSnapshot>& shards) {
  ShardMetrics total;
  std::map<std::string, ListenerSnapshot> listeners;
  for (const auto& s : shards) {
    total.merge(s.metrics);
    for (const auto& l : s.listeners) {
      ListenerSnapshot& t = listeners[l.name];
      t.stats.accepted += l.stats.accepted;
      t.stats.closed += l.stats.closed;
      t.stats.timed_out += l.stats.timed_out;
      t.stats.protocol_errors += l.stats.protocol_errors;
      t.connections += l.connections;
    }
  }
  Exposition e;
  e.family("spindle_build_info", "gauge", "Build version and revision.");
  e.sample("spindle_build_info", label("version", kVersion) + "," + label("revision", kRevision), 1);

  e.family("spindle_receiver_spans_total", "counter", "Spans accepted, by receiver protocol.");
  for (int p = 0; p < kIngestProtocols; ++p) {
    e.sample("spindle_receiver_spans_total", label("protocol", ingest_protocol_name(IngestProtocol(p))),
             total.spans_received[p]);
  }
  e.family("spindle_receiver_bytes_total", "counter",
           "OTLP protobuf payload bytes received (after decompression and JSON conversion), by protocol.");
  for (int p = 0; p < kIngestProtocols; ++p) {
    e.sample("spindle_receiver_bytes_total", label("protocol", ingest_protocol_name(IngestProtocol(p))),
             total.bytes_received[p]);
  }
  e.family("spindle_receiver_refused_spans_total", "counter",
           "Spans not stored, by protocol and reason (head_full is retryable; the client is told to retry).");
  for (int p = 0; p < kIngestProtocols; ++p) {
    for (int r = 0; r < kRefusalReasons; ++r) {
      e.sample("spindle_receiver_refused_spans_total",
               label("protocol", ingest_protocol_name(IngestProtocol(p))) + "," +
                   label("reason", refusal_reason_name(RefusalReason(r))),
               total.spans_refused[p][r]);
    }
  }
  e.family("spindle_requests_total", "counter", "Requests answered, by route and status (HTTP code or gRPC name).");
  for (const auto& [key, n] : total.requests) {
    e.sample("spindle_requests_total", label("route", key.first) + "," + label("status_code", key.second), n);
  }
  auto per_shard = [&](const char* name, const char* help, auto value) {
    e.family(name, "gauge", help);
    for (size_t i = 0; i < shards.size(); ++i) e.sample(name, label("shard", std::to_string(i)), value(shards[i]));
  };
  per_shard("spindle_head_live_traces", "Traces held in memory, by shard.",
            [](const ShardSnapshot& s) { return s.head.live_traces; });
  per_shard("spindle_head_spans", "Spans held in memory, by shard.",
            [](const ShardSnapshot& s) { return s.head.spans; });
  per_shard("spindle_head_bytes", "Bytes of live traces in memory (accounted), by shard.",
            [](const ShardSnapshot& s) { return s.head.bytes; });
  per_shard("spindle_head_max_bytes", "The head byte limit of each shard.",
            [](const ShardSnapshot& s) { return s.head_max_bytes; });
  per_shard("spindle_shard_queue_depth", "Cross-shard messages waiting to be processed, by shard.",
            [](const ShardSnapshot& s) { return s.queue_depth; });
  per_shard("spindle_shard_in_flight", "Cross-shard messages sent and not yet completed, by shard.",
            [](const ShardSnapshot& s) { return s.in_flight; });

  render_storage_metrics(e, shards);

  auto per_listener = [&](const char* name, const char* type, const char* help, auto value) {
    e.family(name, type, help);
    for (const auto& [listener, l] : listeners) e.sample(name, label("listener", listener), value(l));
  };
  per_listener("spindle_connections", "gauge", "Open connections, by listener.",
               [](const ListenerSnapshot& l) { return l.connections; });
  per_listener("spindle_connections_accepted_total", "counter", "Connections accepted, by listener.",
               [](const ListenerSnapshot& l) { return l.stats.accepted; });
  per_listener("spindle_connections_timed_out_total", "counter", "Connections cut by a read or write timeout.",
               [](const ListenerSnapshot& l) { return l.stats.timed_out; });
  per_listener("spindle_connections_protocol_errors_total", "counter", "Connections closed for protocol errors.",
               [](const ListenerSnapshot& l) { return l.stats.protocol_errors; });
  return e.take();
}

}  // namespace spindle
