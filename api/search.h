#pragma once
// Tempo's search API over every shard (tempo-api.md 2.4-2.6): /api/search, /api/search/tags,
// /api/v2/search/tags, /api/search/tag/{tag}/values, /api/v2/search/tag/{tag}/values.
//
// Flow: the shard that received the request parses and validates the parameters, parses and compiles the
// query once, and fans a shared, immutable job out to every shard (itself included) with submit_async. Each
// shard scans its head and blocks in slices (api/shard_search.h) and replies once. The receiving shard merges
// the replies as they come; a search answers as soon as `limit` traces are in, and sets the job's cancel flag so
// the other shards stop scanning (their late replies are dropped). Searches deliver through a SearchResultSink,
// so a streaming transport (gRPC StreamingQuerier.Search) can send a partial result per shard reply and the
// HTTP endpoint just the final one.
//
// Threading: called on the receiving shard's thread; sinks and `respond` run there too.
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "api/search_response.h"
#include "api/shard_search.h"
#include "core/status.h"
#include "net/http_message.h"
#include "shards/shard.h"

namespace spindle {

// Receives one search's results on the receiving shard.
class SearchResultSink {
 public:
  virtual ~SearchResultSink() = default;
  // After each shard's reply while the search is still running: everything combined so far (unsorted).
  // Streaming transports send this as a progress message; the default ignores it.
  virtual void partial(const SearchCombiner& combined, const SearchMetrics& metrics) {}
  // Exactly once, unless the client left first: the final traces (sorted, limited) and metrics.
  virtual void final(std::vector<SearchTrace> traces, const SearchMetrics& metrics) = 0;
  // Polled while the search runs: true once nobody waits for the answer any more. The search then stops every
  // shard and calls abandoned() instead of final().
  virtual bool client_gone() const { return false; }
  virtual void abandoned() {}
};

// Fans `job` out to every shard and delivers to `sink`. Every kClientPollMs the receiving shard asks the sink
// whether the client is still there.
inline constexpr uint64_t kClientPollMs = 20;
void start_search(Shard& shard, std::shared_ptr<const SearchJob> job, std::unique_ptr<SearchResultSink> sink);

// Builds the job of a TraceQL (or legacy tag) search from validated parameters; InvalidArgument with Tempo's
// "invalid TraceQL query: ..." text when the query does not parse or validate.
Result<std::shared_ptr<SearchJob>> make_search_job(const SearchParams& params, uint64_t wall_now_ns);

using RespondFn = std::function<void(HttpResponse)>;

// `client_gone` tells whether the client still waits (Responder::peer_gone).
void handle_search(Shard& shard, const HttpRequest& request, RespondFn respond, std::function<bool()> client_gone);
void handle_search_tags(Shard& shard, const HttpRequest& request, bool v2, RespondFn respond);
// `tag` is the raw path segment between /tag/ and /values.
void handle_search_tag_values(Shard& shard, const HttpRequest& request, std::string_view tag, bool v2,
                              RespondFn respond);

// Blocks newer than this (by creation time) count as "recent data" for requests without start/end, which
// Tempo answers from its ingesters only.
inline constexpr uint64_t kRecentBlockWindowNs = 3600ull * 1000000000ull;

}  // namespace spindle
