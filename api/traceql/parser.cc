#include "api/traceql/parser.h"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "api/traceql/lexer.h"

namespace spindle {
namespace {

using FieldPtr = std::unique_ptr<FieldExpr>;
using ScalarPtr = std::unique_ptr<ScalarExpr>;
using SpansetPtr = std::unique_ptr<SpansetExpr>;

// Field-expression binding powers (Tempo's %left/%right order). Unary `-` and `!` parse their operand
// at kUnaryOperandPrec: only `* / % ^` bind tighter than them.
constexpr int kPrecAndOr = 1;
constexpr int kPrecCompare = 2;
constexpr int kPrecAdd = 3;
constexpr int kPrecMul = 5;
constexpr int kPrecPow = 6;
constexpr int kUnaryOperandPrec = kPrecMul;

int field_prec(TokenKind k, Op* op) {
  switch (k) {
    case TokenKind::And:
      *op = Op::And;
      return kPrecAndOr;
    case TokenKind::Or:
      *op = Op::Or;
      return kPrecAndOr;
    case TokenKind::Eq:
      *op = Op::Eq;
      return kPrecCompare;
    case TokenKind::Neq:
      *op = Op::Neq;
      return kPrecCompare;
    case TokenKind::Lt:
      *op = Op::Lt;
      return kPrecCompare;
    case TokenKind::Lte:
      *op = Op::Lte;
      return kPrecCompare;
    case TokenKind::Gt:
      *op = Op::Gt;
      return kPrecCompare;
    case TokenKind::Gte:
      *op = Op::Gte;
      return kPrecCompare;
    case TokenKind::Regex:
      *op = Op::Regex;
      return kPrecCompare;
    case TokenKind::NotRegex:
      *op = Op::NotRegex;
      return kPrecCompare;
    case TokenKind::Add:
      *op = Op::Add;
      return kPrecAdd;
    case TokenKind::Sub:
      *op = Op::Sub;
      return kPrecAdd;
    case TokenKind::Mul:
      *op = Op::Mul;
      return kPrecMul;
    case TokenKind::Div:
      *op = Op::Div;
      return kPrecMul;
    case TokenKind::Mod:
      *op = Op::Mod;
      return kPrecMul;
    case TokenKind::Pow:
      *op = Op::Pow;
      return kPrecPow;
    default:
      return 0;
  }
}

bool spanset_op_of(TokenKind k, SpansetOp* op) {
  switch (k) {
    case TokenKind::And:
      *op = SpansetOp::And;
      return true;
    case TokenKind::Or:
      *op = SpansetOp::Union;
      return true;
    case TokenKind::Gt:
      *op = SpansetOp::Child;
      return true;
    case TokenKind::Lt:
      *op = SpansetOp::Parent;
      return true;
    case TokenKind::Desc:
      *op = SpansetOp::Descendant;
      return true;
    case TokenKind::Ance:
      *op = SpansetOp::Ancestor;
      return true;
    case TokenKind::Tilde:
      *op = SpansetOp::Sibling;
      return true;
    case TokenKind::NotChild:
      *op = SpansetOp::NotChild;
      return true;
    case TokenKind::NotParent:
      *op = SpansetOp::NotParent;
      return true;
    case TokenKind::NotDesc:
      *op = SpansetOp::NotDescendant;
      return true;
    case TokenKind::NotAnce:
      *op = SpansetOp::NotAncestor;
      return true;
    case TokenKind::NotRegex:
      *op = SpansetOp::NotSibling;
      return true;
    case TokenKind::UnionChild:
      *op = SpansetOp::UnionChild;
      return true;
    case TokenKind::UnionParent:
      *op = SpansetOp::UnionParent;
      return true;
    case TokenKind::UnionDesc:
      *op = SpansetOp::UnionDescendant;
      return true;
    case TokenKind::UnionAnce:
      *op = SpansetOp::UnionAncestor;
      return true;
    case TokenKind::UnionSibl:
      *op = SpansetOp::UnionSibling;
      return true;
    default:
      return false;
  }
}

bool is_comparison(TokenKind k) {
  return k == TokenKind::Eq || k == TokenKind::Neq || k == TokenKind::Lt || k == TokenKind::Lte ||
         k == TokenKind::Gt || k == TokenKind::Gte;
}

// Top-level (between spansets and scalars) binding power of a token, 0 if it is no operator there.
int top_prec(TokenKind k) {
  SpansetOp sop;
  Op op;
  if (k == TokenKind::And || k == TokenKind::Or) return kPrecAndOr;
  if (spanset_op_of(k, &sop) || is_comparison(k)) return kPrecCompare;
  int p = field_prec(k, &op);
  return p >= kPrecAdd ? p : 0;
}

bool static_of(const Token& t, Static* out) {
  switch (t.kind) {
    case TokenKind::String:
      *out = Static::string(t.str);
      return true;
    case TokenKind::Integer:
      *out = Static::integer(t.int_value);
      return true;
    case TokenKind::Float:
      *out = Static::floating(t.float_value);
      return true;
    case TokenKind::Duration:
      *out = Static::duration(t.int_value);
      return true;
    case TokenKind::True:
      *out = Static::boolean(true);
      return true;
    case TokenKind::False:
      *out = Static::boolean(false);
      return true;
    case TokenKind::Nil:
      *out = Static::nil();
      return true;
    case TokenKind::StatusOk:
      *out = Static::status(SpanStatus::Ok);
      return true;
    case TokenKind::StatusError:
      *out = Static::status(SpanStatus::Error);
      return true;
    case TokenKind::StatusUnset:
      *out = Static::status(SpanStatus::Unset);
      return true;
    case TokenKind::KindUnspecified:
      *out = Static::kind(SpanKind::Unspecified);
      return true;
    case TokenKind::KindInternal:
      *out = Static::kind(SpanKind::Internal);
      return true;
    case TokenKind::KindServer:
      *out = Static::kind(SpanKind::Server);
      return true;
    case TokenKind::KindClient:
      *out = Static::kind(SpanKind::Client);
      return true;
    case TokenKind::KindProducer:
      *out = Static::kind(SpanKind::Producer);
      return true;
    case TokenKind::KindConsumer:
      *out = Static::kind(SpanKind::Consumer);
      return true;
    case TokenKind::MinInt:
      *out = Static::integer(std::numeric_limits<int64_t>::min());
      return true;
    case TokenKind::MaxInt:
      *out = Static::integer(std::numeric_limits<int64_t>::max());
      return true;
    default:
      return false;
  }
}

bool aggregate_of(TokenKind k, AggregateKind* out) {
  switch (k) {
    case TokenKind::Count:
      *out = AggregateKind::Count;
      return true;
    case TokenKind::Avg:
      *out = AggregateKind::Avg;
      return true;
    case TokenKind::Min:
      *out = AggregateKind::Min;
      return true;
    case TokenKind::Max:
      *out = AggregateKind::Max;
      return true;
    case TokenKind::Sum:
      *out = AggregateKind::Sum;
      return true;
    default:
      return false;
  }
}

Status error_at(const Token& t, std::string_view message) {
  return invalid_argument("parse error at line " + std::to_string(t.pos.line) + ", col " +
                          std::to_string(t.pos.col) + ": " + std::string(message));
}

Status unexpected(const Token& t, std::string_view expecting = {}) {
  if (t.kind == TokenKind::Error) return error_at(t, t.str);
  std::string m = "syntax error: unexpected " + token_display(t);
  if (!expecting.empty()) m += ", expecting " + std::string(expecting);
  return error_at(t, m);
}

uint32_t stage_height(const Stage& s) {
  uint32_t h = 0;
  auto take = [&h](uint32_t x) { h = std::max(h, x); };
  if (s.spanset) take(s.spanset->height);
  if (s.lhs) take(s.lhs->height);
  if (s.rhs) take(s.rhs->height);
  if (s.by) take(s.by->height);
  if (s.argument) take(s.argument->height);
  for (const FieldPtr& f : s.select) take(f->height);
  return h;
}

uint32_t pipeline_height(const Pipeline& p) {
  uint32_t h = 0;
  for (const Stage& s : p.stages) h = std::max(h, stage_height(s));
  return h;
}

bool contains_aggregate(const ScalarExpr& e) {
  switch (e.kind) {
    case ScalarExpr::Kind::Static:
      return false;
    case ScalarExpr::Kind::Binary:
      return contains_aggregate(*e.lhs) || contains_aggregate(*e.rhs);
    default:
      return true;
  }
}

// A parsed top-level operand: what it is decides which operators and pipeline positions accept it.
struct Item {
  enum class Cat : uint8_t {
    Spanset,           // { ... }, spanset operations, parenthesised pipelines
    Scalar,            // aggregates, numbers and arithmetic of them
    ScalarPipe,        // ({ ... } | count()) and arithmetic of those
    ScalarFilter,      // Scalar CMP Scalar: a pipeline stage
    ScalarPipeFilter,  // ScalarPipe CMP (ScalarPipe | number): only a whole query
    Stage,             // by(), select(), coalesce()
  };
  Cat cat = Cat::Spanset;
  size_t first_token = 0;
  SpansetPtr spanset;
  ScalarPtr scalar;
  Stage stage;
};

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : toks_(tokens) {}

