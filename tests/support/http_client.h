#pragma once
// Blocking loopback clients for tests: HTTP/1.1 on raw sockets, HTTP/2 prior knowledge (h2c) and unary gRPC
// on nghttp2's client session. Each call opens its own connection to 127.0.0.1:port, sends one request,
// reads one response and closes. Every call is bounded by kClientTimeout in total (connect, send and
// receive): a server that stalls produces DeadlineExceeded, never a hung test.
//
// Threading: no shared state; call from any test thread (never from a server shard thread: they block).
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "net/content_coding.h"  // gzip_compress for Content-Encoding tests
#include "tests/support/command.h"

namespace spindle {

inline constexpr std::chrono::seconds kClientTimeout{10};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpResult {
  int status = 0;
  // Response headers in arrival order, names lowercased. For HTTP/2 the trailers follow the headers, and
  // pseudo-headers (":status") are left out.
  HeaderList headers;
  std::string body;  // transfer-decoded (chunked removed); Content-Encoding is not undone

  // First header with this name (case-insensitive), or empty.
  std::string header(std::string_view name) const;
};

// One HTTP/1.1 request. Adds "Host" unless given. The body is sent with Content-Length (added unless given,
// and left out for an empty body on GET/HEAD/DELETE/OPTIONS) or, if chunked, as several chunks with
// "Transfer-Encoding: chunked". The response may use Content-Length, chunked, or be delimited by close;
// interim 1xx responses are skipped.
Result<HttpResult> http1_request(uint16_t port, std::string method, std::string target,
                                 HeaderList headers = {}, std::string body = {}, bool chunked = false);

// One request over HTTP/2 with prior knowledge (no TLS, no upgrade). Header names must be lowercase.
Result<HttpResult> h2c_request(uint16_t port, std::string method, std::string target, HeaderList headers = {},
                               std::string body = {});

struct GrpcResult {
  int grpc_status = -1;               // -1 if the response carried no grpc-status (e.g. a plain HTTP error)
  std::string grpc_message;           // percent-decoded
  std::vector<std::string> messages;  // response messages, prefix removed and decompressed
  int http_status = 0;
};

// One unary gRPC call over h2c: frames `message` (gzip-compressed with "grpc-encoding: gzip" if asked),
// sends "te: trailers" and content-type application/grpc, and reads messages and trailers. A malformed
// response framing is an error; a non-OK grpc-status is not (it is in the result). A non-200 HTTP status
// gives a result with http_status set, no messages, and grpc_status -1 unless the server sent one anyway.
// Starts a gRPC call with `message`, runs `before_cancel`, cancels the call as gRPC clients do (RST_STREAM
// CANCEL), runs `while_open` with the connection still open, then closes it. (A server may skip a request
// reset in the same read as it arrived: `before_cancel` is where to wait until it has been taken up.)
Status grpc_cancelled_call(uint16_t port, std::string method_path, std::string message,
                           const std::function<void()>& before_cancel, const std::function<void()>& while_open);

Result<GrpcResult> grpc_unary(uint16_t port, std::string method_path, std::string message, bool gzip = false,
                              HeaderList extra_headers = {});

// Sends raw bytes, then reads until the server closes the connection. For malformed-input tests.
// DeadlineExceeded if the server neither closes nor finishes within kClientTimeout.
Result<std::string> tcp_exchange(uint16_t port, std::string_view bytes);


}  // namespace spindle
