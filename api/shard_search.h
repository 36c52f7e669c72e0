#pragma once
// The shard side of search and tag lookups: scan this shard's traces (storage/trace_scan.h), decode each piece
// into a TraceModel, evaluate, and answer the receiving shard once with this shard's results.
//
// Jobs are built once by the receiving shard and shared read-only with every shard (shared_ptr<const ...>): the
// compiled query and everything else in them is immutable, except SearchJob::cancelled.
//
// Threading: run_* are called on the target shard's thread (inside a submit_async fn) and reply there.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "api/legacy_tag_search.h"
#include "api/search_params.h"
#include "api/search_response.h"
#include "api/tag_collector.h"
#include "api/traceql/column_filter.h"
#include "api/traceql/evaluator.h"
#include "shards/work_item.h"

namespace spindle {

class TraceStore;

struct SearchJob {
  std::shared_ptr<const CompiledQuery> query;  // TraceQL search; null = legacy tag search
  std::shared_ptr<const QueryColumnFilter> columns;  // what blocks' search columns can rule out; may be null
  std::optional<LegacyTagSearch> legacy;
  uint32_t limit = kDefaultSearchLimit;
  uint32_t spss = kDefaultSpansPerSpanSet;
  bool most_recent = false;  // with(most_recent=true): keep the latest traces instead of the first found
  SearchWindow window;
  uint64_t min_block_created_ns = 0;  // recent-only searches skip older blocks
  // The one variable shared across shards: the receiving shard sets it once it has `limit` traces (or has
  // answered); scanning shards poll it before every trace and stop early. It guards no other data, so relaxed
  // ordering is enough.
  mutable std::atomic<bool> cancelled{false};
};

struct ShardSearchResult {
  std::vector<SearchTrace> traces;
  SearchMetrics metrics;
};

void run_shard_search(TraceStore& store, std::shared_ptr<const SearchJob> job, Reply<ShardSearchResult> reply);

struct TagJob {
  enum class Kind : uint8_t { Names, Values };
  Kind kind = Kind::Names;
  uint32_t wanted_scopes = kAllTagScopes;  // Names
  AttributeRef tag;                        // Values
  size_t limit = kMaxTagEntries;           // per scope (names) or in total (values)
  uint32_t max_stale = 0;                  // stop after this many known names/values in a row (0 = off)
  std::shared_ptr<const CompiledQuery> filter;  // from `q`; null = every span
  std::shared_ptr<const QueryColumnFilter> columns;  // from `filter`; may be null
  SearchWindow window;
  uint64_t min_block_created_ns = 0;
};

struct ShardTagResult {
  TagNames names;
  TagValueSet values;
  TagMetrics metrics;
};

void run_shard_tags(TraceStore& store, std::shared_ptr<const TagJob> job, Reply<ShardTagResult> reply);

// The tag endpoints' `q` (tempo-api.md 2.6): parsed leniently, only its first spanset filter kept. Null (no
// filtering) when q is empty, unparsable, `{}`, starts with a spanset or structural operation, or fails
// validation. InvalidArgument "maximum condition groups reached" when the filter's `||` would expand into more
// than kMaxConditionGroups groups of `&&`-joined conditions (Tempo's limit, a 400 there too).
inline constexpr uint64_t kMaxConditionGroups = 100;
Result<std::shared_ptr<const CompiledQuery>> compile_tag_filter(std::string_view q);

}  // namespace spindle
