#include "proto/otlp_encoder.h"

#include "proto/json_writer.h"
#include "proto/wire.h"

namespace spindle {

std::string encode_export_response(uint64_t rejected_spans, std::string_view error_message) {
  std::string out;
  if (rejected_spans == 0 && error_message.empty()) return out;
  WireWriter w(out);
  size_t token = w.begin_message(1);
  if (rejected_spans != 0) w.put_varint_field(1, rejected_spans);
  if (!error_message.empty()) w.put_len_field(2, error_message);
  w.end_message(token);
  return out;
}

std::string export_response_json(uint64_t rejected_spans, std::string_view error_message) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  if (rejected_spans != 0 || !error_message.empty()) {
    w.key("partialSuccess");
    w.begin_object();
    if (rejected_spans != 0) {
      w.key("rejectedSpans");
      w.int_string(static_cast<int64_t>(rejected_spans));
    }
    if (!error_message.empty()) {
      w.key("errorMessage");
      w.string(error_message);
    }
    w.end_object();
  }
  w.end_object();
  return out;
}

std::string encode_rpc_status(int code, std::string_view message) {
  std::string out;
  WireWriter w(out);
  // int32: negative values are sign-extended to ten bytes on the wire.
  if (code != 0) w.put_varint_field(1, static_cast<uint64_t>(static_cast<int64_t>(code)));
  if (!message.empty()) w.put_len_field(2, message);
  return out;
}

std::string rpc_status_json(int code, std::string_view message) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.key("code");
  w.int_value(code);
  if (!message.empty()) {
    w.key("message");
    w.string(message);
  }
  w.end_object();
  return out;
}

}  // namespace spindle
