#include "api/traceql/lexer.h"

#include <charconv>
#include <cstring>
#include <limits>

namespace spindle {
namespace {

constexpr int64_t kNs = 1;
constexpr int64_t kUs = 1000 * kNs;
constexpr int64_t kMs = 1000 * kUs;
constexpr int64_t kSec = 1000 * kMs;
constexpr int64_t kMin = 60 * kSec;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;

struct Keyword {
  std::string_view word;
  TokenKind kind;
};

constexpr Keyword kKeywords[] = {
    {"true", TokenKind::True},
    {"false", TokenKind::False},
    {"nil", TokenKind::Nil},
    {"ok", TokenKind::StatusOk},
    {"error", TokenKind::StatusError},
    {"unset", TokenKind::StatusUnset},
    {"unspecified", TokenKind::KindUnspecified},
    {"internal", TokenKind::KindInternal},
    {"server", TokenKind::KindServer},
    {"client", TokenKind::KindClient},
    {"producer", TokenKind::KindProducer},
    {"consumer", TokenKind::KindConsumer},
    {"minInt", TokenKind::MinInt},
    {"maxInt", TokenKind::MaxInt},
    {"count", TokenKind::Count},
    {"avg", TokenKind::Avg},
    {"min", TokenKind::Min},
    {"max", TokenKind::Max},
    {"sum", TokenKind::Sum},
    {"by", TokenKind::By},
    {"select", TokenKind::Select},
    {"coalesce", TokenKind::Coalesce},
    {"rate", TokenKind::Rate},
    {"count_over_time", TokenKind::CountOverTime},
    {"quantile_over_time", TokenKind::QuantileOverTime},
    {"histogram_over_time", TokenKind::HistogramOverTime},
    {"min_over_time", TokenKind::MinOverTime},
    {"max_over_time", TokenKind::MaxOverTime},
    {"avg_over_time", TokenKind::AvgOverTime},
    {"sum_over_time", TokenKind::SumOverTime},
    {"compare", TokenKind::Compare},
    {"topk", TokenKind::Topk},
    {"bottomk", TokenKind::Bottomk},
    {"with", TokenKind::With},
};

struct IntrinsicWord {
  std::string_view word;
  Intrinsic intrinsic;
};

// Unscoped intrinsic keywords. The first six are also valid after `parent.`.
constexpr IntrinsicWord kUnscopedIntrinsics[] = {
    {"duration", Intrinsic::Duration},
    {"name", Intrinsic::Name},
    {"status", Intrinsic::Status},
    {"statusMessage", Intrinsic::StatusMessage},
    {"kind", Intrinsic::Kind},
    {"childCount", Intrinsic::ChildCount},
    {"traceDuration", Intrinsic::TraceDuration},
    {"rootName", Intrinsic::TraceRootName},
    {"rootServiceName", Intrinsic::TraceRootService},
    {"nestedSetLeft", Intrinsic::NestedSetLeft},
    {"nestedSetRight", Intrinsic::NestedSetRight},
    {"nestedSetParent", Intrinsic::NestedSetParent},
    {"parent", Intrinsic::Parent},
};
constexpr size_t kParentIntrinsicCount = 6;

struct ScopedIntrinsic {
  std::string_view scope;
  std::string_view word;
  Intrinsic intrinsic;
};

constexpr ScopedIntrinsic kScopedIntrinsics[] = {
    {"span", "duration", Intrinsic::Duration},
    {"span", "name", Intrinsic::Name},
    {"span", "kind", Intrinsic::Kind},
    {"span", "status", Intrinsic::Status},
    {"span", "statusMessage", Intrinsic::StatusMessage},
    {"span", "id", Intrinsic::SpanId},
    {"span", "parentID", Intrinsic::ParentId},
    {"span", "childCount", Intrinsic::ChildCount},
    {"trace", "duration", Intrinsic::TraceDuration},
    {"trace", "rootName", Intrinsic::TraceRootName},
    {"trace", "rootService", Intrinsic::TraceRootService},
    {"trace", "id", Intrinsic::TraceId},
    {"event", "name", Intrinsic::EventName},
    {"event", "timeSinceStart", Intrinsic::EventTimeSinceStart},
    {"link", "traceID", Intrinsic::LinkTraceId},
    {"link", "spanID", Intrinsic::LinkSpanId},
    {"instrumentation", "name", Intrinsic::InstrumentationName},
    {"instrumentation", "version", Intrinsic::InstrumentationVersion},
};

struct ScopeWord {
  std::string_view word;
  AttributeScope scope;
};

constexpr ScopeWord kAttributeScopes[] = {
    {"span", AttributeScope::Span},
    {"resource", AttributeScope::Resource},
    {"event", AttributeScope::Event},
    {"link", AttributeScope::Link},
    {"instrumentation", AttributeScope::Instrumentation},
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word_byte(char c) {
  auto u = static_cast<unsigned char>(c);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || is_digit(c) || u >= 0x80;
}
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
}  // namespace

bool traceql_ends_attribute(char c) {
  switch (c) {
    case ' ':
    case '\t':
    case '\n':
    case '\r':
    case '\v':
    case '\f':
    case '{':
    case '}':
    case '(':
    case ')':
    case '=':
    case '~':
    case '!':
    case '<':
    case '>':
    case '&':
    case '|':
    case '^':
    case ',':
      return true;
    default:
      return false;
  }
}

namespace {

// Duration units, Prometheus order (each at most once, in this order).
bool parse_prometheus_duration(std::string_view s, int64_t* out) {
  static constexpr struct {
    std::string_view unit;
    int64_t mult;
  } kUnits[] = {{"y", 365 * kDay}, {"w", 7 * kDay}, {"d", kDay}, {"h", kHour},
                {"m", kMin},       {"s", kSec},     {"ms", kMs}};
  if (s.empty()) return false;
  if (s == "0") {
    *out = 0;
    return true;
  }
  size_t next_unit = 0;
  __int128 total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i == start || i - start > 19) return false;
    __int128 value = 0;
    for (size_t k = start; k < i; ++k) value = value * 10 + (s[k] - '0');
    size_t ustart = i;
    while (i < s.size() && !is_digit(s[i])) ++i;
    std::string_view unit = s.substr(ustart, i - ustart);
    size_t u = next_unit;
    while (u < std::size(kUnits) && kUnits[u].unit != unit) ++u;
    if (u == std::size(kUnits)) return false;
    next_unit = u + 1;
    total += value * kUnits[u].mult;
    if (total > std::numeric_limits<int64_t>::max()) return false;
  }
  *out = static_cast<int64_t>(total);
  return true;
}

// Go's time.ParseDuration.
bool parse_go_duration(std::string_view s, int64_t* out) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    *out = 0;
    return true;
  }
  if (s.empty()) return false;
  __int128 total = 0;
  while (!s.empty()) {
    size_t i = 0;
    __int128 whole = 0;
    bool digits = false;
    while (i < s.size() && is_digit(s[i])) {
      whole = whole * 10 + (s[i] - '0');
      if (whole > std::numeric_limits<int64_t>::max()) return false;
      digits = true;
      ++i;
    }
    __int128 frac = 0;
    __int128 scale = 1;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && is_digit(s[i])) {
        if (scale < static_cast<__int128>(1000000000000000000LL)) {
          frac = frac * 10 + (s[i] - '0');
          scale *= 10;
        }
        digits = true;
        ++i;
      }
    }
    if (!digits) return false;
    size_t ustart = i;
    while (i < s.size() && s[i] != '.' && !is_digit(s[i])) ++i;
    std::string_view unit = s.substr(ustart, i - ustart);
    int64_t mult;
    if (unit == "ns")
      mult = kNs;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
      mult = kUs;
    else if (unit == "ms")
      mult = kMs;
    else if (unit == "s")
      mult = kSec;
    else if (unit == "m")
      mult = kMin;
    else if (unit == "h")
      mult = kHour;
    else
      return false;
    total += whole * mult + frac * mult / scale;
    if (total > std::numeric_limits<int64_t>::max()) return false;
    s.remove_prefix(i);
  }
  *out = static_cast<int64_t>(negative ? -total : total);
  return true;
}

