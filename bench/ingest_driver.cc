// spindle-ingest-driver: a small, fast OTLP/gRPC load driver for ingest benchmarks (bench/ingest_bench.sh).
//
// It builds one ExportTraceServiceRequest with libprotobuf, serializes it once, and then sends copies of
// those bytes over h2c (nghttp2 client sessions on non-blocking sockets, one poll() loop, one thread) with C
// connections and S requests in flight on each. Per request only fixed-width fields change, patched in place
// at byte offsets found once in the template: trace IDs (fresh random, one trace per `kSpansPerTrace` spans),
// span IDs, parent span IDs and timestamps (shifted to "now"). The server therefore sees new traces on every
// request and never de-duplicates, while the driver spends almost no CPU building them.
//
// Output: one line of JSON on stdout (diagnostics go to stderr):
//   {"requests":N,"spans":N,"bytes":N,"seconds":F,"spans_per_second":F,"mb_per_second":F,
//    "errors":{"<reason>":N,...},"latency_ms":{"p50":F,"p90":F,"p99":F,"max":F}, ...}
// where requests/spans/bytes count only requests answered with grpc-status 0, bytes are OTLP protobuf message
// bytes (no gRPC or HTTP/2 framing), MB = 10^6 bytes, and latency is submit-to-stream-close of every
// completed request. Error reasons: "grpc_<code>" (a non-zero grpc-status), "http_<status>" (a non-200
// :status without grpc-status), "no_grpc_status", "rst_<h2 error code>", "connection_lost", "rejected_spans"
// (partial_success).
//
// Exit status: 0 ok; 1 bad arguments; 2 could not connect (or every connection failed before any response);
// 3 errors > 0 and --fail-on-error was given.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace spindle {
namespace {

namespace otlp_collector = opentelemetry::proto::collector::trace::v1;
namespace otlp_trace = opentelemetry::proto::trace::v1;
namespace otlp_common = opentelemetry::proto::common::v1;

using Clock = std::chrono::steady_clock;

constexpr int kSpansPerTrace = 10;
constexpr int kSpansPerResource = 10;
constexpr char kExportPath[] = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

struct Options {
  std::string host = "127.0.0.1";
  std::string port = "4317";
  int connections = 2;
  int streams = 16;
  double duration_s = 0;  // 0 with requests == 0 means the default of 10 s
  uint64_t requests = 0;
  int spans_per_request = 100;
  int attrs = 8;
  bool fail_on_error = false;
  uint64_t seed = 0;
  double connect_timeout_s = 5;
  double drain_timeout_s = 30;
  std::string write_request;  // write one gRPC-framed request body here and exit (for h2load cross-checks)
};

void usage(FILE* out) {
  std::fputs(
      "Usage: spindle-ingest-driver [options]\n"
      "  --target HOST:PORT       OTLP/gRPC endpoint (default 127.0.0.1:4317)\n"
      "  --connections C          HTTP/2 connections (default 2)\n"
      "  --streams S              requests in flight per connection (default 16)\n"
      "  --duration SECONDS       send for this long (default 10 unless --requests)\n"
      "  --requests N             send exactly N requests (with --duration: whichever ends first)\n"
      "  --spans-per-request N    spans per ExportTraceServiceRequest (default 100)\n"
      "  --attrs N                attributes per span, 0..16 (default 8)\n"
      "  --seed N                 RNG seed (default: time and pid)\n"
      "  --fail-on-error          exit 3 if any request failed\n"
      "  --write-request FILE     write one gRPC-framed request body to FILE and exit (h2load --data)\n"
      "Prints one line of JSON with throughput, errors by reason and latency percentiles.\n",
      out);
}

bool parse_number(const char* s, double min, double max, double* out) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max) return false;
  *out = v;
  return true;
}

