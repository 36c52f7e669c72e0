#pragma once
// Listening sockets and the per-shard Listener that accepts connections on one of them.
//
// Every shard owns one SO_REUSEPORT socket per port, so the kernel spreads new connections over the shards
// (libuv 1.44 has no UV_TCP_REUSEPORT, hence open_listen_sockets() builds the sockets by hand).
//
// Threading: open_listen_sockets() and local_port() run on the main thread before the shards start. A Listener
// and its connections belong to the shard thread whose loop they were created on; every method is called there.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_set>
#include <vector>

#include <uv.h>

#include "core/result.h"
#include "core/status.h"
#include "net/http_message.h"
#include "net/session.h"

namespace spindle {

class Connection;

// `count` non-blocking, listening IPv4 TCP sockets bound to the same host:port with SO_REUSEPORT. Port 0: the
// kernel picks a port for the first socket and the others join it. Host "" or "0.0.0.0" = all interfaces;
// "localhost" and dotted IPv4 are accepted. Errors name the address ("listen 0.0.0.0:4317: Address already in
// use"); on error no descriptor is left open.
Result<std::vector<int>> open_listen_sockets(const std::string& host, uint16_t port, uint32_t count);

// The port a bound socket listens on (0 if the descriptor is not a bound IPv4 socket).
uint16_t local_port(int fd);

// Counters for metrics. Written and read on the listener's shard thread only.
struct ListenerStats {
  uint64_t accepted = 0;
  uint64_t closed = 0;
  uint64_t timed_out = 0;        // read or write timeout (idle closes are not counted here)
  uint64_t protocol_errors = 0;  // a session rejected the peer's bytes (400, 431, 413, GOAWAY...)
  uint64_t accept_errors = 0;
};

class Listener {
 public:
  // Takes ownership of `fd` (a listening socket from open_listen_sockets). `handler` must outlive the listener.
  Listener(uv_loop_t* loop, int fd, RequestHandler& handler, ConnectionLimits limits, std::string name);
  // Aborts every connection and closes the listening handle (freed later by the loop).
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Starts accepting (uv_tcp_open + uv_listen).
  Status start();
  // Graceful shutdown: stops accepting, asks every connection to finish its requests and close, then calls
  // `done` once no connection remains (synchronously if there is none). The caller enforces its deadline by
  // calling close_all(). Not to be called from inside a request handler; `done` must not destroy the Listener
  // synchronously (it runs inside connection bookkeeping).
  void drain(std::function<void()> done);
  // Closes every connection now, dropping unsent output (late handler answers become no-ops).
  void close_all();
  // Stops accepting. The uv handle is released asynchronously and safely even if the Listener is destroyed
  // before the loop runs the close callback.
  void close();

  size_t connection_count() const { return connections_.size(); }
  const ListenerStats& stats() const { return stats_; }
  const std::string& name() const { return name_; }
  // Sum of unsent output over all connections (tests bound memory with it).
  size_t pending_write_bytes_for_test() const;

 private:
  friend class Connection;

  static void on_connection_cb(uv_stream_t* server, int status);
  void accept_one();
  // A connection began its final close; it no longer touches the listener afterwards.
  void connection_closed(Connection* connection);
  void maybe_finish_drain();

  uv_loop_t* loop_;
  int fd_;  // owned until start() hands it to server_
  RequestHandler& handler_;
  ConnectionLimits limits_;
  std::string name_;
  uv_tcp_t* server_ = nullptr;  // heap: its close callback may run after ~Listener
  std::unordered_set<Connection*> connections_;
  std::function<void()> drain_done_;
  bool draining_ = false;
  ListenerStats stats_;
};

}  // namespace spindle