  Result<Query> parse_query() {
    Query q;
    SPINDLE_ASSIGN_OR_RETURN(Item first, parse_stage_item(/*first=*/true));
    if (first.cat == Item::Cat::ScalarPipeFilter) {
      q.pipeline.stages.push_back(std::move(first.stage));
    } else {
      SPINDLE_ASSIGN_OR_RETURN(Stage s, to_stage(std::move(first)));
      q.pipeline.stages.push_back(std::move(s));
      while (cur().kind == TokenKind::Pipe) {
        advance();
        SPINDLE_ASSIGN_OR_RETURN(Item item, parse_stage_item(/*first=*/false));
        SPINDLE_ASSIGN_OR_RETURN(Stage next, to_stage(std::move(item)));
        q.pipeline.stages.push_back(std::move(next));
      }
    }
    if (cur().kind == TokenKind::With) {
      SPINDLE_ASSIGN_OR_RETURN(q.hints, parse_hints());
    }
    if (cur().kind != TokenKind::End) return unexpected(cur());
    return q;
  }

  // A whole field expression that must consume every token (lenient segments, identifiers).
  Result<FieldPtr> parse_complete_field() {
    SPINDLE_ASSIGN_OR_RETURN(FieldPtr e, parse_field(kPrecAndOr));
    if (cur().kind != TokenKind::End) return unexpected(cur());
    return e;
  }

