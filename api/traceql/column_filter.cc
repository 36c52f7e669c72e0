#include "api/traceql/column_filter.h"

#include <re2/re2.h>

#include <limits>

#include "api/traceql/evaluator.h"

namespace spindle {

using Tri = QueryColumnFilter::Tri;
using Cond = QueryColumnFilter::Cond;
using Need = QueryColumnFilter::Need;

namespace {

constexpr uint64_t kMaxExactDuration = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

Tri negate(Tri t) { return t == Tri::Yes ? Tri::No : t == Tri::No ? Tri::Yes : Tri::Maybe; }

Op mirror(Op op) {
  switch (op) {
    case Op::Lt:
      return Op::Gt;
    case Op::Lte:
      return Op::Gte;
    case Op::Gt:
      return Op::Lt;
    case Op::Gte:
      return Op::Lte;
    default:
      return op;
  }
}

bool is_ordering(Op op) {
  return op == Op::Eq || op == Op::Neq || op == Op::Lt || op == Op::Lte || op == Op::Gt || op == Op::Gte;
}

// `duration op ns` over every span whose duration lies in [lo, hi].
Tri judge_duration_range(Op op, uint64_t lo, uint64_t hi, int64_t ns) {
  if (hi > kMaxExactDuration || lo > hi) return Tri::Maybe;
  const int64_t a = static_cast<int64_t>(lo);
  const int64_t b = static_cast<int64_t>(hi);
  switch (op) {
    case Op::Eq:
      if (a == ns && b == ns) return Tri::Yes;
      return ns < a || ns > b ? Tri::No : Tri::Maybe;
    case Op::Neq:
      if (a == ns && b == ns) return Tri::No;
      return ns < a || ns > b ? Tri::Yes : Tri::Maybe;
    case Op::Lt:
      return b < ns ? Tri::Yes : a >= ns ? Tri::No : Tri::Maybe;
    case Op::Lte:
      return b <= ns ? Tri::Yes : a > ns ? Tri::No : Tri::Maybe;
    case Op::Gt:
      return a > ns ? Tri::Yes : b <= ns ? Tri::No : Tri::Maybe;
    default:  // Gte
      return a >= ns ? Tri::Yes : b < ns ? Tri::No : Tri::Maybe;
  }
}

// `&&` and `||` in three-valued logic, judging the right side only when the left does not decide.
template <class Judge>
Tri judge_and_or(const Cond& c, Judge&& judge) {
  const Tri decisive = c.kind == Cond::Kind::And ? Tri::No : Tri::Yes;
  Tri a = judge(c.a);
  if (a == decisive) return a;
  Tri b = judge(c.b);
  if (b == decisive) return b;
  return a == negate(decisive) && b == negate(decisive) ? a : Tri::Maybe;
}

Tri judge_mask(uint8_t present, uint8_t accepted) {
  if ((present & accepted) == 0) return Tri::No;
  if ((present & ~accepted) == 0) return Tri::Yes;
  return Tri::Maybe;
}

}  // namespace

// Turns the AST into QueryColumnFilter's conditions and needs.
class ColumnFilterBuilder {
 public:
  explicit ColumnFilterBuilder(QueryColumnFilter& f) : f_(f) {}