// Returns false (after printing why) on a bad command line.
bool parse_options(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      std::exit(0);
    }
    if (a == "--fail-on-error") {
      o->fail_on_error = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "spindle-ingest-driver: %s needs a value (or is unknown)\n", argv[i]);
      return false;
    }
    const char* v = argv[++i];
    double n = 0;
    bool ok = true;
    if (a == "--target") {
      std::string_view t = v;
      size_t colon = t.rfind(':');
      ok = colon != std::string_view::npos && colon > 0 && colon + 1 < t.size();
      if (ok) {
        o->host = std::string(t.substr(0, colon));
        o->port = std::string(t.substr(colon + 1));
      }
    } else if (a == "--connections") {
      ok = parse_number(v, 1, 256, &n);
      o->connections = static_cast<int>(n);
    } else if (a == "--streams") {
      ok = parse_number(v, 1, 1024, &n);
      o->streams = static_cast<int>(n);
    } else if (a == "--duration") {
      ok = parse_number(v, 0.001, 86400, &n);
      o->duration_s = n;
    } else if (a == "--requests") {
      ok = parse_number(v, 1, 1e12, &n);
      o->requests = static_cast<uint64_t>(n);
    } else if (a == "--spans-per-request") {
      ok = parse_number(v, 1, 100000, &n);
      o->spans_per_request = static_cast<int>(n);
    } else if (a == "--attrs") {
      ok = parse_number(v, 0, 16, &n);
      o->attrs = static_cast<int>(n);
    } else if (a == "--write-request") {
      o->write_request = v;
    } else if (a == "--seed") {
      ok = parse_number(v, 0, 1.8e19, &n);
      o->seed = static_cast<uint64_t>(n);
    } else {
      std::fprintf(stderr, "spindle-ingest-driver: unknown option %s\n", argv[i - 1]);
      usage(stderr);
      return false;
    }
    if (!ok) {
      std::fprintf(stderr, "spindle-ingest-driver: bad value for %s: '%s'\n", argv[i - 1], v);
      return false;
    }
  }
  if (o->duration_s == 0 && o->requests == 0) o->duration_s = 10;
  return true;
}

// xorshift64*: fast, and good enough that random trace IDs never collide within a run.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed ? seed : 0x9E3779B97F4A7C15ull) {}
  uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  // Never zero: an all-zero trace or span ID is invalid in OTLP.
  uint64_t next_nonzero() {
    uint64_t v = next();
    return v ? v : 1;
  }

 private:
  uint64_t state_;
};

uint64_t wall_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

void store_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// The serialized request plus the byte offsets of every fixed-width field that changes per request. All these
// fields are `bytes` of fixed length or `fixed64`, so rewriting them never changes the message's layout.
struct RequestTemplate {
  std::string bytes;  // the OTLP ExportTraceServiceRequest (no gRPC prefix)
  int spans = 0;
  int traces = 0;
  // Per span: offsets of its trace_id (16 bytes), span_id (8), parent_span_id (8, or SIZE_MAX for a root).
  struct SpanSlots {
    size_t trace_id = 0;
    size_t span_id = 0;
    size_t parent_span_id = SIZE_MAX;
    int trace = 0;         // which of the request's traces
    int parent_span = -1;  // index of the parent span in the request
  };
  std::vector<SpanSlots> span_slots;
  // fixed64 timestamps (span start/end, event time) and their values relative to the request's base time.
  std::vector<std::pair<size_t, uint64_t>> time_slots;
};

struct AttrSpec {
  const char* key;
  const char* str;  // nullptr: int value
  int64_t num;
};

// Realistic HTTP server span attributes (semantic conventions), strings and ints.
constexpr AttrSpec kSpanAttrs[] = {
    {"http.method", "GET", 0},
    {"http.route", "/api/orders/{id}", 0},
    {"http.status_code", nullptr, 200},
    {"net.peer.name", "cart-svc", 0},
    {"http.target", "/api/orders/81723", 0},
    {"net.peer.port", nullptr, 48122},
    {"http.scheme", "http", 0},
    {"http.flavor", "1.1", 0},
    {"net.host.name", "orders-api", 0},
    {"http.user_agent", "Go-http-client/1.1", 0},
    {"thread.id", nullptr, 42},
    {"db.system", "postgresql", 0},
    {"db.name", "orders", 0},
    {"http.response_content_length", nullptr, 5123},
    {"enduser.id", "user-81723", 0},
    {"code.function", "OrdersHandler.list", 0},
};

