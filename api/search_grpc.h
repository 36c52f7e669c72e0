#pragma once
// Tempo's gRPC search (tempo-api.md 3.1, 3.3): tempopb.StreamingQuerier/Search on the query port, as Grafana
// calls it with streaming on. The SearchRequest is decoded by hand (proto/wire.h), validated exactly like
// GET /api/search (it is turned into the same parameters), and run by the same coordinator (api/search.h).
// Replies are SearchResponse messages: a progress message (traces not sent before + cumulative metrics) at
// most every 500 ms while shards answer, then the final full result (split into packets of at most ~1 MiB,
// each repeating the metrics), then grpc-status OK. Grafana keeps the first copy of each traceID.
//
// Threading: called on the receiving shard's thread; the responder is used only there.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/search_params.h"
#include "api/search_response.h"
#include "core/result.h"
#include "net/http_message.h"
#include "shards/shard.h"

namespace spindle {

inline constexpr std::string_view kStreamingSearchMethod = "/tempopb.StreamingQuerier/Search";
inline constexpr std::string_view kStreamingQuerierPrefix = "/tempopb.StreamingQuerier/";

// SearchRequest (Tags 1, MinDurationMs 2, MaxDurationMs 3, Limit 4, start 5, end 6, Query 8,
// SpansPerSpanSet 9) -> the parameters GET /api/search would have produced, with its validation and messages.
// Malformed protobuf is InvalidArgument "invalid SearchRequest: ...".
Result<SearchParams> decode_search_request(std::string_view message);

// One SearchResponse message (traces 1, metrics 2), encoding the same SearchTrace values as the JSON answer.
std::string encode_search_response_proto(const std::vector<const SearchTrace*>& traces,
                                         const SearchMetrics& metrics);

// Answers one StreamingQuerier/Search call through `responder` (messages, then grpc_finish).
void handle_search_grpc(Shard& shard, const GrpcRequest& request, Responder responder);

}  // namespace spindle
