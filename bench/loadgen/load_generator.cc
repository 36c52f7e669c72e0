#include "bench/loadgen/load_generator.h"

#include <arpa/inet.h>
#include <google/protobuf/util/json_util.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstring>

#include "bench/loadgen/http1_connection.h"
#include "bench/loadgen/http2_connection.h"
#include "net/content_coding.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace spindle {
namespace {

namespace otlp_collector = opentelemetry::proto::collector::trace::v1;

constexpr char kGrpcExportPath[] = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
constexpr char kHttpExportPath[] = "/v1/traces";
constexpr double kBurstSeconds = 0.01;
// Timestamps end up this far before "now", so no span of the template ends in the future.
constexpr uint64_t kTimeLagNs = 100'000'000;

// How many SIGINT/SIGTERM arrived: 1 stops sending, 2 abandons the drain.
volatile std::sig_atomic_t g_interrupted = 0;

void on_sigint(int) {
  if (g_interrupted < 2) g_interrupted = g_interrupted + 1;
}

uint64_t wall_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

double seconds_since(LoadClock::time_point t) {
  return std::chrono::duration<double>(LoadClock::now() - t).count();
}

LoadClock::duration seconds(double s) {
  return std::chrono::duration_cast<LoadClock::duration>(std::chrono::duration<double>(s));
}

// ExportTraceServiceResponse.partial_success.rejected_spans of a reply body.
int64_t rejected_spans(std::string_view body, LoadProtocol protocol) {
  otlp_collector::ExportTraceServiceResponse r;
  if (protocol == LoadProtocol::Grpc) {
    if (body.size() < 5 || body[0] != 0) return 0;
    body.remove_prefix(5);
  }
  if (protocol == LoadProtocol::HttpJson) {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    if (!google::protobuf::util::JsonStringToMessage(std::string(body), &r, options).ok()) return 0;
  } else if (!r.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return 0;
  }
  return r.has_partial_success() ? r.partial_success().rejected_spans() : 0;
}

}  // namespace

void LoadGenerator::install_interrupt_handler() {
  std::signal(SIGINT, on_sigint);
  std::signal(SIGTERM, on_sigint);
}

LoadGenerator::LoadGenerator(LoadgenOptions options)
    : options_(std::move(options)),
      rng_(options_.seed ? options_.seed : wall_ns() ^ (static_cast<uint64_t>(getpid()) << 32)) {
  report_.protocol = protocol_name(options_.protocol);
  report_.gzip = options_.gzip;
  report_.connections = options_.connections;
  report_.in_flight = options_.in_flight;
  report_.spans_per_request = options_.shape.spans_per_request;
}

ClientRequest LoadGenerator::next_request() {
  ClientRequest request;
  request.tag = next_tag_++;
  InFlight& rec = in_flight_[request.tag];
  // The gRPC message prefix is reserved up front so the template is copied once, straight into the body.
  const bool grpc = options_.protocol == LoadProtocol::Grpc;
  const size_t prefix = grpc ? 5 : 0;
  const std::string& t = template_.bytes();
  std::string body(prefix + t.size(), '\0');
  std::memcpy(body.data() + prefix, t.data(), t.size());
  template_.patch(rng_, wall_ns() - kTimeLagNs, body.data() + prefix, trace_ids_);
  if (report_.first_trace_id.empty()) report_.first_trace_id = trace_ids_[0].to_hex();
  if (options_.verify) rec.traces = trace_ids_;
  if (ack_log_) rec.ack_body.assign(body.data() + prefix, t.size());
  rec.spans = template_.spans();
  rec.payload_bytes = t.size();
  if (options_.gzip) {
    std::string compressed = gzip_compress(std::string_view(body).substr(prefix), 1);
    body.resize(prefix);
    body += compressed;
  }
  if (grpc) {
    request.path = kGrpcExportPath;
    request.headers = {{"content-type", "application/grpc"}, {"te", "trailers"},
                       {"user-agent", "spindle-loadgen"}};
    if (options_.gzip) request.headers.push_back({"grpc-encoding", "gzip"});
    body[0] = options_.gzip ? 1 : 0;
    uint32_t len = htonl(static_cast<uint32_t>(body.size() - prefix));
    std::memcpy(body.data() + 1, &len, 4);
  } else {
    request.path = kHttpExportPath;
    request.headers = {{"content-type", options_.protocol == LoadProtocol::HttpJson ? "application/json"
                                                                                      : "application/x-protobuf"},
                       {"user-agent", "spindle-loadgen"}};
    if (options_.gzip) request.headers.push_back({"content-encoding", "gzip"});
  }
  request.body = std::move(body);
  rec.wire_bytes = request.body.size();
  return request;
}