constexpr const char* kServices[] = {"frontend", "checkout", "cart",     "orders",  "payments",
                                     "shipping", "email",    "currency", "catalog", "recommend"};

void add_attr(google::protobuf::RepeatedPtrField<otlp_common::KeyValue>* attrs, const AttrSpec& a,
              int64_t vary) {
  auto* kv = attrs->Add();
  kv->set_key(a.key);
  if (a.str) {
    kv->mutable_value()->set_string_value(a.str);
  } else {
    kv->mutable_value()->set_int_value(a.num + vary);
  }
}

// Builds the request with unique random sentinels in every per-request field, serializes it, finds each
// sentinel once in the bytes, and then writes the first request's real values over them.
bool build_template(const Options& o, Rng& rng, RequestTemplate* t) {
  otlp_collector::ExportTraceServiceRequest req;
  const int spans = o.spans_per_request;
  const int resources = (spans + kSpansPerResource - 1) / kSpansPerResource;
  const int traces = (spans + kSpansPerTrace - 1) / kSpansPerTrace;
  t->spans = spans;
  t->traces = traces;
  t->span_slots.assign(spans, {});

  struct Sentinels {
    std::string trace_id, span_id, parent_span_id;
  };
  std::vector<Sentinels> sentinels(spans);
  auto random_bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; i += 8) {
      uint64_t v = rng.next_nonzero();
      std::memcpy(s.data() + i, &v, std::min<size_t>(8, n - i));
    }
    return s;
  };
  std::vector<std::pair<uint64_t, uint64_t>> time_sentinels;  // (sentinel, relative value)
  auto time_field = [&](uint64_t relative) {
    uint64_t s = rng.next_nonzero() | (1ull << 63);
    time_sentinels.emplace_back(s, relative);
    return s;
  };

  // Spans are interleaved across traces: span i belongs to trace i % traces, so each trace crosses several
  // services (resources), like real distributed traces, and the first span of each trace is its root.
  std::vector<int> first_of_trace(traces, -1);
  int span = 0;
  for (int r = 0; r < resources; ++r) {
    auto* rs = req.add_resource_spans();
    auto* res_attrs = rs->mutable_resource()->mutable_attributes();
    const char* service = kServices[r % std::size(kServices)];
    add_attr(res_attrs, {"service.name", service, 0}, 0);
    add_attr(res_attrs, {"service.namespace", "shop", 0}, 0);
    add_attr(res_attrs, {"telemetry.sdk.language", "go", 0}, 0);
    add_attr(res_attrs, {"host.name", "node-17.eu-west-1.compute.internal", 0}, 0);
    rs->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
    auto* ss = rs->add_scope_spans();
    ss->mutable_scope()->set_name("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp");
    ss->mutable_scope()->set_version("0.46.1");
    for (int k = 0; k < kSpansPerResource && span < spans; ++k, ++span) {
      auto* s = ss->add_spans();
      const int trace = span % traces;
      auto& slot = t->span_slots[span];
      slot.trace = trace;
      sentinels[span].trace_id = random_bytes(16);
      sentinels[span].span_id = random_bytes(8);
      s->set_trace_id(sentinels[span].trace_id);
      s->set_span_id(sentinels[span].span_id);
      if (first_of_trace[trace] < 0) {
        first_of_trace[trace] = span;
      } else {
        slot.parent_span = first_of_trace[trace];
        sentinels[span].parent_span_id = random_bytes(8);
        s->set_parent_span_id(sentinels[span].parent_span_id);
      }
      s->set_name(slot.parent_span < 0 ? "GET /api/orders/{id}" : std::string("HTTP GET ") + service);
      s->set_kind(slot.parent_span < 0 ? otlp_trace::Span::SPAN_KIND_SERVER
                                       : otlp_trace::Span::SPAN_KIND_CLIENT);
      const uint64_t duration_ns = 200'000 + (rng.next() % 50'000'000);
      const uint64_t start = 1'000'000 * static_cast<uint64_t>(span % 7);
      s->set_start_time_unix_nano(time_field(start));
      s->set_end_time_unix_nano(time_field(start + duration_ns));
      for (int a = 0; a < o.attrs; ++a) add_attr(s->mutable_attributes(), kSpanAttrs[a], span);
      if (span % 4 == 3) {  // 25% of spans carry one event
        auto* e = s->add_events();
        e->set_name("exception");
        e->set_time_unix_nano(time_field(start + duration_ns / 2));
        add_attr(e->mutable_attributes(), {"exception.type", "TimeoutError", 0}, 0);
      }
      s->mutable_status()->set_code(span % 20 == 19 ? otlp_trace::Status::STATUS_CODE_ERROR
                                                    : otlp_trace::Status::STATUS_CODE_UNSET);
    }
  }
  if (!req.SerializeToString(&t->bytes)) return false;

  // Exactly one occurrence each, or the sentinel collided with other content and the offsets are unreliable.
  auto find_once = [&](std::string_view needle, size_t* out) {
    size_t at = t->bytes.find(needle);
    if (at == std::string::npos || t->bytes.find(needle, at + 1) != std::string::npos) return false;
    *out = at;
    return true;
  };
  for (int i = 0; i < spans; ++i) {
    auto& slot = t->span_slots[i];
    if (!find_once(sentinels[i].trace_id, &slot.trace_id) ||
        !find_once(sentinels[i].span_id, &slot.span_id)) {
      return false;
    }
    if (slot.parent_span >= 0 && !find_once(sentinels[i].parent_span_id, &slot.parent_span_id)) return false;
  }
  for (auto [sentinel, relative] : time_sentinels) {
    char le[8];
    store_le64(reinterpret_cast<uint8_t*>(le), sentinel);
    size_t at = 0;
    if (!find_once(std::string_view(le, 8), &at)) return false;
    t->time_slots.emplace_back(at, relative);
  }
  return true;
}