 private:
  // Counts recursion; every recursive entry point holds one while it runs.
  class DepthGuard {
   public:
    explicit DepthGuard(uint32_t* depth) : depth_(depth) { ++*depth_; }
    ~DepthGuard() { --*depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    bool exceeded() const { return *depth_ > kMaxTraceqlNesting; }

   private:
    uint32_t* depth_;
  };

  const Token& cur() const { return toks_[i_]; }
  const Token& peek(size_t k) const { return toks_[std::min(i_ + k, toks_.size() - 1)]; }
  void advance() {
    if (i_ + 1 < toks_.size()) ++i_;
  }

  Status nesting_error() const {
    return error_at(cur(),
                    "query is nested too deeply (max " + std::to_string(kMaxTraceqlNesting) + " levels)");
  }
  Status check_height(uint32_t height, const Token& at) const {
    if (height <= kMaxTraceqlTreeHeight) return Status::ok();
    return error_at(at, "query is too complex (expression tree deeper than " +
                            std::to_string(kMaxTraceqlTreeHeight) + ")");
  }

  Status expect(TokenKind kind, std::string_view expecting = {}) {
    if (cur().kind != kind) return unexpected(cur(), expecting);
    advance();
    return Status::ok();
  }

  // ---- Field expressions (inside `{}`, aggregates, by(), select()) ----

  Result<FieldPtr> parse_field(int min_prec) {
    DepthGuard guard(&depth_);
    if (guard.exceeded()) return nesting_error();
    SPINDLE_ASSIGN_OR_RETURN(FieldPtr lhs, parse_field_unary());
    for (;;) {
      Op op;
      int prec = field_prec(cur().kind, &op);
      if (prec == 0 || prec < min_prec) return lhs;
      const Token& op_token = cur();
      advance();
      SPINDLE_ASSIGN_OR_RETURN(FieldPtr rhs, parse_field(op == Op::Pow ? prec : prec + 1));
      auto node = std::make_unique<FieldExpr>();
      node->kind = FieldExpr::Kind::Binary;
      node->pos = lhs->pos;
      node->op = op;
      node->height = 1 + std::max(lhs->height, rhs->height);
      SPINDLE_RETURN_IF_ERROR(check_height(node->height, op_token));
      node->lhs = std::move(lhs);
      node->rhs = std::move(rhs);
      lhs = std::move(node);
    }
  }

