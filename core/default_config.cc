#include "core/default_config.h"

namespace spindle {

// Keep in sync with deploy/config.example.yaml (tests/core/config_loader_test.cc compares them). The storage
// paths are relative (./spindle-data/...) so a bare `spindle` runs as any user; Config{} keeps Tempo's
// /var/tempo/... for a Tempo file that does not set them.
const char kDefaultConfigYaml[] = R"yaml(
server:
  http_listen_address: ""
  http_listen_port: 3200
  log_level: info
  http_server_read_timeout: 30s
  http_server_write_timeout: 30s
  http_server_idle_timeout: 2m
  grpc_server_max_recv_msg_size: 16777216

distributor:
  receivers:
    otlp:
      protocols:
        grpc:
          endpoint: "0.0.0.0:4317"
          max_recv_msg_size_mib: 16
        http:
          endpoint: "0.0.0.0:4318"
          max_request_body_size: 20MiB

ingester:
  trace_idle_period: 10s
  max_block_duration: 30m
  flush_check_period: 10s

compactor:
  compaction:
    block_retention: 336h
    compaction_window: 1h

storage:
  trace:
    backend: local
    wal:
      path: ./spindle-data/wal
    local:
      path: ./spindle-data/blocks

overrides:
  defaults:
    global:
      max_bytes_per_trace: 5000000

spindle:
  shards: 0
  head:
    max_bytes: 1GiB
  shutdown_timeout: 10s
  wal:
    ack: synced
    segment_size: 64MiB
    sync_bytes: 256KiB
    sync_interval: 100ms
  compaction:
    inputs: 4
)yaml";

}  // namespace spindle