// Writes a fresh set of IDs and timestamps into `msg` (a copy of the template's bytes).
void patch_request(const RequestTemplate& t, Rng& rng, uint64_t base_ns, uint8_t* msg,
                   std::vector<uint64_t>& span_ids, std::vector<uint64_t>& trace_ids) {
  trace_ids.resize(2 * t.traces);
  for (auto& v : trace_ids) v = rng.next_nonzero();
  span_ids.resize(t.spans);
  for (auto& v : span_ids) v = rng.next_nonzero();
  for (int i = 0; i < t.spans; ++i) {
    const auto& slot = t.span_slots[i];
    std::memcpy(msg + slot.trace_id, &trace_ids[2 * slot.trace], 16);
    std::memcpy(msg + slot.span_id, &span_ids[i], 8);
    if (slot.parent_span >= 0) std::memcpy(msg + slot.parent_span_id, &span_ids[slot.parent_span], 8);
  }
  for (auto [at, relative] : t.time_slots) store_le64(msg + at, base_ns + relative);
}

struct Stats {
  uint64_t ok_requests = 0;
  uint64_t ok_spans = 0;
  uint64_t ok_bytes = 0;
  std::map<std::string, uint64_t> errors;
  std::vector<uint32_t> latency_us;  // every completed request, success or not
  uint64_t responses = 0;            // any stream that completed with a response
};

class Driver;