std::string LoadGenerator::classify(const ClientReply& r) const {
  if (!r.failure.empty()) return r.failure;
  if (options_.protocol == LoadProtocol::Grpc) {
    if (r.grpc_status < 0) return r.http_status != 200 ? "http_" + std::to_string(r.http_status) : "no_grpc_status";
    if (r.grpc_status != 0) return "grpc_" + std::to_string(r.grpc_status);
  } else if (r.http_status != 200) {
    return "http_" + std::to_string(r.http_status);
  }
  if (rejected_spans(r.body, options_.protocol) > 0) return "rejected_spans";
  return "";
}

void LoadGenerator::remember(const std::vector<TraceId>& traces) {
  for (size_t t = 0; t < traces.size(); ++t) {
    ExpectedTrace e{traces[t], static_cast<uint32_t>(template_.spans_in_trace(static_cast<int>(t)))};
    ++acknowledged_traces_;
    if (options_.verify_sample == 0 || expected_.size() < options_.verify_sample) {
      expected_.push_back(e);
      continue;
    }
    // Reservoir sampling: every acknowledged trace ends up in the sample with the same probability.
    uint64_t slot = rng_.next() % acknowledged_traces_;
    if (slot < expected_.size()) expected_[slot] = e;
  }
}

void LoadGenerator::on_reply(ClientReply&& reply) {
  auto it = in_flight_.find(reply.tag);
  if (it == in_flight_.end()) return;
  InFlight rec = std::move(it->second);
  in_flight_.erase(it);
  const uint64_t micros =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(reply.latency).count());
  report_.latency.record(micros);
  if (progress_) progress_latency_.record(micros);
  if (reply.failure.empty()) ++responses_;
  std::string error = classify(reply);
  if (!error.empty()) {
    ++report_.errors[error];
    return;
  }
  ++report_.requests;
  report_.spans += rec.spans;
  report_.bytes += rec.payload_bytes;
  report_.wire_bytes += rec.wire_bytes;
  if (options_.verify) remember(rec.traces);
  if (ack_log_) log_ack(std::move(rec.ack_body));
}

void LoadGenerator::log_ack(std::string&& body) {
  if (template_.format() == PayloadFormat::Json) {
    auto proto = otlp_json_to_protobuf(body);
    if (!proto.ok()) {
      if (!ack_log_failed_) {
        std::fprintf(stderr, "spindle-loadgen: ack log: %s\n", proto.status().message().c_str());
      }
      ack_log_failed_ = true;
      return;
    }
    body = std::move(proto).value();
  }
  ack_log_->add(body);
}

void LoadGenerator::flush_ack_log() {
  if (!ack_log_) return;
  if (Status s = ack_log_->flush(); !s.is_ok() && !ack_log_failed_) {
    std::fprintf(stderr, "spindle-loadgen: %s\n", s.message().c_str());
    ack_log_failed_ = true;
  }
}

int LoadGenerator::connect_all() {
  auto ai = resolve(options_.host, options_.port);
  if (!ai.ok()) {
    std::fprintf(stderr, "spindle-loadgen: %s\n", ai.status().message().c_str());
    return 2;
  }
  const std::string authority = options_.host + ":" + options_.port;
  const auto deadline = LoadClock::now() + seconds(options_.connect_timeout_s);
  auto handler = [this](ClientReply&& r) { on_reply(std::move(r)); };
  for (int i = 0; i < options_.connections; ++i) {
    std::unique_ptr<ClientConnection> c;
    if (options_.protocol == LoadProtocol::Grpc) {
      c = std::make_unique<Http2Connection>(authority, handler);
    } else {
      c = std::make_unique<Http1Connection>(authority, handler);
    }
    if (Status s = c->connect(ai->get(), deadline); !s.is_ok()) {
      std::fprintf(stderr, "spindle-loadgen: cannot connect to %s: %s\n", authority.c_str(), s.message().c_str());
      return 2;
    }
    connections_.push_back(std::move(c));
  }
  return 0;
}