  uint32_t cond(const FieldExpr& e) {
    switch (e.kind) {
      case FieldExpr::Kind::Static:
        if (e.value.type == StaticType::Bool) return constant(e.value.int_value != 0 ? Cond::Kind::Yes : Cond::Kind::No);
        return constant(Cond::Kind::Maybe);
      case FieldExpr::Kind::Unary: {
        if (e.op != Op::Not || !e.lhs) return constant(Cond::Kind::Maybe);
        uint32_t child = cond(*e.lhs);
        if (f_.conds_[child].kind == Cond::Kind::Maybe) return child;
        Cond c;
        c.kind = Cond::Kind::Not;
        c.a = child;
        return add(std::move(c));
      }
      case FieldExpr::Kind::Binary:
        if (!e.lhs || !e.rhs) return constant(Cond::Kind::Maybe);
        if (e.op == Op::And || e.op == Op::Or) {
          uint32_t a = cond(*e.lhs);
          uint32_t b = cond(*e.rhs);
          const bool maybe_a = f_.conds_[a].kind == Cond::Kind::Maybe;
          const bool maybe_b = f_.conds_[b].kind == Cond::Kind::Maybe;
          // `x || maybe` can only be yes or maybe: maybe loses nothing that rules out. `x && maybe` must stay a
          // node: folded to `x`, a yes under `!` would turn into a no.
          if (e.op == Op::Or && (maybe_a || maybe_b)) return constant(Cond::Kind::Maybe);
          if (e.op == Op::And && maybe_a && maybe_b) return a;
          Cond c;
          c.kind = e.op == Op::And ? Cond::Kind::And : Cond::Kind::Or;
          c.a = a;
          c.b = b;
          return add(std::move(c));
        }
        return comparison(e);
      default:
        return constant(Cond::Kind::Maybe);
    }
  }

  uint32_t need(const Pipeline& p) {
    if (p.stages.empty() || p.stages[0].kind != Stage::Kind::Spanset || !p.stages[0].spanset) return nothing();
    return need(*p.stages[0].spanset);
  }

  uint32_t need(const SpansetExpr& e) {
    switch (e.kind) {
      case SpansetExpr::Kind::Filter: {
        if (!e.filter) return nothing();
        Need n;
        n.kind = Need::Kind::Exists;
        n.cond = cond(*e.filter);
        return add(n);
      }
      case SpansetExpr::Kind::Pipeline:
        return e.pipeline ? need(*e.pipeline) : nothing();
      case SpansetExpr::Kind::Operation:
        break;
    }
    if (!e.lhs || !e.rhs) return nothing();
    switch (e.op) {
      case SpansetOp::NotChild:
      case SpansetOp::NotParent:
      case SpansetOp::NotDescendant:
      case SpansetOp::NotAncestor:
      case SpansetOp::NotSibling:
        return need(*e.rhs);
      case SpansetOp::Union:
        return combine(Need::Kind::Any, need(*e.lhs), need(*e.rhs));
      default:  // And, the structural operators and their union forms: both sides must have matches
        return combine(Need::Kind::All, need(*e.lhs), need(*e.rhs));
    }
  }

 private:
  uint32_t add(Cond c) {
    f_.conds_.push_back(std::move(c));
    return static_cast<uint32_t>(f_.conds_.size() - 1);
  }
  uint32_t add(Need n) {
    f_.needs_.push_back(n);
    return static_cast<uint32_t>(f_.needs_.size() - 1);
  }
  uint32_t constant(Cond::Kind kind) {
    Cond c;
    c.kind = kind;
    return add(std::move(c));
  }
  uint32_t nothing() { return add(Need{}); }

  uint32_t combine(Need::Kind kind, uint32_t a, uint32_t b) {
    const bool none_a = f_.needs_[a].kind == Need::Kind::Nothing;
    const bool none_b = f_.needs_[b].kind == Need::Kind::Nothing;
    if (kind == Need::Kind::Any && (none_a || none_b)) return nothing();
    if (kind == Need::Kind::All && none_a) return b;
    if (kind == Need::Kind::All && none_b) return a;
    Need n;
    n.kind = kind;
    n.a = a;
    n.b = b;
    return add(n);
  }