// One HTTP/2 connection: a non-blocking socket, an nghttp2 client session, and its in-flight requests.
// Single-threaded: everything runs on the driver's poll loop.
class Connection {
 public:
  Connection(Driver* driver, int id) : driver_(driver), id_(id) {}
  ~Connection();
  bool start(const addrinfo* ai, Clock::time_point deadline);
  int fd() const { return fd_; }
  bool alive() const { return fd_ >= 0 && session_ != nullptr; }
  bool wants_write() const {
    return alive() && (out_off_ < out_.size() || nghttp2_session_want_write(session_));
  }
  int in_flight() const { return static_cast<int>(streams_.size()); }
  // Submits one request; false if the session refused it.
  bool submit(std::string body, int spans);
  // Reads what is available; false if the connection is finished (closed or protocol error).
  bool on_readable();
  // Writes what nghttp2 has queued; false on a fatal socket error.
  bool flush();
  // True once nghttp2 has nothing more to read or write (e.g. after the server's GOAWAY).
  bool finished() const {
    return alive() && !nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_);
  }
  // Fails every in-flight request with `reason` and closes. With `count_idle`, a connection lost while idle
  // counts as one error too, so a run that ends early never looks clean.
  void abandon(const char* reason, bool count_idle);

 private:
  struct Stream {
    std::string body;  // gRPC-framed request
    size_t sent = 0;
    int spans = 0;
    Clock::time_point started;
    int http_status = 0;
    int grpc_status = -1;
    std::string response;  // gRPC-framed response body
  };
  static ssize_t read_body(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                           uint32_t* data_flags, nghttp2_data_source* source, void* user_data);
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t flags, void* user_data);
  static int on_data_chunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data,
                           size_t len, void* user_data);
  static int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data);
  void finish(Stream& s, uint32_t error_code);
  void close();

  Driver* driver_;
  int id_;
  int fd_ = -1;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;
  std::string out_;
  size_t out_off_ = 0;
};

class Driver {
 public:
  explicit Driver(const Options& o)
      : options_(o), rng_(o.seed ? o.seed : wall_ns() ^ (uint64_t(getpid()) << 32)) {}
  int run();
  Stats& stats() { return stats_; }

 private:
  bool may_submit() const;
  std::string next_body();
  void print_report(double seconds) const;

  Options options_;
  Rng rng_;
  RequestTemplate template_;
  std::vector<uint64_t> span_ids_, trace_ids_;
  std::vector<std::unique_ptr<Connection>> connections_;
  Stats stats_;
  uint64_t submitted_ = 0;
  std::string first_trace_id_;  // of the first request, so a run can be checked by querying it back
  Clock::time_point send_deadline_;
};

Connection::~Connection() { close(); }

void Connection::close() {
  if (session_) nghttp2_session_del(session_);
  session_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool Connection::start(const addrinfo* ai, Clock::time_point deadline) {
  fd_ = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd_ < 0) return false;
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd_, ai->ai_addr, ai->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) return false;
    pollfd p{fd_, POLLOUT, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 0))) != 1) return false;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      errno = err;
      return false;
    }
  }
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  int rv = nghttp2_session_client_new(&session_, cb, this);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) return false;
  // Responses are tiny; a large receive window only matters to keep the server's writes unblocked.
  nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                       {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
  return nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings)) == 0;
}

bool Connection::submit(std::string body, int spans) {
  auto s = std::make_unique<Stream>();
  s->body = std::move(body);
  s->spans = spans;
  s->started = Clock::now();
  auto nv = [](const char* n, const char* v) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(n)),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(v)), std::strlen(n), std::strlen(v),
                      NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
  };
  const nghttp2_nv headers[] = {nv(":method", "POST"),
                                nv(":scheme", "http"),
                                nv(":path", kExportPath),
                                nv(":authority", "spindle"),
                                nv("content-type", "application/grpc"),
                                nv("te", "trailers"),
                                nv("user-agent", "spindle-ingest-driver")};
  nghttp2_data_provider provider;
  provider.source.ptr = s.get();
  provider.read_callback = read_body;
  int32_t id = nghttp2_submit_request(session_, nullptr, headers, std::size(headers), &provider, s.get());
  if (id < 0) return false;
  streams_.emplace(id, std::move(s));
  return true;
}

