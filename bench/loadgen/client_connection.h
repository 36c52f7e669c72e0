#pragma once
// ClientConnection: one non-blocking client socket of the load generator, driven by its poll() loop, with
// many requests in flight. Subclasses speak the protocol: Http2Connection (h2c, gRPC or plain HTTP/2) and
// Http1Connection (HTTP/1.1 keep-alive, pipelined when more than one request is in flight).
//
// Every submitted request gets exactly one ClientReply through the ReplyHandler: a response, or a failure
// reason when none arrived ("connection_lost", "goaway", "rst_<h2 error>", "protocol_error", "timeout").
//
// Threading: single-threaded. The handler runs inside on_readable()/flush()/abandon(); it must not call back
// into the same connection (record the reply and submit more from the loop).
#include <netdb.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/status.h"

namespace spindle {

using LoadClock = std::chrono::steady_clock;

struct ClientRequest {
  uint64_t tag = 0;  // the caller's, echoed in the reply
  std::string method = "POST";
  std::string path;
  // Besides what the protocol adds itself (HTTP/2 pseudo-headers; HTTP/1.1 host, content-length).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct ClientReply {
  uint64_t tag = 0;
  std::string failure;  // non-empty: no complete response arrived
  int http_status = 0;
  int grpc_status = -1;  // from the headers or trailers; -1 when absent
  std::string body;      // at most kMaxReplyBody bytes are kept
  LoadClock::duration latency{};
};

class ClientConnection {
 public:
  using ReplyHandler = std::function<void(ClientReply&&)>;
  static constexpr size_t kMaxReplyBody = 256 << 20;

  ClientConnection(std::string authority, ReplyHandler on_reply)
      : authority_(std::move(authority)), on_reply_(std::move(on_reply)) {}
  virtual ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  // Connects (waiting at most until `deadline`) and sets up the protocol; Unavailable with errno's text.
  Status connect(const addrinfo* ai, LoadClock::time_point deadline);
  int fd() const { return fd_; }
  bool alive() const { return fd_ >= 0; }
  virtual size_t in_flight() const = 0;
  virtual bool wants_write() const = 0;
  // Queues a request; an error means the connection refused it (no reply will come).
  virtual Status submit(ClientRequest request) = 0;
  // Reads what the socket has; an error means the connection is finished (closed or protocol error).
  virtual Status on_readable() = 0;
  // Writes what is queued; an error is fatal for the connection.
  virtual Status flush() = 0;
  // True once the peer has ended the connection (GOAWAY, `connection: close`) and nothing is left to do.
  virtual bool finished() const = 0;
  // Fails every in-flight request with `reason` and closes the socket.
  void abandon(const std::string& reason);

 protected:
  virtual Status start_protocol() = 0;
  // Tags and start times of everything in flight, forgotten by the subclass.
  virtual std::vector<std::pair<uint64_t, LoadClock::time_point>> take_in_flight() = 0;
  virtual void close_protocol() {}
  void deliver(ClientReply&& reply) { on_reply_(std::move(reply)); }
  // Sends out_ from out_off_; Ok with bytes left when the socket is full.
  Status send_pending();
  bool has_pending_output() const { return out_off_ < out_.size(); }

  std::string authority_;
  std::string out_;
  size_t out_off_ = 0;

 private:
  ReplyHandler on_reply_;
  int fd_ = -1;
};

// One turn of a poll() loop: flushes every live connection, waits at most timeout_ms for input (or room to
// write), and reads. A connection whose socket or protocol fails is abandon()ed with "connection_lost", one
// the peer ended cleanly with "goaway". Returns how many connections were lost in this turn.
int pump_connections(const std::vector<std::unique_ptr<ClientConnection>>& connections, int timeout_ms);

// Resolves host:port for a TCP connect; Unavailable with getaddrinfo's message.
Result<std::shared_ptr<addrinfo>> resolve(const std::string& host, const std::string& port);

}  // namespace spindle