  Result<FieldPtr> parse_field_unary() {
    const Token& t = cur();
    auto node = std::make_unique<FieldExpr>();
    node->pos = t.pos;
    if (t.kind == TokenKind::Not || t.kind == TokenKind::Sub) {
      advance();
      SPINDLE_ASSIGN_OR_RETURN(FieldPtr operand, parse_field(kUnaryOperandPrec));
      node->kind = FieldExpr::Kind::Unary;
      node->op = t.kind == TokenKind::Not ? Op::Not : Op::Neg;
      node->height = operand->height + 1;
      SPINDLE_RETURN_IF_ERROR(check_height(node->height, t));
      node->lhs = std::move(operand);
      return node;
    }
    if (t.kind == TokenKind::LParen) {
      advance();
      SPINDLE_ASSIGN_OR_RETURN(FieldPtr inner, parse_field(kPrecAndOr));
      SPINDLE_RETURN_IF_ERROR(expect(TokenKind::RParen));
      return inner;
    }
    if (t.kind == TokenKind::Attribute || t.kind == TokenKind::Intrinsic) {
      node->kind = FieldExpr::Kind::Attribute;
      node->attr = t.attr;
      advance();
      return node;
    }
    if (static_of(t, &node->value)) {
      node->kind = FieldExpr::Kind::Static;
      advance();
      return node;
    }
    return unexpected(t);
  }

  // ---- Pipelines ----

  Result<Item> parse_stage_item(bool first) {
    const Token& t = cur();
    Item item;
    item.first_token = i_;
    item.cat = Item::Cat::Stage;
    item.stage.pos = t.pos;
    switch (t.kind) {
      case TokenKind::By: {
        advance();
        SPINDLE_RETURN_IF_ERROR(expect(TokenKind::LParen, "("));
        item.stage.kind = Stage::Kind::GroupBy;
        SPINDLE_ASSIGN_OR_RETURN(item.stage.by, parse_field(kPrecAndOr));
        SPINDLE_RETURN_IF_ERROR(expect(TokenKind::RParen));
        return item;
      }
      case TokenKind::Select: {
        advance();
        SPINDLE_RETURN_IF_ERROR(expect(TokenKind::LParen, "("));
        item.stage.kind = Stage::Kind::Select;
        for (;;) {
          SPINDLE_ASSIGN_OR_RETURN(FieldPtr f, parse_field(kPrecAndOr));
          item.stage.select.push_back(std::move(f));
          if (cur().kind != TokenKind::Comma) break;
          advance();
        }
        SPINDLE_RETURN_IF_ERROR(expect(TokenKind::RParen));
        return item;
      }
      case TokenKind::Coalesce: {
        if (first) return unexpected(t);  // a pipeline cannot start with coalesce()
        advance();
        SPINDLE_RETURN_IF_ERROR(expect(TokenKind::LParen, "("));
        SPINDLE_RETURN_IF_ERROR(expect(TokenKind::RParen, ")"));
        item.stage.kind = Stage::Kind::Coalesce;
        return item;
      }
      default:
        return parse_top(kPrecAndOr);
    }
  }

  // Turns an item into a pipeline stage; a bare scalar is not one (`{ } | count()` lacks a comparison).
  Result<Stage> to_stage(Item item) {
    switch (item.cat) {
      case Item::Cat::Spanset: {
        Stage s;
        s.kind = Stage::Kind::Spanset;
        s.pos = item.spanset->pos;
        s.spanset = std::move(item.spanset);
        return s;
      }
      case Item::Cat::ScalarFilter:
      case Item::Cat::Stage:
        return std::move(item.stage);
      case Item::Cat::ScalarPipeFilter:
        return unexpected(toks_[item.first_token]);
      case Item::Cat::Scalar:
      case Item::Cat::ScalarPipe:
        return unexpected(cur());
    }
    return unexpected(cur());
  }

