#pragma once
// TraceQL tokens (tempo-api.md 5.1; Tempo's pkg/traceql/lexer.go is the reference behaviour).
//
// Lexical rules worth knowing:
// - Whitespace and Go comments (`// ...`, `/* ... */`) separate tokens.
// - Strings: "..." with Go escapes, or `...` raw. Single quotes are not strings.
// - A number immediately followed by unit letters is a duration, read Prometheus-style first
//   (`1d`, `1w`, `1y`, `1h30m`) then Go-style (`1.5m`, `10us`, `10µs`, `100ns`).
// - Attribute references are one token: a scope prefix (`.`, `span.`, `resource.`, `event.`, `link.`,
//   `instrumentation.`, `parent.`, `parent.span.`, `parent.resource.`) then a name made of every byte up
//   to whitespace or one of `{ } ( ) = ~ ! < > & | ^ ,` (so dots, dashes, `+`, `:` belong to the name);
//   `"..."` segments inside the name may hold any of those (escapes `\"` and `\\` only).
// - Intrinsics are one token: `name`, `duration`, ... and the scoped `span:name`, `trace:id`, ...
// - Any other bare word is an Identifier (only meaningful as a hint name; an error elsewhere, as in
//   Tempo). An unknown character is an Identifier of that one character.
// Lexing stops at the first error: the last token is then an Error token carrying the message.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/traceql/ast.h"

namespace spindle {

enum class TokenKind : uint8_t {
  End,
  Error,
  String,
  Integer,
  Float,
  Duration,
  Identifier,
  Attribute,  // attr holds scope/parent/name (or, for `parent.duration`, the intrinsic)
  Intrinsic,  // attr.intrinsic
  // Literal keywords.
  True,
  False,
  Nil,
  StatusOk,
  StatusError,
  StatusUnset,
  KindUnspecified,
  KindInternal,
  KindServer,
  KindClient,
  KindProducer,
  KindConsumer,
  MinInt,
  MaxInt,
  // Function keywords.
  Count,
  Avg,
  Min,
  Max,
  Sum,
  By,
  Select,
  Coalesce,
  Rate,
  CountOverTime,
  QuantileOverTime,
  HistogramOverTime,
  MinOverTime,
  MaxOverTime,
  AvgOverTime,
  SumOverTime,
  Compare,
  Topk,
  Bottomk,
  With,
  // Punctuation.
  LBrace,
  RBrace,
  LParen,
  RParen,
  Pipe,
  Comma,
  // Operators. `>` `<` `~` `!~` double as structural operators between spansets.
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
  Add,
  Sub,
  Mul,
  Div,
  Mod,
  Pow,
  Desc,         // >>
  Ance,         // <<
  Tilde,        // ~
  NotChild,     // !>
  NotParent,    // !<
  NotDesc,      // !>>
  NotAnce,      // !<<
  UnionChild,   // &>
  UnionParent,  // &<
  UnionDesc,    // &>>
  UnionAnce,    // &<<
  UnionSibl,    // &~
};

struct Token {
  TokenKind kind = TokenKind::End;
  SourcePos pos;
  std::string_view text;  // source text (for Error: empty)
  std::string str;        // String: decoded value; Error: the message
  int64_t int_value = 0;  // Integer; Duration in nanoseconds
  double float_value = 0;
  AttributeRef attr;  // Attribute, Intrinsic
};

// How a token is named in "unexpected X" messages, as Tempo's goyacc parser names it: literal tokens
// by their text (`{`, `&&`, `count`, `span.`), value tokens by class (IDENTIFIER, STRING, INTEGER, ...),
// the end as `$end`.
std::string token_display(const Token& token);

// Tokenises `input` up to max_tokens tokens (excluding the End token). The result always ends with an
// End or an Error token. `input` must outlive the tokens (they point into it).
std::vector<Token> lex_traceql(std::string_view input, size_t max_tokens);

// Exposed for tests and for the API layer's duration parameters: Prometheus-style, then Go-style.
bool parse_traceql_duration(std::string_view text, int64_t* nanos);

// True for the characters that end an unquoted attribute name (besides the end of input and `"`, which opens a
// quoted part). The AST printer quotes names containing any of them, so what it prints lexes back the same.
bool traceql_ends_attribute(char c);

}  // namespace spindle