void LoadGenerator::print_progress(double elapsed, bool final) {
  if (!progress_) return;
  const double dt = elapsed - progress_at_;
  const double rate = dt > 0 ? static_cast<double>(report_.spans - progress_spans_) / dt : 0;
  std::fprintf(stderr, "\r\033[K[%6.1fs] %10.0f spans/s  %" PRIu64 " requests  %" PRIu64
               " errors  p50 %.1f ms  p99 %.1f ms  in flight %zu%s",
               elapsed, rate, report_.requests, report_.error_count(),
               static_cast<double>(progress_latency_.percentile(0.5)) / 1000.0,
               static_cast<double>(progress_latency_.percentile(0.99)) / 1000.0, in_flight_.size(),
               final ? "\n" : "");
  std::fflush(stderr);
  progress_spans_ = report_.spans;
  progress_at_ = elapsed;
  progress_latency_.clear();
}

void LoadGenerator::send_loop() {
  const auto start = LoadClock::now();
  const bool timed = options_.duration_s > 0;
  const auto send_deadline = start + seconds(options_.duration_s);
  const uint64_t spr = static_cast<uint64_t>(template_.spans());
  const uint64_t max_requests = options_.count ? (options_.count + spr - 1) / spr : UINT64_MAX;
  const double request_rate = options_.rate / static_cast<double>(spr);
  // At least 2, so the fraction of a token earned past 1 while waiting carries over instead of being lost.
  const double burst = std::max(2.0, request_rate * kBurstSeconds);
  double tokens = 1;
  auto refilled_at = start;
  uint64_t submitted = 0;
  bool sending = true;
  LoadClock::time_point drain_deadline = LoadClock::time_point::max();
  for (;;) {
    const auto now = LoadClock::now();
    if (options_.rate > 0) {
      tokens = std::min(burst, tokens + std::chrono::duration<double>(now - refilled_at).count() * request_rate);
      refilled_at = now;
    }
    size_t alive = 0;
    for (auto& c : connections_) alive += c->alive() ? 1 : 0;
    if (sending && (submitted >= max_requests || (timed && now >= send_deadline) || g_interrupted || alive == 0)) {
      if (alive == 0) {
        std::fprintf(stderr, "spindle-loadgen: every connection was lost\n");
        ++report_.errors["connection_lost"];
      }
      sending = false;
      drain_deadline = now + seconds(options_.drain_timeout_s);
    }
    for (auto& c : connections_) {
      while (sending && c->alive() && c->in_flight() < static_cast<size_t>(options_.in_flight) &&
             submitted < max_requests && (options_.rate == 0 || tokens >= 1)) {
        ClientRequest request = next_request();
        const uint64_t tag = request.tag;
        if (!c->submit(std::move(request)).is_ok()) {
          in_flight_.erase(tag);
          break;
        }
        ++submitted;
        tokens -= 1;
      }
    }
    if (!sending && in_flight_.empty()) break;
    if (!sending && (now >= drain_deadline || g_interrupted >= 2)) {
      for (auto& c : connections_) c->abandon(g_interrupted >= 2 ? "interrupted" : "timeout");
      break;
    }
    // Sleep until the next token, the end of the sending phase, or the next progress line, whichever is first.
    double wait_s = 1.0;
    if (sending && options_.rate > 0 && tokens < 1) wait_s = std::min(wait_s, (1 - tokens) / request_rate);
    if (sending && timed) wait_s = std::min(wait_s, std::chrono::duration<double>(send_deadline - now).count());
    if (progress_) wait_s = std::min(wait_s, progress_at_ + 1.0 - seconds_since(start));
    const int timeout_ms = static_cast<int>(std::clamp(std::ceil(wait_s * 1000), 0.0, 1000.0));
    if (int lost = pump_connections(connections_, timeout_ms); lost > 0 && sending) {
      std::fprintf(stderr, "spindle-loadgen: %d connection(s) closed during the run\n", lost);
    }
    flush_ack_log();
    if (progress_ && seconds_since(start) >= progress_at_ + 1.0) print_progress(seconds_since(start), false);
  }
  flush_ack_log();
  report_.seconds = seconds_since(start);
  print_progress(report_.seconds, true);
}