  // `(` already current. Either transparent parentheses around one operand, or a nested pipeline.
  Result<Item> parse_paren() {
    DepthGuard guard(&depth_);
    if (guard.exceeded()) return nesting_error();
    size_t first_token = i_;
    SourcePos pos = cur().pos;
    advance();
    SPINDLE_ASSIGN_OR_RETURN(Item first, parse_stage_item(/*first=*/true));
    bool closed = cur().kind == TokenKind::RParen;
    if (closed) {
      advance();
      switch (first.cat) {
        case Item::Cat::Spanset:
        case Item::Cat::Scalar:
        case Item::Cat::ScalarPipe:
          first.first_token = first_token;
          return first;
        case Item::Cat::ScalarPipeFilter:
          return unexpected(toks_[first.first_token]);
        default:
          break;  // a one-stage pipeline: scalar filter, by(), select()
      }
    } else if (cur().kind != TokenKind::Pipe) {
      return unexpected(cur(), ") or |");
    }

    Pipeline p;
    SPINDLE_ASSIGN_OR_RETURN(Stage s, to_stage(std::move(first)));
    p.stages.push_back(std::move(s));
    bool ends_in_aggregate = false;
    while (!closed && cur().kind == TokenKind::Pipe) {
      advance();
      SPINDLE_ASSIGN_OR_RETURN(Item item, parse_stage_item(/*first=*/false));
      if (item.cat == Item::Cat::Scalar && item.scalar->kind == ScalarExpr::Kind::Aggregate &&
          cur().kind == TokenKind::RParen) {
        Stage agg;
        agg.kind = Stage::Kind::Aggregate;
        agg.pos = item.scalar->pos;
        agg.aggregate = item.scalar->aggregate;
        agg.argument = std::move(item.scalar->argument);
        p.stages.push_back(std::move(agg));
        ends_in_aggregate = true;
        break;
      }
      SPINDLE_ASSIGN_OR_RETURN(Stage next, to_stage(std::move(item)));
      p.stages.push_back(std::move(next));
    }
    if (!closed) SPINDLE_RETURN_IF_ERROR(expect(TokenKind::RParen, ") or |"));
    uint32_t height = 1 + pipeline_height(p);
    SPINDLE_RETURN_IF_ERROR(check_height(height, toks_[first_token]));
    Item out;
    out.first_token = first_token;
    if (ends_in_aggregate) {
      out.cat = Item::Cat::ScalarPipe;
      out.scalar = std::make_unique<ScalarExpr>();
      out.scalar->kind = ScalarExpr::Kind::Pipeline;
      out.scalar->pos = pos;
      out.scalar->height = height;
      out.scalar->pipeline = std::make_unique<Pipeline>(std::move(p));
    } else {
      out.cat = Item::Cat::Spanset;
      out.spanset = std::make_unique<SpansetExpr>();
      out.spanset->kind = SpansetExpr::Kind::Pipeline;
      out.spanset->pos = pos;
      out.spanset->height = height;
      out.spanset->pipeline = std::make_unique<Pipeline>(std::move(p));
    }
    return out;
  }

  Result<Item> parse_top_operand() {
    const Token& t = cur();
    Item item;
    item.first_token = i_;
    switch (t.kind) {
      case TokenKind::LBrace: {
        item.cat = Item::Cat::Spanset;
        SPINDLE_ASSIGN_OR_RETURN(item.spanset, parse_spanset_filter());
        return item;
      }
      case TokenKind::LParen:
        return parse_paren();
      case TokenKind::Integer:
      case TokenKind::Float:
      case TokenKind::Duration:
      case TokenKind::Sub: {
        bool negative = t.kind == TokenKind::Sub;
        const Token& number = negative ? peek(1) : t;
        if (number.kind != TokenKind::Integer && number.kind != TokenKind::Float &&
            number.kind != TokenKind::Duration) {
          return unexpected(number);
        }
        item.cat = Item::Cat::Scalar;
        item.scalar = std::make_unique<ScalarExpr>();
        item.scalar->kind = ScalarExpr::Kind::Static;
        item.scalar->pos = t.pos;
        if (!static_of(number, &item.scalar->value)) return unexpected(number);
        if (negative) {
          Static& v = item.scalar->value;
          if (v.type == StaticType::Float)
            v.float_value = -v.float_value;
          else
            v.int_value = -v.int_value;
          advance();
        }
        advance();
        return item;
      }
      default:
        break;
    }
    AggregateKind agg;
    if (aggregate_of(t.kind, &agg)) {
      item.cat = Item::Cat::Scalar;
      item.scalar = std::make_unique<ScalarExpr>();
      item.scalar->kind = ScalarExpr::Kind::Aggregate;
      item.scalar->pos = t.pos;
      item.scalar->aggregate = agg;
      advance();
      SPINDLE_RETURN_IF_ERROR(expect(TokenKind::LParen, "("));
      if (agg == AggregateKind::Count) {
        SPINDLE_RETURN_IF_ERROR(expect(TokenKind::RParen, ")"));
      } else {
        SPINDLE_ASSIGN_OR_RETURN(item.scalar->argument, parse_field(kPrecAndOr));
        SPINDLE_RETURN_IF_ERROR(expect(TokenKind::RParen, ")"));
        item.scalar->height = 1 + item.scalar->argument->height;
      }
      return item;
    }
    return unexpected(t);
  }

