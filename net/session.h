#pragma once
// The seam between a Connection (socket, buffers, timers) and the protocol spoken on it (Http1Session,
// Http2Session). The connection sniffs the first bytes (the h2 prior-knowledge preface or not), creates one
// session, and from then on feeds it every byte read; the session answers through its Transport.
//
// Threading: a connection, its session and its transport live on one shard thread and are called only there.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <uv.h>

#include "core/status.h"

namespace spindle {

// Limits and timeouts enforced by the net layer. All from Config.
struct ConnectionLimits {
  uint64_t max_body_bytes = 20 << 20;          // HTTP request body (after de-chunking) -> 413
  uint64_t max_grpc_message_bytes = 16 << 20;  // one gRPC message after decompression -> RESOURCE_EXHAUSTED
  uint64_t max_header_bytes = 64 << 10;        // request line + headers -> 431 / stream reset
  uint32_t max_concurrent_streams = 100;       // HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS
  uint64_t max_pending_write_bytes = 4 << 20;  // output not yet taken by the kernel; above it reading pauses
  uint64_t read_timeout_ms = 30000;            // a request must be fully received within this
  uint64_t write_timeout_ms = 30000;           // pending output must make progress within this
  uint64_t idle_timeout_ms = 120000;           // no request in progress for this long -> close
};

// Implemented by Connection; used by sessions.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual uv_loop_t* loop() = 0;
  // Queues bytes for the socket (copied). Writes are coalesced; at most one uv_write is in flight.
  virtual void send(std::string_view bytes) = 0;
  virtual size_t pending_write_bytes() const = 0;
  // Stops/resumes reading from the socket (backpressure: too many requests in flight, output backed up).
  virtual void pause_reading(bool paused) = 0;
  // Closes once queued output is written (or the write timeout expires).
  virtual void close_after_flush() = 0;
  // Closes now, dropping queued output.
  virtual void abort() = 0;
  virtual const ConnectionLimits& limits() const = 0;
};

// Implemented by Http1Session and Http2Session; used by Connection.
class Session {
 public:
  virtual ~Session() = default;
  // Bytes read from the socket. A non-OK status means the peer broke the protocol: the connection has already
  // been answered where the protocol allows (400, GOAWAY) and will be closed.
  virtual Status on_data(const char* data, size_t size) = 0;
  // Queued output fell below half of max_pending_write_bytes: the session may produce more.
  virtual void on_writable() = 0;
  // True while a request has started arriving but is not complete (the read timeout runs only then).
  virtual bool receiving() const = 0;
  // True when no request is in progress in either direction (the idle timeout runs only then).
  virtual bool idle() const = 0;
  // True while response bytes exist that the protocol will not hand to the transport until the peer acts
  // (HTTP/2: the peer's flow-control window is closed). The write timeout runs then too, so a client that
  // never reads is cut off even though nothing is queued on the socket.
  virtual bool blocked_on_peer() const { return false; }
  // Graceful shutdown: accept no new requests (HTTP/2: GOAWAY), finish those in flight, then close_after_flush.
  virtual void begin_shutdown() = 0;
  // The peer closed its side while a request is still being answered. The answer is still sent (the peer may
  // only have shut down writing), but handlers doing long work may stop (ResponseTarget::peer_gone).
  virtual void on_peer_eof() {}
};

}  // namespace spindle
