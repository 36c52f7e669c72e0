#include "bench/loadgen/loadgen_options.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>

namespace spindle {
namespace {

Result<double> parse_number(const std::string& flag, const std::string& text, double min, double max) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end == text.c_str() || *end != '\0' || !(v >= min && v <= max)) {
    return invalid_argument("bad value for " + flag + ": '" + text + "' (expected a number in " +
                            std::to_string(min) + ".." + std::to_string(max) + ")");
  }
  return v;
}

Status split_host_port(const std::string& flag, const std::string& text, std::string* host,
                       std::string* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 >= text.size()) {
    return invalid_argument("bad value for " + flag + ": '" + text + "' (expected HOST:PORT)");
  }
  std::string h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);  // [::1]:4317
  *host = h.empty() ? "127.0.0.1" : h;
  *port = text.substr(colon + 1);
  return Status::ok();
}

}  // namespace

const char* loadgen_usage() {
  return "Usage: spindle-loadgen [options]\n"
         "Sends OTLP traces to Spindle, Tempo or any OTLP receiver and reports throughput and latency.\n"
         "  --target HOST:PORT        receiver (default 127.0.0.1:4317 for grpc, :4318 for http-*)\n"
         "  --protocol P              grpc (default) | http-protobuf | http-json\n"
         "  --gzip                    compress request bodies (costs the loadgen CPU per request)\n"
         "  --connections N           connections (default 2 for grpc, 16 for http-*)\n"
         "  --in-flight N             requests in flight per connection (default 16 grpc, 1 http-*)\n"
         "  --rate N                  spans/s, paced per request (default 0 = as fast as possible)\n"
         "  --duration D              how long to send: 15s, 500ms, 2m (default 15s unless --count)\n"
         "  --count N                 total spans to send, rounded up to whole requests\n"
         "  --spans-per-request N     (default 100)\n"
         "  --spans-per-trace N       (default 10)\n"
         "  --depth N                 levels in each trace's span tree (default 3; 1 = all roots)\n"
         "  --services N              distinct service.name resources (default 10)\n"
         "  --attrs N                 attributes per span (default 8)\n"
         "  --attr-size N             bytes of every attribute value (default 0 = natural values)\n"
         "  --events X                mean events per span (default 0.25)\n"
         "  --error-ratio X           fraction of spans with status ERROR (default 0.05)\n"
         "  --seed N                  random seed (default: clock and pid)\n"
         "  --json                    print the summary as one JSON object\n"
         "  --fail-on-error           exit 3 if any request failed\n"
         "  --verify                  read every trace back and report losses (exit 4 on any)\n"
         "  --query HOST:PORT         where --verify reads (default: target host, port 3200)\n"
         "  --verify-sample N         verify a random sample of N traces instead of all\n"
         "  --verify-timeout D        keep re-reading missing traces this long (default 10s)\n"
         "  --drain-timeout D         wait this long for in-flight requests at the end (default 30s)\n"
         "  --write-request FILE      write one request body (gRPC-framed for grpc) and exit\n"
         "  --ack-log FILE            write every acknowledged request to FILE (truncated first) as records\n"
         "                            of u32 little-endian length + serialized OTLP protobuf request (before\n"
         "                            gzip; http-json: its protobuf equivalent); failed requests are left out\n"
         "SIGINT or SIGTERM stops sending; in-flight requests are drained and the report is printed.\n"
         "Exit status: 0 ok, 1 bad arguments or the ack log could not be written, 2 could not connect or\n"
         "no response, 3 failed requests (with --fail-on-error or --verify), 4 --verify found missing or\n"
         "differing spans. When every connection is lost (the receiver died) the run stops sending, reports\n"
         "and exits; it does not reconnect.\n";
}

const char* protocol_name(LoadProtocol p) {
  switch (p) {
    case LoadProtocol::Grpc: return "grpc";
    case LoadProtocol::HttpProtobuf: return "http-protobuf";
    case LoadProtocol::HttpJson: return "http-json";
  }
  return "?";
}

Result<double> parse_duration_seconds(const std::string& text) {
  struct Unit {
    const char* suffix;
    double seconds;
  };
  static constexpr Unit kUnits[] = {{"ms", 1e-3}, {"s", 1}, {"m", 60}, {"h", 3600}};
  for (const Unit& u : kUnits) {
    std::string suffix = u.suffix;
    if (text.size() > suffix.size() && text.ends_with(suffix)) {
      std::string number = text.substr(0, text.size() - suffix.size());
      if (!number.empty() && std::isdigit(static_cast<unsigned char>(number.back()))) {
        SPINDLE_ASSIGN_OR_RETURN(double v, parse_number("duration", number, 0, 1e9));
        return v * u.seconds;
      }
    }
  }
  return parse_number("duration", text, 0, 1e9);
}