  Result<SpansetPtr> parse_spanset_filter() {
    DepthGuard guard(&depth_);
    if (guard.exceeded()) return nesting_error();
    auto node = std::make_unique<SpansetExpr>();
    node->kind = SpansetExpr::Kind::Filter;
    node->pos = cur().pos;
    advance();  // {
    if (cur().kind == TokenKind::RBrace) {
      node->filter = std::make_unique<FieldExpr>();
      node->filter->pos = node->pos;
      node->filter->value = Static::boolean(true);
    } else {
      SPINDLE_ASSIGN_OR_RETURN(node->filter, parse_field(kPrecAndOr));
      if (cur().kind != TokenKind::RBrace) return unexpected(cur());
    }
    advance();  // }
    node->height = 1 + node->filter->height;
    return node;
  }

  // Operators between top-level operands; what the left operand is decides what may follow.
  Result<Item> parse_top(int min_prec) {
    DepthGuard guard(&depth_);
    if (guard.exceeded()) return nesting_error();
    SPINDLE_ASSIGN_OR_RETURN(Item lhs, parse_top_operand());
    for (;;) {
      const Token& op_token = cur();
      int prec = top_prec(op_token.kind);
      if (prec == 0 || prec < min_prec) return lhs;
      switch (lhs.cat) {
        case Item::Cat::Spanset: {
          SpansetOp sop;
          if (!spanset_op_of(op_token.kind, &sop)) return unexpected(op_token);
          advance();
          if (cur().kind != TokenKind::LBrace && cur().kind != TokenKind::LParen) {
            return unexpected(cur(), "{ or (");
          }
          size_t rhs_start = i_;
          SPINDLE_ASSIGN_OR_RETURN(Item rhs, parse_top(prec + 1));
          if (rhs.cat != Item::Cat::Spanset) return unexpected(toks_[rhs_start]);
          auto node = std::make_unique<SpansetExpr>();
          node->kind = SpansetExpr::Kind::Operation;
          node->pos = lhs.spanset->pos;
          node->op = sop;
          node->height = 1 + std::max(lhs.spanset->height, rhs.spanset->height);
          SPINDLE_RETURN_IF_ERROR(check_height(node->height, op_token));
          node->lhs = std::move(lhs.spanset);
          node->rhs = std::move(rhs.spanset);
          lhs.spanset = std::move(node);
          break;
        }
        case Item::Cat::Scalar:
        case Item::Cat::ScalarPipe: {
          SPINDLE_ASSIGN_OR_RETURN(lhs, combine_scalar(std::move(lhs), prec));
          break;
        }
        default:
          return unexpected(op_token);
      }
    }
  }

  Result<Item> combine_scalar(Item lhs, int prec) {
    const Token& op_token = cur();
    Op op;
    bool compare = is_comparison(op_token.kind);
    if (!compare && (field_prec(op_token.kind, &op) < kPrecAdd)) return unexpected(op_token);
    if (compare) field_prec(op_token.kind, &op);
    bool pipe = lhs.cat == Item::Cat::ScalarPipe;
    advance();
    size_t rhs_start = i_;
    SPINDLE_ASSIGN_OR_RETURN(Item rhs, parse_top(op == Op::Pow ? prec : prec + 1));
    const Token& rhs_token = toks_[rhs_start];
    if (rhs.cat != Item::Cat::Scalar && rhs.cat != Item::Cat::ScalarPipe) {
      return unexpected(rhs_token);
    }
    bool rhs_pipe = rhs.cat == Item::Cat::ScalarPipe;
    if (compare) {
      if (pipe) {
        // Tempo: scalarPipelineExpression CMP (scalarPipelineExpression | static).
        if (!rhs_pipe && rhs.scalar->kind != ScalarExpr::Kind::Static) return unexpected(rhs_token);
      } else {
        if (rhs_pipe) return unexpected(rhs_token);
        if (!contains_aggregate(*lhs.scalar) && !contains_aggregate(*rhs.scalar)) {
          return error_at(op_token, "syntax error: a scalar filter needs an aggregate such as count()");
        }
      }
      Item out;
      out.cat = pipe ? Item::Cat::ScalarPipeFilter : Item::Cat::ScalarFilter;
      out.first_token = lhs.first_token;
      out.stage.kind = Stage::Kind::ScalarFilter;
      out.stage.pos = lhs.scalar->pos;
      out.stage.op = op;
      SPINDLE_RETURN_IF_ERROR(check_height(1 + std::max(lhs.scalar->height, rhs.scalar->height), op_token));
      out.stage.lhs = std::move(lhs.scalar);
      out.stage.rhs = std::move(rhs.scalar);
      return out;
    }
    if (pipe != rhs_pipe) return unexpected(pipe ? rhs_token : op_token);
    auto node = std::make_unique<ScalarExpr>();
    node->kind = ScalarExpr::Kind::Binary;
    node->pos = lhs.scalar->pos;
    node->op = op;
    node->height = 1 + std::max(lhs.scalar->height, rhs.scalar->height);
    SPINDLE_RETURN_IF_ERROR(check_height(node->height, op_token));
    node->lhs = std::move(lhs.scalar);
    node->rhs = std::move(rhs.scalar);
    lhs.scalar = std::move(node);
    return lhs;
  }

