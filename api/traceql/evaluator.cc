#include "api/traceql/evaluator.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/quote.h"
#include "core/trace_id.h"

namespace spindle {

std::unique_ptr<RE2> make_traceql_regex(std::string_view pattern) {
  RE2::Options opts;
  opts.set_log_errors(false);
  return std::make_unique<RE2>(re2::StringPiece(pattern.data(), pattern.size()), opts);
}

namespace {

// ---------------------------------------------------------------------------------------------------------
// Runtime values
// ---------------------------------------------------------------------------------------------------------

// A value while evaluating: strings are views (into the trace bytes, the model or the query) unless the value
// was computed (hex ids), then it owns them. Arrays point at the model's elements.
struct Val {
  StaticType type = StaticType::Nil;
  bool is_array = false;
  bool owns = false;
  int64_t i = 0;
  double f = 0;
  std::string_view s;
  const std::vector<Static>* arr = nullptr;
  std::string owned;

  std::string_view str() const { return owns ? std::string_view(owned) : s; }
  bool is_nil() const { return type == StaticType::Nil && !is_array; }
  bool is_true() const { return type == StaticType::Bool && !is_array && i != 0; }
};

Val nil_val() { return {}; }
Val bool_val(bool b) {
  Val v;
  v.type = StaticType::Bool;
  v.i = b ? 1 : 0;
  return v;
}
Val int_val(StaticType type, int64_t x) {
  Val v;
  v.type = type;
  v.i = x;
  return v;
}
Val float_val(double x) {
  Val v;
  v.type = StaticType::Float;
  v.f = x;
  return v;
}
Val string_view_val(std::string_view s) {
  Val v;
  v.type = StaticType::String;
  v.s = s;
  return v;
}
Val owned_string_val(std::string s) {
  Val v;
  v.type = StaticType::String;
  v.owns = true;
  v.owned = std::move(s);
  return v;
}

Val val_of_static(const Static& st) {
  Val v;
  v.type = st.type;
  v.i = st.int_value;
  v.f = st.float_value;
  if (st.type == StaticType::String) v.s = st.string_value;
  return v;
}

Val val_of_attribute(const AttributeValue& a) {
  if (a.is_array) {
    Val v;
    v.is_array = true;
    v.arr = &a.array;
    return v;
  }
  return val_of_static(a.scalar);
}

bool is_numeric(StaticType t) {
  return t == StaticType::Int || t == StaticType::Float || t == StaticType::Duration;
}
bool is_integral(StaticType t) { return t == StaticType::Int || t == StaticType::Duration; }
double as_double(const Val& v) { return v.type == StaticType::Float ? v.f : static_cast<double>(v.i); }

// Text of an array for places that can only show a scalar (search result attributes, by() keys).
std::string array_text(const std::vector<Static>& arr) {
  std::string out = "[";
  for (size_t k = 0; k < arr.size(); ++k) {
    if (k) out += ",";
    if (arr[k].type == StaticType::String) {
      append_quoted(out, arr[k].string_value);
    } else {
      out += to_string(arr[k]);
    }
  }
  return out + "]";
}

Static to_static(const Val& v) {
  if (v.is_array) return Static::string(array_text(*v.arr));
  switch (v.type) {
    case StaticType::Nil:
      return Static::nil();
    case StaticType::Bool:
      return Static::boolean(v.i != 0);
    case StaticType::Int:
      return Static::integer(v.i);
    case StaticType::Float:
      return Static::floating(v.f);
    case StaticType::String:
      return Static::string(std::string(v.str()));
    case StaticType::Duration:
      return Static::duration(v.i);
    case StaticType::Status:
      return Static::status(static_cast<SpanStatus>(v.i));
    case StaticType::Kind:
      return Static::kind(static_cast<SpanKind>(v.i));
  }
  return Static::nil();
}

// Tempo's util.SpanIDToHexString: lowercase hex, leading zeros trimmed, then left-padded to 16.
std::string span_id_hex(std::string_view raw) {
  std::string h = to_hex(raw);
  size_t z = h.find_first_not_of('0');
  h.erase(0, z == std::string::npos ? h.size() : z);
  if (h.size() < 16) h.insert(0, 16 - h.size(), '0');
  return h;
}

// Tempo's util.TraceIDToHexString: lowercase hex, leading zeros trimmed (the form search results show).
std::string trace_id_hex(std::string_view raw) {
  std::string h = to_hex(raw);
  size_t z = h.find_first_not_of('0');
  h.erase(0, z == std::string::npos ? h.size() : z);
  return h;
}

// ---------------------------------------------------------------------------------------------------------
// Attribute lookup
// ---------------------------------------------------------------------------------------------------------

// The span a field expression is evaluated on, and the event / link under consideration when a filter
// iterates them (null otherwise: event and link references then read the span's first one that has it).
struct Ctx {
  const TraceModel* trace = nullptr;
  uint32_t span = 0;
  const EventModel* event = nullptr;
  const LinkModel* link = nullptr;
};

const AttributeValue* find_attr(const std::vector<Attribute>& attrs, std::string_view key) {
  for (const Attribute& a : attrs) {
    if (a.key == key) return &a.value;
  }
  return nullptr;
}

Val lookup_intrinsic(const TraceModel& t, const SpanModel& s, const EventModel* ev, const LinkModel* ln,
                     Intrinsic in) {
  switch (in) {
    case Intrinsic::Duration:
      return int_val(StaticType::Duration,
                     s.end_ns >= s.start_ns ? static_cast<int64_t>(s.end_ns - s.start_ns) : 0);
    case Intrinsic::Name:
      return string_view_val(s.name);
    case Intrinsic::Status:
      return int_val(StaticType::Status, static_cast<int64_t>(s.status));
    case Intrinsic::StatusMessage:
      return string_view_val(s.status_message);
    case Intrinsic::Kind:
      return int_val(StaticType::Kind, static_cast<int64_t>(s.kind));
    case Intrinsic::ChildCount:
      return int_val(StaticType::Int, s.child_count);
    case Intrinsic::SpanId:
      return owned_string_val(span_id_hex(s.span_id));
    case Intrinsic::ParentId:
      if (s.parent_span_id.empty()) return nil_val();
      return owned_string_val(span_id_hex(s.parent_span_id));
    case Intrinsic::TraceDuration:
      return int_val(StaticType::Duration,
                     t.end_ns >= t.start_ns ? static_cast<int64_t>(t.end_ns - t.start_ns) : 0);
    case Intrinsic::TraceRootName:
      return t.root >= 0 ? string_view_val(t.root_name) : nil_val();
    case Intrinsic::TraceRootService:
      return t.root >= 0 ? string_view_val(t.root_service_name) : nil_val();
    case Intrinsic::TraceId:
      return owned_string_val(trace_id_hex(t.id.as_view()));
    case Intrinsic::EventName:
    case Intrinsic::EventTimeSinceStart: {
      if (ev == nullptr) ev = s.events.empty() ? nullptr : &s.events.front();
      if (ev == nullptr) return nil_val();
      if (in == Intrinsic::EventName) return string_view_val(ev->name);
      return int_val(StaticType::Duration, static_cast<int64_t>(ev->time_ns - s.start_ns));
    }
    case Intrinsic::LinkTraceId:
    case Intrinsic::LinkSpanId: {
      if (ln == nullptr) ln = s.links.empty() ? nullptr : &s.links.front();
      if (ln == nullptr) return nil_val();
      if (in == Intrinsic::LinkTraceId) return owned_string_val(trace_id_hex(ln->trace_id));
      return owned_string_val(span_id_hex(ln->span_id));
    }
    case Intrinsic::InstrumentationName:
      return string_view_val(t.scopes[s.scope].name);
    case Intrinsic::InstrumentationVersion:
      return string_view_val(t.scopes[s.scope].version);
    case Intrinsic::NestedSetLeft:
      return int_val(StaticType::Int, s.nested_set_left);
    case Intrinsic::NestedSetRight:
      return int_val(StaticType::Int, s.nested_set_right);
    case Intrinsic::NestedSetParent:
      return int_val(StaticType::Int, s.nested_set_parent);
    case Intrinsic::Parent:
    case Intrinsic::None:
      break;
  }
  return nil_val();
}

Val lookup(const Ctx& c, const AttributeRef& ref) {
  const TraceModel& t = *c.trace;
  uint32_t si = c.span;
  const EventModel* ev = c.event;
  const LinkModel* ln = c.link;
  if (ref.parent) {
    int32_t p = t.spans[si].parent;
    if (p < 0) return nil_val();
    si = static_cast<uint32_t>(p);
    ev = nullptr;  // the event/link under consideration belong to the child
    ln = nullptr;
  }
  const SpanModel& s = t.spans[si];
  if (ref.is_intrinsic()) return lookup_intrinsic(t, s, ev, ln, ref.intrinsic);
  const AttributeValue* v = nullptr;
  switch (ref.scope) {
    case AttributeScope::Span:
      v = find_attr(s.attributes, ref.name);
      break;
    case AttributeScope::Resource:
      v = find_attr(t.resources[s.resource].attributes, ref.name);
      break;
    case AttributeScope::Instrumentation:
      v = find_attr(t.scopes[s.scope].attributes, ref.name);
      break;
    case AttributeScope::Event:
      if (ev != nullptr) {
        v = find_attr(ev->attributes, ref.name);
      } else {
        for (const EventModel& e : s.events) {
          if ((v = find_attr(e.attributes, ref.name)) != nullptr) break;
        }
      }
      break;
    case AttributeScope::Link:
      if (ln != nullptr) {
        v = find_attr(ln->attributes, ref.name);
      } else {
        for (const LinkModel& l : s.links) {
          if ((v = find_attr(l.attributes, ref.name)) != nullptr) break;
        }
      }
      break;
    case AttributeScope::None:
      v = find_attr(s.attributes, ref.name);
      if (v == nullptr) v = find_attr(t.resources[s.resource].attributes, ref.name);
      if (v == nullptr && ev != nullptr) v = find_attr(ev->attributes, ref.name);
      if (v == nullptr && ln != nullptr) v = find_attr(ln->attributes, ref.name);
      break;
  }
  return v != nullptr ? val_of_attribute(*v) : nil_val();
}

// ---------------------------------------------------------------------------------------------------------
// Operators
// ---------------------------------------------------------------------------------------------------------

bool regex_match(const RE2* precompiled, std::string_view text, std::string_view pattern) {
  re2::StringPiece input(text.data(), text.size());
  if (precompiled != nullptr) return RE2::FullMatch(input, *precompiled);
  std::unique_ptr<RE2> re = make_traceql_regex(pattern);  // pattern from the data: compiled per use
  return re->ok() && RE2::FullMatch(input, *re);
}

// A comparison of two scalars with Tempo's typing: numbers compare across int/float/duration, strings
// lexicographically (and by regex), bools/statuses/kinds only for (in)equality; anything else, nil
// included, is false.
bool compare_scalars(Op op, const Val& l, const Val& r, const RE2* re) {
  if (is_numeric(l.type) && is_numeric(r.type)) {
    if (is_integral(l.type) && is_integral(r.type)) return compare_ordered(op, l.i, r.i);
    return compare_ordered(op, as_double(l), as_double(r));
  }
  if (l.type != r.type) return false;
  switch (l.type) {
    case StaticType::String: {
      std::string_view a = l.str();
      std::string_view b = r.str();
      if (op == Op::Regex) return regex_match(re, a, b);
      if (op == Op::NotRegex) return !regex_match(re, a, b);
      return compare_ordered(op, a, b);
    }
    case StaticType::Bool:
    case StaticType::Status:
    case StaticType::Kind:
      if (op == Op::Eq) return l.i == r.i;
      if (op == Op::Neq) return l.i != r.i;
      return false;
    default:
      return false;
  }
}

// Arrays: `=`, `=~`, `<`, ... hold if any element does; `!=` and `!~` only if every element does (none is
// equal / matches). Array against array is false.
bool compare(Op op, const Val& l, const Val& r, const RE2* re) {
  if (!l.is_array && !r.is_array) return compare_scalars(op, l, r, re);
  if (l.is_array && r.is_array) return false;
  bool all = op == Op::Neq || op == Op::NotRegex;
  const std::vector<Static>& arr = l.is_array ? *l.arr : *r.arr;
  for (const Static& e : arr) {
    Val ev = val_of_static(e);
    bool m = l.is_array ? compare_scalars(op, ev, r, re) : compare_scalars(op, l, ev, nullptr);
    if (all && !m) return false;
    if (!all && m) return true;
  }
  return all;
}

// Wrapping integer arithmetic (Go's int semantics, without C++'s overflow UB).
int64_t wrap_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
int64_t wrap_sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t wrap_mul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}

// Tempo: int op int stays int; any other numeric mix is computed in float64. Non-numbers, arrays and
// division by an integer zero yield nil (a comparison with nil is false).
Val arith(Op op, const Val& l, const Val& r) {
  if (l.is_array || r.is_array || !is_numeric(l.type) || !is_numeric(r.type)) return nil_val();
  if (l.type == StaticType::Int && r.type == StaticType::Int) {
    int64_t a = l.i;
    int64_t b = r.i;
    switch (op) {
      case Op::Add:
        return int_val(StaticType::Int, wrap_add(a, b));
      case Op::Sub:
        return int_val(StaticType::Int, wrap_sub(a, b));
      case Op::Mul:
        return int_val(StaticType::Int, wrap_mul(a, b));
      case Op::Div:
        if (b == 0) return nil_val();
        if (b == -1) return int_val(StaticType::Int, wrap_sub(0, a));
        return int_val(StaticType::Int, a / b);
      case Op::Mod:
        if (b == 0) return nil_val();
        if (b == -1) return int_val(StaticType::Int, 0);
        return int_val(StaticType::Int, a % b);
      case Op::Pow: {
        if (b < 0) return float_val(std::pow(static_cast<double>(a), static_cast<double>(b)));
        int64_t result = 1;
        int64_t base = a;
        for (uint64_t e = static_cast<uint64_t>(b); e != 0; e >>= 1) {
          if (e & 1) result = wrap_mul(result, base);
          base = wrap_mul(base, base);
        }
        return int_val(StaticType::Int, result);
      }
      default:
        return nil_val();
    }
  }
  double a = as_double(l);
  double b = as_double(r);
  switch (op) {
    case Op::Add:
      return float_val(a + b);
    case Op::Sub:
      return float_val(a - b);
    case Op::Mul:
      return float_val(a * b);
    case Op::Div:
      return float_val(a / b);
    case Op::Mod:
      return float_val(std::fmod(a, b));
    case Op::Pow:
      return float_val(std::pow(a, b));
    default:
      return nil_val();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Compiled field expressions
// ---------------------------------------------------------------------------------------------------------

// Binary operations are compiled as chains: the leftmost operand, then each operator with its right operand,
// applied in order. Left-associative chains are as long as the parser's height bound (2000), while its
// nesting bound (256) limits everything that recurses here (right operands, unary operands, parentheses).
struct Node;

struct Step {
  enum class Mode : uint8_t {
    Apply,        // acc = acc <op> rhs
    NilCheckAcc,  // `acc = nil` / `acc != nil` (rhs is the nil literal)
    NilCheckRhs,  // `nil = rhs` / `nil != rhs` (acc is the nil literal)
  };
  Mode mode = Mode::Apply;
  Op op = Op::Eq;
  std::unique_ptr<Node> rhs;
  std::unique_ptr<RE2> re;  // =~ / !~ with a constant pattern
};

struct Node {
  enum class Kind : uint8_t { Const, Attr, Not, Neg, Chain };
  Kind kind = Kind::Const;
  Val value;                                // Const
  std::shared_ptr<const std::string> text;  // Const strings the compiler made (value views it)
  const AttributeRef* ref = nullptr;        // Attr: points into the CompiledQuery's AST
  std::unique_ptr<Node> operand;            // Not / Neg operand; Chain: the leftmost operand
  std::vector<Step> steps;                  // Chain
};

Val eval(const Node& n, const Ctx& c) {
  switch (n.kind) {
    case Node::Kind::Const:
      return n.value;
    case Node::Kind::Attr:
      return lookup(c, *n.ref);
    case Node::Kind::Not: {
      Val v = eval(*n.operand, c);
      if (v.type != StaticType::Bool || v.is_array) return nil_val();
      return bool_val(v.i == 0);
    }
    case Node::Kind::Neg: {
      Val v = eval(*n.operand, c);
      if (v.is_array) return nil_val();
      if (v.type == StaticType::Float) return float_val(-v.f);
      if (is_integral(v.type)) return int_val(v.type, wrap_sub(0, v.i));
      return nil_val();
    }
    case Node::Kind::Chain:
      break;
  }
  Val acc = eval(*n.operand, c);
  for (const Step& s : n.steps) {
    switch (s.mode) {
      case Step::Mode::NilCheckAcc:
        acc = bool_val(acc.is_nil() == (s.op == Op::Eq));
        continue;
      case Step::Mode::NilCheckRhs:
        acc = bool_val(eval(*s.rhs, c).is_nil() == (s.op == Op::Eq));
        continue;
      case Step::Mode::Apply:
        break;
    }
    switch (s.op) {
      case Op::And:  // short-circuit; a non-bool operand counts as false
        acc = bool_val(acc.is_true() && eval(*s.rhs, c).is_true());
        break;
      case Op::Or:
        acc = bool_val(acc.is_true() || eval(*s.rhs, c).is_true());
        break;
      case Op::Eq:
      case Op::Neq:
      case Op::Lt:
      case Op::Lte:
      case Op::Gt:
      case Op::Gte:
      case Op::Regex:
      case Op::NotRegex: {
        Val r = eval(*s.rhs, c);
        acc = bool_val(compare(s.op, acc, r, s.re.get()));
        break;
      }
      default: {
        Val r = eval(*s.rhs, c);
        acc = arith(s.op, acc, r);
        break;
      }
    }
  }
  return acc;
}

// ---------------------------------------------------------------------------------------------------------
// Static typing (Tempo's validate(): pkg/traceql/ast_validate.go)
// ---------------------------------------------------------------------------------------------------------

// Implied types; Dyn = an attribute, typed only at run time.
enum class T : uint8_t { Dyn, Nil, Bool, Int, Float, String, Duration, Status, Kind };

T type_of_static(StaticType st) {
  switch (st) {
    case StaticType::Nil:
      return T::Nil;
    case StaticType::Bool:
      return T::Bool;
    case StaticType::Int:
      return T::Int;
    case StaticType::Float:
      return T::Float;
    case StaticType::String:
      return T::String;
    case StaticType::Duration:
      return T::Duration;
    case StaticType::Status:
      return T::Status;
    case StaticType::Kind:
      return T::Kind;
  }
  return T::Nil;
}

T intrinsic_type(Intrinsic in) {
  switch (in) {
    case Intrinsic::Duration:
    case Intrinsic::TraceDuration:
    case Intrinsic::EventTimeSinceStart:
      return T::Duration;
    case Intrinsic::Name:
    case Intrinsic::StatusMessage:
    case Intrinsic::SpanId:
    case Intrinsic::ParentId:
    case Intrinsic::TraceRootName:
    case Intrinsic::TraceRootService:
    case Intrinsic::TraceId:
    case Intrinsic::EventName:
    case Intrinsic::LinkTraceId:
    case Intrinsic::LinkSpanId:
    case Intrinsic::InstrumentationName:
    case Intrinsic::InstrumentationVersion:
      return T::String;
    case Intrinsic::Status:
      return T::Status;
    case Intrinsic::Kind:
      return T::Kind;
    case Intrinsic::ChildCount:
    case Intrinsic::NestedSetLeft:
    case Intrinsic::NestedSetRight:
    case Intrinsic::NestedSetParent:
      return T::Int;
    case Intrinsic::Parent:
      return T::Nil;
    case Intrinsic::None:
      break;
  }
  return T::Dyn;
}

bool t_numeric(T t) { return t == T::Int || t == T::Float || t == T::Duration; }

bool is_boolean_op(Op op) {
  switch (op) {
    case Op::Eq:
    case Op::Neq:
    case Op::Lt:
    case Op::Lte:
    case Op::Gt:
    case Op::Gte:
    case Op::Regex:
    case Op::NotRegex:
    case Op::And:
    case Op::Or:
    case Op::Not:
      return true;
    default:
      return false;
  }
}

// The leftmost operand of a chain of binary operations, and the operations above it from the bottom up.
const FieldExpr* left_spine(const FieldExpr& e, std::vector<const FieldExpr*>& ops) {
  ops.clear();
  const FieldExpr* cur = &e;
  while (cur->kind == FieldExpr::Kind::Binary) {
    ops.push_back(cur);
    cur = cur->lhs.get();
  }
  std::reverse(ops.begin(), ops.end());
  return cur;
}

T implied_type(const FieldExpr& e);

T binary_result_type(Op op, T lhs, const FieldExpr& rhs) {
  if (is_boolean_op(op)) return T::Bool;
  return lhs != T::Dyn ? lhs : implied_type(rhs);
}

T implied_type(const FieldExpr& e) {
  switch (e.kind) {
    case FieldExpr::Kind::Static:
      return type_of_static(e.value.type);
    case FieldExpr::Kind::Attribute:
      return e.attr.is_intrinsic() ? intrinsic_type(e.attr.intrinsic) : T::Dyn;
    case FieldExpr::Kind::Unary:
      return implied_type(*e.lhs);
    case FieldExpr::Kind::Binary:
      break;
  }
  std::vector<const FieldExpr*> ops;
  T t = implied_type(*left_spine(e, ops));
  for (const FieldExpr* b : ops) t = binary_result_type(b->op, t, *b->rhs);
  return t;
}

bool matching_operands(T a, T b) {
  if (a == T::Dyn || b == T::Dyn || a == b) return true;
  if (t_numeric(a) && t_numeric(b)) return true;
  return a == T::Nil || b == T::Nil;
}

bool op_valid_for(Op op, T t) {
  switch (t) {
    case T::Dyn:
      return true;
    case T::Bool:
      return op == Op::And || op == Op::Or || op == Op::Eq || op == Op::Neq;
    case T::Int:
    case T::Float:
    case T::Duration:
      return op == Op::Add || op == Op::Sub || op == Op::Mul || op == Op::Div || op == Op::Mod ||
             op == Op::Pow || op == Op::Eq || op == Op::Neq || op == Op::Gt || op == Op::Gte ||
             op == Op::Lt || op == Op::Lte;
    case T::String:
      return op == Op::Eq || op == Op::Neq || op == Op::Regex || op == Op::NotRegex || op == Op::Gt ||
             op == Op::Gte || op == Op::Lt || op == Op::Lte;
    case T::Nil:
    case T::Status:
    case T::Kind:
      return op == Op::Eq || op == Op::Neq;
  }
  return false;
}

// Visits every node of a field expression, left to right, without recursion.
template <class F>
void visit_field(const FieldExpr& root, F&& f) {
  std::vector<const FieldExpr*> stack{&root};
  while (!stack.empty()) {
    const FieldExpr* e = stack.back();
    stack.pop_back();
    f(*e);
    if (e->rhs) stack.push_back(e->rhs.get());
    if (e->lhs) stack.push_back(e->lhs.get());
  }
}

bool references_span(const FieldExpr& e) {
  bool found = false;
  visit_field(e, [&found](const FieldExpr& x) { found = found || x.kind == FieldExpr::Kind::Attribute; });
  return found;
}

Status validate_field(const FieldExpr& e) {
  switch (e.kind) {
    case FieldExpr::Kind::Static:
      return Status::ok();
    case FieldExpr::Kind::Attribute:
      if (e.attr.intrinsic == Intrinsic::Parent) {
        return invalid_argument("intrinsic (parent) not yet supported");
      }
      return Status::ok();
    case FieldExpr::Kind::Unary: {
      SPINDLE_RETURN_IF_ERROR(validate_field(*e.lhs));
      T t = implied_type(*e.lhs);
      if (t == T::Dyn) return Status::ok();
      bool ok = e.op == Op::Neg ? t_numeric(t) : t == T::Bool;
      if (!ok) return invalid_argument("illegal operation for the given type: " + to_string(e));
      return Status::ok();
    }
    case FieldExpr::Kind::Binary:
      break;
  }
  std::vector<const FieldExpr*> ops;
  const FieldExpr* base = left_spine(e, ops);
  SPINDLE_RETURN_IF_ERROR(validate_field(*base));
  T l = implied_type(*base);
  for (const FieldExpr* b : ops) {
    SPINDLE_RETURN_IF_ERROR(validate_field(*b->rhs));
    T r = implied_type(*b->rhs);
    if (!matching_operands(l, r)) {
      return invalid_argument("binary operations must operate on the same type: " + to_string(*b));
    }
    if (!op_valid_for(b->op, l) || !op_valid_for(b->op, r)) {
      return invalid_argument("illegal operation for the given types: " + to_string(*b));
    }
    l = is_boolean_op(b->op) ? T::Bool : (l != T::Dyn ? l : r);
  }
  return Status::ok();
}

std::string aggregate_text(AggregateKind kind, const FieldExpr* argument) {
  return std::string(aggregate_name(kind)) + "(" + (argument != nullptr ? to_string(*argument) : "") + ")";
}

Status validate_aggregate(AggregateKind kind, const FieldExpr* arg) {
  if (kind == AggregateKind::Count || arg == nullptr) return Status::ok();
  SPINDLE_RETURN_IF_ERROR(validate_field(*arg));
  T t = implied_type(*arg);
  if (t != T::Dyn && !t_numeric(t)) {
    return invalid_argument("aggregate field expressions must resolve to a number type: " +
                            aggregate_text(kind, arg));
  }
  if (!references_span(*arg)) {
    return invalid_argument("aggregate field expressions must reference the span: " +
                            aggregate_text(kind, arg));
  }
  return Status::ok();
}

T aggregate_type(AggregateKind kind, const FieldExpr* arg) {
  if (kind == AggregateKind::Count || arg == nullptr) return T::Int;
  return implied_type(*arg);
}

Status validate_pipeline(const Pipeline& p);

// Left spines of scalar arithmetic and spanset operations, like left_spine() for field expressions.
const ScalarExpr* scalar_spine(const ScalarExpr& e, std::vector<const ScalarExpr*>& ops) {
  ops.clear();
  const ScalarExpr* cur = &e;
  while (cur->kind == ScalarExpr::Kind::Binary) {
    ops.push_back(cur);
    cur = cur->lhs.get();
  }
  std::reverse(ops.begin(), ops.end());
  return cur;
}

const SpansetExpr* spanset_spine(const SpansetExpr& e, std::vector<const SpansetExpr*>& ops) {
  ops.clear();
  const SpansetExpr* cur = &e;
  while (cur->kind == SpansetExpr::Kind::Operation) {
    ops.push_back(cur);
    cur = cur->lhs.get();
  }
  std::reverse(ops.begin(), ops.end());
  return cur;
}

T scalar_type(const ScalarExpr& e) {
  switch (e.kind) {
    case ScalarExpr::Kind::Static:
      return type_of_static(e.value.type);
    case ScalarExpr::Kind::Aggregate:
      return aggregate_type(e.aggregate, e.argument.get());
    case ScalarExpr::Kind::Binary: {
      std::vector<const ScalarExpr*> ops;
      T t = scalar_type(*scalar_spine(e, ops));
      for (const ScalarExpr* b : ops) {
        if (t == T::Dyn) t = scalar_type(*b->rhs);
      }
      return t;
    }
    case ScalarExpr::Kind::Pipeline: {
      const Stage& last = e.pipeline->stages.back();
      return aggregate_type(last.aggregate, last.argument.get());
    }
  }
  return T::Dyn;
}

Status validate_scalar(const ScalarExpr& e) {
  switch (e.kind) {
    case ScalarExpr::Kind::Static:
      return Status::ok();
    case ScalarExpr::Kind::Aggregate:
      return validate_aggregate(e.aggregate, e.argument.get());
    case ScalarExpr::Kind::Binary:
      break;
    case ScalarExpr::Kind::Pipeline:
      return validate_pipeline(*e.pipeline);
  }
  std::vector<const ScalarExpr*> ops;
  const ScalarExpr* base = scalar_spine(e, ops);
  SPINDLE_RETURN_IF_ERROR(validate_scalar(*base));
  T l = scalar_type(*base);
  for (const ScalarExpr* b : ops) {
    SPINDLE_RETURN_IF_ERROR(validate_scalar(*b->rhs));
    T r = scalar_type(*b->rhs);
    if (!matching_operands(l, r)) {
      return invalid_argument("binary operations must operate on the same type: " + to_string(*b));
    }
    if (!op_valid_for(b->op, l) || !op_valid_for(b->op, r)) {
      return invalid_argument("illegal operation for the given types: " + to_string(*b));
    }
    if (l == T::Dyn) l = r;
  }
  return Status::ok();
}

Status validate_spanset(const SpansetExpr& e) {
  switch (e.kind) {
    case SpansetExpr::Kind::Filter: {
      SPINDLE_RETURN_IF_ERROR(validate_field(*e.filter));
      T t = implied_type(*e.filter);
      if (t != T::Dyn && t != T::Bool) {
        return invalid_argument("span filter field expressions must resolve to a boolean: " + to_string(e));
      }
      return Status::ok();
    }
    case SpansetExpr::Kind::Operation: {
      std::vector<const SpansetExpr*> ops;
      SPINDLE_RETURN_IF_ERROR(validate_spanset(*spanset_spine(e, ops)));
      for (const SpansetExpr* b : ops) SPINDLE_RETURN_IF_ERROR(validate_spanset(*b->rhs));
      return Status::ok();
    }
    case SpansetExpr::Kind::Pipeline:
      return validate_pipeline(*e.pipeline);
  }
  return Status::ok();
}

Status validate_stage(const Stage& s) {
  switch (s.kind) {
    case Stage::Kind::Spanset:
      return validate_spanset(*s.spanset);
    case Stage::Kind::ScalarFilter: {
      SPINDLE_RETURN_IF_ERROR(validate_scalar(*s.lhs));
      SPINDLE_RETURN_IF_ERROR(validate_scalar(*s.rhs));
      T l = scalar_type(*s.lhs);
      T r = scalar_type(*s.rhs);
      if (!matching_operands(l, r)) {
        return invalid_argument("binary operations must operate on the same type: " + to_string(s));
      }
      if (!op_valid_for(s.op, l) || !op_valid_for(s.op, r)) {
        return invalid_argument("illegal operation for the given types: " + to_string(s));
      }
      return Status::ok();
    }
    case Stage::Kind::GroupBy:
      if (!references_span(*s.by)) {
        return invalid_argument("grouping field expressions must reference the span: " + to_string(s));
      }
      return validate_field(*s.by);
    case Stage::Kind::Coalesce:
      return Status::ok();
    case Stage::Kind::Select:
      for (const auto& f : s.select) SPINDLE_RETURN_IF_ERROR(validate_field(*f));
      return Status::ok();
    case Stage::Kind::Aggregate:
      return validate_aggregate(s.aggregate, s.argument.get());
  }
  return Status::ok();
}

Status validate_pipeline(const Pipeline& p) {
  for (const Stage& s : p.stages) SPINDLE_RETURN_IF_ERROR(validate_stage(s));
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------------------
// Compilation
// ---------------------------------------------------------------------------------------------------------

bool is_hex_string(std::string_view s) {
  if (s.empty()) return false;
  for (char ch : s) {
    if (hex_digit_value(ch) < 0) return false;
  }
  return true;
}

bool is_trace_id_ref(const FieldExpr& e) {
  return e.kind == FieldExpr::Kind::Attribute && !e.attr.parent &&
         (e.attr.intrinsic == Intrinsic::TraceId || e.attr.intrinsic == Intrinsic::LinkTraceId);
}

Node const_node(Val v) {
  Node n;
  n.kind = Node::Kind::Const;
  n.value = std::move(v);
  return n;
}

Node const_string_node(std::string s) {
  Node n;
  n.kind = Node::Kind::Const;
  n.text = std::make_shared<const std::string>(std::move(s));
  n.value = string_view_val(*n.text);
  return n;
}

Status compile_field(const FieldExpr& e, Node& out);

bool is_nil_literal(const FieldExpr& e) {
  return e.kind == FieldExpr::Kind::Static && e.value.type == StaticType::Nil;
}

// Trace ids read as Tempo prints them (lowercase, leading zeros trimmed); a literal compared with one by
// `=`/`!=` is normalised the same way, so a pasted 32-digit id and the trimmed form both match.
Status compile_operand(const FieldExpr& e, const FieldExpr& other, Op op, Node& out) {
  if ((op == Op::Eq || op == Op::Neq) && e.kind == FieldExpr::Kind::Static &&
      e.value.type == StaticType::String && is_trace_id_ref(other) && is_hex_string(e.value.string_value)) {
    std::string h;
    for (char ch : e.value.string_value)
      h.push_back(static_cast<char>(ch >= 'A' && ch <= 'F' ? ch + 32 : ch));
    size_t z = h.find_first_not_of('0');
    h.erase(0, z == std::string::npos ? h.size() : z);
    out = const_string_node(std::move(h));
    return Status::ok();
  }
  return compile_field(e, out);
}

Status compile_field(const FieldExpr& e, Node& out) {
  switch (e.kind) {
    case FieldExpr::Kind::Static:
      out = const_node(val_of_static(e.value));
      return Status::ok();
    case FieldExpr::Kind::Attribute:
      out.kind = Node::Kind::Attr;
      out.ref = &e.attr;
      return Status::ok();
    case FieldExpr::Kind::Unary:
      out.kind = e.op == Op::Not ? Node::Kind::Not : Node::Kind::Neg;
      out.operand = std::make_unique<Node>();
      return compile_field(*e.lhs, *out.operand);
    case FieldExpr::Kind::Binary:
      break;
  }
  std::vector<const FieldExpr*> ops;
  const FieldExpr* base = left_spine(e, ops);
  out.kind = Node::Kind::Chain;
  out.operand = std::make_unique<Node>();
  SPINDLE_RETURN_IF_ERROR(compile_operand(*base, *ops.front()->rhs, ops.front()->op, *out.operand));
  out.steps.reserve(ops.size());
  for (size_t k = 0; k < ops.size(); ++k) {
    const FieldExpr& b = *ops[k];
    Step& st = out.steps.emplace_back();
    st.op = b.op;
    bool equality = b.op == Op::Eq || b.op == Op::Neq;
    // `x = nil`: x is absent; `x != nil`: x exists (Tempo's OpNotExists / OpExists).
    if (equality && is_nil_literal(*b.rhs)) {
      st.mode = Step::Mode::NilCheckAcc;
      continue;
    }
    if (equality && k == 0 && is_nil_literal(*base)) st.mode = Step::Mode::NilCheckRhs;
    st.rhs = std::make_unique<Node>();
    if (k == 0) {
      SPINDLE_RETURN_IF_ERROR(compile_operand(*b.rhs, *base, b.op, *st.rhs));
    } else {
      SPINDLE_RETURN_IF_ERROR(compile_field(*b.rhs, *st.rhs));
    }
    if ((b.op == Op::Regex || b.op == Op::NotRegex) && st.rhs->kind == Node::Kind::Const &&
        st.rhs->value.type == StaticType::String) {
      st.re = make_traceql_regex(st.rhs->value.str());
      if (!st.re->ok())
        return invalid_argument("invalid regex: " + to_string(*b.rhs) + ": " + st.re->error());
    }
  }
  return Status::ok();
}

// Which per-span iteration a filter needs: explicit event / link references are evaluated against each
// event / link of the span in turn (all conditions of one filter then see the same event, as in Tempo).
void scan_refs(const FieldExpr& root, bool& events, bool& links) {
  visit_field(root, [&](const FieldExpr& e) {
    if (e.kind != FieldExpr::Kind::Attribute || e.attr.parent) return;
    if (e.attr.scope == AttributeScope::Event || e.attr.intrinsic == Intrinsic::EventName ||
        e.attr.intrinsic == Intrinsic::EventTimeSinceStart) {
      events = true;
    }
    if (e.attr.scope == AttributeScope::Link || e.attr.intrinsic == Intrinsic::LinkTraceId ||
        e.attr.intrinsic == Intrinsic::LinkSpanId) {
      links = true;
    }
  });
}

struct CPipeline;

struct CAggregate {
  AggregateKind kind = AggregateKind::Count;
  bool has_arg = false;
  Node arg;
  std::string name;  // "count()", "avg(duration)": the spanset attribute it sets
};

struct CScalar;
struct CScalarStep {
  Op op = Op::Add;
  std::unique_ptr<CScalar> rhs;
};

struct CScalar {
  ScalarExpr::Kind kind = ScalarExpr::Kind::Static;
  Val value;
  CAggregate agg;                       // Aggregate, and Pipeline's final aggregate
  std::unique_ptr<CScalar> base;        // Binary: the leftmost operand of the chain...
  std::vector<CScalarStep> steps;       // ...and each operation above it
  std::unique_ptr<CPipeline> pipeline;  // Pipeline: its stages without the final aggregate
};

struct CSpanset;
struct CSpansetStep {
  SpansetOp op = SpansetOp::And;
  std::unique_ptr<CSpanset> rhs;
};

struct CSpanset {
  SpansetExpr::Kind kind = SpansetExpr::Kind::Filter;
  Node filter;
  bool match_all = false;  // `{}`
  bool events = false;
  bool links = false;
  std::unique_ptr<CSpanset> base;  // Operation: the leftmost operand of the chain and the operations above
  std::vector<CSpansetStep> steps;
  std::unique_ptr<CPipeline> pipeline;
};

struct CStage {
  Stage::Kind kind = Stage::Kind::Spanset;
  std::unique_ptr<CSpanset> spanset;
  Op op = Op::Eq;
  std::unique_ptr<CScalar> lhs, rhs;
  bool has_pipeline = false;  // root-level `({ ... } | count()) > 3`
  Node by;
  std::string by_name;
};

struct CPipeline {
  std::vector<CStage> stages;
};

Result<CPipeline> compile_pipeline(const Pipeline& p, size_t stage_count);

Status compile_aggregate(AggregateKind kind, const FieldExpr* arg, CAggregate& a) {
  a.kind = kind;
  a.name = aggregate_text(kind, kind == AggregateKind::Count ? nullptr : arg);
  if (kind != AggregateKind::Count && arg != nullptr) {
    a.has_arg = true;
    return compile_field(*arg, a.arg);
  }
  return Status::ok();
}

bool contains_pipeline(const ScalarExpr& root) {
  std::vector<const ScalarExpr*> stack{&root};
  while (!stack.empty()) {
    const ScalarExpr* e = stack.back();
    stack.pop_back();
    if (e->kind == ScalarExpr::Kind::Pipeline) return true;
    if (e->kind == ScalarExpr::Kind::Binary) {
      stack.push_back(e->lhs.get());
      stack.push_back(e->rhs.get());
    }
  }
  return false;
}

Result<std::unique_ptr<CScalar>> compile_scalar(const ScalarExpr& e) {
  auto c = std::make_unique<CScalar>();
  c->kind = e.kind;
  switch (e.kind) {
    case ScalarExpr::Kind::Static:
      c->value = val_of_static(e.value);
      break;
    case ScalarExpr::Kind::Aggregate:
      SPINDLE_RETURN_IF_ERROR(compile_aggregate(e.aggregate, e.argument.get(), c->agg));
      break;
    case ScalarExpr::Kind::Binary: {
      std::vector<const ScalarExpr*> ops;
      SPINDLE_ASSIGN_OR_RETURN(c->base, compile_scalar(*scalar_spine(e, ops)));
      for (const ScalarExpr* b : ops) {
        CScalarStep& st = c->steps.emplace_back();
        st.op = b->op;
        SPINDLE_ASSIGN_OR_RETURN(st.rhs, compile_scalar(*b->rhs));
      }
      break;
    }
    case ScalarExpr::Kind::Pipeline: {
      const Pipeline& p = *e.pipeline;
      const Stage& last = p.stages.back();
      SPINDLE_RETURN_IF_ERROR(compile_aggregate(last.aggregate, last.argument.get(), c->agg));
      SPINDLE_ASSIGN_OR_RETURN(CPipeline inner, compile_pipeline(p, p.stages.size() - 1));
      c->pipeline = std::make_unique<CPipeline>(std::move(inner));
      break;
    }
  }
  return c;
}

Result<std::unique_ptr<CSpanset>> compile_spanset(const SpansetExpr& e) {
  auto c = std::make_unique<CSpanset>();
  c->kind = e.kind;
  switch (e.kind) {
    case SpansetExpr::Kind::Filter: {
      const FieldExpr& f = *e.filter;
      c->match_all = f.kind == FieldExpr::Kind::Static && f.value == Static::boolean(true);
      SPINDLE_RETURN_IF_ERROR(compile_field(f, c->filter));
      scan_refs(f, c->events, c->links);
      break;
    }
    case SpansetExpr::Kind::Operation: {
      std::vector<const SpansetExpr*> ops;
      SPINDLE_ASSIGN_OR_RETURN(c->base, compile_spanset(*spanset_spine(e, ops)));
      for (const SpansetExpr* b : ops) {
        CSpansetStep& st = c->steps.emplace_back();
        st.op = b->op;
        SPINDLE_ASSIGN_OR_RETURN(st.rhs, compile_spanset(*b->rhs));
      }
      break;
    }
    case SpansetExpr::Kind::Pipeline: {
      SPINDLE_ASSIGN_OR_RETURN(CPipeline inner, compile_pipeline(*e.pipeline, e.pipeline->stages.size()));
      c->pipeline = std::make_unique<CPipeline>(std::move(inner));
      break;
    }
  }
  return c;
}

Result<CPipeline> compile_pipeline(const Pipeline& p, size_t stage_count) {
  CPipeline out;
  for (size_t k = 0; k < stage_count; ++k) {
    const Stage& s = p.stages[k];
    CStage c;
    c.kind = s.kind;
    switch (s.kind) {
      case Stage::Kind::Spanset: {
        SPINDLE_ASSIGN_OR_RETURN(c.spanset, compile_spanset(*s.spanset));
        break;
      }
      case Stage::Kind::ScalarFilter: {
        c.op = s.op;
        SPINDLE_ASSIGN_OR_RETURN(c.lhs, compile_scalar(*s.lhs));
        SPINDLE_ASSIGN_OR_RETURN(c.rhs, compile_scalar(*s.rhs));
        c.has_pipeline = contains_pipeline(*s.lhs) || contains_pipeline(*s.rhs);
        break;
      }
      case Stage::Kind::GroupBy: {
        SPINDLE_RETURN_IF_ERROR(compile_field(*s.by, c.by));
        c.by_name = to_string(s);
        break;
      }
      case Stage::Kind::Coalesce:
      case Stage::Kind::Select:
      case Stage::Kind::Aggregate:
        break;
    }
    out.stages.push_back(std::move(c));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------------------

using Spans = std::vector<uint32_t>;
using Spansets = std::vector<SpansetResult>;
using Attrs = std::vector<std::pair<std::string, Static>>;

void set_attribute(Attrs& attrs, const std::string& name, Static value) {
  for (auto& a : attrs) {
    if (a.first == name) {
      a.second = std::move(value);
      return;
    }
  }
  attrs.emplace_back(name, std::move(value));
}

Spans merge(const Spans& a, const Spans& b) {
  Spans out;
  out.reserve(a.size() + b.size());
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

Spans minus(const Spans& a, const Spans& b) {
  Spans out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

// Union of the spans of several spansets, ascending.
Spans union_of(const Spansets& sets) {
  if (sets.size() == 1) return sets[0].spans;
  Spans out;
  for (const SpansetResult& s : sets) out.insert(out.end(), s.spans.begin(), s.spans.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// What the scalar side of a filter stage produced: aggregate values to attach, and for scalar pipelines
// the spans they selected (the spans such a stage returns).
struct ScalarRecord {
  Attrs attrs;
  Spans spans;
};

class Evaluator {
 public:
  explicit Evaluator(const TraceModel& t) : t_(t) {}

  Spansets run_pipeline(const CPipeline& p, Spansets input) {
    for (const CStage& s : p.stages) {
      if (input.empty()) break;
      input = run_stage(s, std::move(input));
    }
    return input;
  }

 private:
  Ctx ctx(uint32_t span) const {
    Ctx c;
    c.trace = &t_;
    c.span = span;
    return c;
  }

  Spansets run_stage(const CStage& s, Spansets input) {
    Spansets out;
    switch (s.kind) {
      case Stage::Kind::Spanset:
        for (const SpansetResult& ss : input) {
          Spansets r = eval_spanset(*s.spanset, ss);
          for (SpansetResult& x : r) out.push_back(std::move(x));
        }
        return out;
      case Stage::Kind::ScalarFilter:
        for (SpansetResult& ss : input) {
          ScalarRecord rec;
          std::optional<Val> l = eval_scalar(*s.lhs, ss, rec);
          std::optional<Val> r = eval_scalar(*s.rhs, ss, rec);
          if (!l || !r || !compare(s.op, *l, *r, nullptr)) continue;
          SpansetResult res;
          if (s.has_pipeline) {
            std::sort(rec.spans.begin(), rec.spans.end());
            rec.spans.erase(std::unique(rec.spans.begin(), rec.spans.end()), rec.spans.end());
            res.spans = std::move(rec.spans);
          } else {
            res.spans = std::move(ss.spans);
          }
          res.attributes = std::move(ss.attributes);
          for (auto& a : rec.attrs) set_attribute(res.attributes, a.first, std::move(a.second));
          out.push_back(std::move(res));
        }
        return out;
      case Stage::Kind::GroupBy:
        for (const SpansetResult& ss : input) group_by(s, ss, out);
        return out;
      case Stage::Kind::Coalesce: {
        // Tempo's coalesce() merges the groups back into one spanset without their attributes.
        SpansetResult res;
        res.spans = union_of(input);
        out.push_back(std::move(res));
        return out;
      }
      case Stage::Kind::Select:
      case Stage::Kind::Aggregate:
        return input;
    }
    return out;
  }

  void group_by(const CStage& s, const SpansetResult& ss, Spansets& out) {
    std::unordered_map<std::string, size_t> groups;
    std::string key;
    for (uint32_t span : ss.spans) {
      Val v = eval(s.by, ctx(span));
      key.clear();
      key.push_back(static_cast<char>(v.is_array ? 0xff : static_cast<int>(v.type)));
      if (v.is_array) {
        key += array_text(*v.arr);
      } else if (v.type == StaticType::String) {
        key += v.str();
      } else if (v.type == StaticType::Float) {
        char buf[sizeof(double)];
        std::memcpy(buf, &v.f, sizeof buf);
        key.append(buf, sizeof buf);
      } else if (v.type != StaticType::Nil) {
        char buf[sizeof(int64_t)];
        std::memcpy(buf, &v.i, sizeof buf);
        key.append(buf, sizeof buf);
      }
      auto [it, inserted] = groups.emplace(key, out.size());
      if (inserted) {
        SpansetResult g;
        g.attributes = ss.attributes;
        set_attribute(g.attributes, s.by_name, to_static(v));
        out.push_back(std::move(g));
      }
      out[it->second].spans.push_back(span);
    }
  }

  bool filter_matches(const CSpanset& f, uint32_t span) {
    const SpanModel& s = t_.spans[span];
    Ctx c = ctx(span);
    size_t ne = f.events ? s.events.size() : 0;
    size_t nl = f.links ? s.links.size() : 0;
    // No events (links) to iterate: evaluate once with none under consideration.
    for (size_t ei = 0; ei < std::max<size_t>(ne, 1); ++ei) {
      c.event = ne != 0 ? &s.events[ei] : nullptr;
      for (size_t li = 0; li < std::max<size_t>(nl, 1); ++li) {
        c.link = nl != 0 ? &s.links[li] : nullptr;
        if (eval(f.filter, c).is_true()) return true;
      }
    }
    return false;
  }

  Spansets single(Spans spans, const SpansetResult& in) {
    Spansets out;
    if (spans.empty()) return out;
    SpansetResult r;
    r.spans = std::move(spans);
    r.attributes = in.attributes;
    out.push_back(std::move(r));
    return out;
  }

  Spansets eval_spanset(const CSpanset& e, const SpansetResult& in) {
    switch (e.kind) {
      case SpansetExpr::Kind::Filter: {
        if (e.match_all) return single(in.spans, in);
        Spans keep;
        for (uint32_t span : in.spans) {
          if (filter_matches(e, span)) keep.push_back(span);
        }
        return single(std::move(keep), in);
      }
      case SpansetExpr::Kind::Pipeline:
        return run_pipeline(*e.pipeline, Spansets{in});
      case SpansetExpr::Kind::Operation:
        break;
    }
    // A chain `a op b op c` is applied left to right. Several spansets on one side (a by() inside a
    // parenthesised pipeline) are merged: Tempo rejects that case for structural operators ("consider using
    // coalesce()").
    Spans acc = union_of(eval_spanset(*e.base, in));
    for (const CSpansetStep& st : e.steps) {
      Spans b = union_of(eval_spanset(*st.rhs, in));
      acc = apply(st.op, acc, b);
    }
    return single(std::move(acc), in);
  }

  // The spans `a op b` selects; empty when it selects none.
  Spans apply(SpansetOp op, const Spans& a, const Spans& b) {
    switch (op) {
      case SpansetOp::And:
        if (a.empty() || b.empty()) return {};
        return merge(a, b);
      case SpansetOp::Union:
        return merge(a, b);
      case SpansetOp::Child:
        return child_of(a, b);
      case SpansetOp::NotChild:
        return minus(b, child_of(a, b));
      case SpansetOp::UnionChild:
        return merge(child_of(a, b), parent_of(b, a));
      case SpansetOp::Parent:
        return parent_of(a, b);
      case SpansetOp::NotParent:
        return minus(b, parent_of(a, b));
      case SpansetOp::UnionParent:
        return merge(parent_of(a, b), child_of(b, a));
      case SpansetOp::Descendant:
        return descendant_of(a, b);
      case SpansetOp::NotDescendant:
        return minus(b, descendant_of(a, b));
      case SpansetOp::UnionDescendant:
        return merge(descendant_of(a, b), ancestor_of(b, a));
      case SpansetOp::Ancestor:
        return ancestor_of(a, b);
      case SpansetOp::NotAncestor:
        return minus(b, ancestor_of(a, b));
      case SpansetOp::UnionAncestor:
        return merge(ancestor_of(a, b), descendant_of(b, a));
      case SpansetOp::Sibling:
        return sibling_of(a, b);
      case SpansetOp::NotSibling:
        return minus(b, sibling_of(a, b));
      case SpansetOp::UnionSibling:
        return merge(sibling_of(a, b), sibling_of(b, a));
    }
    return {};
  }

  // Structural relations. Each returns the members of `cand` (ascending) related to some member of `rel`, in
  // O((|rel| + |cand|) log) from the parent links and nested-set numbers.

  // cand spans whose parent is in rel.
  Spans child_of(const Spans& rel, const Spans& cand) {
    Spans out;
    for (uint32_t c : cand) {
      int32_t p = t_.spans[c].parent;
      if (p >= 0 && std::binary_search(rel.begin(), rel.end(), static_cast<uint32_t>(p))) out.push_back(c);
    }
    return out;
  }

  // cand spans that are the parent of a span in rel.
  Spans parent_of(const Spans& rel, const Spans& cand) {
    Spans parents;
    for (uint32_t r : rel) {
      if (t_.spans[r].parent >= 0) parents.push_back(static_cast<uint32_t>(t_.spans[r].parent));
    }
    std::sort(parents.begin(), parents.end());
    Spans out;
    for (uint32_t c : cand) {
      if (std::binary_search(parents.begin(), parents.end(), c)) out.push_back(c);
    }
    return out;
  }

  // cand spans with a proper ancestor in rel. Nested-set intervals are laminar (nested or disjoint), so an
  // interval opening before c's and closing after it is an ancestor: the largest right end among the rel
  // intervals opening before c decides.
  Spans descendant_of(const Spans& rel, const Spans& cand) {
    std::vector<std::pair<int32_t, int32_t>> iv;  // (left, right) of rel, by left
    iv.reserve(rel.size());
    for (uint32_t r : rel) iv.emplace_back(t_.spans[r].nested_set_left, t_.spans[r].nested_set_right);
    std::sort(iv.begin(), iv.end());
    for (size_t k = 1; k < iv.size(); ++k) iv[k].second = std::max(iv[k].second, iv[k - 1].second);
    Spans out;
    for (uint32_t c : cand) {
      const SpanModel& s = t_.spans[c];
      auto it = std::lower_bound(iv.begin(), iv.end(), std::make_pair(s.nested_set_left, INT32_MIN));
      if (it == iv.begin()) continue;
      if (std::prev(it)->second > s.nested_set_right) out.push_back(c);
    }
    return out;
  }

  // cand spans with a proper descendant in rel: some rel interval opens strictly inside c's.
  Spans ancestor_of(const Spans& rel, const Spans& cand) {
    std::vector<int32_t> lefts;
    lefts.reserve(rel.size());
    for (uint32_t r : rel) lefts.push_back(t_.spans[r].nested_set_left);
    std::sort(lefts.begin(), lefts.end());
    Spans out;
    for (uint32_t c : cand) {
      const SpanModel& s = t_.spans[c];
      auto it = std::upper_bound(lefts.begin(), lefts.end(), s.nested_set_left);
      if (it != lefts.end() && *it < s.nested_set_right) out.push_back(c);
    }
    return out;
  }

  // Siblings share a parent: the parent span, or for spans whose parent has not arrived, the same missing
  // parent id. Spans without a parent_span_id have no siblings.
  using SiblingKey = std::pair<int32_t, std::string_view>;
  bool sibling_key(uint32_t span, SiblingKey& key) const {
    const SpanModel& s = t_.spans[span];
    if (s.parent >= 0) {
      key = {s.parent, {}};
      return true;
    }
    if (s.parent_span_id.empty()) return false;
    key = {-1, s.parent_span_id};
    return true;
  }

  Spans sibling_of(const Spans& rel, const Spans& cand) {
    std::vector<SiblingKey> keys;
    keys.reserve(rel.size());
    SiblingKey k;
    for (uint32_t r : rel) {
      if (sibling_key(r, k)) keys.push_back(k);
    }
    std::sort(keys.begin(), keys.end());
    Spans out;
    for (uint32_t c : cand) {
      if (!sibling_key(c, k)) continue;
      auto range = std::equal_range(keys.begin(), keys.end(), k);
      size_t n = static_cast<size_t>(range.second - range.first);
      if (std::binary_search(rel.begin(), rel.end(), c)) --n;  // a span is not its own sibling
      if (n > 0) out.push_back(c);
    }
    return out;
  }

  std::optional<Val> aggregate(const CAggregate& a, const Spans& spans) {
    if (a.kind == AggregateKind::Count) return int_val(StaticType::Int, static_cast<int64_t>(spans.size()));
    if (!a.has_arg) return std::nullopt;
    size_t n = 0;
    bool all_int = true;
    bool all_duration = true;
    int64_t isum = 0;
    double fsum = 0;
    Val best;
    for (uint32_t span : spans) {
      Val v = eval(a.arg, ctx(span));
      if (v.is_array || !is_numeric(v.type)) continue;  // spans without a number are skipped, as in Tempo
      all_int = all_int && v.type == StaticType::Int;
      all_duration = all_duration && v.type == StaticType::Duration;
      isum = is_integral(v.type) ? wrap_add(isum, v.i) : isum;
      fsum += as_double(v);
      if (n == 0 || (a.kind == AggregateKind::Min && compare_scalars(Op::Lt, v, best, nullptr)) ||
          (a.kind == AggregateKind::Max && compare_scalars(Op::Gt, v, best, nullptr))) {
        best = std::move(v);
      }
      ++n;
    }
    if (n == 0) return std::nullopt;  // Tempo drops a spanset whose aggregate has no input
    switch (a.kind) {
      case AggregateKind::Min:
      case AggregateKind::Max:
        return best;
      case AggregateKind::Sum:
        if (all_int) return int_val(StaticType::Int, isum);
        if (all_duration) return int_val(StaticType::Duration, isum);
        return float_val(fsum);
      case AggregateKind::Avg:
        if (all_duration) return int_val(StaticType::Duration, isum / static_cast<int64_t>(n));
        if (all_int) return float_val(static_cast<double>(isum) / static_cast<double>(n));
        return float_val(fsum / static_cast<double>(n));
      case AggregateKind::Count:
        break;
    }
    return std::nullopt;
  }

  std::optional<Val> eval_scalar(const CScalar& e, const SpansetResult& ss, ScalarRecord& rec) {
    switch (e.kind) {
      case ScalarExpr::Kind::Static:
        return e.value;
      case ScalarExpr::Kind::Aggregate: {
        std::optional<Val> v = aggregate(e.agg, ss.spans);
        if (v) set_attribute(rec.attrs, e.agg.name, to_static(*v));
        return v;
      }
      case ScalarExpr::Kind::Binary: {
        std::optional<Val> acc = eval_scalar(*e.base, ss, rec);
        for (const CScalarStep& st : e.steps) {
          std::optional<Val> r = eval_scalar(*st.rhs, ss, rec);
          if (!acc || !r) {
            acc.reset();
            continue;  // keep evaluating: the other aggregates still record their values
          }
          Val v = arith(st.op, *acc, *r);
          if (v.is_nil()) {
            acc.reset();
          } else {
            acc = std::move(v);
          }
        }
        return acc;
      }
      case ScalarExpr::Kind::Pipeline: {
        // `({ ... } | agg())`: the inner pipeline's spansets merged into one, then aggregated.
        Spans spans = union_of(run_pipeline(*e.pipeline, Spansets{ss}));
        std::optional<Val> v = aggregate(e.agg, spans);
        if (v) set_attribute(rec.attrs, e.agg.name, to_static(*v));
        rec.spans.insert(rec.spans.end(), spans.begin(), spans.end());
        return v;
      }
    }
    return std::nullopt;
  }

  const TraceModel& t_;
};

// ---------------------------------------------------------------------------------------------------------
// Attributes shown on matched spans
// ---------------------------------------------------------------------------------------------------------

bool shown_on_spans(const AttributeRef& ref) {
  switch (ref.intrinsic) {
    case Intrinsic::Name:
    case Intrinsic::Duration:
    case Intrinsic::TraceDuration:
    case Intrinsic::TraceRootService:
    case Intrinsic::TraceRootName:
    case Intrinsic::TraceId:
    case Intrinsic::SpanId:
    // Not attributes in Tempo's span model (the fetch layer keeps them as span fields).
    case Intrinsic::NestedSetLeft:
    case Intrinsic::NestedSetRight:
    case Intrinsic::NestedSetParent:
    case Intrinsic::Parent:
      return false;
    default:
      return true;
  }
}

void collect_field(const FieldExpr& root, std::vector<AttributeRef>& out) {
  visit_field(root, [&out](const FieldExpr& e) {
    if (e.kind == FieldExpr::Kind::Attribute && shown_on_spans(e.attr) &&
        std::find(out.begin(), out.end(), e.attr) == out.end()) {
      out.push_back(e.attr);
    }
  });
}

void collect_pipeline(const Pipeline& p, std::vector<AttributeRef>& out);

void collect_scalar(const ScalarExpr& e, std::vector<AttributeRef>& out) {
  switch (e.kind) {
    case ScalarExpr::Kind::Static:
      return;
    case ScalarExpr::Kind::Aggregate:
      if (e.argument) collect_field(*e.argument, out);
      return;
    case ScalarExpr::Kind::Binary: {
      std::vector<const ScalarExpr*> ops;
      collect_scalar(*scalar_spine(e, ops), out);
      for (const ScalarExpr* b : ops) collect_scalar(*b->rhs, out);
      return;
    }
    case ScalarExpr::Kind::Pipeline:
      collect_pipeline(*e.pipeline, out);
      return;
  }
}

void collect_spanset(const SpansetExpr& e, std::vector<AttributeRef>& out) {
  switch (e.kind) {
    case SpansetExpr::Kind::Filter:
      collect_field(*e.filter, out);
      return;
    case SpansetExpr::Kind::Operation: {
      std::vector<const SpansetExpr*> ops;
      collect_spanset(*spanset_spine(e, ops), out);
      for (const SpansetExpr* b : ops) collect_spanset(*b->rhs, out);
      return;
    }
    case SpansetExpr::Kind::Pipeline:
      collect_pipeline(*e.pipeline, out);
      return;
  }
}

void collect_pipeline(const Pipeline& p, std::vector<AttributeRef>& out) {
  for (const Stage& s : p.stages) {
    if (s.spanset) collect_spanset(*s.spanset, out);
    if (s.lhs) collect_scalar(*s.lhs, out);
    if (s.rhs) collect_scalar(*s.rhs, out);
    if (s.by) collect_field(*s.by, out);
    for (const auto& f : s.select) collect_field(*f, out);
    if (s.argument) collect_field(*s.argument, out);
  }
}

}  // namespace

struct CompiledQuery::Impl {
  CPipeline root;
};

Result<std::shared_ptr<const CompiledQuery>> CompiledQuery::compile(Query query) {
  auto cq = std::make_shared<CompiledQuery>();
  // The compiled form points into the AST, so it is built from the query at its final address.
  cq->query_ = std::move(query);
  const Pipeline& p = cq->query_.pipeline;
  if (p.stages.empty()) return invalid_argument("empty query");
  SPINDLE_RETURN_IF_ERROR(validate_pipeline(p));
  auto impl = std::make_shared<Impl>();
  SPINDLE_ASSIGN_OR_RETURN(impl->root, compile_pipeline(p, p.stages.size()));
  collect_pipeline(p, cq->span_attributes_);
  cq->impl_ = std::move(impl);
  return std::shared_ptr<const CompiledQuery>(std::move(cq));
}

std::vector<SpansetResult> CompiledQuery::evaluate(const TraceModel& trace) const {
  if (trace.spans.empty()) return {};
  SpansetResult all;
  all.spans.resize(trace.spans.size());
  for (uint32_t k = 0; k < all.spans.size(); ++k) all.spans[k] = k;
  Spansets input;
  input.push_back(std::move(all));
  Evaluator ev(trace);
  return ev.run_pipeline(impl_->root, std::move(input));
}

std::optional<Static> CompiledQuery::value_of(const TraceModel& trace, uint32_t span,
                                              const AttributeRef& ref) {
  if (span >= trace.spans.size()) return std::nullopt;
  Ctx c;
  c.trace = &trace;
  c.span = span;
  Val v = lookup(c, ref);
  if (v.is_nil()) return std::nullopt;
  return to_static(v);
}

}  // namespace spindle
