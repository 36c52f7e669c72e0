#pragma once
// HTTP/1.0 and 1.1 server session on llhttp 8.1.
//
// One request is dispatched at a time: the parser pauses after every complete request, bytes that arrive
// meanwhile (pipelining) are buffered (reading pauses above kMaxBufferedInput), and parsing resumes once the
// response is queued and the output queue is below max_pending_write_bytes. Responses thus leave in request
// order. A handler may answer synchronously (inside on_http) or later; answering may dispatch the next
// buffered request before respond() returns.
//
// Wire format produced:
//   HTTP/1.1 <status> <reason>\r\n
//   <handler headers, CR/LF in values replaced by spaces>\r\n
//   content-length: <body size>\r\n             (not for 1xx, 204, 304)
//   connection: close | keep-alive\r\n          (close when the connection ends; keep-alive for HTTP/1.0)
//   \r\n<body>                                   (no body for HEAD)
//
// Limits: request line + headers above max_header_bytes -> 431; a body above max_body_bytes -> 413 (decided from
// Content-Length before the body arrives, or as chunks accumulate); parse errors, including Content-Length with
// Transfer-Encoding -> 400 naming llhttp's reason. Every error answer closes the connection. `Expect:
// 100-continue` is answered with "HTTP/1.1 100 Continue" when the body is acceptable. `Upgrade: h2c` is ignored
// (served as HTTP/1.1). gRPC needs HTTP/2: this session never calls on_grpc.
//
// Threading: the connection's shard thread only.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <llhttp.h>

#include "net/http_message.h"
#include "net/session.h"

namespace spindle {

class Http1Session final : public Session {
 public:
  static constexpr size_t kMaxBufferedInput = 64 << 10;

  Http1Session(Transport& transport, RequestHandler& handler);
  // Invalidates the Responder of a request in flight: a late answer is a no-op.
  ~Http1Session() override;
  Http1Session(const Http1Session&) = delete;
  Http1Session& operator=(const Http1Session&) = delete;

  Status on_data(const char* data, size_t size) override;
  void on_writable() override;
  bool receiving() const override { return message_begun_; }
  bool idle() const override { return !message_begun_ && !in_flight_ && pending_input_.empty(); }
  void begin_shutdown() override;
  void on_peer_eof() override { peer_eof_ = true; }

 private:
  class Target;
  friend class Target;
  struct Callbacks;
  friend struct Callbacks;

  // Runs the parser over `data`, dispatching each complete request; stops (buffering the rest) while a request
  // is in flight or output is backed up.
  Status parse(const char* data, size_t size);
  void dispatch();
  void finish(HttpResponse&& response);
  // Continues with buffered pipelined input once the previous response is out.
  void resume();
  bool blocked() const;
  // Answers with an error status and closes.
  Status reject(int status, const std::string& text);

  // llhttp callbacks.
  int on_message_begin();
  int on_url(const char* at, size_t length);
  int on_header_field(const char* at, size_t length);
  int on_header_value(const char* at, size_t length);
  int on_header_value_complete();
  int on_headers_complete();
  int on_body(const char* at, size_t length);
  int on_message_complete();
  // Counts request-line and header bytes; records a 431 when over the limit.
  bool add_header_bytes(size_t length);

  Transport& transport_;
  RequestHandler& handler_;
  llhttp_t parser_;

  // The request being parsed.
  HttpRequest request_;
  std::string url_;
  std::string field_;
  std::string value_;
  uint64_t header_bytes_ = 0;
  bool message_begun_ = false;
  bool keep_alive_ = true;
  bool head_request_ = false;

  // The request in flight (dispatched, not answered).
  bool in_flight_ = false;
  std::shared_ptr<Target> target_;
  bool response_keep_alive_ = true;
  bool response_head_ = false;
  bool response_http10_ = false;

  std::string pending_input_;  // bytes after the request in flight
  bool reading_paused_ = false;
  bool parsing_ = false;       // parse() is on the stack: finish() must not re-enter it
  bool shutting_down_ = false;
  bool closed_ = false;        // an answer ended the connection; later input is ignored
  bool peer_eof_ = false;      // the peer closed its side with a request in flight (Target::peer_gone)

  int reject_status_ = 0;  // set by a callback that hit a limit
  std::string reject_text_;
};

}  // namespace spindle
