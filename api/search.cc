#include "api/search.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <utility>

#include "api/shard_services.h"
#include "api/status_mapping.h"
#include "api/traceql/parser.h"
#include "core/wall_clock.h"

namespace spindle {
namespace {

HttpResponse json_response(std::string body) {
  HttpResponse r;
  r.headers.push_back({"content-type", "application/json"});
  r.body = std::move(body);
  return r;
}

uint64_t min_block_created(const SearchWindow& window, uint64_t now_ns) {
  if (!window.recent_only() || now_ns < kRecentBlockWindowNs) return 0;
  return now_ns - kRecentBlockWindowNs;
}

bool is_blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

// One search in progress on the receiving shard. Shared by the completion callbacks of every shard's request;
// lives until the last of them ran (late replies after the answer are merged into nothing).
struct SearchCoordinator : std::enable_shared_from_this<SearchCoordinator> {
  std::shared_ptr<const SearchJob> job;
  std::unique_ptr<SearchResultSink> sink;
  SearchCombiner combiner;
  SearchMetrics metrics;
  uint32_t pending = 0;
  bool finished = false;
  // Polls sink->client_gone() while the search runs. Its data is a weak_ptr: the timer never keeps the
  // coordinator alive, and is closed (and freed) when the search ends.
  uv_timer_t* watch = nullptr;

  SearchCoordinator(std::shared_ptr<const SearchJob> j, std::unique_ptr<SearchResultSink> s)
      : job(std::move(j)), sink(std::move(s)), combiner(job->limit, job->most_recent) {}

  void start_watch(uv_loop_t* loop) {
    watch = new uv_timer_t;
    uv_timer_init(loop, watch);
    watch->data = new std::weak_ptr<SearchCoordinator>(weak_from_this());
    uv_timer_start(watch, on_watch, kClientPollMs, kClientPollMs);
  }

  static void on_watch(uv_timer_t* timer) {
    auto c = static_cast<std::weak_ptr<SearchCoordinator>*>(timer->data)->lock();
    if (c && !c->finished && c->sink->client_gone()) c->abandon();
  }

  void stop_watch() {
    if (watch == nullptr) return;
    uv_timer_stop(watch);
    uv_close(reinterpret_cast<uv_handle_t*>(watch), [](uv_handle_t* h) {
      delete static_cast<std::weak_ptr<SearchCoordinator>*>(h->data);
      delete reinterpret_cast<uv_timer_t*>(h);
    });
    watch = nullptr;
  }

  // The client left: stop the shards and tell the sink.
  void abandon() {
    finished = true;
    job->cancelled.store(true, std::memory_order_relaxed);
    sink->abandoned();
    sink.reset();
    stop_watch();
  }

  void on_reply(ShardSearchResult r) {
    --pending;
    if (finished) return;
    metrics.add(r.metrics);
    ++metrics.completed_jobs;
    for (SearchTrace& t : r.traces) combiner.add(std::move(t));
    if (combiner.full() || pending == 0) {
      finish();
      return;
    }
    sink->partial(combiner, metrics);
  }

  void finish() {
    finished = true;
    stop_watch();
    // Tell the shards still scanning that they can stop.
    job->cancelled.store(true, std::memory_order_relaxed);
    sink->final(combiner.take(), metrics);
    sink.reset();
  }
};

class HttpSearchSink final : public SearchResultSink {
 public:
  HttpSearchSink(RespondFn respond, std::function<bool()> gone)
      : respond_(std::move(respond)), gone_(std::move(gone)) {}
  void final(std::vector<SearchTrace> traces, const SearchMetrics& metrics) override {
    respond_(json_response(encode_search_response(traces, metrics)));
  }
  bool client_gone() const override { return gone_ && gone_(); }
  // 499 as nginx and Tempo log it: counted in spindle_requests_total; a half-closed client even receives it.
  void abandoned() override { respond_(text_error_response(Status(StatusCode::Cancelled, "client closed the request"))); }

