#include "proto/json_reader.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "proto/utf8.h"

namespace spindle {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Does `text` follow the JSON number grammar?
bool is_json_number(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size()) return false;
  if (s[i] == '0') {
    ++i;
  } else if (is_digit(s[i])) {
    while (i < s.size() && is_digit(s[i])) ++i;
  } else {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i >= s.size() || !is_digit(s[i])) return false;
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= s.size() || !is_digit(s[i])) return false;
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  return i == s.size();
}

std::optional<double> parse_double(std::string_view s) {
  if (!is_json_number(s)) return std::nullopt;
  double d = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (p != s.data() + s.size()) return std::nullopt;
  // Out of range: from_chars reports it; JSON parsers round to infinity, and so do we.
  if (ec == std::errc::result_out_of_range) {
    return s[0] == '-' ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  if (ec != std::errc()) return std::nullopt;
  return d;
}

}  // namespace

// The recursive-descent parser behind JsonReader::parse.
class JsonParser {
 public:
  JsonParser(std::string_view in, int max_depth) : in_(in), max_depth_(max_depth) {}

  Result<JsonValue> run() {
    JsonValue root;
    skip_ws();
    SPINDLE_RETURN_IF_ERROR(value(root, 0));
    skip_ws();
    if (pos_ != in_.size()) return error("unexpected data after the JSON value");
    return root;
  }

 private:
  Status error(std::string_view what) const { return error_at(what, pos_); }
  static Status error_at(std::string_view what, size_t at) {
    return invalid_argument(std::string(what) + " at offset " + std::to_string(at));
  }

  void skip_ws() {
    while (pos_ < in_.size() &&
           (in_[pos_] == ' ' || in_[pos_] == '\n' || in_[pos_] == '\r' || in_[pos_] == '\t')) {
      ++pos_;
    }
  }