class Lexer {
 public:
  Lexer(std::string_view input, size_t max_tokens) : in_(input), max_tokens_(max_tokens) {}

  std::vector<Token> run() {
    std::vector<Token> out;
    for (;;) {
      Token t = next();
      bool stop = t.kind == TokenKind::End || t.kind == TokenKind::Error;
      if (!stop && out.size() >= max_tokens_) {
        t = error_at(t.pos, "query has too many tokens (max " + std::to_string(max_tokens_) + ")");
        stop = true;
      }
      out.push_back(std::move(t));
      if (stop) return out;
    }
  }

 private:
  bool at_end() const { return i_ >= in_.size(); }
  char peek(size_t k = 0) const { return i_ + k < in_.size() ? in_[i_ + k] : '\0'; }
  bool has(size_t k) const { return i_ + k < in_.size(); }

  // Columns count characters, as Go's text/scanner does: UTF-8 continuation bytes do not advance.
  void advance() {
    char c = in_[i_++];
    if (c == '\n') {
      ++line_;
      col_ = 1;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++col_;
    }
  }
  void advance(size_t n) {
    for (size_t k = 0; k < n && !at_end(); ++k) advance();
  }
  SourcePos pos() const { return {line_, col_}; }

  static Token error_at(SourcePos p, std::string message) {
    Token t;
    t.kind = TokenKind::Error;
    t.pos = p;
    t.str = std::move(message);
    return t;
  }