  // `attribute op literal` (either order) on a column; anything else is "maybe".
  uint32_t comparison(const FieldExpr& e) {
    const FieldExpr* attr = e.lhs.get();
    const FieldExpr* lit = e.rhs.get();
    Op op = e.op;
    if (attr->kind == FieldExpr::Kind::Static && lit->kind == FieldExpr::Kind::Attribute) {
      if (op == Op::Regex || op == Op::NotRegex) return constant(Cond::Kind::Maybe);  // the pattern is the data
      std::swap(attr, lit);
      op = mirror(op);
    }
    if (attr->kind != FieldExpr::Kind::Attribute || lit->kind != FieldExpr::Kind::Static || attr->attr.parent) {
      return constant(Cond::Kind::Maybe);
    }
    const AttributeRef& ref = attr->attr;
    const Static& v = lit->value;
    Cond c;
    switch (ref.intrinsic) {
      case Intrinsic::Duration:
        // Integers and durations compare as integers (nanoseconds), as in the evaluator; floats are left out.
        if ((v.type != StaticType::Duration && v.type != StaticType::Int) || !is_ordering(op)) break;
        c.kind = Cond::Kind::Duration;
        c.op = op;
        c.ns = v.int_value;
        return add(std::move(c));
      case Intrinsic::Status:
      case Intrinsic::Kind: {
        const bool status = ref.intrinsic == Intrinsic::Status;
        if (v.type != (status ? StaticType::Status : StaticType::Kind) || (op != Op::Eq && op != Op::Neq)) break;
        if (v.int_value < 0 || v.int_value > (status ? 2 : 5)) break;
        const uint8_t all = status ? 0x07 : 0x3f;
        const uint8_t one = static_cast<uint8_t>(1u << v.int_value);
        c.kind = status ? Cond::Kind::StatusIn : Cond::Kind::KindIn;
        c.mask = op == Op::Eq ? one : static_cast<uint8_t>(all & ~one);
        return add(std::move(c));
      }
      case Intrinsic::Name:
        return string_cond(StringColumn::Name, op, v, true);
      case Intrinsic::None:
        if (ref.scope == AttributeScope::Resource && ref.name == "service.name") {
          return string_cond(StringColumn::Service, op, v, true);
        }
        // Unscoped looks at the span first: a span whose first http.method is a plain string decides it; one
        // without may have it on its resource, event or link.
        if ((ref.scope == AttributeScope::Span || ref.scope == AttributeScope::None) && ref.name == "http.method") {
          return string_cond(StringColumn::HttpMethod, op, v, ref.scope == AttributeScope::Span);
        }
        break;
      default:
        break;
    }
    return constant(Cond::Kind::Maybe);
  }

  uint32_t string_cond(StringColumn column, Op op, const Static& v, bool absent_is_no) {
    if (v.type != StaticType::String ||
        (op != Op::Eq && op != Op::Neq && op != Op::Regex && op != Op::NotRegex)) {
      return constant(Cond::Kind::Maybe);
    }
    Cond c;
    c.kind = Cond::Kind::String;
    c.column = column;
    c.op = op;
    c.value = v.string_value;
    c.absent_is_no = absent_is_no;
    if (op == Op::Regex || op == Op::NotRegex) {
      c.re = make_traceql_regex(c.value);
      if (!c.re->ok()) return constant(Cond::Kind::Maybe);
    }
    return add(std::move(c));
  }

  QueryColumnFilter& f_;
};

QueryColumnFilter::~QueryColumnFilter() = default;

std::shared_ptr<const QueryColumnFilter> QueryColumnFilter::build(const Query& query) {
  std::shared_ptr<QueryColumnFilter> f(new QueryColumnFilter());
  ColumnFilterBuilder builder(*f);
  f->root_ = builder.need(query.pipeline);
  if (f->needs_[f->root_].kind == Need::Kind::Nothing) return nullptr;
  // Only "some span exists" everywhere: every stored trace has one, so the filter would cost without pruning.
  if (!f->can_rule_out(f->root_)) return nullptr;
  return f;
}

bool QueryColumnFilter::can_rule_out(uint32_t need) const {
  const Need& n = needs_[need];
  switch (n.kind) {
    case Need::Kind::Nothing:
      return false;
    case Need::Kind::Exists:
      // The builder folds maybe-only subtrees to a bare maybe, so only a bare maybe or yes cannot say no.
      return conds_[n.cond].kind != Cond::Kind::Maybe && conds_[n.cond].kind != Cond::Kind::Yes;
    case Need::Kind::All:
      return can_rule_out(n.a) || can_rule_out(n.b);
    case Need::Kind::Any:
      return can_rule_out(n.a) && can_rule_out(n.b);
  }
  return false;
}

bool QueryColumnFilter::string_matches(const Cond& c, std::string_view v) const {
  switch (c.op) {
    case Op::Eq:
      return v == c.value;
    case Op::Neq:
      return v != c.value;
    case Op::Regex:
      return RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *c.re);
    default:
      return !RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *c.re);
  }
}

