#include "api/ingest.h"

#include <memory>
#include <utility>
#include <vector>

#include "api/shard_services.h"
#include "api/status_mapping.h"
#include "net/content_coding.h"
#include "proto/otlp_decoder.h"
#include "proto/otlp_encoder.h"
#include "proto/otlp_json_decoder.h"

namespace spindle {
namespace {

enum class BodyFormat { Protobuf, Json };

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The media type without parameters ("application/json; charset=utf-8" -> "application/json").
std::string media_type(std::string_view content_type) {
  std::string t = lowercase(content_type.substr(0, content_type.find(';')));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  return t;
}

// OTLP/HTTP answers in the request's encoding, errors as google.rpc.Status.
HttpResponse otlp_http_response(BodyFormat format, int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers.push_back(
      {"content-type", format == BodyFormat::Json ? "application/json" : "application/x-protobuf"});
  r.body = std::move(body);
  return r;
}

HttpResponse otlp_http_error(BodyFormat format, const Status& status) {
  int code = static_cast<int>(status.code());
  HttpResponse r = otlp_http_response(format, http_status_for(status.code()),
                                      format == BodyFormat::Json
                                          ? rpc_status_json(code, status.message())
                                          : encode_rpc_status(code, status.message()));
  if (status.code() == StatusCode::Unavailable) {
    r.headers.push_back({"retry-after", std::to_string(kRetryAfterSeconds)});
  }
  return r;
}

}  // namespace

void Ingest::ingest(std::string_view request, IngestProtocol protocol, Done done) {
  ShardServices& local = services_of(shard_);
  const int p = static_cast<int>(protocol);
  local.metrics.bytes_received[p] += request.size();

  auto decoded = decode_export_request(request, shard_.count());
  if (!decoded.ok()) {
    IngestOutcome outcome;
    outcome.status = decoded.status();
    done(outcome);
    return;
  }
  local.metrics.spans_refused[p][static_cast<int>(RefusalReason::Invalid)] += decoded->rejected_spans;

  struct State {
    IngestOutcome outcome;
    uint32_t pending = 0;
    Done done;
  };
  auto state = std::make_shared<State>();
  state->outcome.rejected = decoded->rejected_spans;
  state->outcome.reject_message = std::move(decoded->reject_message);
  state->done = std::move(done);

  std::vector<uint32_t> owners;
  for (uint32_t s = 0; s < decoded->batches.size(); ++s) {
    if (!decoded->batches[s].spans.empty()) owners.push_back(s);
  }
  if (owners.empty()) {
    state->done(state->outcome);
    return;
  }
  state->pending = static_cast<uint32_t>(owners.size());
  ++local.ingests_in_flight;
  Shard* origin = &shard_;
  for (uint32_t owner : owners) {
    auto batch = std::make_unique<SpanBatch>(std::move(decoded->batches[owner]));
    uint64_t batch_spans = batch->spans.size();
    shard_.submit_async<AppendResult>(
        owner,
        [batch = std::move(batch)](Shard& target, Reply<AppendResult> reply) mutable {
          // Reply is move-only; the store's callback is a std::function, which must be copyable.
          auto shared = std::make_shared<Reply<AppendResult>>(std::move(reply));
          services_of(target).store.append(std::move(batch),
                                           [shared](AppendResult r) { shared->reply(std::move(r)); });
        },
        [state, origin, p, batch_spans](AppendResult r) {
          ShardServices& svc = services_of(*origin);
          IngestOutcome& out = state->outcome;
          if (!r.status.is_ok()) {
            RefusalReason reason = r.storage_error ? RefusalReason::Storage : RefusalReason::HeadFull;
            svc.metrics.spans_refused[p][static_cast<int>(reason)] += batch_spans;
            if (out.status.is_ok()) out.status = r.status;
          }
          svc.metrics.spans_received[p] += r.accepted + r.duplicates;
          svc.metrics.spans_refused[p][static_cast<int>(RefusalReason::TraceTooLarge)] += r.rejected;
          out.accepted += r.accepted + r.duplicates;
          out.rejected += r.rejected;
          if (out.reject_message.empty()) out.reject_message = std::move(r.reject_message);
          if (--state->pending == 0) {
            --svc.ingests_in_flight;
            state->done(out);
          }
        });
  }
}

void Ingest::export_grpc(GrpcRequest&& request, Responder responder) {
  ingest(request.message, IngestProtocol::Grpc, [this, responder](const IngestOutcome& out) {
    ShardMetrics& m = services_of(shard_).metrics;
    m.count_request("otlp_grpc_export", std::string(status_code_name(out.status.code())));
    if (!out.status.is_ok()) {
      responder.grpc_finish(out.status);
      return;
    }
    responder.grpc_message(encode_export_response(out.rejected, out.reject_message));
    responder.grpc_finish(Status::ok());
  });
}

void Ingest::export_http(HttpRequest&& request, Responder responder) {
  ShardMetrics& metrics = services_of(shard_).metrics;
  auto reply = [&metrics, responder](HttpResponse r) {
    metrics.count_request("otlp_http_traces", std::to_string(r.status));
    responder.respond(std::move(r));
  };
  if (request.method != "POST") {
    HttpResponse r = text_error_response(
        {StatusCode::InvalidArgument, "method " + request.method + " not allowed: send POST /v1/traces"});
    r.status = 405;
    r.headers.push_back({"allow", "POST"});
    reply(std::move(r));
    return;
  }
  std::string type = media_type(request.header("content-type"));
  BodyFormat format;
  IngestProtocol protocol;
  if (type == "application/x-protobuf" || type == "application/protobuf") {
    format = BodyFormat::Protobuf;
    protocol = IngestProtocol::HttpProtobuf;
  } else if (type == "application/json") {
    format = BodyFormat::Json;
    protocol = IngestProtocol::HttpJson;
  } else {
    HttpResponse r = text_error_response(
        {StatusCode::InvalidArgument, "unsupported content type \"" + std::string(request.header("content-type")) +
                                          "\": send application/x-protobuf or application/json"});
    r.status = 415;
    reply(std::move(r));
    return;
  }

  std::string decoded_body;
  std::string_view body = request.body;
  std::string encoding = lowercase(request.header("content-encoding"));
  if (encoding == "gzip") {
    auto inflated = gzip_decompress(body, services_of(shard_).config.http_max_body_bytes);
    if (!inflated.ok()) {
      reply(otlp_http_error(format, inflated.status()));
      return;
    }
    decoded_body = std::move(inflated).value();
    body = decoded_body;
  } else if (!encoding.empty() && encoding != "identity") {
    HttpResponse r = otlp_http_error(
        format, invalid_argument("unsupported Content-Encoding \"" + encoding + "\": use gzip or identity"));
    r.status = 415;
    reply(std::move(r));
    return;
  }

  std::string from_json;
  if (format == BodyFormat::Json) {
    auto converted = otlp_json_to_protobuf(body);
    if (!converted.ok()) {
      reply(otlp_http_error(format, converted.status()));
      return;
    }
    from_json = std::move(converted).value();
    body = from_json;
  }

  ingest(body, protocol, [format, reply](const IngestOutcome& out) {
    if (!out.status.is_ok()) {
      reply(otlp_http_error(format, out.status));
      return;
    }
    reply(otlp_http_response(format, 200,
                             format == BodyFormat::Json
                                 ? export_response_json(out.rejected, out.reject_message)
                                 : encode_export_response(out.rejected, out.reject_message)));
  });
}

}  // namespace spindle