ssize_t Connection::read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* data_flags,
                              nghttp2_data_source* source, void*) {
  auto* s = static_cast<Stream*>(source->ptr);
  size_t n = std::min(length, s->body.size() - s->sent);
  std::memcpy(buf, s->body.data() + s->sent, n);
  s->sent += n;
  if (s->sent == s->body.size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

int Connection::on_header(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                          size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void*) {
  auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
  if (!s) return 0;
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") {
    s->http_status = std::atoi(v.c_str());
  } else if (n == "grpc-status") {
    s->grpc_status = std::atoi(v.c_str());
  }
  return 0;
}

int Connection::on_data_chunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                              size_t len, void*) {
  auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
  // An Export response is a few bytes; cap what we keep so a misbehaving server cannot grow us without bound.
  if (s && s->response.size() < (1 << 20)) s->response.append(reinterpret_cast<const char*>(data), len);
  return 0;
}

int Connection::on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
  auto* c = static_cast<Connection*>(user_data);
  auto it = c->streams_.find(stream_id);
  if (it == c->streams_.end()) return 0;
  c->finish(*it->second, error_code);
  c->streams_.erase(it);
  return 0;
}

// Number of spans the server says it rejected (ExportTraceServiceResponse.partial_success.rejected_spans).
int64_t rejected_spans(const std::string& grpc_body) {
  if (grpc_body.size() < 5 || grpc_body[0] != 0) return 0;
  otlp_collector::ExportTraceServiceResponse r;
  if (!r.ParseFromArray(grpc_body.data() + 5, static_cast<int>(grpc_body.size() - 5))) return 0;
  return r.has_partial_success() ? r.partial_success().rejected_spans() : 0;
}

void Connection::finish(Stream& s, uint32_t error_code) {
  Stats& st = driver_->stats();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - s.started).count();
  st.latency_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
  if (error_code != NGHTTP2_NO_ERROR) {
    st.errors["rst_" + std::to_string(error_code)]++;
    return;
  }
  st.responses++;
  if (s.grpc_status < 0) {
    st.errors[s.http_status != 200 ? "http_" + std::to_string(s.http_status) : "no_grpc_status"]++;
  } else if (s.grpc_status != 0) {
    st.errors["grpc_" + std::to_string(s.grpc_status)]++;
  } else if (rejected_spans(s.response) > 0) {
    st.errors["rejected_spans"]++;
  } else {
    st.ok_requests++;
    st.ok_spans += s.spans;
    st.ok_bytes += s.body.size() - 5;
  }
}

void Connection::abandon(const char* reason, bool count_idle) {
  uint64_t failed = streams_.size();
  if (failed == 0 && count_idle) failed = 1;
  if (failed > 0) driver_->stats().errors[reason] += failed;
  streams_.clear();
  close();
}

bool Connection::on_readable() {
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      ssize_t used = nghttp2_session_mem_recv(session_, buf, static_cast<size_t>(n));
      if (used < 0) {
        std::fprintf(stderr, "connection %d: HTTP/2 error: %s\n", id_,
                     nghttp2_strerror(static_cast<int>(used)));
        return false;
      }
      continue;
    }
    if (n == 0) return false;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    if (errno == EINTR) continue;
    std::fprintf(stderr, "connection %d: recv: %s\n", id_, std::strerror(errno));
    return false;
  }
}