Tri QueryColumnFilter::judge_summary(uint32_t cond, const Summary& s) const {
  const Cond& c = conds_[cond];
  switch (c.kind) {
    case Cond::Kind::Yes:
      return Tri::Yes;
    case Cond::Kind::No:
      return Tri::No;
    case Cond::Kind::Maybe:
      return Tri::Maybe;
    case Cond::Kind::And:
    case Cond::Kind::Or:
      return judge_and_or(c, [&](uint32_t child) { return judge_summary(child, s); });
    case Cond::Kind::Not:
      return negate(judge_summary(c.a, s));
    case Cond::Kind::String: {
      const ColumnValueSet& vs = s.values[static_cast<size_t>(c.column)];
      if (vs.overflow || vs.unknown || (vs.absent && !c.absent_is_no)) return Tri::Maybe;
      const std::vector<uint8_t>& verdict = (*s.verdicts)[cond];
      size_t hits = 0;
      size_t total = 0;
      if (s.all_dict_values) {
        for (uint8_t v : verdict) hits += v;
        total = verdict.size();
      } else {
        for (uint16_t id : vs.ids) hits += verdict[id];
        total = vs.ids.size();
      }
      if (hits == 0) return Tri::No;
      return hits == total && !vs.absent ? Tri::Yes : Tri::Maybe;
    }
    case Cond::Kind::StatusIn:
      return judge_mask(s.status_mask, c.mask);
    case Cond::Kind::KindIn:
      return judge_mask(s.kind_mask, c.mask);
    case Cond::Kind::Duration:
      return judge_duration_range(c.op, s.min_duration, s.max_duration, c.ns);
  }
  return Tri::Maybe;
}

bool QueryColumnFilter::need_summary(uint32_t need, const Summary& s) const {
  const Need& n = needs_[need];
  switch (n.kind) {
    case Need::Kind::Nothing:
      return true;
    case Need::Kind::Exists:
      return !s.empty && judge_summary(n.cond, s) != Tri::No;
    case Need::Kind::All:
      return need_summary(n.a, s) && need_summary(n.b, s);
    case Need::Kind::Any:
      return need_summary(n.a, s) || need_summary(n.b, s);
  }
  return true;
}

// One block, for one scan: the block's dictionaries judged once.
class QueryBlockFilter final : public ColumnBlockFilter {
 public:
  QueryBlockFilter(const QueryColumnFilter& f, const ColumnBlockSummary& summary) : f_(f) {
    verdicts_.resize(f.conds_.size());
    for (size_t i = 0; i < f.conds_.size(); ++i) {
      const Cond& c = f.conds_[i];
      if (c.kind != Cond::Kind::String) continue;
      const std::vector<std::string>& dict = summary.dicts[static_cast<size_t>(c.column)];
      verdicts_[i].resize(dict.size());
      for (size_t d = 0; d < dict.size(); ++d) verdicts_[i][d] = f.string_matches(c, dict[d]) ? 1 : 0;
    }
    QueryColumnFilter::Summary s{summary.min_duration_ns, summary.max_duration_ns, summary.status_mask,
                                 summary.kind_mask, summary.values, true, &verdicts_, summary.status_mask == 0};
    block_match_ = f.need_summary(f.root_, s);
  }

  bool block_may_match() const override { return block_match_; }

  bool page_may_match(const ColumnPageEntry& entry) const override {
    QueryColumnFilter::Summary s{entry.min_duration_ns, entry.max_duration_ns, entry.status_mask, entry.kind_mask,
                                 entry.values, false, &verdicts_, entry.spans == 0};
    return f_.need_summary(f_.root_, s);
  }

