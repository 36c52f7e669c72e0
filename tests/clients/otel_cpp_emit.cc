// otel_cpp_emit: a real OpenTelemetry C++ (Debian opentelemetry-cpp 1.19) OTLP sender for Spindle's
// integration tests.
//
// usage: otel_cpp_emit <grpc|http-proto|http-json> <url> <out-file> [--gzip]
//   grpc        url http://127.0.0.1:PORT            (OTLP/gRPC, insecure; --gzip: grpc-encoding gzip)
//   http-proto  url http://127.0.0.1:PORT/v1/traces  (OTLP/HTTP protobuf, Content-Length body)
//   http-json   url http://127.0.0.1:PORT/v1/traces  (OTLP/HTTP JSON, hex ids)
//
// Builds kTraces traces of 7 spans each (same shape as emit.js: SERVER root; INTERNAL child with a
// CLIENT grandchild; CLIENT, PRODUCER, CONSUMER children; a CLIENT child from a second scope with a
// schema url), with attributes of every API type including arrays, events with attributes, links
// (to a synthetic remote context with a trace state, to the previous trace and inside the trace),
// and status UNSET / OK / ERROR with a message. Then:
//   - writes <out-file>: a serialized opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest
//     holding exactly the spans handed to the real exporter (every exported batch merged into one
//     request, built by the SDK's own OtlpRecordableUtils::PopulateRequest);
//   - prints one trace id (32 lowercase hex) per line on stdout, in creation order.
// Exit status: 0 on success, 1 if any export failed, 2 on bad usage.

#include <opentelemetry/exporters/otlp/otlp_grpc_exporter_factory.h>
#include <opentelemetry/exporters/otlp/otlp_grpc_exporter_options.h>
#include <opentelemetry/exporters/otlp/otlp_http_exporter_factory.h>
#include <opentelemetry/exporters/otlp/otlp_http_exporter_options.h>
#include <opentelemetry/exporters/otlp/otlp_recordable_utils.h>
#include <opentelemetry/proto/collector/trace/v1/trace_service.pb.h>
#include <opentelemetry/sdk/common/global_log_handler.h>
#include <opentelemetry/sdk/resource/resource.h>
#include <opentelemetry/sdk/trace/batch_span_processor_factory.h>
#include <opentelemetry/sdk/trace/batch_span_processor_options.h>
#include <opentelemetry/sdk/trace/exporter.h>
#include <opentelemetry/sdk/trace/recordable.h>
#include <opentelemetry/sdk/trace/tracer_provider.h>
#include <opentelemetry/sdk/trace/tracer_provider_factory.h>
#include <opentelemetry/trace/span_context.h>
#include <opentelemetry/trace/trace_state.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace spindle {
namespace {

namespace otel = opentelemetry;
namespace otlp = opentelemetry::exporter::otlp;
namespace sdktrace = opentelemetry::sdk::trace;
namespace api = opentelemetry::trace;
namespace nostd = opentelemetry::nostd;
using otel::common::AttributeValue;
using otel::common::SteadyTimestamp;
using otel::common::SystemTimestamp;
using ExportRequest = opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

constexpr int kTraces = 2;
constexpr int kSpansPerTrace = 7;
constexpr auto kTimeout = std::chrono::seconds(10);

// Every call is forwarded to two recordables: one goes to the real exporter, the other becomes the
// expected request. A copy is needed because PopulateRequest takes the recordables' data.
class TeeRecordable final : public sdktrace::Recordable {
 public:
  TeeRecordable(std::unique_ptr<sdktrace::Recordable> sent, std::unique_ptr<sdktrace::Recordable> kept)
      : sent_(std::move(sent)), kept_(std::move(kept)) {}

  std::unique_ptr<sdktrace::Recordable> take_sent() { return std::move(sent_); }
  std::unique_ptr<sdktrace::Recordable> take_kept() { return std::move(kept_); }