bool Connection::flush() {
  constexpr size_t kBatch = 256 * 1024;
  for (;;) {
    if (out_off_ == out_.size()) {
      out_.clear();
      out_off_ = 0;
      // Gather several frames per send() so a 30 KB request costs one or two system calls, not one per frame.
      while (out_.size() < kBatch) {
        const uint8_t* data = nullptr;
        ssize_t n = nghttp2_session_mem_send(session_, &data);
        if (n < 0) {
          std::fprintf(stderr, "connection %d: HTTP/2 error: %s\n", id_,
                       nghttp2_strerror(static_cast<int>(n)));
          return false;
        }
        if (n == 0) break;
        out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
      }
      if (out_.empty()) return true;
    }
    ssize_t n = send(fd_, out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
    if (n > 0) {
      out_off_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n < 0 && errno == EINTR) continue;
    std::fprintf(stderr, "connection %d: send: %s\n", id_, std::strerror(errno));
    return false;
  }
}

bool Driver::may_submit() const {
  if (options_.requests && submitted_ >= options_.requests) return false;
  return options_.duration_s == 0 || Clock::now() < send_deadline_;
}

std::string Driver::next_body() {
  const std::string& msg = template_.bytes;
  std::string body(5 + msg.size(), '\0');
  body[0] = 0;  // not compressed
  uint32_t len = htonl(static_cast<uint32_t>(msg.size()));
  std::memcpy(body.data() + 1, &len, 4);
  std::memcpy(body.data() + 5, msg.data(), msg.size());
  patch_request(template_, rng_, wall_ns() - 60'000'000, reinterpret_cast<uint8_t*>(body.data() + 5),
                span_ids_, trace_ids_);
  if (first_trace_id_.empty()) {
    const uint8_t* id = reinterpret_cast<const uint8_t*>(body.data() + 5 + template_.span_slots[0].trace_id);
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) first_trace_id_ += {kHex[id[i] >> 4], kHex[id[i] & 15]};
  }
  return body;
}

double percentile_ms(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)] / 1000.0;
}

void Driver::print_report(double seconds) const {
  std::vector<uint32_t> lat = stats_.latency_us;
  std::sort(lat.begin(), lat.end());
  std::string errors;
  uint64_t error_total = 0;
  for (const auto& [reason, n] : stats_.errors) {
    if (!errors.empty()) errors += ",";
    errors += "\"" + reason + "\":" + std::to_string(n);
    error_total += n;
  }
  const double s = seconds > 0 ? seconds : 1e-9;
  std::printf("{\"requests\":%" PRIu64 ",\"spans\":%" PRIu64 ",\"bytes\":%" PRIu64
              ",\"seconds\":%.3f,\"spans_per_second\":%.1f,\"mb_per_second\":%.2f,\"error_count\":%" PRIu64
              ",\"errors\":{%s},\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
              "\"connections\":%d,\"streams\":%d,\"spans_per_request\":%d,\"request_bytes\":%zu,"
              "\"first_trace_id\":\"%s\"}\n",
              stats_.ok_requests, stats_.ok_spans, stats_.ok_bytes, seconds, stats_.ok_spans / s,
              stats_.ok_bytes / s / 1e6, error_total, errors.c_str(), percentile_ms(lat, 0.50),
              percentile_ms(lat, 0.90), percentile_ms(lat, 0.99), lat.empty() ? 0.0 : lat.back() / 1000.0,
              options_.connections, options_.streams, template_.spans, template_.bytes.size(),
              first_trace_id_.c_str());
  std::fflush(stdout);
}

