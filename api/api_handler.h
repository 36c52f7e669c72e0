#pragma once
// ApiHandler: the routes of one listening port on one shard.
//   OtlpGrpc (4317): gRPC TraceService/Export.
//   OtlpHttp (4318): POST /v1/traces.
//   Query    (3200): Tempo's query API (tempo-api.md): /api/traces/{id}, /api/v2/traces/{id}, /api/echo,
//                    /ready, /api/status/buildinfo, /metrics, and search (api/search.h): /api/search,
//                    /api/search/tags, /api/v2/search/tags, /api/search/tag/{tag}/values,
//                    /api/v2/search/tag/{tag}/values.
//                    gRPC (h2c) tempopb.StreamingQuerier/Search (api/search_grpc.h); other methods
//                    UNIMPLEMENTED.
// Trace-by-ID goes to the one shard that owns the ID; /metrics and searches fan out to every shard.
//
// Threading: one instance per (shard, port), called on that shard's thread.
#include <functional>
#include <string_view>

#include "api/ingest.h"
#include "net/http_message.h"
#include "shards/shard.h"

namespace spindle {

enum class Port { OtlpGrpc, OtlpHttp, Query };

class ApiHandler : public RequestHandler {
 public:
  ApiHandler(Shard& shard, Port port) : shard_(shard), port_(port), ingest_(shard) {}

  void on_http(HttpRequest&& request, Responder responder) override;
  void on_grpc(GrpcRequest&& request, Responder responder) override;

 private:
  void trace_by_id(const HttpRequest& request, std::string_view id, bool v2, Responder responder);
  void metrics(Responder responder);
  void reply(std::string_view route, const Responder& responder, HttpResponse response);
  // A callback that replies through reply() under `route` (for handlers in other files).
  std::function<void(HttpResponse)> replier(std::string_view route, Responder responder);

  Shard& shard_;
  Port port_;
  Ingest ingest_;
};

}  // namespace spindle
