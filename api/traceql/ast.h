#pragma once
// TraceQL abstract syntax tree (tempo-api.md section 5), as produced by parse_traceql() (parser.h).
//
// Shape, from the root down:
//   Query     = Pipeline + hints (`with(k=v, ...)`).
//   Pipeline  = Stage { "|" Stage }.
//   Stage     = a SpansetExpr, a ScalarFilter (`count() > 2`), by(FieldExpr), select(FieldExpr, ...),
//               coalesce(), or (only as the last stage of a pipeline nested in a ScalarExpr) a bare
//               aggregate (`({ ... } | count())`).
//   SpansetExpr = a filter `{ FieldExpr }`, a SpansetOp of two SpansetExprs (`&&`, `>>`, ...), or a
//               parenthesised Pipeline used as an operand (`({ .a } | count() > 1) && { .b }`).
//   ScalarExpr  = a number/duration Static, an aggregate, arithmetic of ScalarExprs, or a Pipeline ending
//               in an aggregate (root-level scalar pipeline filters: `({ .a } | count()) > 3`).
//   FieldExpr   = per-span expression: Static, attribute/intrinsic reference, unary or binary operation.
//
// Nodes own their children (unique_ptr). The parser bounds every tree's height (kMaxTraceqlTreeHeight in
// parser.h), so evaluators and destructors may recurse. A parsed tree is immutable by convention; any
// number of threads may read it concurrently.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace spindle {

// 1-based source position of the token that started a node.
struct SourcePos {
  uint32_t line = 1;
  uint32_t col = 1;
};

enum class StaticType : uint8_t { Nil, Bool, Int, Float, String, Duration, Status, Kind };

// Span status, numbered like OTLP's Status.StatusCode.
enum class SpanStatus : uint8_t { Unset = 0, Ok = 1, Error = 2 };
// Span kind, numbered like OTLP's Span.SpanKind.
enum class SpanKind : uint8_t {
  Unspecified = 0,
  Internal = 1,
  Server = 2,
  Client = 3,
  Producer = 4,
  Consumer = 5
};

// A literal. Only the member matching `type` is meaningful: int_value holds Int, Bool (0/1), Duration
// (nanoseconds), Status and Kind (their enum values); float_value holds Float; string_value holds String.
struct Static {
  StaticType type = StaticType::Nil;
  int64_t int_value = 0;
  double float_value = 0;
  std::string string_value;

  static Static nil() { return {}; }
  static Static boolean(bool b) { return {StaticType::Bool, b ? 1 : 0, 0, {}}; }
  static Static integer(int64_t v) { return {StaticType::Int, v, 0, {}}; }
  static Static floating(double v) { return {StaticType::Float, 0, v, {}}; }
  static Static string(std::string v) { return {StaticType::String, 0, 0, std::move(v)}; }
  static Static duration(int64_t ns) { return {StaticType::Duration, ns, 0, {}}; }
  static Static status(SpanStatus s) { return {StaticType::Status, static_cast<int64_t>(s), 0, {}}; }
  static Static kind(SpanKind k) { return {StaticType::Kind, static_cast<int64_t>(k), 0, {}}; }

  bool is_numeric() const {
    return type == StaticType::Int || type == StaticType::Float || type == StaticType::Duration;
  }
  bool operator==(const Static&) const = default;
};

// Where an attribute is looked up. None = unscoped `.x` (span, then resource, ...).
enum class AttributeScope : uint8_t { None, Span, Resource, Event, Link, Instrumentation };

// Fields every span (or its trace, event, link, scope) has, independent of attributes.
enum class Intrinsic : uint8_t {
  None,                    // not an intrinsic: an attribute
  Duration,                // duration, span:duration
  Name,                    // name, span:name
  Status,                  // status, span:status
  StatusMessage,           // statusMessage, span:statusMessage
  Kind,                    // kind, span:kind
  ChildCount,              // childCount, span:childCount
  SpanId,                  // span:id
  ParentId,                // span:parentID
  TraceDuration,           // traceDuration, trace:duration
  TraceRootName,           // rootName, trace:rootName
  TraceRootService,        // rootServiceName, trace:rootService
  TraceId,                 // trace:id
  EventName,               // event:name
  EventTimeSinceStart,     // event:timeSinceStart
  LinkTraceId,             // link:traceID
  LinkSpanId,              // link:spanID
  InstrumentationName,     // instrumentation:name
  InstrumentationVersion,  // instrumentation:version
  Parent,                  // parent (Tempo parses it; it is unsupported at evaluation)
  NestedSetLeft,           // nestedSetLeft
  NestedSetRight,          // nestedSetRight
  NestedSetParent,         // nestedSetParent (< 0 on root spans: Grafana Traces Drilldown's root selector)
};

// A reference to an intrinsic (intrinsic != None) or an attribute (name, scope). `parent` = look it up on
// the span's parent (`parent.x`, `parent.span.x`, `parent.duration`).
struct AttributeRef {
  AttributeScope scope = AttributeScope::None;
  Intrinsic intrinsic = Intrinsic::None;
  bool parent = false;
  std::string name;  // attribute name, without scope; empty for intrinsics

  bool is_intrinsic() const { return intrinsic != Intrinsic::None; }
  bool operator==(const AttributeRef&) const = default;
};

