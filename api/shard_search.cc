#include "api/shard_search.h"

#include <algorithm>
#include <utility>

#include "api/traceql/parser.h"
#include "storage/trace_scan.h"
#include "storage/trace_store.h"

namespace spindle {
namespace {

TraceScanOptions scan_options(const SearchWindow& window, uint64_t min_block_created_ns) {
  TraceScanOptions o;
  if (!window.recent_only()) {
    o.start_ns = window.start_ns();
    o.end_ns = window.end_ns();
  }
  o.min_block_created_ns = min_block_created_ns;
  return o;
}

class SearchScanSink final : public TraceScanSink {
 public:
  SearchScanSink(std::shared_ptr<const SearchJob> job, Reply<ShardSearchResult> reply)
      : job_(std::move(job)), reply_(std::move(reply)), combiner_(job_->limit, job_->most_recent) {}

  bool visit(const TraceId& id, std::string_view trace) override {
    if (!build_trace_model(id, trace, model_).is_ok()) return true;  // a malformed piece: skip it
    spans_ += model_.spans.size();
    if (!job_->window.overlaps(model_.start_ns, model_.end_ns)) return true;
    if (job_->query) {
      std::vector<SpansetResult> spansets = job_->query->evaluate(model_);
      if (spansets.empty()) return true;
      combiner_.add(make_search_trace(model_, spansets, job_->query->span_attributes(), &CompiledQuery::value_of,
                                      job_->spss));
    } else if (job_->legacy && job_->legacy->matches(model_)) {
      combiner_.add(make_search_trace(model_, {}, {}, nullptr, job_->spss));
    }
    return !combiner_.full();
  }

  Control control() override {
    return job_->cancelled.load(std::memory_order_relaxed) ? Control::Stop : Control::Continue;
  }

  const ColumnFilter* column_filter() const override { return job_->columns.get(); }

  void done(const TraceScanStats& stats) override {
    ShardSearchResult r;
    r.traces = combiner_.take();
    r.metrics.inspected_traces = stats.traces;
    r.metrics.inspected_bytes = stats.bytes + stats.column_bytes;
    r.metrics.inspected_spans = spans_;
    r.metrics.total_blocks = stats.blocks;
    r.metrics.total_block_bytes = stats.block_bytes;
    reply_.reply(std::move(r));
  }

 private:
  std::shared_ptr<const SearchJob> job_;
  Reply<ShardSearchResult> reply_;
  SearchCombiner combiner_;
  TraceModel model_;
  uint64_t spans_ = 0;
};

class TagScanSink final : public TraceScanSink {
 public:
  TagScanSink(std::shared_ptr<const TagJob> job, Reply<ShardTagResult> reply)
      : job_(std::move(job)),
        reply_(std::move(reply)),
        result_{TagNames(job_->wanted_scopes, job_->limit), TagValueSet(job_->limit), TagMetrics{}} {}

  bool visit(const TraceId& id, std::string_view trace) override {
    if (!build_trace_model(id, trace, model_).is_ok()) return true;
    if (!job_->window.overlaps(model_.start_ns, model_.end_ns)) return true;
    const std::vector<uint8_t>* mask = nullptr;
    if (job_->filter) {
      std::vector<SpansetResult> spansets = job_->filter->evaluate(model_);
      if (spansets.empty()) return true;
      mask_.assign(model_.spans.size(), 0);
      for (const SpansetResult& ss : spansets) {
        for (uint32_t i : ss.spans) {
          if (i < mask_.size()) mask_[i] = 1;
        }
      }
      mask = &mask_;
    }
    if (job_->kind == TagJob::Kind::Names) {
      collect_tag_names(model_, mask, result_.names);
      if (result_.names.full()) return false;
      return job_->max_stale == 0 || result_.names.stale_run < job_->max_stale;
    }
    collect_tag_values(model_, mask, job_->tag, result_.values);
    if (result_.values.full()) return false;
    return job_->max_stale == 0 || result_.values.stale_run() < job_->max_stale;
  }

  const ColumnFilter* column_filter() const override { return job_->columns.get(); }

  void done(const TraceScanStats& stats) override {
    result_.metrics.inspected_bytes = stats.bytes;
    result_.metrics.total_blocks = stats.blocks;
    result_.metrics.total_block_bytes = stats.block_bytes;
    reply_.reply(std::move(result_));
  }

 private:
  std::shared_ptr<const TagJob> job_;
  Reply<ShardTagResult> reply_;
  ShardTagResult result_;
  TraceModel model_;
  std::vector<uint8_t> mask_;
};

}  // namespace

void run_shard_search(TraceStore& store, std::shared_ptr<const SearchJob> job, Reply<ShardSearchResult> reply) {
  TraceScanOptions options = scan_options(job->window, job->min_block_created_ns);
  TraceScan::start(store, options, std::make_unique<SearchScanSink>(std::move(job), std::move(reply)));
}

void run_shard_tags(TraceStore& store, std::shared_ptr<const TagJob> job, Reply<ShardTagResult> reply) {
  TraceScanOptions options = scan_options(job->window, job->min_block_created_ns);
  TraceScan::start(store, options, std::make_unique<TagScanSink>(std::move(job), std::move(reply)));
}

namespace {

// How many `&&`-joined condition groups `e` expands into when its `||`s are distributed (saturating just past
// the limit, so deep trees cannot overflow).
uint64_t condition_groups(const FieldExpr& e) {
  if (e.kind != FieldExpr::Kind::Binary || !e.lhs || !e.rhs) return 1;
  if (e.op == Op::Or) return std::min(condition_groups(*e.lhs) + condition_groups(*e.rhs), kMaxConditionGroups + 1);
  if (e.op == Op::And) return std::min(condition_groups(*e.lhs) * condition_groups(*e.rhs), kMaxConditionGroups + 1);
  return 1;
}

}  // namespace

Result<std::shared_ptr<const CompiledQuery>> compile_tag_filter(std::string_view q) {
  using Filter = std::shared_ptr<const CompiledQuery>;
  if (q.find_first_not_of(" \t\r\n") == std::string_view::npos) return Filter();
  auto parsed = parse_traceql_lenient(q);
  if (!parsed.ok()) return Filter();
  Query& full = *parsed;
  if (full.pipeline.stages.empty()) return Filter();
  Stage& first = full.pipeline.stages[0];
  if (first.kind != Stage::Kind::Spanset || !first.spanset || first.spanset->kind != SpansetExpr::Kind::Filter ||
      !first.spanset->filter) {
    return Filter();
  }
  const FieldExpr& f = *first.spanset->filter;
  if (f.kind == FieldExpr::Kind::Static && f.value == Static::boolean(true)) return Filter();  // `{}`
  if (condition_groups(f) > kMaxConditionGroups) return invalid_argument("maximum condition groups reached");
  Query only;
  only.pipeline.stages.push_back(std::move(first));
  auto compiled = CompiledQuery::compile(std::move(only));
  if (!compiled.ok()) return Filter();
  return Filter(std::move(compiled).value());
}

}  // namespace spindle