  Token make(TokenKind kind, SourcePos p, size_t start) const {
    Token t;
    t.kind = kind;
    t.pos = p;
    t.text = in_.substr(start, i_ - start);
    return t;
  }

  // Returns false (with *err set) on an unterminated comment.
  bool skip_space_and_comments(Token* err) {
    for (;;) {
      if (at_end()) return true;
      char c = peek();
      if (is_space(c)) {
        advance();
      } else if (c == '/' && peek(1) == '/') {
        while (!at_end() && peek() != '\n') advance();
      } else if (c == '/' && peek(1) == '*') {
        SourcePos p = pos();
        advance(2);
        for (;;) {
          if (at_end()) {
            *err = error_at(p, "comment not terminated");
            return false;
          }
          if (peek() == '*' && peek(1) == '/') {
            advance(2);
            break;
          }
          advance();
        }
      } else {
        return true;
      }
    }
  }

  Token next() {
    Token err;
    if (!skip_space_and_comments(&err)) return err;
    SourcePos p = pos();
    size_t start = i_;
    if (at_end()) return make(TokenKind::End, p, start);
    char c = peek();
    if (c == '"') return lex_string(p, start);
    if (c == '`') return lex_raw_string(p, start);
    if (is_digit(c) || (c == '.' && is_digit(peek(1)))) return lex_number(p, start);
    if (c == '.') {
      advance();
      return lex_attribute(p, start, AttributeScope::None, false);
    }
    if (is_word_byte(c)) return lex_word(p, start);
    return lex_operator(p, start);
  }

