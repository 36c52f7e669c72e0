#pragma once
// Protocol-neutral requests and responses, and the Responder through which a handler answers.
//
// Threading: everything here belongs to the shard that owns the connection. A handler may answer later (after a
// cross-shard round trip), but it must call the Responder on that same shard thread.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace spindle {

struct Header {
  std::string name;  // lowercase
  std::string value;
};

enum class HttpVersion { Http1, Http2 };

struct HttpRequest {
  HttpVersion version = HttpVersion::Http1;
  std::string method;  // "GET", "POST", ...
  std::string path;    // percent-decoding is left to the handler; no query string
  std::string query;   // raw text after '?', empty if none
  std::vector<Header> headers;
  std::string body;  // transfer-decoded (chunked removed); Content-Encoding is NOT undone here

  // First header with this (lowercase) name, or empty.
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<Header> headers;  // content-length is added by the session; do not set it
  std::string body;
};

// A unary or server-streaming gRPC call, already unframed: `message` is the one request message with the
// 5-byte prefix removed and grpc-encoding (gzip) undone.
struct GrpcRequest {
  std::string method;  // the :path, e.g. "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
  std::vector<Header> metadata;
  std::string message;
  uint64_t deadline_ms = 0;  // from grpc-timeout, absolute on the monotonic clock (uv_now); 0 = none

  std::string_view header(std::string_view name) const;
};

// Implemented by the net layer (one per HTTP/1 request or HTTP/2 stream). Handlers use Responder instead.
class ResponseTarget {
 public:
  virtual ~ResponseTarget() = default;
  virtual void respond(HttpResponse response) = 0;
  virtual void grpc_message(std::string_view message) = 0;
  virtual void grpc_finish(const Status& status) = 0;
  // True once the peer is gone or the response was completed; further calls are no-ops.
  virtual bool is_closed() const = 0;
  // True once the client no longer waits for the answer: is_closed(), or (HTTP/1) it closed its side of the
  // connection. Go's net/http cancels a request's context then, and Tempo's searches stop; so do ours. The
  // answer is still delivered if the connection can take it.
  virtual bool peer_gone() const { return is_closed(); }
};

// The handle a handler answers through. Copyable; holding it keeps only the small target object alive, never
// the connection. Exactly one of respond() or grpc_finish() completes the exchange.
class Responder {
 public:
  Responder() = default;
  explicit Responder(std::shared_ptr<ResponseTarget> target) : target_(std::move(target)) {}

  void respond(HttpResponse response) const {
    if (target_) target_->respond(std::move(response));
  }
  // gRPC: one response message (the net layer adds the 5-byte prefix). May be called several times (streaming).
  void grpc_message(std::string_view message) const {
    if (target_) target_->grpc_message(message);
  }
  // gRPC: ends the call with grpc-status / grpc-message trailers (Trailers-Only if no message was sent).
  void grpc_finish(const Status& status) const {
    if (target_) target_->grpc_finish(status);
  }
  bool is_closed() const { return !target_ || target_->is_closed(); }
  bool peer_gone() const { return !target_ || target_->peer_gone(); }

 private:
  std::shared_ptr<ResponseTarget> target_;
};

// What a listener dispatches to. One instance per shard; called on that shard's thread.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  virtual void on_http(HttpRequest&& request, Responder responder) = 0;
  virtual void on_grpc(GrpcRequest&& request, Responder responder) = 0;
};

}  // namespace spindle