  Result<std::vector<Hint>> parse_hints() {
    advance();  // with
    SPINDLE_RETURN_IF_ERROR(expect(TokenKind::LParen, "("));
    std::vector<Hint> hints;
    for (;;) {
      if (cur().kind != TokenKind::Identifier) return unexpected(cur(), "IDENTIFIER");
      Hint h;
      h.name = std::string(cur().text);
      advance();
      SPINDLE_RETURN_IF_ERROR(expect(TokenKind::Eq, "="));
      bool negative = cur().kind == TokenKind::Sub;
      if (negative) advance();
      const Token& v = cur();
      bool ok = static_of(v, &h.value) &&
                (v.kind == TokenKind::String || v.kind == TokenKind::Integer || v.kind == TokenKind::Float ||
                 v.kind == TokenKind::Duration || v.kind == TokenKind::True || v.kind == TokenKind::False);
      if (!ok || (negative && !h.value.is_numeric())) return unexpected(v);
      if (negative) {
        if (h.value.type == StaticType::Float)
          h.value.float_value = -h.value.float_value;
        else
          h.value.int_value = -h.value.int_value;
      }
      advance();
      hints.push_back(std::move(h));
      if (cur().kind != TokenKind::Comma) break;
      advance();
    }
    SPINDLE_RETURN_IF_ERROR(expect(TokenKind::RParen, ")"));
    return hints;
  }

  const std::vector<Token>& toks_;
  size_t i_ = 0;
  uint32_t depth_ = 0;
};

// ---- Lenient parsing of the first spanset filter ----

bool is_end(const Token& t) { return t.kind == TokenKind::End || t.kind == TokenKind::Error; }

Query match_all_query() {
  Query q;
  Stage s;
  s.kind = Stage::Kind::Spanset;
  s.spanset = std::make_unique<SpansetExpr>();
  s.spanset->kind = SpansetExpr::Kind::Filter;
  s.spanset->filter = std::make_unique<FieldExpr>();
  s.spanset->filter->value = Static::boolean(true);
  s.spanset->height = 2;
  q.pipeline.stages.push_back(std::move(s));
  return q;
}

class LenientFilter {
 public:
  explicit LenientFilter(const std::vector<Token>& toks) : toks_(toks) {}

  // Tokens [begin, end) hold `&&`/`||`-joined conditions; returns null when nothing usable remains.
  FieldPtr conditions(size_t begin, size_t end, uint32_t depth) {
    if (depth > kMaxTraceqlNesting) return nullptr;
    FieldPtr acc;
    bool acc_valid = false;  // false: nothing parsed yet
    Op connector = Op::And;
    size_t seg_start = begin;
    int parens = 0;
    for (size_t i = begin; i <= end; ++i) {
      bool at_end = i == end;
      if (!at_end) {
        TokenKind k = toks_[i].kind;
        if (k == TokenKind::LParen) ++parens;
        if (k == TokenKind::RParen) --parens;
        if (parens != 0 || (k != TokenKind::And && k != TokenKind::Or)) continue;
      }
      FieldPtr seg = segment(seg_start, i, depth);
      if (!acc_valid) {
        acc = std::move(seg);
        acc_valid = true;
      } else if (connector == Op::And) {
        if (!acc)
          acc = std::move(seg);
        else if (seg)
          acc = join(Op::And, std::move(acc), std::move(seg));
      } else if (!acc || !seg) {
        acc = nullptr;  // `x || <broken>` could match anything
      } else {
        acc = join(Op::Or, std::move(acc), std::move(seg));
      }
      if (acc && acc->height > kMaxTraceqlTreeHeight) return nullptr;
      if (!at_end) connector = toks_[i].kind == TokenKind::And ? Op::And : Op::Or;
      seg_start = i + 1;
    }
    return acc;
  }

