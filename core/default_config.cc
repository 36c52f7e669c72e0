#include "core/default_config.h"

namespace spindle {

// Keep in sync with deploy/config.example.yaml (tests/core/config_loader_test.cc compares them).
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

overrides:
  defaults:
    global:
      max_bytes_per_trace: 5000000

spindle:
  shards: 0
  head:
    max_bytes: 1GiB
  shutdown_timeout: 10s
)yaml";

}  // namespace spindle