  bool literal(std::string_view word) {
    if (in_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Status value(JsonValue& v, int depth) {
    if (pos_ >= in_.size()) return error("unexpected end of JSON");
    v.offset_ = pos_;
    char c = in_[pos_];
    switch (c) {
      case '{':
        return object(v, depth + 1);
      case '[':
        return array(v, depth + 1);
      case '"':
        v.type_ = JsonType::String;
        return string(v.view_, v.owned_text_, v.owned_);
      case 't':
      case 'f':
        if (literal("true") || literal("false")) {
          v.type_ = JsonType::Bool;
          v.bool_ = c == 't';
          return Status::ok();
        }
        return error("invalid literal");
      case 'n':
        if (literal("null")) return Status::ok();
        return error("invalid literal");
      default:
        if (c == '-' || is_digit(c)) return number(v);
        return error(std::string("unexpected character '") + (c >= 0x20 && c < 0x7F ? c : '?') + "'");
    }
  }

  Status number(JsonValue& v) {
    size_t start = pos_;
    while (pos_ < in_.size() && (is_digit(in_[pos_]) || in_[pos_] == '-' || in_[pos_] == '+' ||
                                 in_[pos_] == '.' || in_[pos_] == 'e' || in_[pos_] == 'E')) {
      ++pos_;
    }
    std::string_view text = in_.substr(start, pos_ - start);
    if (!is_json_number(text)) return error_at("invalid number", start);
    v.type_ = JsonType::Number;
    v.view_ = text;
    return Status::ok();
  }

  // Parses a string at pos_ (which is '"'): a view when there are no escapes, else an unescaped copy.
  Status string(std::string_view& view, std::string& owned_text, bool& owned) {
    const size_t start = ++pos_;
    size_t run = start;  // start of the not-yet-copied run (escape path)
    owned = false;
    while (true) {
      if (pos_ >= in_.size()) return error_at("unterminated string", start - 1);
      const char c = in_[pos_];
      if (c == '"') {
        std::string_view tail = in_.substr(run, pos_ - run);
        if (!is_valid_utf8(tail)) return error_at("invalid UTF-8 in string", run);
        if (owned) {
          owned_text.append(tail);
        } else {
          view = tail;
        }
        ++pos_;
        return Status::ok();
      }
      if (static_cast<uint8_t>(c) < 0x20) return error("control character in string");
      if (c != '\\') {
        ++pos_;
        continue;
      }
      std::string_view before = in_.substr(run, pos_ - run);
      if (!is_valid_utf8(before)) return error_at("invalid UTF-8 in string", run);
      owned = true;
      owned_text.append(before);
      SPINDLE_RETURN_IF_ERROR(escape(owned_text));
      run = pos_;
    }
  }

  Status escape(std::string& out) {
    const size_t at = pos_++;
    if (pos_ >= in_.size()) return error_at("unterminated escape", at);
    char e = in_[pos_++];
    switch (e) {
      case '"':
        out.push_back('"');
        return Status::ok();
      case '\\':
        out.push_back('\\');
        return Status::ok();
      case '/':
        out.push_back('/');
        return Status::ok();
      case 'b':
        out.push_back('\b');
        return Status::ok();
      case 'f':
        out.push_back('\f');
        return Status::ok();
      case 'n':
        out.push_back('\n');
        return Status::ok();
      case 'r':
        out.push_back('\r');
        return Status::ok();
      case 't':
        out.push_back('\t');
        return Status::ok();
      case 'u':
        break;
      default:
        return error_at("invalid escape", at);
    }
    SPINDLE_ASSIGN_OR_RETURN(uint32_t cp, hex4(at));
    if (cp >= 0xDC00 && cp <= 0xDFFF) return error_at("lone low surrogate escape", at);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (in_.substr(pos_, 2) != "\\u") return error_at("high surrogate escape without its pair", at);
      pos_ += 2;
      SPINDLE_ASSIGN_OR_RETURN(uint32_t lo, hex4(at));
      if (lo < 0xDC00 || lo > 0xDFFF) return error_at("high surrogate escape without its pair", at);
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    append_utf8(cp, out);
    return Status::ok();
  }

  Result<uint32_t> hex4(size_t at) {
    if (in_.size() - pos_ < 4) return error_at("truncated \\u escape", at);
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      int d = hex_digit(in_[pos_ + i]);
      if (d < 0) return error_at("invalid \\u escape", at);
      v = (v << 4) | static_cast<uint32_t>(d);
    }
    pos_ += 4;
    return v;
  }

  Status array(JsonValue& v, int depth) {
    if (depth > max_depth_) return error("JSON nested too deeply");
    v.type_ = JsonType::Array;
    ++pos_;
    skip_ws();
    if (pos_ < in_.size() && in_[pos_] == ']') {
      ++pos_;
      return Status::ok();
    }
    while (true) {
      v.items_.emplace_back();
      SPINDLE_RETURN_IF_ERROR(value(v.items_.back(), depth));
      skip_ws();
      if (pos_ >= in_.size()) return error("unterminated array");
      if (in_[pos_] == ']') {
        ++pos_;
        return Status::ok();
      }
      if (in_[pos_] != ',') return error("expected ',' or ']'");
      ++pos_;
      skip_ws();
    }
  }

  Status object(JsonValue& v, int depth) {
    if (depth > max_depth_) return error("JSON nested too deeply");
    v.type_ = JsonType::Object;
    ++pos_;
    skip_ws();
    if (pos_ < in_.size() && in_[pos_] == '}') {
      ++pos_;
      return Status::ok();
    }
    while (true) {
      if (pos_ >= in_.size() || in_[pos_] != '"') return error("expected a string key");
      JsonValue::Member& m = v.members_.emplace_back();
      std::string_view key_view;
      bool key_owned = false;
      SPINDLE_RETURN_IF_ERROR(string(key_view, m.key, key_owned));
      if (!key_owned) m.key.assign(key_view);
      skip_ws();
      if (pos_ >= in_.size() || in_[pos_] != ':') return error("expected ':'");
      ++pos_;
      skip_ws();
      SPINDLE_RETURN_IF_ERROR(value(m.value, depth));
      skip_ws();
      if (pos_ >= in_.size()) return error("unterminated object");
      if (in_[pos_] == '}') {
        ++pos_;
        return Status::ok();
      }
      if (in_[pos_] != ',') return error("expected ',' or '}'");
      ++pos_;
      skip_ws();
    }
  }

  std::string_view in_;
  int max_depth_;
  size_t pos_ = 0;
};

const JsonValue* JsonValue::find(std::string_view key) const {
  for (const Member& m : members_) {
    if (m.key == key) return &m.value;
  }
  return nullptr;
}

std::optional<double> JsonValue::as_double(bool allow_string) const {
  if (type_ == JsonType::Number) return parse_double(text());
  if (type_ != JsonType::String || !allow_string) return std::nullopt;
  std::string_view s = text();
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (s == "Infinity") return std::numeric_limits<double>::infinity();
  if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
  return parse_double(s);
}

std::optional<int64_t> JsonValue::as_int64(bool allow_string) const {
  if (type_ != JsonType::Number && !(allow_string && type_ == JsonType::String)) return std::nullopt;
  std::string_view s = text();
  if (!is_json_number(s)) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc() && p == s.data() + s.size()) return v;
  std::optional<double> d = parse_double(s);
  // [-2^63, 2^63) is exactly representable at both ends as doubles.
  if (!d || *d != std::trunc(*d) || *d < -9223372036854775808.0 || *d >= 9223372036854775808.0) {
    return std::nullopt;
  }
  return static_cast<int64_t>(*d);
}

std::optional<uint64_t> JsonValue::as_uint64(bool allow_string) const {
  if (type_ != JsonType::Number && !(allow_string && type_ == JsonType::String)) return std::nullopt;
  std::string_view s = text();
  if (!is_json_number(s)) return std::nullopt;
  if (s == "-0") return 0;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc() && p == s.data() + s.size()) return v;
  std::optional<double> d = parse_double(s);
  if (!d || *d != std::trunc(*d) || *d < 0 || *d >= 18446744073709551616.0) return std::nullopt;
  return static_cast<uint64_t>(*d);
}

Result<JsonValue> JsonReader::parse(std::string_view input, int max_depth) {
  return JsonParser(input, max_depth).run();
}

}  // namespace spindle