 private:
  static FieldPtr join(Op op, FieldPtr lhs, FieldPtr rhs) {
    auto node = std::make_unique<FieldExpr>();
    node->kind = FieldExpr::Kind::Binary;
    node->pos = lhs->pos;
    node->op = op;
    node->height = 1 + std::max(lhs->height, rhs->height);
    node->lhs = std::move(lhs);
    node->rhs = std::move(rhs);
    return node;
  }

  FieldPtr segment(size_t begin, size_t end, uint32_t depth) {
    if (begin >= end) return nullptr;
    if (toks_[begin].kind == TokenKind::LParen && toks_[end - 1].kind == TokenKind::RParen &&
        closes_at(begin, end - 1)) {
      return conditions(begin + 1, end - 1, depth + 1);
    }
    std::vector<Token> sub(toks_.begin() + static_cast<std::ptrdiff_t>(begin),
                           toks_.begin() + static_cast<std::ptrdiff_t>(end));
    Token end_token;
    end_token.kind = TokenKind::End;
    end_token.pos = toks_[end].pos;
    sub.push_back(std::move(end_token));
    Parser parser(sub);
    Result<FieldPtr> r = parser.parse_complete_field();
    // A bare reference (`span.http.` while it is being typed) is no condition yet.
    if (!r.ok() || (*r)->kind == FieldExpr::Kind::Attribute) return nullptr;
    return std::move(r).value();
  }

  // Whether the `(` at `open` is matched by the `)` at `close`.
  bool closes_at(size_t open, size_t close) const {
    int depth = 0;
    for (size_t i = open; i <= close; ++i) {
      if (toks_[i].kind == TokenKind::LParen) ++depth;
      if (toks_[i].kind == TokenKind::RParen && --depth == 0) return i == close;
    }
    return false;
  }

  const std::vector<Token>& toks_;
};

}  // namespace

Result<Query> parse_traceql(std::string_view query) {
  if (query.size() > kMaxTraceqlQueryBytes) {
    return invalid_argument("query is " + std::to_string(query.size()) + " bytes, more than the limit of " +
                            std::to_string(kMaxTraceqlQueryBytes) + " bytes");
  }
  std::vector<Token> tokens = lex_traceql(query, kMaxTraceqlTokens);
  return Parser(tokens).parse_query();
}

Result<Query> parse_traceql_lenient(std::string_view query) {
  if (query.size() > kMaxTraceqlQueryBytes) return match_all_query();
  std::vector<Token> tokens = lex_traceql(query, kMaxTraceqlTokens);
  {
    Result<Query> strict = Parser(tokens).parse_query();
    if (strict.ok()) return strict;
  }
  size_t open = 0;
  while (!is_end(tokens[open]) && tokens[open].kind != TokenKind::LBrace) ++open;
  if (is_end(tokens[open])) return match_all_query();
  size_t close = open + 1;
  while (!is_end(tokens[close]) && tokens[close].kind != TokenKind::RBrace) ++close;
  if (tokens[close].kind == TokenKind::RBrace) {
    SpansetOp op;
    if (spanset_op_of(tokens[close + 1].kind, &op)) return match_all_query();
  }
  FieldPtr filter = LenientFilter(tokens).conditions(open + 1, close, 0);
  if (!filter) return match_all_query();
  Query q = match_all_query();
  SpansetExpr& s = *q.pipeline.stages[0].spanset;
  s.pos = tokens[open].pos;
  s.height = 1 + filter->height;
  s.filter = std::move(filter);
  return q;
}

Result<AttributeRef> parse_traceql_identifier(std::string_view identifier) {
  if (identifier.size() > kMaxTraceqlQueryBytes) {
    return invalid_argument("identifier is longer than " + std::to_string(kMaxTraceqlQueryBytes) + " bytes");
  }
  std::vector<Token> tokens = lex_traceql(identifier, 2);
  const Token& t = tokens[0];
  if (t.kind != TokenKind::Attribute && t.kind != TokenKind::Intrinsic) return unexpected(t);
  if (tokens[1].kind != TokenKind::End) return unexpected(tokens[1]);
  return t.attr;
}

}  // namespace spindle