  Token lex_operator(SourcePos p, size_t start) {
    struct Op {
      std::string_view text;
      TokenKind kind;
    };
    // Longest first so that greedy matching picks `!>>` over `!>` over `!`.
    static constexpr Op kOps[] = {
        {"!>>", TokenKind::NotDesc},   {"!<<", TokenKind::NotAnce},    {"&>>", TokenKind::UnionDesc},
        {"&<<", TokenKind::UnionAnce}, {"!=", TokenKind::Neq},         {"!~", TokenKind::NotRegex},
        {"!>", TokenKind::NotChild},   {"!<", TokenKind::NotParent},   {"&&", TokenKind::And},
        {"&>", TokenKind::UnionChild}, {"&<", TokenKind::UnionParent}, {"&~", TokenKind::UnionSibl},
        {"||", TokenKind::Or},         {"=~", TokenKind::Regex},       {">>", TokenKind::Desc},
        {">=", TokenKind::Gte},        {"<<", TokenKind::Ance},        {"<=", TokenKind::Lte},
        {"!", TokenKind::Not},         {"|", TokenKind::Pipe},         {"=", TokenKind::Eq},
        {">", TokenKind::Gt},          {"<", TokenKind::Lt},           {"~", TokenKind::Tilde},
        {"+", TokenKind::Add},         {"-", TokenKind::Sub},          {"*", TokenKind::Mul},
        {"/", TokenKind::Div},         {"%", TokenKind::Mod},          {"^", TokenKind::Pow},
        {"{", TokenKind::LBrace},      {"}", TokenKind::RBrace},       {"(", TokenKind::LParen},
        {")", TokenKind::RParen},      {",", TokenKind::Comma},
    };
    std::string_view rest = in_.substr(i_);
    for (const Op& op : kOps) {
      if (rest.substr(0, op.text.size()) == op.text) {
        advance(op.text.size());
        return make(op.kind, p, start);
      }
    }
    // Unknown character: Tempo's lexer returns it as an identifier; keep the whole UTF-8 sequence.
    advance();
    while (!at_end() && (static_cast<unsigned char>(peek()) & 0xC0) == 0x80) advance();
    return make(TokenKind::Identifier, p, start);
  }

  Token lex_word(SourcePos p, size_t start) {
    while (!at_end() && is_word_byte(peek())) advance();
    std::string_view word = in_.substr(start, i_ - start);
    if (peek() == '.') {
      if (word == "parent") {
        advance();
        return lex_parent_attribute(p, start);
      }
      for (const ScopeWord& s : kAttributeScopes) {
        if (s.word == word) {
          advance();
          return lex_attribute(p, start, s.scope, false);
        }
      }
    }
    if (peek() == ':' && (word == "span" || word == "trace" || word == "event" || word == "link" ||
                          word == "instrumentation")) {
      advance();
      SourcePos wpos = pos();
      size_t wstart = i_;
      while (!at_end() && is_word_byte(peek())) advance();
      std::string_view name = in_.substr(wstart, i_ - wstart);
      for (const ScopedIntrinsic& s : kScopedIntrinsics) {
        if (s.scope == word && s.word == name) {
          Token t = make(TokenKind::Intrinsic, p, start);
          t.attr.intrinsic = s.intrinsic;
          return t;
        }
      }
      if (name.empty()) return error_at(p, "syntax error: unexpected " + std::string(word) + ":");
      return error_at(wpos, "syntax error: unexpected IDENTIFIER");
    }
    for (const Keyword& k : kKeywords) {
      if (k.word == word) return make(k.kind, p, start);
    }
    for (const IntrinsicWord& w : kUnscopedIntrinsics) {
      if (w.word == word) {
        Token t = make(TokenKind::Intrinsic, p, start);
        t.attr.intrinsic = w.intrinsic;
        return t;
      }
    }
    return make(TokenKind::Identifier, p, start);
  }

  Token lex_parent_attribute(SourcePos p, size_t start) {
    std::string_view rest = in_.substr(i_);
    if (rest.substr(0, 5) == "span.") {
      advance(5);
      return lex_attribute(p, start, AttributeScope::Span, true);
    }
    if (rest.substr(0, 9) == "resource.") {
      advance(9);
      return lex_attribute(p, start, AttributeScope::Resource, true);
    }
    Token t = lex_attribute(p, start, AttributeScope::None, true);
    if (t.kind == TokenKind::Attribute) {
      // `parent.duration` is the parent's intrinsic; `parent.duration.foo` an attribute.
      for (size_t k = 0; k < kParentIntrinsicCount; ++k) {
        if (t.attr.name == kUnscopedIntrinsics[k].word) {
          t.attr.intrinsic = kUnscopedIntrinsics[k].intrinsic;
          t.attr.name.clear();
          break;
        }
      }
    }
    return t;
  }

