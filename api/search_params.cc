#include "api/search_params.h"

#include <charconv>
#include <limits>

#include "api/query_params.h"
#include "api/traceql/ast.h"
#include "api/traceql/lexer.h"
#include "api/traceql/parser.h"

namespace spindle {
namespace {

// strconv.ParseInt(s, 10, 32) with Go's error text.
Result<int64_t> parse_int32(std::string_view name, const std::string& text) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  auto fail = [&](std::string_view why) {
    return invalid_argument("invalid " + std::string(name) + ": strconv.ParseInt: parsing \"" + text + "\": " +
                            std::string(why));
  };
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return fail("invalid syntax");
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range || v > (negative ? 2147483648ull : 2147483647ull)) {
    return fail("value out of range");
  }
  return negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
}

// strconv.Atoi with Go's error text (64-bit int).
Result<int64_t> parse_atoi(std::string_view name, const std::string& text) {
  int64_t v = 0;
  std::string_view s = text;
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec == std::errc::invalid_argument || end != s.data() + s.size()) {
    return invalid_argument("invalid " + std::string(name) + ": strconv.Atoi: parsing \"" + text +
                            "\": invalid syntax");
  }
  if (ec == std::errc::result_out_of_range) {
    return invalid_argument("invalid " + std::string(name) + ": strconv.Atoi: parsing \"" + text +
                            "\": value out of range");
  }
  return v;
}

Result<SearchWindow> parse_window(const QueryParams& params) {
  SearchWindow w;
  int64_t start = 0, end = 0;
  if (auto s = params.get("start")) {
    SPINDLE_ASSIGN_OR_RETURN(start, parse_int32("start", *s));
  }
  if (auto e = params.get("end")) {
    SPINDLE_ASSIGN_OR_RETURN(end, parse_int32("end", *e));
  }
  if (start == 0 && end == 0) return w;
  if (start < 0 || end < 0 || end <= start) {
    return invalid_argument("http parameter start must be before end. received start=" + std::to_string(start) +
                            " end=" + std::to_string(end));
  }
  if (static_cast<uint64_t>(end - start) > kMaxSearchRangeSeconds) {
    return invalid_argument("range specified by start and end exceeds " +
                            format_go_duration(static_cast<int64_t>(kMaxSearchRangeSeconds) * 1000000000) +
                            ". received start=" + std::to_string(start) + " end=" + std::to_string(end));
  }
  w.start_s = static_cast<uint32_t>(start);
  w.end_s = static_cast<uint32_t>(end);
  return w;
}

// A non-negative count parameter (limit, maxStaleValues); absent = 0.
Result<uint32_t> parse_count(const QueryParams& params, std::string_view name) {
  auto text = params.get(name);
  if (!text) return uint32_t{0};
  SPINDLE_ASSIGN_OR_RETURN(int64_t v, parse_atoi(name, *text));
  if (v < 0) return invalid_argument("invalid " + std::string(name) + ": must be a non-negative number");
  return static_cast<uint32_t>(std::min<int64_t>(v, std::numeric_limits<uint32_t>::max()));
}

Result<uint32_t> parse_duration_ms(std::string_view name, const std::string& text) {
  auto d = parse_go_duration(text);
  if (!d.ok()) return invalid_argument("invalid " + std::string(name) + ": " + d.status().message());
  if (*d < 0) return uint32_t{0};
  return static_cast<uint32_t>(std::min<int64_t>(*d / 1000000, std::numeric_limits<uint32_t>::max()));
}

}  // namespace

Result<int64_t> parse_go_duration(std::string_view text) {
  int64_t nanos = 0;
  // "0" is valid in Go without a unit.
  if (text == "0" || text == "+0" || text == "-0") return int64_t{0};
  std::string_view body = text;
  bool negative = false;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body.empty() || !parse_traceql_duration(body, &nanos)) {
    return invalid_argument("time: invalid duration \"" + std::string(text) + "\"");
  }
  return negative ? -nanos : nanos;
}

