#include "bench/loadgen/client_connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace spindle {

ClientConnection::~ClientConnection() {
  if (fd_ >= 0) ::close(fd_);
}

Status ClientConnection::connect(const addrinfo* ai, LoadClock::time_point deadline) {
  fd_ = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd_ < 0) return unavailable(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd_, ai->ai_addr, ai->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) return unavailable(std::string("connect: ") + std::strerror(errno));
    pollfd p{fd_, POLLOUT, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - LoadClock::now()).count();
    if (poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 0))) != 1) {
      return unavailable("connect: timed out");
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      return unavailable(std::string("connect: ") + std::strerror(err));
    }
  }
  return start_protocol();
}

void ClientConnection::abandon(const std::string& reason) {
  auto now = LoadClock::now();
  for (auto& [tag, started] : take_in_flight()) {
    ClientReply r;
    r.tag = tag;
    r.failure = reason;
    r.latency = now - started;
    deliver(std::move(r));
  }
  close_protocol();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  out_.clear();
  out_off_ = 0;
}

Status ClientConnection::send_pending() {
  while (out_off_ < out_.size()) {
    ssize_t n = send(fd_, out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
    if (n > 0) {
      out_off_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Status::ok();
    if (n < 0 && errno == EINTR) continue;
    return unavailable(std::string("send: ") + std::strerror(errno));
  }
  out_.clear();
  out_off_ = 0;
  return Status::ok();
}

int pump_connections(const std::vector<std::unique_ptr<ClientConnection>>& connections, int timeout_ms) {
  int lost = 0;
  std::vector<pollfd> fds;
  std::vector<ClientConnection*> polled;
  for (const auto& c : connections) {
    if (!c->alive()) continue;
    if (Status s = c->flush(); !s.is_ok()) {
      c->abandon("connection_lost");
      ++lost;
      continue;
    }
    if (c->finished()) {
      c->abandon("goaway");
      ++lost;
      continue;
    }
    fds.push_back({c->fd(), static_cast<short>(POLLIN | (c->wants_write() ? POLLOUT : 0)), 0});
    polled.push_back(c.get());
  }
  if (fds.empty()) return lost;
  int n = poll(fds.data(), fds.size(), timeout_ms);
  if (n <= 0) return lost;
  for (size_t i = 0; i < fds.size(); ++i) {
    if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) && !polled[i]->on_readable().is_ok()) {
      polled[i]->abandon("connection_lost");
      ++lost;
    }
  }
  return lost;
}

Result<std::shared_ptr<addrinfo>> resolve(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* ai = nullptr;
  if (int rv = getaddrinfo(host.c_str(), port.c_str(), &hints, &ai); rv != 0) {
    return unavailable(host + ":" + port + ": " + gai_strerror(rv));
  }
  return std::shared_ptr<addrinfo>(ai, freeaddrinfo);
}

}  // namespace spindle