  // The prefix (scope and dot) has been consumed.
  Token lex_attribute(SourcePos p, size_t start, AttributeScope scope, bool parent) {
    std::string name;
    bool any = false;
    for (;;) {
      if (at_end()) break;
      char c = peek();
      if (c == '"') {
        SourcePos qpos = pos();
        advance();
        for (;;) {
          if (at_end()) return error_at(qpos, "unexpected EOF, expecting \"");
          char q = peek();
          if (q == '"') {
            advance();
            break;
          }
          if (q == '\\') {
            advance();
            char e = peek();
            if (at_end() || (e != '"' && e != '\\')) return error_at(pos(), "invalid escape sequence");
            name.push_back(e);
            advance();
            continue;
          }
          name.push_back(q);
          advance();
        }
        any = true;
      } else if (!traceql_ends_attribute(c)) {
        name.push_back(c);
        advance();
        any = true;
      } else {
        break;
      }
    }
    if (!any || name.empty()) {
      return error_at(p, parent && scope == AttributeScope::None
                             ? "syntax error: unexpected END_ATTRIBUTE, expecting IDENTIFIER or "
                               "resource. or span."
                             : "syntax error: unexpected END_ATTRIBUTE, expecting IDENTIFIER");
    }
    Token t = make(TokenKind::Attribute, p, start);
    t.attr.scope = scope;
    t.attr.parent = parent;
    t.attr.name = std::move(name);
    return t;
  }

