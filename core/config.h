#pragma once
// Config: every setting of the server, with defaults. Built once at start (core/config_loader.h) from the YAML file
// and flags, then immutable; each shard reads it freely. Keys follow Tempo's names so a Tempo config works.
#include <cstdint>
#include <string>
#include <vector>

namespace spindle {

struct Endpoint {
  std::string host;  // "" or "0.0.0.0" = all IPv4 interfaces
  uint16_t port = 0;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct Config {
  // shards: 0 = one per available core. Ours (`spindle.shards`, flag -shards).
  uint32_t shards = 0;

  // server.*
  std::string http_listen_address;   // server.http_listen_address
  uint16_t http_listen_port = 3200;  // server.http_listen_port
  std::string log_level = "info";    // server.log_level: debug|info|warn|error
  // server.http_server_read_timeout: how long a client may take to send one complete request (headers and
  // body). Cuts off slow senders.
  uint64_t read_timeout_ms = 30000;
  // server.http_server_write_timeout: how long a response may wait for the client to read it.
  uint64_t write_timeout_ms = 30000;
  // server.http_server_idle_timeout: a keep-alive connection with no request in progress is closed after this.
  uint64_t idle_timeout_ms = 120000;
  // server.grpc_server_max_recv_msg_size: largest gRPC message after decompression (bytes).
  uint64_t grpc_max_recv_msg_bytes = 16 << 20;

  // distributor.receivers.otlp.protocols.{grpc,http}.endpoint
  Endpoint otlp_grpc{"0.0.0.0", 4317};
  Endpoint otlp_http{"0.0.0.0", 4318};
  // distributor.receivers.otlp.protocols.http.max_request_body_size (OTel collector's key): largest OTLP/HTTP
  // body, after decompression (bytes).
  uint64_t http_max_body_bytes = 20 << 20;
  // distributor.receivers.otlp.protocols.grpc.max_recv_msg_size_mib (OTel collector's key, in MiB): largest
  // OTLP/gRPC message after decompression (bytes). The collector's own default is 4 MiB; ours matches
  // grpc_max_recv_msg_bytes so a batch the query port accepts is also accepted on the ingest port.
  uint64_t otlp_grpc_max_recv_msg_bytes = 16 << 20;

  // Head store (ours, `spindle.head.max_bytes`, flag -head.max-bytes): memory for live traces across all shards.
  uint64_t head_max_bytes = 1ull << 30;
  // overrides.defaults.global.max_bytes_per_trace (Tempo's; legacy overrides.max_bytes_per_trace). 0 = the
  // storage maximum, 60 MiB (a block keeps a trace in one page of at most 64 MiB).
  uint64_t max_bytes_per_trace = 5000000;

  // Durable storage. storage.trace.backend: only "local" (blocks on local disk) is served; anything else is a
  // start-up error rather than silently keeping traces somewhere the user did not ask for.
  std::string storage_backend = "local";
  std::string wal_path = "/var/tempo/wal";        // storage.trace.wal.path
  std::string blocks_path = "/var/tempo/blocks";  // storage.trace.local.path
  // When an ingest reply may go out (ours, `spindle.wal.ack`): "synced" once the spans are fdatasync'ed,
  // "written" once they are in the page cache (survives a crash of the process, not of the machine), "none":
  // no WAL at all, spans live only in memory until their block is written (lost in any crash; for
  // benchmarks and throw-away setups).
  std::string wal_ack = "synced";
  uint64_t wal_segment_bytes = 64ull << 20;  // spindle.wal.segment_size: a segment rolls past this
  uint64_t wal_sync_bytes = 256ull << 10;    // spindle.wal.sync_bytes: group commit by bytes...
  uint64_t wal_sync_interval_ms = 100;       // spindle.wal.sync_interval: ...or by time
  // Cut rules (Tempo's ingester keys). A trace leaves the head for a block once no span arrived for
  // trace_idle_period, or once it has been live for max_block_duration; the head also cuts its least
  // recently appended traces early when it passes 3/4 of spindle.head.max_bytes.
  uint64_t trace_idle_period_ms = 10000;     // ingester.trace_idle_period
  uint64_t max_trace_live_ms = 30 * 60000;   // ingester.max_block_duration
  uint64_t flush_check_period_ms = 10000;    // ingester.flush_check_period: how often cut rules run
  // Compaction and retention (Tempo's compactor keys).
  uint64_t block_retention_ms = 14ull * 24 * 3600 * 1000;  // compactor.compaction.block_retention
  uint64_t compaction_window_ms = 3600 * 1000;             // compactor.compaction.compaction_window
  // Blocks of one level in one window merged at a time (ours, `spindle.compaction.inputs`, at least 2).
  uint32_t compaction_inputs = 4;

  // Graceful shutdown: how long in-flight requests may take to finish after SIGTERM (ours).
  uint64_t shutdown_timeout_ms = 10000;

  // Tempo settings that were recognised but have no effect yet (logged at start as warnings).
  std::vector<std::string> ignored_keys;

  // Set by load_config: the file the settings came from ("" = the embedded default), and whether -help was given
  // (main prints config_usage() and exits 0 instead of starting).
  std::string config_file;
  bool help = false;

  friend bool operator==(const Config&, const Config&) = default;
};

}  // namespace spindle
