#include "net/listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/connection.h"

namespace spindle {
namespace {

constexpr int kBacklog = 1024;

Status listen_error(const std::string& host, uint16_t port, const std::string& what) {
  return failed_precondition("listen " + host + ":" + std::to_string(port) + ": " + what);
}

// Resolves an IPv4 listen address. Startup only (getaddrinfo may block).
Status resolve(const std::string& host, uint16_t port, in_addr* out) {
  if (host.empty() || host == "0.0.0.0") {
    out->s_addr = htonl(INADDR_ANY);
    return Status::ok();
  }
  if (inet_pton(AF_INET, host.c_str(), out) == 1) return Status::ok();
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    return invalid_argument("listen " + host + ":" + std::to_string(port) +
                            ": cannot resolve host: " + gai_strerror(rc));
  }
  *out = reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr;
  freeaddrinfo(found);
  return Status::ok();
}

Result<int> open_one(const sockaddr_in& addr, const std::string& shown_host) {
  uint16_t port = ntohs(addr.sin_port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return listen_error(shown_host, port, std::strerror(errno));
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
      bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, kBacklog) != 0) {
    int err = errno;
    ::close(fd);
    return listen_error(shown_host, port, std::strerror(err));
  }
  return fd;
}

// SO_REUSEPORT lets every socket of the same user join a port, so a second server started by mistake would
// silently take half the traffic instead of failing. A plain bind first (no SO_REUSEPORT) fails with
// EADDRINUSE if anyone listens there already, as any other server would; for port 0 it also picks the port.
Result<uint16_t> claim_port(const sockaddr_in& addr, const std::string& shown_host) {
  uint16_t port = ntohs(addr.sin_port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return listen_error(shown_host, port, std::strerror(errno));
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    ::close(fd);
    return listen_error(shown_host, port, std::strerror(err));
  }
  uint16_t bound = local_port(fd);
  ::close(fd);
  return bound;
}

}  // namespace

Result<std::vector<int>> open_listen_sockets(const std::string& host, uint16_t port, uint32_t count) {
  std::string shown_host = host.empty() ? "0.0.0.0" : host;
  if (count == 0) return invalid_argument("listen " + shown_host + ": zero sockets requested");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  SPINDLE_RETURN_IF_ERROR(resolve(host, port, &addr.sin_addr));
  SPINDLE_ASSIGN_OR_RETURN(uint16_t claimed, claim_port(addr, shown_host));
  addr.sin_port = htons(claimed);
  std::vector<int> fds;
  for (uint32_t i = 0; i < count; ++i) {
    Result<int> fd = open_one(addr, shown_host);
    if (!fd.ok()) {
      for (int open_fd : fds) ::close(open_fd);
      return fd.status();
    }
    fds.push_back(*fd);
  }
  return fds;
}

uint16_t local_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || addr.sin_family != AF_INET) {
    return 0;
  }
  return ntohs(addr.sin_port);
}

Listener::Listener(uv_loop_t* loop, int fd, RequestHandler& handler, ConnectionLimits limits,
                   std::string name)
    : loop_(loop), fd_(fd), handler_(handler), limits_(limits), name_(std::move(name)) {}

Listener::~Listener() {
  draining_ = false;  // no drain callback from a destructor
  close_all();
  close();
  if (fd_ >= 0) ::close(fd_);
}

Status Listener::start() {
  if (server_ != nullptr || fd_ < 0) return failed_precondition("listener " + name_ + ": already started");
  server_ = new uv_tcp_t;
  uv_tcp_init(loop_, server_);
  server_->data = this;
  int rc = uv_tcp_open(server_, fd_);
  if (rc == 0) {
    fd_ = -1;  // the handle owns it now
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(server_), kBacklog, on_connection_cb);
  }
  if (rc != 0) {
    close();
    return failed_precondition("listener " + name_ + ": " + uv_strerror(rc));
  }
  return Status::ok();
}

void Listener::close() {
  if (server_ == nullptr) return;
  server_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(server_),
           [](uv_handle_t* handle) { delete reinterpret_cast<uv_tcp_t*>(handle); });
  server_ = nullptr;
}

void Listener::on_connection_cb(uv_stream_t* server, int status) {
  auto* self = static_cast<Listener*>(server->data);
  if (self == nullptr) return;
  if (status < 0) {
    self->stats_.accept_errors++;
    return;
  }
  self->accept_one();
}

void Listener::accept_one() {
  Connection* connection =
      Connection::accept(reinterpret_cast<uv_stream_t*>(server_), *this, handler_, limits_);
  if (connection == nullptr) {
    stats_.accept_errors++;
    return;
  }
  connections_.insert(connection);
  stats_.accepted++;
}

void Listener::drain(std::function<void()> done) {
  close();
  draining_ = true;
  drain_done_ = std::move(done);
  std::vector<Connection*> snapshot(connections_.begin(), connections_.end());
  for (Connection* connection : snapshot) {
    if (connections_.count(connection) != 0) connection->begin_shutdown();
  }
  maybe_finish_drain();
}

void Listener::close_all() {
  while (!connections_.empty()) (*connections_.begin())->terminate();
}

void Listener::connection_closed(Connection* connection) {
  connections_.erase(connection);
  stats_.closed++;
  maybe_finish_drain();
}

void Listener::maybe_finish_drain() {
  if (!draining_ || !connections_.empty() || !drain_done_) return;
  std::function<void()> done = std::move(drain_done_);
  drain_done_ = nullptr;
  done();
}

size_t Listener::pending_write_bytes_for_test() const {
  size_t total = 0;
  for (const Connection* connection : connections_) total += connection->pending_write_bytes();
  return total;
}

}  // namespace spindle