  Token lex_number(SourcePos p, size_t start) {
    bool is_float = false;
    while (is_digit(peek())) advance();
    if (peek() == '.') {
      is_float = true;
      advance();
      while (is_digit(peek())) advance();
    }
    if ((peek() == 'e' || peek() == 'E') &&
        (is_digit(peek(1)) || ((peek(1) == '+' || peek(1) == '-') && is_digit(peek(2))))) {
      is_float = true;
      advance(2);
      while (is_digit(peek())) advance();
    }
    std::string_view number = in_.substr(start, i_ - start);

    // A duration: the number plus every following digit, '.', or unit letter.
    size_t k = 0;
    for (;;) {
      char c = peek(k);
      if (!has(k)) break;
      if (is_digit(c) || c == '.' || c == 'n' || c == 's' || c == 'u' || c == 'm' || c == 'h' || c == 'd' ||
          c == 'w' || c == 'y') {
        ++k;
      } else if (c == '\xC2' && peek(k + 1) == '\xB5') {  // µ
        k += 2;
      } else {
        break;
      }
    }
    if (k > 0) {
      std::string_view text = in_.substr(start, i_ - start + k);
      int64_t ns;
      if (parse_traceql_duration(text, &ns)) {
        advance(k);
        Token t = make(TokenKind::Duration, p, start);
        t.int_value = ns;
        return t;
      }
    }
    Token t = make(is_float ? TokenKind::Float : TokenKind::Integer, p, start);
    if (is_float) {
      auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), t.float_value);
      if (ec != std::errc() || ptr != number.data() + number.size()) {
        return error_at(p, "strconv.ParseFloat: parsing \"" + std::string(number) + "\": value out of range");
      }
    } else {
      auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), t.int_value);
      if (ec != std::errc() || ptr != number.data() + number.size()) {
        return error_at(p, "strconv.Atoi: parsing \"" + std::string(number) + "\": value out of range");
      }
    }
    return t;
  }

  Token lex_raw_string(SourcePos p, size_t start) {
    advance();
    std::string value;
    for (;;) {
      if (at_end()) return error_at(p, "literal not terminated");
      char c = peek();
      advance();
      if (c == '`') break;
      if (c != '\r') value.push_back(c);
    }
    Token t = make(TokenKind::String, p, start);
    t.str = std::move(value);
    return t;
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  static void append_utf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // Go's strconv.Unquote rules for a double-quoted literal: returns false on a bad escape.
  static bool decode_escape(std::string_view body, size_t* i, std::string* out) {
    char e = body[*i];
    ++*i;
    switch (e) {
      case 'a':
        out->push_back('\a');
        return true;
      case 'b':
        out->push_back('\b');
        return true;
      case 'f':
        out->push_back('\f');
        return true;
      case 'n':
        out->push_back('\n');
        return true;
      case 'r':
        out->push_back('\r');
        return true;
      case 't':
        out->push_back('\t');
        return true;
      case 'v':
        out->push_back('\v');
        return true;
      case '\\':
        out->push_back('\\');
        return true;
      case '"':
        out->push_back('"');
        return true;
      case 'x':
      case 'u':
      case 'U': {
        size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        if (*i + n > body.size()) return false;
        uint32_t v = 0;
        for (size_t k = 0; k < n; ++k) {
          int h = hex_value(body[*i + k]);
          if (h < 0) return false;
          v = v * 16 + static_cast<uint32_t>(h);
        }
        *i += n;
        if (e == 'x') {
          out->push_back(static_cast<char>(v));
          return true;
        }
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return false;
        append_utf8(out, v);
        return true;
      }
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7': {
        if (*i + 2 > body.size()) return false;
        uint32_t v = static_cast<uint32_t>(e - '0');
        for (size_t k = 0; k < 2; ++k) {
          char d = body[*i + k];
          if (d < '0' || d > '7') return false;
          v = v * 8 + static_cast<uint32_t>(d - '0');
        }
        if (v > 255) return false;
        *i += 2;
        out->push_back(static_cast<char>(v));
        return true;
      }
      default:
        return false;
    }
  }

  Token lex_string(SourcePos p, size_t start) {
    advance();
    size_t body_start = i_;
    for (;;) {
      if (at_end() || peek() == '\n') return error_at(p, "literal not terminated");
      char c = peek();
      if (c == '"') break;
      advance();
      if (c == '\\') {
        if (at_end() || peek() == '\n') return error_at(p, "literal not terminated");
        advance();
      }
    }
    std::string_view body = in_.substr(body_start, i_ - body_start);
    advance();  // closing quote
    std::string value;
    value.reserve(body.size());
    for (size_t i = 0; i < body.size();) {
      if (body[i] != '\\') {
        value.push_back(body[i++]);
        continue;
      }
      ++i;
      if (!decode_escape(body, &i, &value)) return error_at(p, "invalid syntax");
    }
    Token t = make(TokenKind::String, p, start);
    t.str = std::move(value);
    return t;
  }

  std::string_view in_;
  size_t max_tokens_;
  size_t i_ = 0;
  uint32_t line_ = 1;
  uint32_t col_ = 1;
};

}  // namespace

bool parse_traceql_duration(std::string_view text, int64_t* nanos) {
  return parse_prometheus_duration(text, nanos) || parse_go_duration(text, nanos);
}

std::vector<Token> lex_traceql(std::string_view input, size_t max_tokens) {
  return Lexer(input, max_tokens).run();
}

std::string token_display(const Token& token) {
  switch (token.kind) {
    case TokenKind::End:
      return "$end";
    case TokenKind::Error:
      return token.str;
    case TokenKind::String:
      return "STRING";
    case TokenKind::Integer:
      return "INTEGER";
    case TokenKind::Float:
      return "FLOAT";
    case TokenKind::Duration:
      return "DURATION";
    case TokenKind::Identifier:
      // Tempo's lexer turns unknown characters into identifiers too.
      return "IDENTIFIER";
    case TokenKind::Attribute:
      // Tempo lexes the scope prefix as its own token, so that is what an error names.
      if (token.attr.parent) return "parent.";
      if (token.attr.scope == AttributeScope::None) return ".";
      return std::string(scope_name(token.attr.scope)) + ".";
    case TokenKind::Intrinsic: {
      size_t colon = token.text.find(':');
      if (colon != std::string_view::npos) return std::string(token.text.substr(0, colon + 1));
      return std::string(token.text);
    }
    default:
      return std::string(token.text);
  }
}

}  // namespace spindle
