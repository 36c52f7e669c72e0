#pragma once
// TraceQL evaluation over one trace (tempo-api.md 5.4): a compiled query takes a TraceModel and returns the
// spansets the query selects, with pipeline results attached. Search (api/search*) runs it over every trace a
// shard holds and turns the spansets into TraceSearchMetadata.
//
// Semantics follow Tempo:
//   - `{ cond }` keeps the spans for which cond is true; every condition inside one filter refers to the same
//     span; `{}` keeps all spans. Missing attributes make a comparison false (`!= nil` = exists, `= nil` =
//     absent). A filter that references event (link) scope or intrinsics is evaluated against each event
//     (link) of the span in turn, so its conditions see the same event; the span matches if any does.
//     Unscoped `.x` looks at span, then resource attributes, then the event and link under consideration.
//     Outside such a filter (value_of, aggregates, by()) an event/link reference reads the first one that has
//     it. `parent.x` reads the parent span (nil for roots).
//   - int/float/duration compare numerically; strings lexicographically; `=~`/`!~` are fully anchored RE2
//     regexes (Go's syntax); arrays match `=`/`=~`/`<`... if any element does and `!=`/`!~` if every element
//     does (none equal / matches); comparing values of different types is false. `&&`/`||` treat non-bool
//     operands as false, `!` of a non-bool is nil. Arithmetic: int op int stays int (wrapping, integer
//     division; x/0 is nil), any other numeric mix is float64 (Tempo). trace:id / link:traceID read as Tempo
//     prints them (lowercase hex, leading zeros trimmed; a hex literal compared to one is trimmed too);
//     span:id, span:parentID, link:spanID are 16 lowercase hex digits.
//   - spanset `&&` (both sides non-empty, union), `||` (union), structural operators returning right-side
//     spans (`>` children, `<` parents, `>>` descendants, `<<` ancestors, `~` siblings), their `!`
//     negations and `&` union forms; O(spans log spans) each through parent links and nested-set numbers.
//     Siblings share a parent span (or the same missing parent id); spans without a parent_span_id have none.
//   - pipeline stages filter spansets in turn; count/avg/min/max/sum with scalar filters (aggregates skip
//     spans without a number; a spanset with no input to avg/min/max/sum is dropped, as in Tempo); by()
//     splits a spanset into groups, coalesce() merges them; select() adds attributes to the returned spans.
//   - a root-level scalar pipeline filter (`({ .a } | count()) > 3`, which Tempo parses but cannot run)
//     returns one spanset holding the spans its pipelines selected (none for `... | count()) = 0`).
//
// Thread safety: a compiled query is immutable; evaluate() may run on any number of threads at once.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/traceql/ast.h"
#include "api/traceql/trace_model.h"
#include "core/result.h"

namespace re2 {
class RE2;
}

namespace spindle {

// A TraceQL regex (`=~`, `!~`: RE2, matched against the whole value). Check ok() before use. The column filter
// compiles its regexes here too, so both judge a value alike.
std::unique_ptr<re2::RE2> make_traceql_regex(std::string_view pattern);

// `a op b` for the six comparison operators; false for any other operator.
template <class T>
bool compare_ordered(Op op, const T& a, const T& b) {
  switch (op) {
    case Op::Eq:
      return a == b;
    case Op::Neq:
      return a != b;
    case Op::Lt:
      return a < b;
    case Op::Lte:
      return a <= b;
    case Op::Gt:
      return a > b;
    case Op::Gte:
      return a >= b;
    default:
      return false;
  }
}

struct SpansetResult {
  std::vector<uint32_t> spans;  // indexes into TraceModel::spans, ascending
  // Pipeline results keyed by the stage's text as Tempo names them: "count()", "avg(duration)",
  // "by(resource.service.name)". Values: Int for count(); avg() Float (Duration over durations); min/max/sum
  // keep the numbers' type (Int, Float or Duration; sum of mixed types is Float); the group key for by().
  std::vector<std::pair<std::string, Static>> attributes;
};

class CompiledQuery {
 public:
  // Type-checks the query (Tempo's validation errors as InvalidArgument, e.g. `{ status = 1 }`) and
  // prepares it (regexes compiled once).
  static Result<std::shared_ptr<const CompiledQuery>> compile(Query query);

  // The spansets of `trace` the query selects; empty when the trace does not match.
  std::vector<SpansetResult> evaluate(const TraceModel& trace) const;

  // The attributes search results show on each matched span (tempo-api.md 2.4): every attribute and intrinsic
  // the query's conditions reference, plus select()'s, minus the intrinsics Tempo leaves out (name, duration,
  // traceDuration, rootServiceName, rootName, trace:id, span:id, and the nestedSet* span fields), in query
  // order, without duplicates.
  const std::vector<AttributeRef>& span_attributes() const { return span_attributes_; }
  const Query& query() const { return query_; }

  // The value of `ref` on span `span` of `trace`, as a search result shows it; nullopt if absent (or out of
  // range). Event/link references read the span's first event/link that has them; an array reads as its text
  // (`["a","b"]`, a String), since Static holds no arrays.
  static std::optional<Static> value_of(const TraceModel& trace, uint32_t span, const AttributeRef& ref);

 private:
  struct Impl;
  Query query_;
  std::vector<AttributeRef> span_attributes_;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace spindle