  void SetIdentity(const api::SpanContext& ctx, api::SpanId parent) noexcept override {
    sent_->SetIdentity(ctx, parent);
    kept_->SetIdentity(ctx, parent);
  }
  void SetAttribute(nostd::string_view key, const AttributeValue& value) noexcept override {
    sent_->SetAttribute(key, value);
    kept_->SetAttribute(key, value);
  }
  void AddEvent(nostd::string_view name, SystemTimestamp time,
                const otel::common::KeyValueIterable& attributes) noexcept override {
    sent_->AddEvent(name, time, attributes);
    kept_->AddEvent(name, time, attributes);
  }
  void AddLink(const api::SpanContext& ctx,
               const otel::common::KeyValueIterable& attributes) noexcept override {
    sent_->AddLink(ctx, attributes);
    kept_->AddLink(ctx, attributes);
  }
  void SetStatus(api::StatusCode code, nostd::string_view description) noexcept override {
    sent_->SetStatus(code, description);
    kept_->SetStatus(code, description);
  }
  void SetName(nostd::string_view name) noexcept override {
    sent_->SetName(name);
    kept_->SetName(name);
  }
  void SetTraceFlags(api::TraceFlags flags) noexcept override {
    sent_->SetTraceFlags(flags);
    kept_->SetTraceFlags(flags);
  }
  void SetSpanKind(api::SpanKind kind) noexcept override {
    sent_->SetSpanKind(kind);
    kept_->SetSpanKind(kind);
  }
  void SetResource(const otel::sdk::resource::Resource& resource) noexcept override {
    sent_->SetResource(resource);
    kept_->SetResource(resource);
  }
  void SetStartTime(SystemTimestamp start) noexcept override {
    sent_->SetStartTime(start);
    kept_->SetStartTime(start);
  }
  void SetDuration(std::chrono::nanoseconds duration) noexcept override {
    sent_->SetDuration(duration);
    kept_->SetDuration(duration);
  }
  void SetInstrumentationScope(const sdktrace::InstrumentationScope& scope) noexcept override {
    sent_->SetInstrumentationScope(scope);
    kept_->SetInstrumentationScope(scope);
  }

 private:
  std::unique_ptr<sdktrace::Recordable> sent_;
  std::unique_ptr<sdktrace::Recordable> kept_;
};

// Wraps the real OTLP exporter: remembers every exported span as OTLP and whether any export
// failed (the batch processor only logs failures; a test must not pass on a dropped batch).
// Export() runs on the batch processor's worker thread; the main thread reads the Outcome after
// Shutdown(). Outcome::mutex guards it anyway, so the order need not be proven.
class CapturingExporter final : public sdktrace::SpanExporter {
 public:
  explicit CapturingExporter(std::unique_ptr<sdktrace::SpanExporter> inner) : inner_(std::move(inner)) {}

  std::unique_ptr<sdktrace::Recordable> MakeRecordable() noexcept override {
    return std::make_unique<TeeRecordable>(inner_->MakeRecordable(), inner_->MakeRecordable());
  }

  otel::sdk::common::ExportResult Export(
      const nostd::span<std::unique_ptr<sdktrace::Recordable>>& spans) noexcept override {
    std::vector<std::unique_ptr<sdktrace::Recordable>> sent;
    std::vector<std::unique_ptr<sdktrace::Recordable>> kept;
    for (auto& recordable : spans) {
      auto* tee = static_cast<TeeRecordable*>(recordable.get());
      sent.push_back(tee->take_sent());
      kept.push_back(tee->take_kept());
    }
    ExportRequest batch;
    otlp::OtlpRecordableUtils::PopulateRequest(
        nostd::span<std::unique_ptr<sdktrace::Recordable>>(kept.data(), kept.size()), &batch);
    auto result =
        inner_->Export(nostd::span<std::unique_ptr<sdktrace::Recordable>>(sent.data(), sent.size()));
    std::lock_guard lock(outcome_->mutex);
    outcome_->expected.MergeFrom(batch);
    outcome_->exported_spans += spans.size();
    if (result != otel::sdk::common::ExportResult::kSuccess) outcome_->failed = true;
    return result;
  }

  bool ForceFlush(std::chrono::microseconds timeout) noexcept override { return inner_->ForceFlush(timeout); }
  bool Shutdown(std::chrono::microseconds timeout) noexcept override { return inner_->Shutdown(timeout); }

  // What was exported. Shared so the caller keeps it after the provider took the exporter.
  struct Outcome {
    std::mutex mutex;
    ExportRequest expected;
    size_t exported_spans = 0;
    bool failed = false;
  };
  std::shared_ptr<Outcome> outcome() const { return outcome_; }

