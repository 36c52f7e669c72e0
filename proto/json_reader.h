#pragma once
// A small strict JSON (RFC 8259) parser producing a JsonValue tree, for request bodies (OTLP/JSON). Strings
// are views into the input when they contain no escapes and owned otherwise; numbers are kept as their text
// so 64-bit integers stay exact. Rejected: trailing commas, comments, leading zeros, control characters and
// invalid UTF-8 in strings, lone surrogate escapes, trailing garbage, nesting deeper than max_depth. Errors
// are InvalidArgument "<what> at offset N" (N = byte offset in the input).
//
// Thread safety: none needed; a JsonValue tree is owned by one caller and borrows the input, which must
// outlive it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace spindle {

enum class JsonType : uint8_t { Null, Bool, Number, String, Array, Object };

class JsonValue {
 public:
  struct Member;

  JsonType type() const { return type_; }
  bool is_null() const { return type_ == JsonType::Null; }
  bool is_bool() const { return type_ == JsonType::Bool; }
  bool is_number() const { return type_ == JsonType::Number; }
  bool is_string() const { return type_ == JsonType::String; }
  bool is_array() const { return type_ == JsonType::Array; }
  bool is_object() const { return type_ == JsonType::Object; }
  // Byte offset of the value's first character in the input.
  size_t offset() const { return offset_; }

  bool bool_value() const { return bool_; }
  // String contents (unescaped) or number text.
  std::string_view text() const { return owned_ ? std::string_view(owned_text_) : view_; }
  const std::vector<JsonValue>& items() const { return items_; }
  const std::vector<Member>& members() const { return members_; }
  // First member with this key, or nullptr (also when this is not an object).
  const JsonValue* find(std::string_view key) const;

  // Numbers (or, with allow_string, strings holding a number) as exact integers; nullopt when not an integer
  // in range. Exponent/fraction forms are accepted when they denote an integer exactly (e.g. 1e3, 5.0).
  std::optional<int64_t> as_int64(bool allow_string = true) const;
  std::optional<uint64_t> as_uint64(bool allow_string = true) const;
  std::optional<double> as_double(bool allow_string = true) const;

 private:
  friend class JsonParser;  // json_reader.cc

  JsonType type_ = JsonType::Null;
  bool bool_ = false;
  bool owned_ = false;
  size_t offset_ = 0;
  std::string_view view_;
  std::string owned_text_;
  std::vector<JsonValue> items_;
  std::vector<Member> members_;
};

struct JsonValue::Member {
  std::string key;
  JsonValue value;
};

class JsonReader {
 public:
  static constexpr int kDefaultMaxDepth = 128;
  static Result<JsonValue> parse(std::string_view input, int max_depth = kDefaultMaxDepth);
};

}  // namespace spindle