  void match_rows(const ColumnPage& page, std::vector<uint8_t>& candidates) const override {
    f_.match_rows(page, candidates);
  }

 private:
  const QueryColumnFilter& f_;
  QueryColumnFilter::DictVerdicts verdicts_;
  bool block_match_ = true;
};

std::unique_ptr<ColumnBlockFilter> QueryColumnFilter::for_block(const ColumnBlockSummary& summary) const {
  return std::make_unique<QueryBlockFilter>(*this, summary);
}

Tri QueryColumnFilter::judge_span(uint32_t cond, const SpanColumns& span,
                                  const std::vector<std::vector<uint8_t>>& strings) const {
  const Cond& c = conds_[cond];
  switch (c.kind) {
    case Cond::Kind::Yes:
      return Tri::Yes;
    case Cond::Kind::No:
      return Tri::No;
    case Cond::Kind::Maybe:
      return Tri::Maybe;
    case Cond::Kind::And:
    case Cond::Kind::Or:
      return judge_and_or(c, [&](uint32_t child) { return judge_span(child, span, strings); });
    case Cond::Kind::Not:
      return negate(judge_span(c.a, span, strings));
    case Cond::Kind::String: {
      const uint32_t v = span.str[static_cast<size_t>(c.column)];
      if (v == kUnknownString) return Tri::Maybe;
      if (v == kAbsentString) return c.absent_is_no ? Tri::No : Tri::Maybe;
      return static_cast<Tri>(strings[cond][v - kFirstDictString]);
    }
    case Cond::Kind::StatusIn:
      return (c.mask >> span.status) & 1 ? Tri::Yes : Tri::No;
    case Cond::Kind::KindIn:
      return (c.mask >> span.kind) & 1 ? Tri::Yes : Tri::No;
    case Cond::Kind::Duration:
      if (span.duration_ns > kMaxExactDuration) return Tri::Maybe;
      return compare_ordered(c.op, static_cast<int64_t>(span.duration_ns), c.ns) ? Tri::Yes : Tri::No;
  }
  return Tri::Maybe;
}

bool QueryColumnFilter::need_row(uint32_t need, const ColumnPage& page, const ColumnPage::Row& row,
                                 const std::vector<std::vector<uint8_t>>& strings) const {
  const Need& n = needs_[need];
  switch (n.kind) {
    case Need::Kind::Nothing:
      return true;
    case Need::Kind::Exists:
      for (uint32_t i = 0; i < row.span_count; ++i) {
        if (judge_span(n.cond, page.spans[row.first_span + i], strings) != Tri::No) return true;
      }
      return false;
    case Need::Kind::All:
      return need_row(n.a, page, row, strings) && need_row(n.b, page, row, strings);
    case Need::Kind::Any:
      return need_row(n.a, page, row, strings) || need_row(n.b, page, row, strings);
  }
  return true;
}

void QueryColumnFilter::match_rows(const ColumnPage& page, std::vector<uint8_t>& candidates) const {
  // String conditions judged once per dictionary entry of this page.
  std::vector<std::vector<uint8_t>> strings(conds_.size());
  for (size_t i = 0; i < conds_.size(); ++i) {
    const Cond& c = conds_[i];
    if (c.kind != Cond::Kind::String) continue;
    const std::vector<std::string_view>& dict = page.dicts[static_cast<size_t>(c.column)];
    strings[i].resize(dict.size());
    for (size_t d = 0; d < dict.size(); ++d) {
      strings[i][d] = static_cast<uint8_t>(string_matches(c, dict[d]) ? Tri::Yes : Tri::No);
    }
  }
  candidates.assign(page.rows.size(), 0);
  for (size_t r = 0; r < page.rows.size(); ++r) {
    candidates[r] = need_row(root_, page, page.rows[r], strings) ? 1 : 0;
  }
}

}  // namespace spindle