// Per-span operators. Neg and Not are unary.
enum class Op : uint8_t {
  Add,
  Sub,
  Mul,
  Div,
  Mod,
  Pow,
  Eq,
  Neq,
  Lt,
  Lte,
  Gt,
  Gte,
  Regex,
  NotRegex,
  And,
  Or,
  Not,
  Neg,
};

// Operators between spansets. The structural ones return spans of the right side (Child: right spans
// whose parent is in the left set, ...), the Union* forms return matches from both sides.
enum class SpansetOp : uint8_t {
  And,
  Union,
  Child,
  Parent,
  Descendant,
  Ancestor,
  Sibling,
  NotChild,
  NotParent,
  NotDescendant,
  NotAncestor,
  NotSibling,
  UnionChild,
  UnionParent,
  UnionDescendant,
  UnionAncestor,
  UnionSibling,
};

enum class AggregateKind : uint8_t { Count, Avg, Min, Max, Sum };

struct FieldExpr {
  enum class Kind : uint8_t { Static, Attribute, Unary, Binary };
  Kind kind = Kind::Static;
  SourcePos pos;
  uint32_t height = 1;             // longest root-to-leaf path, bounded by the parser
  Static value;                    // Kind::Static
  AttributeRef attr;               // Kind::Attribute
  Op op = Op::Eq;                  // Kind::Unary (Not, Neg) and Kind::Binary
  std::unique_ptr<FieldExpr> lhs;  // Unary operand or Binary left
  std::unique_ptr<FieldExpr> rhs;  // Binary right
};

struct Pipeline;

struct SpansetExpr {
  enum class Kind : uint8_t { Filter, Operation, Pipeline };
  Kind kind = Kind::Filter;
  SourcePos pos;
  uint32_t height = 1;
  std::unique_ptr<FieldExpr> filter;  // Filter: the condition; `{}` is stored as Static true
  SpansetOp op = SpansetOp::And;      // Operation
  std::unique_ptr<SpansetExpr> lhs, rhs;
  std::unique_ptr<Pipeline> pipeline;  // Pipeline (a parenthesised pipeline used as a spanset)
};

struct ScalarExpr {
  enum class Kind : uint8_t { Static, Aggregate, Binary, Pipeline };
  Kind kind = Kind::Static;
  SourcePos pos;
  uint32_t height = 1;
  Static value;                                    // Static (Int, Float or Duration)
  AggregateKind aggregate = AggregateKind::Count;  // Aggregate
  std::unique_ptr<FieldExpr> argument;             // Aggregate; null for count()
  Op op = Op::Add;                                 // Binary: Add, Sub, Mul, Div, Mod, Pow
  std::unique_ptr<ScalarExpr> lhs, rhs;
  std::unique_ptr<Pipeline> pipeline;  // Pipeline: its last stage is Stage::Kind::Aggregate
};

struct Stage {
  enum class Kind : uint8_t { Spanset, ScalarFilter, GroupBy, Coalesce, Select, Aggregate };
  Kind kind = Kind::Spanset;
  SourcePos pos;
  std::unique_ptr<SpansetExpr> spanset;            // Spanset
  Op op = Op::Eq;                                  // ScalarFilter: Eq, Neq, Lt, Lte, Gt, Gte
  std::unique_ptr<ScalarExpr> lhs, rhs;            // ScalarFilter
  std::unique_ptr<FieldExpr> by;                   // GroupBy
  std::vector<std::unique_ptr<FieldExpr>> select;  // Select
  AggregateKind aggregate = AggregateKind::Count;  // Aggregate
  std::unique_ptr<FieldExpr> argument;             // Aggregate; null for count()
};

struct Pipeline {
  std::vector<Stage> stages;
};

// `with(name=value, ...)`: query hints (most_recent, sample, ...).
struct Hint {
  std::string name;
  Static value;
};

struct Query {
  Pipeline pipeline;
  std::vector<Hint> hints;
};

// Canonical text, used by tests to pin structure and precedence: every nested binary operation is
// parenthesised, strings are double-quoted with escapes, durations print in Go syntax (`1m30s`), `{}`
// and `{ true }` both print as `{}`. Parsing the output yields the same tree.
std::string to_string(const Query& query);
std::string to_string(const Pipeline& pipeline);
std::string to_string(const Stage& stage);
std::string to_string(const SpansetExpr& expr);
std::string to_string(const ScalarExpr& expr);
std::string to_string(const FieldExpr& expr);
std::string to_string(const Static& value);
std::string to_string(const AttributeRef& attr);

// Names used in query text and in results.
std::string_view op_text(Op op);
std::string_view spanset_op_text(SpansetOp op);
std::string_view aggregate_name(AggregateKind kind);
std::string_view status_name(SpanStatus status);
std::string_view kind_name(SpanKind kind);
// Canonical text of an intrinsic: `name`, `duration`, `span:id`, `trace:id`, `event:name`, ...
std::string_view intrinsic_name(Intrinsic intrinsic);
// `span`, `resource`, ... ("" for None).
std::string_view scope_name(AttributeScope scope);

// Go's time.Duration.String(): "1h30m0s", "1.5s", "100ms", "10µs", "0s". Search results render duration
// values this way (tempo-api.md 2.4).
std::string format_go_duration(int64_t nanos);

}  // namespace spindle