Result<LoadgenOptions> parse_loadgen_options(const std::vector<std::string>& args) {
  LoadgenOptions o;
  bool target_given = false;
  bool query_given = false;
  const std::map<std::string, bool*> switches = {
      {"--gzip", &o.gzip}, {"--json", &o.json}, {"--fail-on-error", &o.fail_on_error},
      {"--verify", &o.verify}, {"--help", &o.help}, {"-h", &o.help}};
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::string value;
    if (size_t eq = flag.find('='); flag.starts_with("--") && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (auto it = switches.find(flag); it != switches.end()) {
      *it->second = true;
      continue;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return invalid_argument(flag + " needs a value (or is unknown); see --help");
    }
    auto number = [&](double min, double max) { return parse_number(flag, value, min, max); };
    auto integer = [&](int* out, int min, int max) -> Status {
      SPINDLE_ASSIGN_OR_RETURN(double v, number(min, max));
      if (v != std::floor(v)) return invalid_argument("bad value for " + flag + ": '" + value + "'");
      *out = static_cast<int>(v);
      return Status::ok();
    };
    Status s;
    if (flag == "--target") {
      s = split_host_port(flag, value, &o.host, &o.port);
      target_given = true;
    } else if (flag == "--query") {
      s = split_host_port(flag, value, &o.query_host, &o.query_port);
      query_given = true;
    } else if (flag == "--protocol") {
      if (value == "grpc") {
        o.protocol = LoadProtocol::Grpc;
      } else if (value == "http-protobuf" || value == "http/protobuf") {
        o.protocol = LoadProtocol::HttpProtobuf;
      } else if (value == "http-json" || value == "http/json") {
        o.protocol = LoadProtocol::HttpJson;
      } else {
        s = invalid_argument("bad value for --protocol: '" + value + "' (grpc, http-protobuf or http-json)");
      }
    } else if (flag == "--connections") {
      s = integer(&o.connections, 1, 4096);
    } else if (flag == "--in-flight" || flag == "--streams") {
      s = integer(&o.in_flight, 1, 4096);
    } else if (flag == "--rate") {
      auto v = number(0, 1e12);
      if (v.ok()) o.rate = *v; else s = v.status();
    } else if (flag == "--duration" || flag == "--verify-timeout" || flag == "--drain-timeout") {
      auto v = parse_duration_seconds(value);
      if (!v.ok()) {
        s = invalid_argument("bad value for " + flag + ": '" + value + "' (e.g. 15s, 500ms, 2m)");
      } else if (flag == "--duration") {
        o.duration_s = *v;
      } else if (flag == "--verify-timeout") {
        o.verify_timeout_s = *v;
      } else {
        o.drain_timeout_s = *v;
      }
    } else if (flag == "--count" || flag == "--verify-sample" || flag == "--seed") {
      auto v = number(flag == "--seed" ? 0 : 1, 1.8e19);
      if (!v.ok()) {
        s = v.status();
      } else {
        uint64_t n = static_cast<uint64_t>(*v);
        (flag == "--count" ? o.count : flag == "--seed" ? o.seed : o.verify_sample) = n;
      }
    } else if (flag == "--spans-per-request") {
      s = integer(&o.shape.spans_per_request, 1, 100000);
    } else if (flag == "--spans-per-trace") {
      s = integer(&o.shape.spans_per_trace, 1, 100000);
    } else if (flag == "--depth") {
      s = integer(&o.shape.depth, 1, 1000);
    } else if (flag == "--services") {
      s = integer(&o.shape.services, 1, 100000);
    } else if (flag == "--attrs") {
      s = integer(&o.shape.attrs, 0, 1000);
    } else if (flag == "--attr-size") {
      s = integer(&o.shape.attr_size, 0, 1 << 20);
    } else if (flag == "--events") {
      auto v = number(0, 100);
      if (v.ok()) o.shape.events = *v; else s = v.status();
    } else if (flag == "--error-ratio") {
      auto v = number(0, 1);
      if (v.ok()) o.shape.error_ratio = *v; else s = v.status();
    } else if (flag == "--write-request") {
      o.write_request = value;
    } else if (flag == "--ack-log") {
      if (value.empty()) s = invalid_argument("--ack-log needs a file name");
      o.ack_log = value;
    } else {
      s = invalid_argument("unknown option " + flag + "; see --help");
    }
    SPINDLE_RETURN_IF_ERROR(s);
  }
  const bool http = o.protocol != LoadProtocol::Grpc;
  if (!target_given || o.port.empty()) o.port = http ? "4318" : "4317";
  if (!query_given) o.query_host = o.host;
  if (o.connections == 0) o.connections = http ? 16 : 2;
  if (o.in_flight == 0) o.in_flight = http ? 1 : 16;
  if (o.duration_s == 0 && o.count == 0) o.duration_s = 15;
  SPINDLE_RETURN_IF_ERROR(validate(o.shape));
  return o;
}

}  // namespace spindle
