#pragma once
// Http2Session: an HTTP/2 server session (h2c with prior knowledge) on nghttp2's memory API, carrying plain
// HTTP requests and gRPC calls (unary requests; unary or server-streaming responses).
//
// Routing: a request whose content-type starts with "application/grpc" and whose method is POST is a gRPC
// call; everything else goes to RequestHandler::on_http.
//
// gRPC path (grpc/grpc doc/PROTOCOL-HTTP2.md, framing in net/grpc_framer.h):
// * the body must hold exactly one Length-Prefixed-Message; `grpc-encoding` gzip or identity is undone before
//   the handler sees it; `grpc-timeout` becomes GrpcRequest::deadline_ms (uv_now based).
// * errors the session finds itself are answered Trailers-Only (one HEADERS block: `:status 200`,
//   `content-type: application/grpc`, `grpc-status`, `grpc-message`, END_STREAM) without calling the handler:
//     length prefix or decompressed size over max_grpc_message_bytes -> RESOURCE_EXHAUSTED;
//     unknown grpc-encoding -> UNIMPLEMENTED (+ `grpc-accept-encoding: identity,gzip`);
//     compressed flag with identity/absent encoding, bad flag byte, truncated message, zero or more than one
//     request message, malformed grpc-timeout -> INTERNAL (what gRPC implementations use for transport-level
//     violations); corrupt gzip -> INVALID_ARGUMENT; request headers over max_header_bytes ->
//     RESOURCE_EXHAUSTED.
// * a response is HEADERS (`:status 200`, content-type), one DATA payload per grpc_message, then trailers
//   (`grpc-status`, percent-encoded `grpc-message`) after a data source that ends with EOF|NO_END_STREAM.
// HTTP path: body over max_body_bytes -> 413, headers over max_header_bytes -> 431, both without the handler.
// Any response completed before the client's END_STREAM is followed by RST_STREAM(NO_ERROR).
//
// Backpressure: request DATA is consumed (the peer's flow-control windows reopened) only while the session is
// not overloaded: overloaded = pending output >= max_pending_write_bytes, or more than max_concurrent_streams
// streams awaiting a handler answer. While overloaded, reading is paused and received bytes are banked
// unconsumed, so a client that never reads its responses stalls on its own windows.
//
// Threading: a session, its streams and its Responders' targets live on the connection's shard thread; every
// method, and every Responder call, must be made there. A Responder outliving its stream or the whole session
// is safe: its calls become no-ops.
//
// Lifetime: the owner (Connection) must not destroy the session from inside a Transport call made by it
// (send, pause_reading, close_after_flush, abort); destroy it later, e.g. from the uv_close callback.
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/http_message.h"
#include "net/session.h"

struct nghttp2_session;

namespace spindle {

class Http2Session : public Session {
 public:
  Http2Session(Transport& transport, RequestHandler& handler);
  ~Http2Session() override;
  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;

  Status on_data(const char* data, size_t size) override;
  void on_writable() override;
  bool receiving() const override;
  bool idle() const override;
  bool blocked_on_peer() const override;
  void begin_shutdown() override;

  // Observability (metrics, tests).
  size_t open_streams() const { return streams_.size(); }
  // Request bytes received but not yet handed back to the peer's flow-control windows.
  uint64_t unconsumed_bytes() const;

 private:
  struct Stream;
  class StreamTarget;
  friend class Http2Callbacks;  // the static nghttp2 callbacks table forwards to the on_* members below

  // nghttp2 callbacks (return 0 or an nghttp2 error code).
  int on_begin_headers(int32_t stream_id);
  int on_header(int32_t stream_id, bool request_headers, std::string_view name, std::string_view value);
  int on_frame_recv(int32_t stream_id, uint8_t type, uint8_t flags, size_t length, const uint8_t* ping_data);
  int on_data_chunk(int32_t stream_id, const uint8_t* data, size_t size);
  int on_stream_close(int32_t stream_id);
  int on_frame_send(int32_t stream_id, uint8_t type, uint8_t flags);
  ssize_t read_body(int32_t stream_id, uint8_t* buf, size_t length, uint32_t* data_flags);

  // Request handling.
  void on_request_headers_done(Stream& stream);
  void on_request_complete(Stream& stream);
  void accept_grpc_data(Stream& stream, const uint8_t* data, size_t size);
  void accept_http_data(Stream& stream, const uint8_t* data, size_t size);
  void dispatch_ready();
  // grpc-timeout: a call still unanswered at its deadline is finished with DEADLINE_EXCEEDED (the handler's later
  // answer is then a no-op). One timer per session, armed for the earliest such deadline.
  void arm_deadline_timer();
  void expire_deadlines();
  Stream* find(int32_t stream_id);

  // Responses (also called by StreamTarget).
  void respond_http(int32_t stream_id, HttpResponse response);
  void respond_local(Stream& stream, int status, std::string message);
  void grpc_message(int32_t stream_id, std::string_view message);
  void grpc_finish(int32_t stream_id, const Status& status);
  void fail_grpc(Stream& stream, const Status& status, bool advertise_encodings = false);
  void mark_answered(Stream& stream);
  void resume(Stream& stream);

  // Output, flow control and lifecycle.
  void after_change();  // after anything that may have queued frames or changed the load
  void flush();
  void consume(Stream& stream, size_t size);
  bool overloaded() const;
  void update_backpressure();
  void maybe_close();

  Transport& transport_;
  RequestHandler& handler_;
  const ConnectionLimits& limits_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  std::vector<int32_t> ready_;      // requests completed during the current on_data, handler not yet called
  uint32_t awaiting_handler_ = 0;   // streams handed to the handler and not answered yet
  uv_timer_t* deadline_timer_ = nullptr;  // heap: its close callback may run after ~Http2Session
  uint64_t closed_unconsumed_ = 0;  // banked bytes of streams that closed meanwhile (connection window)
  bool dispatching_ = false;        // inside on_data: nghttp2 must not be asked to send
  bool sending_ = false;
  bool reading_paused_ = false;
  bool shutting_down_ = false;
  bool closing_ = false;
  bool flood_ = false;
  // Flood accounting (Envoy's protocol constraints, for what nghttp2 1.52 does not limit itself).
  uint32_t consecutive_empty_data_ = 0;
  uint64_t streams_opened_ = 0;
  uint64_t priority_frames_ = 0;
  uint64_t window_update_frames_ = 0;
  uint64_t data_frames_sent_ = 0;
};

}  // namespace spindle