 private:
  std::unique_ptr<sdktrace::SpanExporter> inner_;
  std::shared_ptr<Outcome> outcome_ = std::make_shared<Outcome>();
};

// The synchronous OTLP/HTTP exporter of 1.19 logs a failed request and still returns kSuccess, so the
// SDK's own error log is the only reliable failure signal: any Error-level message fails the run.
// Called from the exporter's thread; the flag is read by main after Shutdown().
class FailOnErrorLog final : public otel::sdk::common::internal_log::LogHandler {
 public:
  explicit FailOnErrorLog(std::shared_ptr<std::atomic<bool>> saw_error) : saw_error_(std::move(saw_error)) {}
  void Handle(otel::sdk::common::internal_log::LogLevel level, const char* file, int line, const char* msg,
              const otel::sdk::common::AttributeMap&) noexcept override {
    std::fprintf(stderr, "[otel %s:%d] %s\n", file ? file : "?", line, msg ? msg : "");
    if (level == otel::sdk::common::internal_log::LogLevel::Error) *saw_error_ = true;
  }

 private:
  std::shared_ptr<std::atomic<bool>> saw_error_;
};

std::unique_ptr<sdktrace::SpanExporter> make_exporter(const std::string& kind, const std::string& url,
                                                      bool gzip) {
  if (kind == "grpc") {
    otlp::OtlpGrpcExporterOptions options;
    options.endpoint = url;
    options.use_ssl_credentials = false;
    options.timeout = kTimeout;
    if (gzip) options.compression = "gzip";
    return otlp::OtlpGrpcExporterFactory::Create(options);
  }
  if (kind == "http-proto" || kind == "http-json") {
    otlp::OtlpHttpExporterOptions options;
    options.url = url;
    options.content_type =
        kind == "http-json" ? otlp::HttpRequestContentType::kJson : otlp::HttpRequestContentType::kBinary;
    options.timeout = kTimeout;
    return otlp::OtlpHttpExporterFactory::Create(options);
  }
  return nullptr;
}

// Deterministic clock: trace t starts at a whole second one minute ago plus t seconds; each time is
// that base plus a fixed offset with odd nanoseconds, so any µs/ms rounding on the way shows.
class TraceClock {
 public:
  explicit TraceClock(int trace_index) {
    auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    base_ = now - std::chrono::seconds(60) + std::chrono::seconds(trace_index);
  }
  std::chrono::nanoseconds at(int64_t offset_us, int64_t extra_ns) const {
    return base_ + std::chrono::microseconds(offset_us) + std::chrono::nanoseconds(123 + extra_ns);
  }
  SystemTimestamp system(int64_t offset_us, int64_t extra_ns) const {
    return SystemTimestamp(at(offset_us, extra_ns));
  }
  // The SDK derives a span's duration from steady timestamps; using the same numbers as the system
  // clock makes end = start + (end_steady - start_steady) exactly the intended time.
  api::StartSpanOptions start(int64_t offset_us, int64_t extra_ns, api::SpanKind kind,
                              const api::SpanContext& parent) const {
    api::StartSpanOptions options;
    options.start_system_time = SystemTimestamp(at(offset_us, extra_ns));
    options.start_steady_time = SteadyTimestamp(at(offset_us, extra_ns));
    options.kind = kind;
    options.parent = parent;
    return options;
  }
  api::EndSpanOptions end(int64_t offset_us, int64_t extra_ns) const {
    return api::EndSpanOptions{SteadyTimestamp(at(offset_us, extra_ns))};
  }