Result<std::vector<std::pair<std::string, std::string>>> parse_logfmt_tags(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  auto error = [](std::string_view what, size_t pos) {
    return invalid_argument("invalid tags: " + std::string(what) + " at pos " + std::to_string(pos + 1));
  };
  size_t i = 0;
  const size_t n = text.size();
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (i < n) {
    if (is_space(text[i])) {
      ++i;
      continue;
    }
    if (text[i] == '=') return error("unexpected '='", i);
    if (text[i] == '"') return error("unexpected '\"'", i);
    size_t key_start = i;
    while (i < n && !is_space(text[i]) && text[i] != '=' && text[i] != '"') ++i;
    std::string key(text.substr(key_start, i - key_start));
    std::string value;
    if (i < n && text[i] == '"') return error("unexpected '\"'", i);
    if (i < n && text[i] == '=') {
      ++i;
      if (i < n && text[i] == '"') {
        ++i;
        bool closed = false;
        while (i < n) {
          char c = text[i++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\' && i < n) {
            char e = text[i++];
            switch (e) {
              case 'n':
                value.push_back('\n');
                break;
              case 't':
                value.push_back('\t');
                break;
              case 'r':
                value.push_back('\r');
                break;
              default:
                value.push_back(e);  // \" \\ and anything else: the character itself
            }
            continue;
          }
          value.push_back(c);
        }
        if (!closed) return error("unterminated quoted value", i == 0 ? 0 : i - 1);
        if (i < n && !is_space(text[i])) return error("unexpected character after quoted value", i);
      } else {
        size_t value_start = i;
        while (i < n && !is_space(text[i])) {
          if (text[i] == '=' || text[i] == '"') return error(text[i] == '=' ? "unexpected '='" : "unexpected '\"'", i);
          ++i;
        }
        value = std::string(text.substr(value_start, i - value_start));
      }
    }
    for (const auto& [k, v] : out) {
      if (k == key) return invalid_argument("invalid tags: tag " + key + " has been set twice");
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

Result<SearchParams> parse_search_params(std::string_view query_string) {
  QueryParams params(query_string);
  SearchParams p;
  // Tempo's order of checks: start, end, q/tags, durations, limit, spss, then the window rules.
  for (const char* name : {"start", "end"}) {
    if (auto text = params.get(name)) {
      auto v = parse_int32(name, *text);
      if (!v.ok()) return v.status();
    }
  }
  if (auto q = params.get("q")) {
    p.has_query = true;
    p.query = std::move(*q);
  }
  if (auto tags = params.get("tags")) {
    if (p.has_query) return invalid_argument("invalid request: can't specify tags and q in the same query");
    p.has_tags = true;
    SPINDLE_ASSIGN_OR_RETURN(p.tags, parse_logfmt_tags(*tags));
  }
  if (auto d = params.get("minDuration")) {
    SPINDLE_ASSIGN_OR_RETURN(p.min_duration_ms, parse_duration_ms("minDuration", *d));
  }
  if (auto d = params.get("maxDuration")) {
    SPINDLE_ASSIGN_OR_RETURN(p.max_duration_ms, parse_duration_ms("maxDuration", *d));
    if (p.min_duration_ms != 0 && p.min_duration_ms > p.max_duration_ms) {
      return invalid_argument("invalid maxDuration: must be greater than minDuration");
    }
  }
  if (auto l = params.get("limit")) {
    SPINDLE_ASSIGN_OR_RETURN(int64_t limit, parse_atoi("limit", *l));
    if (limit <= 0) return invalid_argument("invalid limit: must be a positive number");
    if (limit > kMaxSearchLimit) {
      return invalid_argument("limit " + std::to_string(limit) + " exceeds max limit " +
                              std::to_string(kMaxSearchLimit));
    }
    p.limit = static_cast<uint32_t>(limit);
  }
  if (auto s = params.get("spss")) {
    SPINDLE_ASSIGN_OR_RETURN(int64_t spss, parse_atoi("spss", *s));
    if (spss < 0) return invalid_argument("invalid spss: must be a non-negative number");
    if (spss > kMaxSpansPerSpanSet) {
      return invalid_argument("spans per span set exceeds " + std::to_string(kMaxSpansPerSpanSet) +
                              ". received " + std::to_string(spss));
    }
    // Tempo's engine maps 0 to the default (the docs' "unlimited" is not what it does).
    p.spss = spss == 0 ? kDefaultSpansPerSpanSet : static_cast<uint32_t>(spss);
  }
  SPINDLE_ASSIGN_OR_RETURN(p.window, parse_window(params));
  return p;
}

Result<TagsParams> parse_tags_params(std::string_view query_string, bool v2) {
  QueryParams params(query_string);
  TagsParams p;
  std::string scope = params.get("scope").value_or("");
  if (scope.empty() || scope == "none") {
    p.scope = TagScopeParam::All;
  } else if (scope == "resource") {
    p.scope = TagScopeParam::Resource;
  } else if (scope == "span") {
    p.scope = TagScopeParam::Span;
  } else if (scope == "event") {
    p.scope = TagScopeParam::Event;
  } else if (scope == "link") {
    p.scope = TagScopeParam::Link;
  } else if (scope == "instrumentation") {
    p.scope = TagScopeParam::Instrumentation;
  } else if (scope == "intrinsic") {
    p.scope = TagScopeParam::Intrinsic;
  } else {
    return invalid_argument("invalid scope: " + scope);
  }
  if (v2) p.query = params.get("q").value_or("");
  SPINDLE_ASSIGN_OR_RETURN(p.window, parse_window(params));
  SPINDLE_ASSIGN_OR_RETURN(p.limit, parse_count(params, "limit"));
  SPINDLE_ASSIGN_OR_RETURN(p.max_stale, parse_count(params, "maxStaleValues"));
  return p;
}

Result<TagValuesParams> parse_tag_values_params(std::string_view tag, std::string_view query_string, bool v2) {
  TagValuesParams p;
  if (tag.empty()) return invalid_argument("please provide a non-empty tagName");
  // url.QueryUnescape, as Tempo unescapes the path variable.
  p.tag = percent_decode(tag);
  if (p.tag.empty()) return invalid_argument("please provide a non-empty tagName");
  if (v2) {
    auto ref = parse_traceql_identifier(p.tag);
    if (!ref.ok()) return invalid_argument("please provide a valid tagName: " + ref.status().message());
  }
  QueryParams params(query_string);
  if (v2) p.query = params.get("q").value_or("");
  SPINDLE_ASSIGN_OR_RETURN(p.window, parse_window(params));
  SPINDLE_ASSIGN_OR_RETURN(p.limit, parse_count(params, "limit"));
  SPINDLE_ASSIGN_OR_RETURN(p.max_stale, parse_count(params, "maxStaleValues"));
  return p;
}

}  // namespace spindle
