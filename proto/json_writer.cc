#include "proto/json_writer.h"

#include <charconv>
#include <cmath>

#include "proto/base64.h"
#include "proto/utf8.h"

namespace spindle {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void append_u_escape(uint32_t c, std::string& out) {
  out.append("\\u");
  out.push_back(kHex[(c >> 12) & 15]);
  out.push_back(kHex[(c >> 8) & 15]);
  out.push_back(kHex[(c >> 4) & 15]);
  out.push_back(kHex[c & 15]);
}

// Go's float64 formatting (encoding/json floatEncoder): shortest digits, 'f' or 'e' by magnitude, exponent
// without a leading zero.
void append_double(double v, std::string& out) {
  char buf[64];
  double a = std::fabs(v);
  std::chars_format fmt =
      (a != 0 && (a < 1e-6 || a >= 1e21)) ? std::chars_format::scientific : std::chars_format::fixed;
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, fmt);
  std::string_view s(buf, static_cast<size_t>(end - buf));
  if (fmt == std::chars_format::scientific) {
    // "1e-07" -> "1e-7"
    size_t e = s.find('e');
    if (e != std::string_view::npos && e + 3 < s.size() + 1 && s.size() >= e + 4 && s[e + 2] == '0') {
      out.append(s.substr(0, e + 2));
      out.append(s.substr(e + 3));
      return;
    }
  }
  out.append(s);
}

}  // namespace

void JsonWriter::append_quoted(std::string_view s, std::string& out) {
  out.push_back('"');
  size_t run = 0;  // start of the pending run of bytes copied verbatim
  size_t i = 0;
  auto flush = [&](size_t upto) { out.append(s.data() + run, upto - run); };
  while (i < s.size()) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    if (c >= 0x80) {
      size_t len = utf8_sequence_length(s, i);
      if (len == 0) {
        flush(i);
        out.append("\\ufffd");
        run = ++i;
        continue;
      }
      if (len == 3 && c == 0xE2 && static_cast<uint8_t>(s[i + 1]) == 0x80 &&
          (static_cast<uint8_t>(s[i + 2]) == 0xA8 || static_cast<uint8_t>(s[i + 2]) == 0xA9)) {
        flush(i);
        append_u_escape(static_cast<uint8_t>(s[i + 2]) == 0xA8 ? 0x2028 : 0x2029, out);
        run = i + 3;
      }
      i += len;
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
      ++i;
      continue;
    }
    flush(i);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        append_u_escape(c, out);
    }
    run = ++i;
  }
  flush(s.size());
  out.push_back('"');
}

void JsonWriter::int_value(int64_t v) {
  separate();
  out_.append(std::to_string(v));
  need_comma_ = true;
}

void JsonWriter::uint_value(uint64_t v) {
  separate();
  out_.append(std::to_string(v));
  need_comma_ = true;
}

void JsonWriter::int_string(int64_t v) {
  separate();
  out_.push_back('"');
  out_.append(std::to_string(v));
  out_.push_back('"');
  need_comma_ = true;
}

void JsonWriter::uint_string(uint64_t v) {
  separate();
  out_.push_back('"');
  out_.append(std::to_string(v));
  out_.push_back('"');
  need_comma_ = true;
}

void JsonWriter::double_value(double v) {
  separate();
  if (std::isnan(v)) {
    out_.append("\"NaN\"");
  } else if (std::isinf(v)) {
    out_.append(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else {
    append_double(v, out_);
  }
  need_comma_ = true;
}

void JsonWriter::base64(std::string_view bytes) {
  separate();
  out_.push_back('"');
  append_base64(bytes, out_);
  out_.push_back('"');
  need_comma_ = true;
}

}  // namespace spindle
