#include "net/grpc_framer.h"

#include <algorithm>

namespace spindle {

Status GrpcFramer::fail(Status status) {
  state_ = State::Failed;
  message_.clear();
  message_.shrink_to_fit();
  error_ = status;
  return status;
}

void GrpcFramer::start_message() {
  message_.clear();
  state_ = length_ == 0 ? State::Flag : State::Data;
}

Status GrpcFramer::decode(std::string_view bytes, std::vector<GrpcMessage>& out) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    const auto byte = static_cast<uint8_t>(bytes[pos]);
    switch (state_) {
      case State::Failed:
        return error_;
      case State::Flag:
        if (byte > kGrpcCompressedFlag) {
          return fail(internal_error("invalid gRPC message flag " + std::to_string(byte)));
        }
        compressed_ = byte == kGrpcCompressedFlag;
        length_ = 0;
        state_ = State::Length0;
        ++pos;
        break;
      case State::Length0:
      case State::Length1:
      case State::Length2:
      case State::Length3: {
        length_ = (length_ << 8) | byte;
        ++pos;
        if (state_ != State::Length3) {
          state_ = static_cast<State>(static_cast<int>(state_) + 1);
          break;
        }
        if (length_ > max_message_bytes_) {
          return fail(resource_exhausted("gRPC message of " + std::to_string(length_) +
                                         " bytes exceeds the limit of " + std::to_string(max_message_bytes_) +
                                         " bytes"));
        }
        start_message();
        if (state_ == State::Flag) out.push_back(GrpcMessage{compressed_, {}});
        break;
      }
      case State::Data: {
        const size_t take = std::min<size_t>(length_ - message_.size(), bytes.size() - pos);
        message_.append(bytes.data() + pos, take);
        pos += take;
        if (message_.size() == length_) {
          out.push_back(GrpcMessage{compressed_, std::move(message_)});
          message_ = std::string();
          state_ = State::Flag;
        }
        break;
      }
    }
  }
  return state_ == State::Failed ? error_ : Status::ok();
}

std::string encode_grpc_frame(std::string_view message) {
  std::string out;
  out.reserve(kGrpcFrameHeaderBytes + message.size());
  const auto size = static_cast<uint32_t>(message.size());
  out.push_back('\0');
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((size >> shift) & 0xff));
  out.append(message);
  return out;
}

std::optional<uint64_t> parse_grpc_timeout(std::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  uint64_t amount = 0;
  for (char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    amount = amount * 10 + static_cast<uint64_t>(c - '0');
  }
  // At most 99,999,999 hours = 3.6e14 ms: no overflow.
  switch (value.back()) {
    case 'H':
      return amount * 3600 * 1000;
    case 'M':
      return amount * 60 * 1000;
    case 'S':
      return amount * 1000;
    case 'm':
      return amount;
    case 'u':
      return (amount + 999) / 1000;
    case 'n':
      return (amount + 999999) / 1000000;
    default:
      return std::nullopt;
  }
}

std::string grpc_percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto b = static_cast<uint8_t>(c);
    if (b >= 0x20 && b <= 0x7e && b != '%') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0x0f]);
    }
  }
  return out;
}

}  // namespace spindle