 private:
  std::chrono::seconds base_;
};

struct TraceRefs {
  std::string trace_id;
  api::SpanContext root = api::SpanContext::GetInvalid();
  api::SpanContext producer = api::SpanContext::GetInvalid();
};

std::string hex_trace_id(const api::SpanContext& ctx) {
  char buf[32];
  ctx.trace_id().ToLowerBase16(buf);
  return std::string(buf, sizeof(buf));
}

api::SpanContext synthetic_remote_context() {
  const uint8_t trace_id[16] = {0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd,
                                0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c};
  const uint8_t span_id[8] = {0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31};
  return api::SpanContext(api::TraceId(trace_id), api::SpanId(span_id),
                          api::TraceFlags(api::TraceFlags::kIsSampled), true,
                          api::TraceState::FromHeader("vendor1=opaque,vendor2=x"));
}

TraceRefs build_trace(api::Tracer& tracer, api::Tracer& db_tracer, int t, const TraceRefs* prev) {
  const TraceClock clock(t);
  static const std::array<nostd::string_view, 3> kStrings = {"a", "b", "c"};
  static const std::array<int64_t, 3> kInt64s = {1, 2, -3};
  static const std::array<int32_t, 2> kInt32s = {7, -8};
  static const std::array<uint32_t, 2> kUint32s = {9, 4000000000u};
  static const std::array<double, 3> kDoubles = {1.5, 2.25, -3.75};
  static const std::array<bool, 3> kBools = {true, false, true};
  const std::string value = "value-" + std::to_string(t);

  auto root = tracer.StartSpan("GET /checkout",
                               {{"http.request.method", "GET"},
                                {"http.route", "/checkout"},
                                {"str", nostd::string_view(value)},
                                {"str.empty", ""},
                                {"str.unicode", "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93"},
                                {"int", static_cast<int64_t>(42 + t)},
                                {"int.negative", static_cast<int64_t>(-7)},
                                {"int.big", static_cast<int64_t>(9223372036854775807LL)},
                                {"int32", static_cast<int32_t>(-123)},
                                {"uint32", static_cast<uint32_t>(4000000000u)},
                                {"uint64", static_cast<uint64_t>(1234567890123ULL)},
                                {"double", 3.25},
                                {"double.negative", -0.125},
                                {"bool.true", true},
                                {"bool.false", false},
                                {"arr.str", nostd::span<const nostd::string_view>(kStrings)},
                                {"arr.int", nostd::span<const int64_t>(kInt64s)},
                                {"arr.int32", nostd::span<const int32_t>(kInt32s)},
                                {"arr.uint32", nostd::span<const uint32_t>(kUint32s)},
                                {"arr.double", nostd::span<const double>(kDoubles)},
                                {"arr.bool", nostd::span<const bool>(kBools)}},
                               clock.start(0, 1, api::SpanKind::kServer, api::SpanContext::GetInvalid()));
  const api::SpanContext root_ctx = root->GetContext();
  root->AddEvent("request.received", clock.system(10, 3),
                 {{"bytes", static_cast<int64_t>(512)}, {"peer", "10.0.0.1"}, {"ratio", 0.5}});
  root->AddEvent("no-attributes", clock.system(20, 5));

  auto internal = tracer.StartSpan("validate-cart", {{"cart.items", static_cast<int64_t>(3)}},
                                   clock.start(100, 9, api::SpanKind::kInternal, root_ctx));
  static const std::array<nostd::string_view, 2> kXy = {"x", "y"};
  auto grand = tracer.StartSpan(
      "price-lookup",
      {{"rpc.system", "grpc"}, {"arr.str", nostd::span<const nostd::string_view>(kXy)}, {"retry", false}},
      clock.start(150, 11, api::SpanKind::kClient, internal->GetContext()));
  grand->AddEvent("exception", clock.system(180, 13),
                  {{"exception.type", "TimeoutError"},
                   {"exception.message", "deadline exceeded"},
                   {"exception.escaped", true}});
  grand->SetStatus(api::StatusCode::kError, "price service timed out");
  grand->End(clock.end(190, 15));
  internal->SetStatus(api::StatusCode::kOk);
  internal->End(clock.end(200, 17));

  // The first trace has no predecessor: it links to a remote context carrying a trace state.
  const api::SpanContext remote = prev ? prev->producer : synthetic_remote_context();
  auto client = tracer.StartSpan(
      "POST /payments",
      {{"http.request.method", "POST"}, {"http.response.status_code", static_cast<int64_t>(201)}},
      {{remote, {{"link.kind", "follows"}, {"link.index", static_cast<int64_t>(0)}}}},
      clock.start(300, 19, api::SpanKind::kClient, root_ctx));
  client->End(clock.end(400, 21));

  auto producer = tracer.StartSpan("orders publish", {{"messaging.system", "kafka"}},
                                   clock.start(500, 23, api::SpanKind::kProducer, root_ctx));
  const api::SpanContext producer_ctx = producer->GetContext();
  producer->SetStatus(api::StatusCode::kOk);
  producer->End(clock.end(550, 25));

  static const std::array<int64_t, 2> kConsumerInts = {10, -20};
  const auto consumer_attrs = {
      std::pair<nostd::string_view, AttributeValue>{"messaging.operation", "process"},
      std::pair<nostd::string_view, AttributeValue>{"arr.int", nostd::span<const int64_t>(kConsumerInts)}};
  const api::StartSpanOptions consumer_opts = clock.start(600, 27, api::SpanKind::kConsumer, root_ctx);
  nostd::shared_ptr<api::Span> consumer =
      prev ? tracer.StartSpan("orders process", consumer_attrs,
                              {{producer_ctx, {{"link.same_trace", true}}},
                               {prev->root, {{"link.prev", "root"}, {"link.weight", 0.75}}}},
                              consumer_opts)
           : tracer.StartSpan("orders process", consumer_attrs, {{producer_ctx, {{"link.same_trace", true}}}},
                              consumer_opts);
  consumer->End(clock.end(700, 29));

  static const std::array<double, 2> kDbDoubles = {0.1, 0.2};
  auto db = db_tracer.StartSpan("SELECT orders",
                                {{"db.system", "postgresql"},
                                 {"db.rows", static_cast<int64_t>(3)},
                                 {"arr.double", nostd::span<const double>(kDbDoubles)}},
                                clock.start(750, 31, api::SpanKind::kClient, root_ctx));
  db->AddEvent("rows", clock.system(760, 33), {{"count", static_cast<int64_t>(3)}});
  db->End(clock.end(800, 35));

  root->End(clock.end(1000, 37));
  return TraceRefs{hex_trace_id(root_ctx), root_ctx, producer_ctx};
}

int usage() {
  std::fprintf(stderr, "usage: otel_cpp_emit <grpc|http-proto|http-json> <url> <out-file> [--gzip]\n");
  return 2;
}

int run(int argc, char** argv) {
  if (argc != 4 && argc != 5) return usage();
  const std::string kind = argv[1];
  const std::string url = argv[2];
  const std::string out_file = argv[3];
  bool gzip = false;
  if (argc == 5) {
    if (std::string(argv[4]) != "--gzip") return usage();
    // Debian builds opentelemetry-cpp without WITH_OTLP_HTTP_COMPRESSION: the HTTP exporter would log an
    // error and send uncompressed, so refuse rather than pretend.
    if (kind != "grpc") {
      std::fprintf(stderr, "--gzip works only with grpc in this opentelemetry-cpp build\n");
      return 2;
    }
    gzip = true;
  }
  auto saw_error_log = std::make_shared<std::atomic<bool>>(false);
  otel::sdk::common::internal_log::GlobalLogHandler::SetLogHandler(
      nostd::shared_ptr<otel::sdk::common::internal_log::LogHandler>(new FailOnErrorLog(saw_error_log)));
  auto real = make_exporter(kind, url, gzip);
  if (!real) return usage();
  auto exporter = std::make_unique<CapturingExporter>(std::move(real));
  auto outcome = exporter->outcome();

  sdktrace::BatchSpanProcessorOptions batch;
  batch.max_queue_size = 4096;
  batch.max_export_batch_size = 512;
  batch.schedule_delay_millis = std::chrono::milliseconds(60000);  // export at ForceFlush
  auto processor = sdktrace::BatchSpanProcessorFactory::Create(std::move(exporter), batch);
  auto resource = otel::sdk::resource::Resource::Create({
      {"service.name", "emit-cpp"},
      {"service.version", "1.2.3"},
      {"service.namespace", "spindle-tests"},
      {"deployment.environment", "test"},
      {"host.name", "emit-host"},
      {"process.pid.fake", static_cast<int64_t>(4242)},
      {"cloud.ratio", 0.5},
      {"res.bool", true},
  });
  std::shared_ptr<sdktrace::TracerProvider> provider =
      sdktrace::TracerProviderFactory::Create(std::move(processor), resource);
  auto tracer = provider->GetTracer("spindle-emit-cpp", "1.0.0");
  auto db_tracer =
      provider->GetTracer("spindle-emit-cpp.db", "0.9.1", "https://opentelemetry.io/schemas/1.26.0");

  std::vector<TraceRefs> traces;
  for (int t = 0; t < kTraces; ++t) {
    traces.push_back(build_trace(*tracer, *db_tracer, t, traces.empty() ? nullptr : &traces.back()));
  }
  const bool flushed = provider->ForceFlush(kTimeout * 2);
  provider->Shutdown();

  std::lock_guard lock(outcome->mutex);
  if (!flushed || outcome->failed || saw_error_log->load() ||
      outcome->exported_spans != kTraces * kSpansPerTrace) {
    std::fprintf(stderr, "EXPORT FAILED: flushed=%d failed=%d error_logged=%d spans=%zu (want %d)\n", flushed,
                 outcome->failed, saw_error_log->load(), outcome->exported_spans, kTraces * kSpansPerTrace);
    return 1;
  }
  std::string bytes;
  if (!outcome->expected.SerializeToString(&bytes)) {
    std::fprintf(stderr, "cannot serialize the expected request\n");
    return 1;
  }
  std::ofstream out(out_file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", out_file.c_str());
    return 1;
  }
  for (const auto& trace : traces) std::printf("%s\n", trace.trace_id.c_str());
  return 0;
}

}  // namespace
}  // namespace spindle

int main(int argc, char** argv) { return spindle::run(argc, argv); }
