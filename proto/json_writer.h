#pragma once
// JsonWriter: appends JSON text to a std::string, with the conventions of Go's encoding/json (what Tempo
// emits):
//   - strings: `"` `\` and control characters escaped (\n \r \t, others \u00XX), `<` `>` `&` and
//   U+2028/U+2029
//     as \u escapes, each byte of invalid UTF-8 replaced by \ufffd — the output is always valid UTF-8 JSON;
//   - doubles: shortest round-trip text, plain notation for 1e-6 <= |x| < 1e21 and exponent form otherwise
//     (`1e+21`, `1e-7`); non-finite values as the strings "NaN", "Infinity", "-Infinity" (protobuf JSON
//     rules).
// The caller is responsible for calling things in a valid order (key before each object member); commas are
// inserted automatically.
//
// Thread safety: one writer per output string, used by one thread.
#include <cstdint>
#include <string>
#include <string_view>

namespace spindle {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  std::string& out() { return out_; }

  void begin_object() {
    separate();
    out_.push_back('{');
    need_comma_ = false;
  }
  void end_object() {
    out_.push_back('}');
    need_comma_ = true;
  }
  void begin_array() {
    separate();
    out_.push_back('[');
    need_comma_ = false;
  }
  void end_array() {
    out_.push_back(']');
    need_comma_ = true;
  }
  void key(std::string_view k) {
    separate();
    append_escaped(k);
    out_.push_back(':');
    need_comma_ = false;
  }

  void string(std::string_view s) {
    separate();
    append_escaped(s);
    need_comma_ = true;
  }
  void int_value(int64_t v);
  void uint_value(uint64_t v);
  // 64-bit integers as JSON strings (protobuf JSON for int64/uint64/fixed64).
  void int_string(int64_t v);
  void uint_string(uint64_t v);
  void double_value(double v);
  void bool_value(bool v) {
    separate();
    out_.append(v ? "true" : "false");
    need_comma_ = true;
  }
  void null_value() {
    separate();
    out_.append("null");
    need_comma_ = true;
  }
  // Pre-rendered JSON value, appended as is.
  void raw(std::string_view json) {
    separate();
    out_.append(json);
    need_comma_ = true;
  }
  // A JSON string holding the standard padded base64 of `bytes`.
  void base64(std::string_view bytes);

  // Appends `s` as a quoted, escaped JSON string.
  static void append_quoted(std::string_view s, std::string& out);

 private:
  void separate() {
    if (need_comma_) out_.push_back(',');
  }
  void append_escaped(std::string_view s) { append_quoted(s, out_); }

  std::string& out_;
  // After a complete value a sibling needs a comma; after '{', '[' or a key it does not. No stack is needed.
  bool need_comma_ = false;
};

}  // namespace spindle
