#pragma once
// gRPC message framing (grpc/grpc doc/PROTOCOL-HTTP2.md) and the two small header formats that go with it.
//
// Wire format of a request or response body: a sequence of Length-Prefixed-Messages, with no relation between
// message boundaries and HTTP/2 DATA frame boundaries:
//
//   +------------+----------------------------+---------------------+
//   | flag: 1 B  | length: 4 B, big-endian    | message: length B   |
//   +------------+----------------------------+---------------------+
//
//   flag 0 = message as is; flag 1 = message compressed with the call's `grpc-encoding`. Any other flag value
//   is a framing error.
//
// `grpc-timeout` header: 1 to 8 ASCII digits followed by one unit letter: H (hours), M (minutes), S
// (seconds), m (milliseconds), u (microseconds), n (nanoseconds). Example: "250m".
//
// `grpc-message` header: UTF-8 text in which every byte outside 0x20..0x7E, and '%' itself, is written as
// "%XX" (two uppercase hex digits).
//
// Threading: a GrpcFramer belongs to one stream, used on its shard thread only. The free functions are pure.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace spindle {

inline constexpr size_t kGrpcFrameHeaderBytes = 5;
inline constexpr uint8_t kGrpcCompressedFlag = 0x01;

struct GrpcMessage {
  bool compressed = false;
  std::string data;  // the message bytes, prefix removed, still compressed if `compressed`
};

// Incremental decoder: feed it body slices of any size in order; it emits whole messages.
class GrpcFramer {
 public:
  explicit GrpcFramer(uint64_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  // Decodes `bytes`, appending every message completed by them to `out`. On error (INTERNAL for a bad flag
  // byte, RESOURCE_EXHAUSTED as soon as a length prefix exceeds the limit, before any of the message arrives)
  // the framer stays failed and every later call returns the same error.
  Status decode(std::string_view bytes, std::vector<GrpcMessage>& out);

  // True when no partial message is buffered: the body may legally end here.
  bool at_message_boundary() const { return state_ == State::Flag; }
  bool failed() const { return state_ == State::Failed; }

 private:
  // One state per header byte (Envoy's grpc codec does the same): a slice may end anywhere.
  enum class State { Flag, Length0, Length1, Length2, Length3, Data, Failed };

  Status fail(Status status);
  void start_message();

  uint64_t max_message_bytes_;
  State state_ = State::Flag;
  bool compressed_ = false;
  uint32_t length_ = 0;
  std::string message_;  // grows as bytes arrive: a 5-byte prefix must not make us allocate the whole length
  Status error_;
};

// Prefixes one message (flag 0, uncompressed).
std::string encode_grpc_frame(std::string_view message);

// Parses a grpc-timeout value into milliseconds (sub-millisecond units rounded up); nullopt when malformed.
std::optional<uint64_t> parse_grpc_timeout(std::string_view value);

// Encodes text for the grpc-message header.
std::string grpc_percent_encode(std::string_view text);

}  // namespace spindle
