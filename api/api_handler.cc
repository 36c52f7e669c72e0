#include "api/api_handler.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/metrics_text.h"
#include "api/search.h"
#include "api/search_grpc.h"
#include "api/query_params.h"
#include "api/build_info.h"
#include "api/shard_services.h"
#include "api/status_mapping.h"
#include "core/trace_id.h"
#include "proto/otlp_json_encoder.h"
#include "proto/wire.h"

namespace spindle {
namespace {

constexpr std::string_view kExportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

HttpResponse text_response(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers.push_back({"content-type", "text/plain; charset=utf-8"});
  r.body = std::move(body);
  return r;
}

HttpResponse body_response(std::string_view content_type, std::string body) {
  HttpResponse r;
  r.headers.push_back({"content-type", std::string(content_type)});
  r.body = std::move(body);
  return r;
}

// Tempo's MarshalingFormatFromAcceptHeader: protobuf only when asked for by name; JSON otherwise.
bool wants_protobuf(std::string_view accept) { return accept.find("application/protobuf") != std::string_view::npos; }

struct TimeRange {
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;  // 0 = unbounded
};

// start/end (unix seconds) are optional; when both are given end must come after start (Tempo's check).
Result<TimeRange> parse_time_range(const QueryParams& params) {
  auto start = params.get("start");
  auto end = params.get("end");
  int64_t values[2] = {0, 0};
  const std::optional<std::string>* texts[2] = {&start, &end};
  const char* names[2] = {"start", "end"};
  for (int i = 0; i < 2; ++i) {
    if (!texts[i]->has_value() || (*texts[i])->empty()) continue;
    size_t used = 0;
    try {
      values[i] = std::stoll(**texts[i], &used);
    } catch (...) {
      used = 0;
    }
    if (used != (*texts[i])->size()) {
      return invalid_argument(std::string("invalid ") + names[i] + ": \"" + **texts[i] +
                              "\" is not a unix time in seconds");
    }
  }
  if (start && end && !start->empty() && !end->empty() && values[1] <= values[0]) {
    return invalid_argument("http parameter start must be before end. received start=" + *start + " end=" + *end);
  }
  static constexpr int64_t kMaxSeconds = INT64_MAX / 1000000000;
  auto to_ns = [](int64_t s) { return s <= 0 ? uint64_t{0} : uint64_t(std::min(s, kMaxSeconds)) * 1000000000; };
  // end is a whole second: a block whose spans end within that second still overlaps it.
  uint64_t end_ns = values[1] <= 0 ? 0 : to_ns(values[1]) + 999999999;
  return TimeRange{to_ns(values[0]), end_ns};
}

// `<prefix>{tag}/values` -> the raw tag segment (which may itself contain '/').
std::optional<std::string_view> tag_values_path(std::string_view path, std::string_view prefix) {
  constexpr std::string_view kSuffix = "/values";
  if (path.size() < prefix.size() + kSuffix.size() || !path.starts_with(prefix) || !path.ends_with(kSuffix)) {
    return std::nullopt;
  }
  return path.substr(prefix.size(), path.size() - prefix.size() - kSuffix.size());
}

std::string buildinfo_json() {
  return std::string("{\"version\":\"") + kVersion + "\",\"revision\":\"" + kRevision +
         "\",\"branch\":\"main\",\"buildUser\":\"\",\"buildDate\":\"\",\"goVersion\":\"\"}";
}

}  // namespace

void ApiHandler::reply(std::string_view route, const Responder& responder, HttpResponse response) {
  services_of(shard_).metrics.count_request(std::string(route), std::to_string(response.status));
  responder.respond(std::move(response));
}

std::function<void(HttpResponse)> ApiHandler::replier(std::string_view route, Responder responder) {
  return [this, route, responder = std::move(responder)](HttpResponse response) {
    reply(route, responder, std::move(response));
  };
}

void ApiHandler::on_grpc(GrpcRequest&& request, Responder responder) {
  if (port_ == Port::OtlpGrpc && request.method == kExportMethod) {
    ingest_.export_grpc(std::move(request), std::move(responder));
    return;
  }
  if (port_ == Port::Query && request.method == kStreamingSearchMethod) {
    handle_search_grpc(shard_, request, std::move(responder));
    return;
  }
  services_of(shard_).metrics.count_request("grpc_unknown", "UNIMPLEMENTED");
  responder.grpc_finish(unimplemented("unknown method " + request.method));
}

void ApiHandler::on_http(HttpRequest&& request, Responder responder) {
  const std::string& path = request.path;
  if (port_ == Port::OtlpHttp) {
    if (path == "/v1/traces") {
      ingest_.export_http(std::move(request), std::move(responder));
    } else {
      reply("not_found", responder,
            text_response(404, "404 page not found: OTLP/HTTP traces are received at POST /v1/traces\n"));
    }
    return;
  }
  if (port_ == Port::OtlpGrpc) {
    reply("not_found", responder,
          text_response(404, "this port speaks OTLP/gRPC only; send OTLP/HTTP to the HTTP receiver\n"));
    return;
  }
  if (request.method != "GET") {
    HttpResponse r = text_response(405, "method " + request.method + " not allowed\n");
    r.headers.push_back({"allow", "GET"});
    reply("method_not_allowed", responder, std::move(r));
    return;
  }
  constexpr std::string_view kV1 = "/api/traces/";
  constexpr std::string_view kV2 = "/api/v2/traces/";
  if (path.starts_with(kV2)) {
    trace_by_id(request, std::string_view(path).substr(kV2.size()), true, std::move(responder));
  } else if (path.starts_with(kV1)) {
    trace_by_id(request, std::string_view(path).substr(kV1.size()), false, std::move(responder));
  } else if (path == "/api/echo") {
    reply("echo", responder, text_response(200, "echo\n"));
  } else if (path == "/ready") {
    bool ready = services_of(shard_).ready.load(std::memory_order_acquire);
    reply("ready", responder,
          ready ? text_response(200, "ready\n") : text_response(503, "not ready: shards are starting or stopping\n"));
  } else if (path == "/api/status/buildinfo") {
    reply("buildinfo", responder, body_response("application/json", buildinfo_json()));
  } else if (path == "/metrics") {
    metrics(std::move(responder));
  } else if (path == "/api/search") {
    handle_search(shard_, request, replier("search", responder), [responder] { return responder.peer_gone(); });
  } else if (path == "/api/search/tags") {
    handle_search_tags(shard_, request, false, replier("search_tags", std::move(responder)));
  } else if (path == "/api/v2/search/tags") {
    handle_search_tags(shard_, request, true, replier("search_tags_v2", std::move(responder)));
  } else if (auto tag = tag_values_path(path, "/api/search/tag/")) {
    handle_search_tag_values(shard_, request, *tag, false, replier("search_tag_values", std::move(responder)));
  } else if (auto tag2 = tag_values_path(path, "/api/v2/search/tag/")) {
    handle_search_tag_values(shard_, request, *tag2, true, replier("search_tag_values_v2", std::move(responder)));
  } else {
    reply("not_found", responder, text_response(404, "404 page not found\n"));
  }
}

void ApiHandler::trace_by_id(const HttpRequest& request, std::string_view id_text, bool v2, Responder responder) {
  const char* route = v2 ? "trace_by_id_v2" : "trace_by_id";
  auto id = TraceId::parse_hex(id_text);
  if (!id.ok()) {
    reply(route, responder, text_error_response(id.status()));
    return;
  }
  auto range = parse_time_range(QueryParams(request.query));
  if (!range.ok()) {
    reply(route, responder, text_error_response(range.status()));
    return;
  }
  bool protobuf = wants_protobuf(request.header("accept"));
  shard_.submit_to(
      shard_for(*id, shard_.count()),
      [id = *id, range = *range](Shard& owner) {
        return services_of(owner).store.find_trace(id, range.start_ns, range.end_ns);
      },
      [this, v2, protobuf, route, responder](Result<std::optional<std::string>> found) {
        if (!found.ok()) {
          reply(route, responder, text_error_response(found.status()));
          return;
        }
        std::optional<std::string> trace = std::move(found).value();
        const char* type = protobuf ? "application/protobuf" : "application/json";
        if (!v2 && !trace) {
          HttpResponse r;  // Tempo's v1: 404 with an empty body
          r.status = 404;
          reply(route, responder, std::move(r));
          return;
        }
        std::string body;
        uint64_t inspected = trace ? trace->size() : 0;
        if (protobuf) {
          if (!v2) {
            reply(route, responder, body_response(type, std::move(*trace)));
            return;
          }
          // TraceByIDResponse: field 1 (trace) always present, even when empty: Grafana requires it.
          WireWriter w(body);
          w.put_len_field(1, trace ? std::string_view(*trace) : std::string_view());
          if (inspected != 0) {
            size_t m = w.begin_message(2);
            w.put_varint_field(1, inspected);
            w.end_message(m);
          }
        } else {
          if (v2) body = "{\"trace\":";
          if (trace) {
            Status s = append_trace_json(*trace, v2 ? "resourceSpans" : "batches", body);
            if (!s.is_ok()) {
              reply(route, responder, text_error_response(internal_error("encoding trace: " + s.message())));
              return;
            }
          } else {
            body += "{}";
          }
          if (v2) {
            body += inspected != 0 ? ",\"metrics\":{\"inspectedBytes\":\"" + std::to_string(inspected) + "\"}}"
                                   : ",\"metrics\":{}}";
          }
        }
        reply(route, responder, body_response(type, std::move(body)));
      });
}

void ApiHandler::metrics(Responder responder) {
  struct Gather {
    std::vector<ShardSnapshot> shards;
    uint32_t pending = 0;
  };
  auto gather = std::make_shared<Gather>();
  gather->shards.resize(shard_.count());
  gather->pending = shard_.count();
  for (uint32_t s = 0; s < shard_.count(); ++s) {
    shard_.submit_to(
        s, [](Shard& target) { return take_snapshot(target); },
        [this, gather, s, responder](ShardSnapshot snap) {
          gather->shards[s] = std::move(snap);
          if (--gather->pending == 0) {
            reply("metrics", responder,
                  body_response("text/plain; version=0.0.4; charset=utf-8", render_metrics(gather->shards)));
          }
        });
  }
}

}  // namespace spindle