 private:
  RespondFn respond_;
  std::function<bool()> gone_;
};

// Runs `job` on every shard and hands all their results to `done`, in shard order.
void fan_out_tags(Shard& shard, std::shared_ptr<const TagJob> job,
                  std::function<void(std::vector<ShardTagResult>&&)> done) {
  struct Gather {
    std::vector<std::optional<ShardTagResult>> results;
    uint32_t pending = 0;
    std::function<void(std::vector<ShardTagResult>&&)> done;
  };
  auto gather = std::make_shared<Gather>();
  gather->results.resize(shard.count());
  gather->pending = shard.count();
  gather->done = std::move(done);
  for (uint32_t s = 0; s < shard.count(); ++s) {
    shard.submit_async<ShardTagResult>(
        s,
        [job](Shard& target, Reply<ShardTagResult> reply) {
          ShardServices& svc = services_of(target);
          if (!svc.store_open) {
            reply.reply(ShardTagResult{TagNames(job->wanted_scopes, job->limit), TagValueSet(job->limit), {}});
            return;
          }
          run_shard_tags(svc.store, job, std::move(reply));
        },
        [gather, s](ShardTagResult r) {
          gather->results[s].emplace(std::move(r));
          if (--gather->pending != 0) return;
          std::vector<ShardTagResult> all;
          all.reserve(gather->results.size());
          for (auto& o : gather->results) all.push_back(std::move(*o));
          gather->done(std::move(all));
        });
  }
}

TagMetrics sum_metrics(const std::vector<ShardTagResult>& results) {
  TagMetrics m;
  for (const ShardTagResult& r : results) m.add(r.metrics);
  m.total_jobs = m.completed_jobs = static_cast<uint32_t>(results.size());
  return m;
}

}  // namespace

void start_search(Shard& shard, std::shared_ptr<const SearchJob> job, std::unique_ptr<SearchResultSink> sink) {
  auto c = std::make_shared<SearchCoordinator>(job, std::move(sink));
  c->start_watch(shard.loop());
  c->pending = shard.count();
  c->metrics.total_jobs = shard.count();
  for (uint32_t s = 0; s < shard.count(); ++s) {
    shard.submit_async<ShardSearchResult>(
        s,
        [job](Shard& target, Reply<ShardSearchResult> reply) {
          ShardServices& svc = services_of(target);
          if (!svc.store_open || job->cancelled.load(std::memory_order_relaxed)) {
            reply.reply(ShardSearchResult{});
            return;
          }
          run_shard_search(svc.store, job, std::move(reply));
        },
        [c](ShardSearchResult r) { c->on_reply(std::move(r)); });
  }
}

Result<std::shared_ptr<SearchJob>> make_search_job(const SearchParams& params, uint64_t wall_now) {
  auto job = std::make_shared<SearchJob>();
  job->limit = params.limit;
  job->spss = params.spss;
  job->window = params.window;
  job->min_block_created_ns = min_block_created(params.window, wall_now);
  if (params.has_query && !is_blank(params.query)) {
    auto parsed = parse_traceql(params.query);
    if (!parsed.ok()) return invalid_argument("invalid TraceQL query: " + parsed.status().message());
    auto compiled = CompiledQuery::compile(std::move(parsed).value());
    if (!compiled.ok()) return invalid_argument("invalid TraceQL query: " + compiled.status().message());
    job->query = std::move(compiled).value();
    job->columns = QueryColumnFilter::build(job->query->query());
    for (const Hint& h : job->query->query().hints) {
      if (h.name == "most_recent" && h.value.type == StaticType::Bool) job->most_recent = h.value.int_value != 0;
    }
  } else {
    // No query: Tempo's legacy search (tags, durations), which with neither matches every trace in range.
    job->legacy.emplace(params.tags, params.min_duration_ms, params.max_duration_ms);
  }
  return job;
}

void handle_search(Shard& shard, const HttpRequest& request, RespondFn respond, std::function<bool()> client_gone) {
  auto params = parse_search_params(request.query);
  if (!params.ok()) {
    respond(text_error_response(params.status()));
    return;
  }
  auto job = make_search_job(*params, wall_now_ns());
  if (!job.ok()) {
    respond(text_error_response(job.status()));
    return;
  }
  start_search(shard, std::move(job).value(),
               std::make_unique<HttpSearchSink>(std::move(respond), std::move(client_gone)));
}

void handle_search_tags(Shard& shard, const HttpRequest& request, bool v2, RespondFn respond) {
  auto params = parse_tags_params(request.query, v2);
  if (!params.ok()) {
    respond(text_error_response(params.status()));
    return;
  }
  uint32_t wanted = 0;
  switch (params->scope) {
    case TagScopeParam::All:
      // v1 without a scope lists resource and span names; v2 every scope plus the intrinsic list.
      wanted = v2 ? kAllTagScopes : tag_scope_bit(TagScope::Resource) | tag_scope_bit(TagScope::Span);
      break;
    case TagScopeParam::Resource:
      wanted = tag_scope_bit(TagScope::Resource);
      break;
    case TagScopeParam::Span:
      wanted = tag_scope_bit(TagScope::Span);
      break;
    case TagScopeParam::Event:
      wanted = tag_scope_bit(TagScope::Event);
      break;
    case TagScopeParam::Link:
      wanted = tag_scope_bit(TagScope::Link);
      break;
    case TagScopeParam::Instrumentation:
      wanted = tag_scope_bit(TagScope::Instrumentation);
      break;
    case TagScopeParam::Intrinsic:
      break;
  }
  const bool with_intrinsic = params->scope == TagScopeParam::Intrinsic || (v2 && params->scope == TagScopeParam::All);
  if (wanted == 0) {
    // The intrinsic list is static: no data to look at.
    TagNames none(0);
    TagMetrics m;
    respond(json_response(v2 ? encode_tag_names_v2(none, true, m) : encode_tag_names_v1(none, true, m)));
    return;
  }
  auto job = std::make_shared<TagJob>();
  job->kind = TagJob::Kind::Names;
  job->wanted_scopes = wanted;
  job->limit = params->limit == 0 ? kMaxTagEntries : std::min<size_t>(params->limit, kMaxTagEntries);
  job->max_stale = params->max_stale;
  if (v2) {
    auto filter = compile_tag_filter(params->query);
    if (!filter.ok()) {
      respond(text_error_response(filter.status()));
      return;
    }
    job->filter = std::move(filter).value();
  }
  if (job->filter) job->columns = QueryColumnFilter::build(job->filter->query());
  job->window = params->window;
  job->min_block_created_ns = min_block_created(params->window, wall_now_ns());
  fan_out_tags(shard, job,
               [job, v2, with_intrinsic, respond = std::move(respond)](std::vector<ShardTagResult>&& results) {
                 TagNames names(job->wanted_scopes, job->limit);
                 for (const ShardTagResult& r : results) names.merge(r.names);
                 TagMetrics m = sum_metrics(results);
                 respond(json_response(v2 ? encode_tag_names_v2(names, with_intrinsic, m)
                                          : encode_tag_names_v1(names, false, m)));
               });
}

void handle_search_tag_values(Shard& shard, const HttpRequest& request, std::string_view tag, bool v2,
                              RespondFn respond) {
  auto params = parse_tag_values_params(tag, request.query, v2);
  if (!params.ok()) {
    respond(text_error_response(params.status()));
    return;
  }
  auto job = std::make_shared<TagJob>();
  job->kind = TagJob::Kind::Values;
  if (v2) {
    auto ref = parse_traceql_identifier(params->tag);
    if (!ref.ok()) {  // parse_tag_values_params checked it already
      respond(text_error_response(invalid_argument("please provide a valid tagName: " + ref.status().message())));
      return;
    }
    if (auto fixed = virtual_tag_values_v2(*ref)) {
      respond(json_response(encode_tag_values_v2(*fixed, TagMetrics{})));
      return;
    }
    job->tag = std::move(ref).value();
    auto filter = compile_tag_filter(params->query);
    if (!filter.ok()) {
      respond(text_error_response(filter.status()));
      return;
    }
    job->filter = std::move(filter).value();
    if (job->filter) job->columns = QueryColumnFilter::build(job->filter->query());
  } else {
    if (auto fixed = virtual_tag_values_v1(params->tag)) {
      respond(json_response(encode_tag_values_v1(*fixed, TagMetrics{})));
      return;
    }
    job->tag = v1_tag_attribute(params->tag);
  }
  job->limit = params->limit == 0 ? kMaxTagEntries : std::min<size_t>(params->limit, kMaxTagEntries);
  job->max_stale = params->max_stale;
  job->window = params->window;
  job->min_block_created_ns = min_block_created(params->window, wall_now_ns());
  fan_out_tags(shard, job, [job, v2, respond = std::move(respond)](std::vector<ShardTagResult>&& results) {
    TagValueSet values(job->limit);
    for (const ShardTagResult& r : results) values.merge(r.values);
    TagMetrics m = sum_metrics(results);
    if (v2) {
      std::vector<TagValue> list(values.values().begin(), values.values().end());
      respond(json_response(encode_tag_values_v2(list, m)));
      return;
    }
    // v1 lists texts only: values equal as text but of different types are one entry.
    std::set<std::string> texts;
    for (const TagValue& v : values.values()) texts.insert(v.value);
    respond(json_response(encode_tag_values_v1(std::vector<std::string>(texts.begin(), texts.end()), m)));
  });
}

}  // namespace spindle