int LoadGenerator::run(FILE* out) {
  auto built = RequestTemplate::build(options_.shape,
                                      options_.protocol == LoadProtocol::HttpJson ? PayloadFormat::Json
                                                                                  : PayloadFormat::Protobuf,
                                      rng_.next());
  if (!built.ok()) {
    std::fprintf(stderr, "spindle-loadgen: %s\n", built.status().to_string().c_str());
    return 1;
  }
  template_ = std::move(built).value();
  report_.request_bytes = template_.bytes().size();
  if (!options_.write_request.empty()) {
    ClientRequest r = next_request();
    FILE* f = std::fopen(options_.write_request.c_str(), "wb");
    bool ok = f && std::fwrite(r.body.data(), 1, r.body.size(), f) == r.body.size();
    if (f && std::fclose(f) != 0) ok = false;
    if (!ok) std::fprintf(stderr, "spindle-loadgen: cannot write %s\n", options_.write_request.c_str());
    return ok ? 0 : 1;
  }
  if (!options_.ack_log.empty()) {
    auto log = AckLogWriter::create(options_.ack_log);
    if (!log.ok()) {
      std::fprintf(stderr, "spindle-loadgen: %s\n", log.status().message().c_str());
      return 1;
    }
    ack_log_ = std::move(log).value();
  }
  if (int status = connect_all(); status != 0) return status;
  progress_ = isatty(STDERR_FILENO) != 0;
  if (!options_.json) {
    std::fprintf(stderr, "spindle-loadgen: %s to %s:%s, %d spans (%d traces) in %zu bytes per request\n",
                 report_.protocol.c_str(), options_.host.c_str(), options_.port.c_str(), template_.spans(),
                 template_.traces(), template_.bytes().size());
  }
  send_loop();
  connections_.clear();
  flush_ack_log();

  int status = 0;
  if (options_.verify) {
    TraceVerifier verifier(options_.query_host, options_.query_port, options_.shape.attrs,
                           std::min(options_.connections, 4), options_.verify_timeout_s);
    auto v = verifier.run(expected_);
    if (!v.ok()) {
      std::fprintf(stderr, "spindle-loadgen: verify: %s\n", v.status().message().c_str());
      VerifyResult failed;
      failed.traces = expected_.size();
      failed.query_errors = std::max<uint64_t>(1, expected_.size());  // a run that could not verify is not clean
      failed.query_errors_by_status["unreachable"] = 1;
      report_.verify = failed;
    } else {
      report_.verify = *v;
    }
  }
  const std::string text = options_.json ? report_json(report_) : report_text(report_);
  std::fputs(text.c_str(), out);
  std::fflush(out);

  if (ack_log_failed_) {
    std::fprintf(stderr, "spindle-loadgen: the ack log %s is incomplete\n", options_.ack_log.c_str());
    return 1;
  }
  if (responses_ == 0 && report_.requests == 0) {
    std::fprintf(stderr, "spindle-loadgen: no response from the server\n");
    return 2;
  }
  if (report_.error_count() > 0) {
    std::fprintf(stderr, "spindle-loadgen: %" PRIu64 " failed requests\n", report_.error_count());
    if (options_.fail_on_error || options_.verify) status = 3;
  }
  if (report_.verify && !report_.verify->lossless()) {
    std::fprintf(stderr, "spindle-loadgen: verify found losses\n");
    status = 4;
  }
  return status;
}

}  // namespace spindle
