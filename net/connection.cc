#include "net/connection.h"

#include <algorithm>
#include <limits>

#include "net/http1_session.h"
#include "net/http2_session.h"
#include "net/listener.h"

namespace spindle {
namespace {

constexpr std::string_view kH2Preface("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
constexpr size_t kReadBufferSize = 64 << 10;
constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

uint64_t saturating_add(uint64_t a, uint64_t b) { return a > kNever - b ? kNever : a + b; }

// One read buffer per thread: the read callback hands the bytes to the session synchronously and sessions copy
// what they keep, so the buffer is free again before the next read on any connection of this loop.
char* read_buffer() {
  thread_local std::unique_ptr<char[]> buffer(new char[kReadBufferSize]);
  return buffer.get();
}

uv_stream_t* as_stream(uv_tcp_t* tcp) { return reinterpret_cast<uv_stream_t*>(tcp); }
uv_handle_t* as_handle(void* handle) { return static_cast<uv_handle_t*>(handle); }

}  // namespace

Connection::Connection(uv_loop_t* loop, Listener& listener, RequestHandler& handler,
                       const ConnectionLimits& limits)
    : loop_(loop), listener_(&listener), handler_(handler), limits_(limits) {
  uv_tcp_init(loop_, &tcp_);
  uv_timer_init(loop_, &timer_);
  open_handles_ = 2;
  tcp_.data = this;
  timer_.data = this;
  write_req_.data = this;
  shutdown_req_.data = this;
}

Connection::~Connection() = default;

Connection* Connection::accept(uv_stream_t* server, Listener& listener, RequestHandler& handler,
                               const ConnectionLimits& limits) {
  auto* c = new Connection(server->loop, listener, handler, limits);
  if (uv_accept(server, as_stream(&c->tcp_)) != 0) {
    c->listener_ = nullptr;  // never registered
    c->close_now();
    return nullptr;
  }
  uv_tcp_nodelay(&c->tcp_, 1);
  c->update_reading();
  c->refresh();
  return c;
}

// ---- Reading ----

void Connection::alloc_cb(uv_handle_t*, size_t, uv_buf_t* buf) {
  *buf = uv_buf_init(read_buffer(), kReadBufferSize);
}

void Connection::read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(stream->data);
  if (nread > 0) {
    c->on_read(buf->base, static_cast<size_t>(nread));
  } else if (nread == UV_EOF) {
    c->on_eof();
  } else if (nread < 0) {
    c->terminate();
  }
}

void Connection::on_read(const char* data, size_t size) {
  if (state_ != State::Open) return;  // flushing or lingering: input is discarded
  if (session_) {
    feed(data, size);
  } else {
    sniff(data, size);
  }
  refresh();
}

void Connection::sniff(const char* data, size_t size) {
  std::string joined;
  std::string_view input(data, size);
  if (!sniff_.empty()) {
    joined = std::move(sniff_);
    sniff_.clear();
    joined.append(data, size);
    input = joined;
  }
  size_t n = std::min(input.size(), kH2Preface.size());
  if (input.substr(0, n) == kH2Preface.substr(0, n)) {
    if (n < kH2Preface.size()) {
      sniff_.assign(input);
      return;
    }
    session_ = std::make_unique<Http2Session>(*this, handler_);
  } else {
    session_ = std::make_unique<Http1Session>(*this, handler_);
  }
  feed(input.data(), input.size());
}

void Connection::feed(const char* data, size_t size) {
  ++session_depth_;
  Status status = session_->on_data(data, size);
  --session_depth_;
  if (!status.is_ok()) {
    if (listener_) listener_->stats_.protocol_errors++;
    close_after_flush();  // the session has already answered (400, GOAWAY) where it could
  }
}

void Connection::on_eof() {
  peer_eof_ = true;
  update_reading();
  switch (state_) {
    case State::Open:
      // A request still being answered gets its response (the peer may only have shut down its write side).
      if (!session_ || session_->idle() || session_->receiving()) {
        release_session();
        close_after_flush();
      } else {
        session_->on_peer_eof();
        refresh();
      }
      return;
    case State::Lingering:
      terminate();
      return;
    case State::Flushing:
    case State::Closed:
      return;
  }
}

void Connection::pause_reading(bool paused) {
  session_paused_ = paused;
  update_reading();
}

void Connection::update_reading() {
  bool want = false;
  switch (state_) {
    case State::Open:
      want = !session_paused_ && !backpressure_ && !peer_eof_;
      break;
    case State::Flushing:
    case State::Lingering:
      want = !peer_eof_;  // keep draining input so closing does not turn into a reset
      break;
    case State::Closed:
      return;
  }
  if (want == reading_) return;
  if (want) {
    reading_ = uv_read_start(as_stream(&tcp_), alloc_cb, read_cb) == 0;
  } else {
    uv_read_stop(as_stream(&tcp_));
    reading_ = false;
  }
}

// ---- Writing ----

void Connection::send(std::string_view bytes) {
  if ((state_ != State::Open && state_ != State::Flushing) || bytes.empty()) return;
  if (pending_bytes_ == 0) last_write_progress_ = uv_now(loop_);
  pending_bytes_ += bytes.size();
  sent_since_sample_ = true;
  while (!bytes.empty()) {
    if (queue_.empty() || queue_.back().size() >= kWriteChunk) queue_.emplace_back();
    std::string& chunk = queue_.back();
    size_t take = std::min(kWriteChunk - chunk.size(), bytes.size());
    chunk.append(bytes.data(), take);
    bytes.remove_prefix(take);
  }
  if (pending_bytes_ >= limits_.max_pending_write_bytes / 2) above_half_ = true;
  if (pending_bytes_ >= limits_.max_pending_write_bytes && !backpressure_) {
    backpressure_ = true;
    update_reading();
  }
  flush();
  refresh();
}

void Connection::flush() {
  if (write_in_flight_ || queue_.empty() || state_ == State::Closed || state_ == State::Lingering) return;
  writing_.clear();
  while (!queue_.empty() && writing_.size() < kMaxWriteBatch) {
    writing_.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  // Built only after writing_ stops changing: moving short strings relocates their bytes.
  bufs_.clear();
  for (std::string& chunk : writing_) bufs_.push_back(uv_buf_init(chunk.data(), chunk.size()));
  if (uv_write(&write_req_, as_stream(&tcp_), bufs_.data(), bufs_.size(), write_cb) != 0) {
    writing_.clear();
    close_now();  // session code may be on the stack: it is released at close_cb
    return;
  }
  write_in_flight_ = true;
}

void Connection::write_cb(uv_write_t* req, int status) {
  static_cast<Connection*>(req->data)->on_write_done(status);
}

void Connection::on_write_done(int status) {
  write_in_flight_ = false;
  size_t written = 0;
  for (const std::string& chunk : writing_) written += chunk.size();
  writing_.clear();
  if (state_ == State::Closed) return;
  if (status < 0) {
    terminate();
    return;
  }
  pending_bytes_ -= written;
  last_write_progress_ = uv_now(loop_);
  size_t half = limits_.max_pending_write_bytes / 2;
  if (backpressure_ && pending_bytes_ < half) {
    backpressure_ = false;
    update_reading();
  }
  if (above_half_ && pending_bytes_ < half) {
    above_half_ = false;
    if (session_ && state_ == State::Open) {
      ++session_depth_;
      session_->on_writable();
      --session_depth_;
      if (state_ == State::Closed) return;
    }
  }
  flush();
  if (state_ == State::Flushing && pending_bytes_ == 0) {
    if (peer_eof_) {
      terminate();
      return;
    }
    start_linger();
    return;
  }
  refresh();
}

// ---- Closing ----

void Connection::close_after_flush() {
  if (state_ != State::Open) return;
  state_ = State::Flushing;
  update_reading();
  if (pending_bytes_ == 0) {
    if (peer_eof_) {
      close_now();
    } else {
      start_linger();
    }
    return;
  }
  refresh();
}

void Connection::start_linger() {
  state_ = State::Lingering;
  linger_deadline_ = saturating_add(uv_now(loop_), std::min(kLingerMs, limits_.read_timeout_ms));
  if (uv_shutdown(&shutdown_req_, as_stream(&tcp_), shutdown_cb) != 0) {
    close_now();
    return;
  }
  update_reading();
  refresh();
}

void Connection::shutdown_cb(uv_shutdown_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  if (c->state_ != State::Closed && status < 0) c->terminate();
}

void Connection::abort() { close_now(); }

void Connection::begin_shutdown() {
  if (state_ != State::Open) return;
  if (!session_) {
    terminate();
    return;
  }
  ++session_depth_;
  session_->begin_shutdown();
  --session_depth_;
  refresh();
}

void Connection::terminate() {
  close_now();
  release_session();
}

void Connection::release_session() {
  if (session_depth_ == 0) session_.reset();
}

void Connection::close_now() {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  queue_.clear();
  pending_bytes_ = 0;
  reading_ = false;
  uv_close(as_handle(&tcp_), close_cb);  // cancels a write in flight (write_cb runs first, ECANCELED)
  uv_close(as_handle(&timer_), close_cb);
  // Last: the listener may run its drain callback.
  if (Listener* listener = listener_) {
    listener_ = nullptr;
    listener->connection_closed(this);
  }
}

void Connection::close_cb(uv_handle_t* handle) {
  auto* c = static_cast<Connection*>(handle->data);
  if (--c->open_handles_ > 0) return;
  c->session_.reset();  // may still call Transport methods: they are no-ops once Closed
  delete c;
}

// ---- Timers ----

void Connection::sample_session() {
  uint64_t now = uv_now(loop_);
  bool receiving = session_ ? session_->receiving() : !sniff_.empty();
  bool idle = session_ ? session_->idle() : sniff_.empty();
  bool blocked = session_ && session_->blocked_on_peer();
  if (blocked && !was_blocked_) blocked_since_ = now;
  was_blocked_ = blocked;
  // A response sent while a request is arriving means an earlier request completed in between (pipelining,
  // HTTP/2 streams): the read clock restarts so a busy connection is not mistaken for a slow one.
  if (receiving && (!was_receiving_ || sent_since_sample_)) receiving_since_ = now;
  if (idle && !was_idle_) idle_since_ = now;
  was_receiving_ = receiving;
  was_idle_ = idle;
  sent_since_sample_ = false;
}

void Connection::refresh() {
  if (state_ == State::Closed) return;
  sample_session();
  uint64_t now = uv_now(loop_);
  if (peer_eof_ && was_idle_ && state_ == State::Open) {
    close_after_flush();  // the last answer to a half-closed peer is queued
    return;
  }
  uint64_t deadline = next_deadline();
  if (deadline == kNever || (timer_armed_ && deadline >= armed_deadline_)) return;
  uv_timer_start(&timer_, timer_cb, deadline > now ? deadline - now : 0, 0);
  timer_armed_ = true;
  armed_deadline_ = deadline;
}

uint64_t Connection::next_deadline() const {
  uint64_t deadline = kNever;
  if (state_ == State::Lingering) deadline = linger_deadline_;
  if (pending_bytes_ > 0) {
    deadline = std::min(deadline, saturating_add(last_write_progress_, limits_.write_timeout_ms));
  }
  if (was_blocked_) {
    deadline = std::min(deadline, saturating_add(std::max(blocked_since_, last_write_progress_),
                                                 limits_.write_timeout_ms));
  }
  if (state_ == State::Open) {
    if (was_receiving_) {
      deadline = std::min(deadline, saturating_add(receiving_since_, limits_.read_timeout_ms));
    }
    if (was_idle_ && pending_bytes_ == 0) {
      deadline = std::min(deadline, saturating_add(idle_since_, limits_.idle_timeout_ms));
    }
  }
  return deadline;
}

void Connection::timer_cb(uv_timer_t* timer) { static_cast<Connection*>(timer->data)->on_timer(); }

void Connection::on_timer() {
  timer_armed_ = false;
  if (state_ == State::Closed) return;
  sample_session();
  uint64_t now = uv_now(loop_);
  bool write_stuck = (pending_bytes_ > 0 &&
                      now >= saturating_add(last_write_progress_, limits_.write_timeout_ms)) ||
                     (was_blocked_ && now >= saturating_add(std::max(blocked_since_, last_write_progress_),
                                                            limits_.write_timeout_ms));
  bool read_slow = state_ == State::Open && was_receiving_ &&
                   now >= saturating_add(receiving_since_, limits_.read_timeout_ms);
  bool idle_long = state_ == State::Open && was_idle_ && pending_bytes_ == 0 &&
                   now >= saturating_add(idle_since_, limits_.idle_timeout_ms);
  bool linger_over = state_ == State::Lingering && now >= linger_deadline_;
  if ((write_stuck || read_slow) && listener_) listener_->stats_.timed_out++;
  if (write_stuck || read_slow || idle_long || linger_over) {
    terminate();
    return;
  }
  refresh();
}

}  // namespace spindle
