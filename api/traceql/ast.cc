#include "api/traceql/ast.h"

#include "api/traceql/lexer.h"
#include "core/quote.h"

#include <charconv>
#include <cstdio>
#include <limits>

namespace spindle {
namespace {

bool is_binary(const FieldExpr& e) { return e.kind == FieldExpr::Kind::Binary; }

// Unary operators bind looser than * / % ^ (Tempo's grammar gives `-x` the precedence of binary minus
// and `!x` its own level below `*`), so a unary operand of those needs parentheses to survive a re-parse.
bool needs_parens(const FieldExpr& operand, Op parent_op) {
  if (is_binary(operand)) return true;
  if (operand.kind != FieldExpr::Kind::Unary) return false;
  return parent_op == Op::Mul || parent_op == Op::Div || parent_op == Op::Mod || parent_op == Op::Pow;
}

std::string field_operand(const FieldExpr& operand, Op parent_op) {
  std::string s = to_string(operand);
  return needs_parens(operand, parent_op) ? "(" + s + ")" : s;
}

std::string scalar_operand(const ScalarExpr& operand) {
  std::string s = to_string(operand);
  return operand.kind == ScalarExpr::Kind::Binary ? "(" + s + ")" : s;
}

std::string spanset_operand(const SpansetExpr& operand) {
  std::string s = to_string(operand);
  return operand.kind == SpansetExpr::Kind::Operation ? "(" + s + ")" : s;
}

bool attribute_name_needs_quotes(const AttributeRef& attr) {
  const std::string& n = attr.name;
  if (n.empty()) return true;
  if (attr.scope == AttributeScope::None && !attr.parent && n[0] >= '0' && n[0] <= '9') return true;
  if (attr.parent && attr.scope == AttributeScope::None &&
      (n.rfind("span.", 0) == 0 || n.rfind("resource.", 0) == 0)) {
    return true;
  }
  for (char c : n) {
    if (c == '"' || c == '\\' || traceql_ends_attribute(c)) return true;
  }
  return false;
}

std::string quote_attribute_name(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string quote_string(const std::string& s) {
  std::string out;
  append_quoted(out, s);
  return out;
}

std::string format_float(double v) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, ec == std::errc() ? ptr : buf);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

// Go's fmtFrac/fmtInt pair: `v` scaled down by 10^prec, fraction printed without trailing zeros.
std::string format_scaled(uint64_t v, int prec) {
  std::string frac;
  bool printed = false;
  for (int i = 0; i < prec; ++i) {
    uint64_t digit = v % 10;
    printed = printed || digit != 0;
    if (printed) frac.insert(frac.begin(), static_cast<char>('0' + digit));
    v /= 10;
  }
  std::string out = std::to_string(v);
  if (!frac.empty()) out += "." + frac;
  return out;
}

}  // namespace

std::string_view op_text(Op op) {
  switch (op) {
    case Op::Add:
      return "+";
    case Op::Sub:
      return "-";
    case Op::Mul:
      return "*";
    case Op::Div:
      return "/";
    case Op::Mod:
      return "%";
    case Op::Pow:
      return "^";
    case Op::Eq:
      return "=";
    case Op::Neq:
      return "!=";
    case Op::Lt:
      return "<";
    case Op::Lte:
      return "<=";
    case Op::Gt:
      return ">";
    case Op::Gte:
      return ">=";
    case Op::Regex:
      return "=~";
    case Op::NotRegex:
      return "!~";
    case Op::And:
      return "&&";
    case Op::Or:
      return "||";
    case Op::Not:
      return "!";
    case Op::Neg:
      return "-";
  }
  return "?";
}

std::string_view spanset_op_text(SpansetOp op) {
  switch (op) {
    case SpansetOp::And:
      return "&&";
    case SpansetOp::Union:
      return "||";
    case SpansetOp::Child:
      return ">";
    case SpansetOp::Parent:
      return "<";
    case SpansetOp::Descendant:
      return ">>";
    case SpansetOp::Ancestor:
      return "<<";
    case SpansetOp::Sibling:
      return "~";
    case SpansetOp::NotChild:
      return "!>";
    case SpansetOp::NotParent:
      return "!<";
    case SpansetOp::NotDescendant:
      return "!>>";
    case SpansetOp::NotAncestor:
      return "!<<";
    case SpansetOp::NotSibling:
      return "!~";
    case SpansetOp::UnionChild:
      return "&>";
    case SpansetOp::UnionParent:
      return "&<";
    case SpansetOp::UnionDescendant:
      return "&>>";
    case SpansetOp::UnionAncestor:
      return "&<<";
    case SpansetOp::UnionSibling:
      return "&~";
  }
  return "?";
}

std::string_view aggregate_name(AggregateKind kind) {
  switch (kind) {
    case AggregateKind::Count:
      return "count";
    case AggregateKind::Avg:
      return "avg";
    case AggregateKind::Min:
      return "min";
    case AggregateKind::Max:
      return "max";
    case AggregateKind::Sum:
      return "sum";
  }
  return "?";
}

std::string_view status_name(SpanStatus status) {
  switch (status) {
    case SpanStatus::Unset:
      return "unset";
    case SpanStatus::Ok:
      return "ok";
    case SpanStatus::Error:
      return "error";
  }
  return "?";
}

std::string_view kind_name(SpanKind kind) {
  switch (kind) {
    case SpanKind::Unspecified:
      return "unspecified";
    case SpanKind::Internal:
      return "internal";
    case SpanKind::Server:
      return "server";
    case SpanKind::Client:
      return "client";
    case SpanKind::Producer:
      return "producer";
    case SpanKind::Consumer:
      return "consumer";
  }
  return "?";
}

std::string_view intrinsic_name(Intrinsic intrinsic) {
  switch (intrinsic) {
    case Intrinsic::None:
      return "";
    case Intrinsic::Duration:
      return "duration";
    case Intrinsic::Name:
      return "name";
    case Intrinsic::Status:
      return "status";
    case Intrinsic::StatusMessage:
      return "statusMessage";
    case Intrinsic::Kind:
      return "kind";
    case Intrinsic::ChildCount:
      return "childCount";
    case Intrinsic::SpanId:
      return "span:id";
    case Intrinsic::ParentId:
      return "span:parentID";
    case Intrinsic::TraceDuration:
      return "traceDuration";
    case Intrinsic::TraceRootName:
      return "rootName";
    case Intrinsic::TraceRootService:
      return "rootServiceName";
    case Intrinsic::TraceId:
      return "trace:id";
    case Intrinsic::EventName:
      return "event:name";
    case Intrinsic::EventTimeSinceStart:
      return "event:timeSinceStart";
    case Intrinsic::LinkTraceId:
      return "link:traceID";
    case Intrinsic::LinkSpanId:
      return "link:spanID";
    case Intrinsic::InstrumentationName:
      return "instrumentation:name";
    case Intrinsic::InstrumentationVersion:
      return "instrumentation:version";
    case Intrinsic::Parent:
      return "parent";
    case Intrinsic::NestedSetLeft:
      return "nestedSetLeft";
    case Intrinsic::NestedSetRight:
      return "nestedSetRight";
    case Intrinsic::NestedSetParent:
      return "nestedSetParent";
  }
  return "?";
}

std::string_view scope_name(AttributeScope scope) {
  switch (scope) {
    case AttributeScope::None:
      return "";
    case AttributeScope::Span:
      return "span";
    case AttributeScope::Resource:
      return "resource";
    case AttributeScope::Event:
      return "event";
    case AttributeScope::Link:
      return "link";
    case AttributeScope::Instrumentation:
      return "instrumentation";
  }
  return "?";
}

std::string format_go_duration(int64_t nanos) {
  if (nanos == 0) return "0s";
  bool negative = nanos < 0;
  uint64_t u = negative ? ~static_cast<uint64_t>(nanos) + 1 : static_cast<uint64_t>(nanos);
  std::string out;
  if (u < 1000000000ULL) {
    if (u < 1000) {
      out = std::to_string(u) + "ns";
    } else if (u < 1000000) {
      out = format_scaled(u, 3) + "\xC2\xB5s";
    } else {
      out = format_scaled(u, 6) + "ms";
    }
  } else {
    uint64_t seconds_total = u / 1000000000ULL;
    uint64_t sub = u % 1000000000ULL;
    uint64_t secs = seconds_total % 60;
    uint64_t minutes = (seconds_total / 60) % 60;
    uint64_t hours = seconds_total / 3600;
    out = format_scaled(secs * 1000000000ULL + sub, 9) + "s";
    if (hours > 0) {
      out = std::to_string(hours) + "h" + std::to_string(minutes) + "m" + out;
    } else if (minutes > 0) {
      out = std::to_string(minutes) + "m" + out;
    }
  }
  return negative ? "-" + out : out;
}

std::string to_string(const Static& v) {
  switch (v.type) {
    case StaticType::Nil:
      return "nil";
    case StaticType::Bool:
      return v.int_value ? "true" : "false";
    case StaticType::Int:
      if (v.int_value == std::numeric_limits<int64_t>::min()) return "minInt";
      return std::to_string(v.int_value);
    case StaticType::Float:
      return format_float(v.float_value);
    case StaticType::String:
      return quote_string(v.string_value);
    case StaticType::Duration:
      return format_go_duration(v.int_value);
    case StaticType::Status:
      return std::string(status_name(static_cast<SpanStatus>(v.int_value)));
    case StaticType::Kind:
      return std::string(kind_name(static_cast<SpanKind>(v.int_value)));
  }
  return "?";
}

std::string to_string(const AttributeRef& attr) {
  std::string out = attr.parent ? "parent." : "";
  if (attr.is_intrinsic()) return out + std::string(intrinsic_name(attr.intrinsic));
  if (attr.scope == AttributeScope::None) {
    if (!attr.parent) out = ".";
  } else {
    out += std::string(scope_name(attr.scope)) + ".";
  }
  out += attribute_name_needs_quotes(attr) ? quote_attribute_name(attr.name) : attr.name;
  return out;
}

std::string to_string(const FieldExpr& e) {
  switch (e.kind) {
    case FieldExpr::Kind::Static:
      return to_string(e.value);
    case FieldExpr::Kind::Attribute:
      return to_string(e.attr);
    case FieldExpr::Kind::Unary: {
      std::string operand = to_string(*e.lhs);
      if (is_binary(*e.lhs)) operand = "(" + operand + ")";
      // `- -x`, not `--x`: keeps the output readable (both lex the same).
      std::string sep = e.op == Op::Neg && operand[0] == '-' ? " " : "";
      return std::string(op_text(e.op)) + sep + operand;
    }
    case FieldExpr::Kind::Binary:
      return field_operand(*e.lhs, e.op) + " " + std::string(op_text(e.op)) + " " +
             field_operand(*e.rhs, e.op);
  }
  return "?";
}

std::string to_string(const SpansetExpr& e) {
  switch (e.kind) {
    case SpansetExpr::Kind::Filter: {
      const FieldExpr& f = *e.filter;
      if (f.kind == FieldExpr::Kind::Static && f.value == Static::boolean(true)) return "{}";
      return "{ " + to_string(f) + " }";
    }
    case SpansetExpr::Kind::Operation:
      return spanset_operand(*e.lhs) + " " + std::string(spanset_op_text(e.op)) + " " +
             spanset_operand(*e.rhs);
    case SpansetExpr::Kind::Pipeline:
      return "(" + to_string(*e.pipeline) + ")";
  }
  return "?";
}

namespace {
std::string aggregate_text(AggregateKind kind, const FieldExpr* argument) {
  return std::string(aggregate_name(kind)) + "(" + (argument ? to_string(*argument) : "") + ")";
}
}  // namespace

std::string to_string(const ScalarExpr& e) {
  switch (e.kind) {
    case ScalarExpr::Kind::Static:
      return to_string(e.value);
    case ScalarExpr::Kind::Aggregate:
      return aggregate_text(e.aggregate, e.argument.get());
    case ScalarExpr::Kind::Binary:
      return scalar_operand(*e.lhs) + " " + std::string(op_text(e.op)) + " " + scalar_operand(*e.rhs);
    case ScalarExpr::Kind::Pipeline:
      return "(" + to_string(*e.pipeline) + ")";
  }
  return "?";
}

std::string to_string(const Stage& s) {
  switch (s.kind) {
    case Stage::Kind::Spanset:
      return to_string(*s.spanset);
    case Stage::Kind::ScalarFilter:
      return to_string(*s.lhs) + " " + std::string(op_text(s.op)) + " " + to_string(*s.rhs);
    case Stage::Kind::GroupBy:
      return "by(" + to_string(*s.by) + ")";
    case Stage::Kind::Coalesce:
      return "coalesce()";
    case Stage::Kind::Select: {
      std::string out = "select(";
      for (size_t i = 0; i < s.select.size(); ++i) {
        if (i) out += ", ";
        out += to_string(*s.select[i]);
      }
      return out + ")";
    }
    case Stage::Kind::Aggregate:
      return aggregate_text(s.aggregate, s.argument.get());
  }
  return "?";
}

std::string to_string(const Pipeline& p) {
  std::string out;
  for (size_t i = 0; i < p.stages.size(); ++i) {
    if (i) out += " | ";
    out += to_string(p.stages[i]);
  }
  return out;
}

std::string to_string(const Query& q) {
  std::string out = to_string(q.pipeline);
  if (!q.hints.empty()) {
    out += " with(";
    for (size_t i = 0; i < q.hints.size(); ++i) {
      if (i) out += ", ";
      out += q.hints[i].name + "=" + to_string(q.hints[i].value);
    }
    out += ")";
  }
  return out;
}

}  // namespace spindle
