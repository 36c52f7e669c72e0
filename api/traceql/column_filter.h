#pragma once
// QueryColumnFilter: the part of a TraceQL query that search columns (storage/search_columns.h) can judge, so a
// block scan decodes only traces that may match.
//
// Two layers, both conservative ("cannot match" only when certain):
//   - a per-span condition for every spanset filter `{ ... }`: comparisons of span name, status, kind and
//     duration, of `resource.service.name` and of `span.http.method` (or `.http.method`) with literals,
//     combined by `&&`, `||`, `!`. Anything else (other attributes, parent., arithmetic, nil) is "maybe". A
//     scoped attribute that is absent is nil, which no comparison with a string satisfies.
//     It is judged in three-valued logic (no / yes / maybe) on a span's columns, on a page's summary (status and
//     kind masks, duration range, which dictionary values occur) and on a block's.
//   - what the query needs of a trace: a spanset filter needs some span whose condition is not "no"; `&&`, the
//     structural operators and their union forms need both sides; `||` needs either; the negated structural
//     operators need their right side; a pipeline needs its first stage. Anything else needs nothing.
// String conditions are judged once per block dictionary value (for page summaries) and once per page dictionary
// value (for spans), so a page or a span costs table lookups, not string compares.
// Regexes are RE2 full matches compiled with make_traceql_regex, exactly as the evaluator judges them.
//
// Thread safety: immutable once built; shared by every shard's scans.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/traceql/ast.h"
#include "storage/search_columns.h"

namespace re2 {
class RE2;
}

namespace spindle {

class QueryColumnFilter final : public ColumnFilter {
 public:
  // Null when the query needs nothing the columns can rule out (e.g. `{}` or only other attributes).
  static std::shared_ptr<const QueryColumnFilter> build(const Query& query);
  ~QueryColumnFilter() override;

  std::unique_ptr<ColumnBlockFilter> for_block(const ColumnBlockSummary& summary) const override;

  // Three-valued answers.
  enum class Tri : uint8_t { No = 0, Yes = 1, Maybe = 2 };

  // Span condition nodes, in a flat vector; children refer to earlier nodes.
  struct Cond {
    enum class Kind : uint8_t { Yes, No, Maybe, And, Or, Not, String, StatusIn, KindIn, Duration };
    Kind kind = Kind::Maybe;
    uint32_t a = 0, b = 0;  // And/Or: children; Not: child
    StringColumn column = StringColumn::Service;
    Op op = Op::Eq;               // String: Eq, Neq, Regex, NotRegex; Duration: Eq..Gte
    std::string value;            // String
    std::shared_ptr<re2::RE2> re;  // String with Regex/NotRegex
    bool absent_is_no = false;     // String: absent means nil (scoped); unscoped may find it elsewhere
    uint8_t mask = 0;             // StatusIn / KindIn: accepted values
    int64_t ns = 0;               // Duration
  };
  // Trace needs.
  struct Need {
    enum class Kind : uint8_t { Nothing, Exists, All, Any };
    Kind kind = Kind::Nothing;
    uint32_t cond = 0;  // Exists: root of its span condition
    uint32_t a = 0, b = 0;
  };

 private:
  QueryColumnFilter() = default;
  friend class ColumnFilterBuilder;
  friend class QueryBlockFilter;

  // Per condition, per block dictionary id: 1 if the value satisfies it (String conditions only).
  using DictVerdicts = std::vector<std::vector<uint8_t>>;
  // Page-level and block-level judgement of a condition: No = no span there satisfies it, Yes = every span does.
  struct Summary {
    uint64_t min_duration = 0, max_duration = 0;
    uint8_t status_mask = 0, kind_mask = 0;
    const ColumnValueSet* values = nullptr;  // kStringColumns of them
    bool all_dict_values = false;            // block level: every dictionary value occurs
    const DictVerdicts* verdicts = nullptr;
    bool empty = false;  // no span at all
  };
  Tri judge_summary(uint32_t cond, const Summary& s) const;
  bool need_summary(uint32_t need, const Summary& s) const;
  // Per span, with string conditions pre-judged for this page's dictionaries.
  Tri judge_span(uint32_t cond, const SpanColumns& span, const std::vector<std::vector<uint8_t>>& strings) const;
  bool need_row(uint32_t need, const ColumnPage& page, const ColumnPage::Row& row,
                const std::vector<std::vector<uint8_t>>& strings) const;
  bool string_matches(const Cond& c, std::string_view v) const;
  bool can_rule_out(uint32_t need) const;
  void match_rows(const ColumnPage& page, std::vector<uint8_t>& candidates) const;

  std::vector<Cond> conds_;
  std::vector<Need> needs_;
  uint32_t root_ = 0;
};

}  // namespace spindle