int Driver::run() {
  if (!build_template(options_, rng_, &template_)) {
    std::fprintf(stderr, "spindle-ingest-driver: could not locate the per-request fields in the template\n");
    return 1;
  }
  std::fprintf(stderr,
               "spindle-ingest-driver: %d spans, %d traces, %zu bytes per request (%.0f bytes/span)\n",
               template_.spans, template_.traces, template_.bytes.size(),
               double(template_.bytes.size()) / template_.spans);
  if (!options_.write_request.empty()) {
    std::string body = next_body();
    FILE* f = std::fopen(options_.write_request.c_str(), "wb");
    bool ok = f && std::fwrite(body.data(), 1, body.size(), f) == body.size();
    if (f && std::fclose(f) != 0) ok = false;
    if (!ok) std::fprintf(stderr, "spindle-ingest-driver: cannot write %s\n", options_.write_request.c_str());
    return ok ? 0 : 1;
  }

  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* ai = nullptr;
  if (int rv = getaddrinfo(options_.host.c_str(), options_.port.c_str(), &hints, &ai); rv != 0) {
    std::fprintf(stderr, "spindle-ingest-driver: %s:%s: %s\n", options_.host.c_str(), options_.port.c_str(),
                 gai_strerror(rv));
    return 2;
  }
  auto connect_deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(options_.connect_timeout_s));
  for (int i = 0; i < options_.connections; ++i) {
    auto c = std::make_unique<Connection>(this, i);
    if (!c->start(ai, connect_deadline)) {
      std::fprintf(stderr, "spindle-ingest-driver: cannot connect to %s:%s: %s\n", options_.host.c_str(),
                   options_.port.c_str(), std::strerror(errno));
      freeaddrinfo(ai);
      return 2;
    }
    connections_.push_back(std::move(c));
  }
  freeaddrinfo(ai);

  const auto start = Clock::now();
  send_deadline_ =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.duration_s));
  // After the last submit, in-flight requests get a bounded time to finish; then they count as errors.
  const auto drain =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.drain_timeout_s));
  auto hard_deadline = (options_.duration_s > 0 ? send_deadline_ : Clock::time_point::max() - drain) + drain;
  Clock::time_point last_submit = start;
  std::vector<pollfd> fds;
  for (;;) {
    bool sending = may_submit();
    int in_flight = 0, alive = 0;
    for (auto& c : connections_) {
      if (!c->alive()) continue;
      while (sending && c->in_flight() < options_.streams) {
        if (!c->submit(next_body(), template_.spans)) break;
        ++submitted_;
        last_submit = Clock::now();
        sending = may_submit();
      }
      if (!c->flush()) {
        c->abandon("connection_lost", true);
        continue;
      }
      if (c->finished()) {
        c->abandon("goaway", sending);
        continue;
      }
      in_flight += c->in_flight();
      ++alive;
    }
    if (in_flight == 0 && (!sending || alive == 0)) break;
    auto now = Clock::now();
    if (!sending && options_.duration_s == 0) hard_deadline = std::min(hard_deadline, last_submit + drain);
    if (now >= hard_deadline) {
      for (auto& c : connections_) c->abandon("timeout", false);
      break;
    }
    fds.clear();
    for (auto& c : connections_) {
      if (c->alive()) fds.push_back({c->fd(), short(POLLIN | (c->wants_write() ? POLLOUT : 0)), 0});
    }
    auto wait = sending && options_.duration_s > 0 ? send_deadline_ - now : hard_deadline - now;
    int timeout_ms = static_cast<int>(std::clamp<int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(wait).count() + 1, 1, 1000));
    int n = poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0 && errno != EINTR) {
      std::perror("poll");
      break;
    }
    size_t k = 0;
    for (auto& c : connections_) {
      if (!c->alive()) continue;
      short re = fds[k++].revents;
      if ((re & (POLLIN | POLLHUP | POLLERR)) && !c->on_readable()) c->abandon("connection_lost", true);
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  print_report(seconds);
  if (stats_.responses == 0 && stats_.ok_requests == 0) {
    std::fprintf(stderr, "spindle-ingest-driver: no response from the server\n");
    return 2;
  }
  uint64_t errors = 0;
  for (const auto& [reason, n] : stats_.errors) errors += n;
  if (errors > 0) {
    std::fprintf(stderr, "spindle-ingest-driver: %" PRIu64 " failed requests\n", errors);
    if (options_.fail_on_error) return 3;
  }
  return 0;
}

}  // namespace
}  // namespace spindle

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  spindle::Options options;
  if (!spindle::parse_options(argc, argv, &options)) return 1;
  spindle::Driver driver(options);
  return driver.run();
}
