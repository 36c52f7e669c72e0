#pragma once
// TraceQL parser (tempo-api.md 5.2): a hand-written precedence-climbing parser that accepts Tempo's
// grammar (pkg/traceql/expr.y) for search queries and reports errors in Tempo's form:
//   InvalidArgument "parse error at line L, col C: syntax error: unexpected X[, expecting Y]"
// L and C are 1-based; C counts characters; X is named as Tempo names it (`$end`, `IDENTIFIER`, `&&`).
// The API layer prefixes "invalid TraceQL query: ".
//
// Precedence, low to high: `|`; `&& ||`; comparisons and structural operators; `+ -`; `!`; `* / %`;
// `^` (right-associative). As in Tempo's yacc grammar, a prefix `-` takes the precedence of binary minus
// and `!` its own level, so `-.a * .b` is `-(.a * .b)` and `!.a = .b` is `(!.a) = .b`.
//
// Deliberate differences from Tempo: a parenthesised pipeline and a plain spanset filter may be
// combined (`({ .a } | count() > 1) && { .b }`, Tempo insists on parentheses around both); a scalar
// filter without any aggregate (`3 = 2`, which Tempo rejects later as unsupported) is a parse error;
// metrics functions (`rate()`, ...) are lexed but rejected ("unexpected rate") until the metrics engine
// exists. Untrusted input is bounded by the limits below; no input crashes or recurses without bound.
//
// All functions are pure and thread-safe.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/traceql/ast.h"
#include "core/result.h"

namespace spindle {

// Tempo's query_frontend max_query_expression_size_bytes default.
inline constexpr size_t kMaxTraceqlQueryBytes = 128 * 1024;
inline constexpr size_t kMaxTraceqlTokens = 50000;
// Parentheses, braces, unary operators and right-associative `^` chains recurse in the parser.
inline constexpr uint32_t kMaxTraceqlNesting = 256;
// Longest root-to-leaf path of any tree (long `&&` / `+` chains): evaluators may recurse this deep.
inline constexpr uint32_t kMaxTraceqlTreeHeight = 2000;

Result<Query> parse_traceql(std::string_view query);

// For the tag-values `q` filter (tempo-api.md 2.6, pitfall 7): never fails. A query that parses is
// returned as is. Otherwise only its first spanset filter is kept, repaired: conditions that do not parse
// (`.a = `, `span.http.`, an unterminated string) are dropped from `&&` chains, an `||` with a broken
// side becomes unconstrained, and a missing `}` is tolerated. The result is a superset filter: if nothing
// usable remains, or the first filter is followed by a spanset/structural operator, it is `{}`.
Result<Query> parse_traceql_lenient(std::string_view query);

// A single TraceQL identifier (`resource.service.name`, `.foo`, `span:name`, `status`), as the v2
// tag-values endpoint takes in its path.
Result<AttributeRef> parse_traceql_identifier(std::string_view identifier);

}  // namespace spindle
