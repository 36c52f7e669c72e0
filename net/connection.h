#pragma once
// One accepted TCP connection: socket, output queue, timers, and the Session that speaks its protocol.
//
// Protocol choice: the first bytes are compared with the 24-byte HTTP/2 prior-knowledge preface
// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"; a full match makes an Http2Session, the first differing byte an
// Http1Session (a matching prefix shorter than 24 bytes waits for more).
//
// Output: send() copies into a queue of chunks (at most kWriteChunk bytes each, small sends coalesced); at most
// one uv_write is in flight, carrying a batch of chunks. Above limits.max_pending_write_bytes reading pauses;
// below half of it reading resumes and the session is told on_writable().
//
// Timers (one uv_timer, armed lazily for the earliest deadline and re-checked when it fires):
//   read    the session has been receiving() one request for read_timeout_ms -> close
//   write   queued output made no progress for write_timeout_ms -> close
//   idle    the session has been idle() with nothing queued for idle_timeout_ms -> close
//   linger  after a graceful close the write side is shut down and input is discarded until the peer closes,
//           at most kLingerMs (so the peer reads our last response instead of a reset)
//
// Lifetime: created by Listener; closing is asynchronous and the object frees itself in the last uv_close
// callback. The session is destroyed (invalidating its Responder targets) as soon as no session code is on the
// stack, and always before the memory goes away.
//
// Threading: the owning shard thread only.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <uv.h>

#include "net/http_message.h"
#include "net/session.h"

namespace spindle {

class Listener;

class Connection final : public Transport {
 public:
  static constexpr size_t kWriteChunk = 256 << 10;
  static constexpr size_t kMaxWriteBatch = 4;  // chunks per uv_write
  static constexpr uint64_t kLingerMs = 2000;

  // Accepts one pending connection of `server` and starts reading. Returns null if accept failed (the
  // half-built object then frees itself).
  static Connection* accept(uv_stream_t* server, Listener& listener, RequestHandler& handler,
                            const ConnectionLimits& limits);

  // Transport.
  uv_loop_t* loop() override { return loop_; }
  void send(std::string_view bytes) override;
  size_t pending_write_bytes() const override { return pending_bytes_; }
  void pause_reading(bool paused) override;
  void close_after_flush() override;
  void abort() override;
  const ConnectionLimits& limits() const override { return limits_; }

  // Listener drain: let the session finish what is in flight, then close.
  void begin_shutdown();
  // Listener close_all / fatal errors: close now, drop output, release the session.
  void terminate();

 private:
  enum class State { Open, Flushing, Lingering, Closed };

  Connection(uv_loop_t* loop, Listener& listener, RequestHandler& handler, const ConnectionLimits& limits);
  ~Connection() override;

  static void alloc_cb(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void write_cb(uv_write_t* req, int status);
  static void shutdown_cb(uv_shutdown_t* req, int status);
  static void timer_cb(uv_timer_t* timer);
  static void close_cb(uv_handle_t* handle);

  void on_read(const char* data, size_t size);
  void on_eof();
  // Decides the protocol and creates the session (waits while the bytes so far are a prefix of the preface).
  void sniff(const char* data, size_t size);
  void feed(const char* data, size_t size);
  void flush();
  void on_write_done(int status);
  void start_linger();
  // Final close: uv_close on every handle; memory is freed in close_cb.
  void close_now();
  // Destroys the session now if none of its code is on the stack, else at close_cb.
  void release_session();
  void update_reading();
  // Samples the session state (receiving/idle transitions) and arms the timer for the earliest deadline.
  void refresh();
  void sample_session();
  uint64_t next_deadline() const;
  void on_timer();

  uv_loop_t* loop_;
  Listener* listener_;  // null once detached (final close started)
  RequestHandler& handler_;
  ConnectionLimits limits_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uv_write_t write_req_;
  uv_shutdown_t shutdown_req_;
  int open_handles_ = 0;

  State state_ = State::Open;
  std::unique_ptr<Session> session_;
  int session_depth_ = 0;  // > 0 while this class is calling into the session
  std::string sniff_;      // first bytes while the protocol is undecided

  // Reading.
  bool reading_ = false;
  bool session_paused_ = false;
  bool backpressure_ = false;
  bool peer_eof_ = false;

  // Output.
  std::deque<std::string> queue_;    // not yet handed to uv_write
  std::vector<std::string> writing_;  // the batch of the uv_write in flight
  std::vector<uv_buf_t> bufs_;
  bool write_in_flight_ = false;
  size_t pending_bytes_ = 0;  // queue_ + writing_
  bool above_half_ = false;   // pending went above max/2: tell the session on_writable() when it drops below

  // Timers (loop time, ms).
  bool was_receiving_ = false;
  bool was_idle_ = false;
  bool sent_since_sample_ = false;
  uint64_t receiving_since_ = 0;
  uint64_t idle_since_ = 0;
  uint64_t last_write_progress_ = 0;
  bool was_blocked_ = false;    // the session's responses wait for the peer (HTTP/2 flow control)
  uint64_t blocked_since_ = 0;
  uint64_t linger_deadline_ = 0;
  bool timer_armed_ = false;
  uint64_t armed_deadline_ = 0;
};

}  // namespace spindle
