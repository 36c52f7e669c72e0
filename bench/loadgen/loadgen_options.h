#pragma once
// The command line of spindle-loadgen (documented in bench/README.md and by --help).
//
// Threading: plain data and pure functions.
#include <cstdint>
#include <string>
#include <vector>

#include "bench/loadgen/request_template.h"
#include "core/result.h"

namespace spindle {

enum class LoadProtocol { Grpc, HttpProtobuf, HttpJson };

struct LoadgenOptions {
  LoadProtocol protocol = LoadProtocol::Grpc;
  std::string host = "127.0.0.1";
  std::string port;  // default per protocol: 4317 (gRPC), 4318 (HTTP)
  bool gzip = false;
  int connections = 0;  // 0: per protocol, 2 for gRPC, 16 for HTTP/1.1
  int in_flight = 0;    // per connection; 0: 16 for gRPC (streams), 1 for HTTP/1.1
  double rate = 0;      // spans/s; 0 = as fast as possible
  double duration_s = 0;
  uint64_t count = 0;  // total spans (rounded up to whole requests); 0 = until duration
  RequestShape shape;
  uint64_t seed = 0;  // 0: from the clock and pid
  bool json = false;
  bool fail_on_error = false;
  bool verify = false;
  std::string query_host;  // default: the target host
  std::string query_port = "3200";
  uint64_t verify_sample = 0;  // 0: every trace
  double verify_timeout_s = 10;
  double drain_timeout_s = 30;
  double connect_timeout_s = 5;
  std::string write_request;  // write one request body to this file and exit
  std::string ack_log;        // append every acknowledged request here (bench/loadgen/ack_log.h)
  bool help = false;
};

// InvalidArgument naming the flag on anything unknown or out of range. Fills the per-protocol defaults and the
// default duration (15 s when neither --duration nor --count is given).
Result<LoadgenOptions> parse_loadgen_options(const std::vector<std::string>& args);

// "15s", "500ms", "2m", "1h", or plain seconds ("2.5").
Result<double> parse_duration_seconds(const std::string& text);

const char* loadgen_usage();
const char* protocol_name(LoadProtocol p);

}  // namespace spindle
