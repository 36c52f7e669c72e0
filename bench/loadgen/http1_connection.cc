#include "bench/loadgen/http1_connection.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace spindle {

Http1Connection::Http1Connection(std::string authority, ReplyHandler on_reply)
    : ClientConnection(std::move(authority), std::move(on_reply)) {
  llhttp_settings_init(&settings_);
  settings_.on_body = on_body;
  settings_.on_message_complete = on_message_complete;
}

Status Http1Connection::start_protocol() {
  llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
  parser_.data = this;
  return Status::ok();
}

Status Http1Connection::submit(ClientRequest request) {
  if (!alive() || closing_) return unavailable("connection closed");
  std::string& o = out_;
  o.reserve(o.size() + request.body.size() + 256);
  o += request.method;
  o += ' ';
  o += request.path;
  o += " HTTP/1.1\r\nhost: ";
  o += authority_;
  o += "\r\n";
  for (const auto& [name, value] : request.headers) {
    o += name;
    o += ": ";
    o += value;
    o += "\r\n";
  }
  if (!request.body.empty() || request.method == "POST") {
    o += "content-length: ";
    o += std::to_string(request.body.size());
    o += "\r\n";
  }
  o += "\r\n";
  o += request.body;
  pending_.push_back({request.tag, LoadClock::now()});
  return Status::ok();
}

std::vector<std::pair<uint64_t, LoadClock::time_point>> Http1Connection::take_in_flight() {
  std::vector<std::pair<uint64_t, LoadClock::time_point>> out;
  for (const Pending& p : pending_) out.emplace_back(p.tag, p.started);
  pending_.clear();
  return out;
}

int Http1Connection::on_body(llhttp_t* parser, const char* at, size_t length) {
  auto* c = static_cast<Http1Connection*>(parser->data);
  if (c->body_.size() < kMaxReplyBody) c->body_.append(at, length);
  return 0;
}

int Http1Connection::on_message_complete(llhttp_t* parser) {
  auto* c = static_cast<Http1Connection*>(parser->data);
  if (c->pending_.empty()) return -1;  // a response nobody asked for
  Pending p = c->pending_.front();
  c->pending_.pop_front();
  ClientReply r;
  r.tag = p.tag;
  r.latency = LoadClock::now() - p.started;
  r.http_status = parser->status_code;
  r.body = std::move(c->body_);
  c->body_.clear();
  if (!llhttp_should_keep_alive(parser)) c->closing_ = true;
  c->deliver(std::move(r));
  return 0;
}

Status Http1Connection::on_readable() {
  char buf[65536];
  for (;;) {
    ssize_t n = recv(fd(), buf, sizeof buf, 0);
    if (n > 0) {
      llhttp_errno_t err = llhttp_execute(&parser_, buf, static_cast<size_t>(n));
      if (err != HPE_OK) {
        return internal_error(std::string("HTTP/1.1 response: ") + llhttp_errno_name(err) + " " +
                              llhttp_get_error_reason(&parser_));
      }
      continue;
    }
    if (n == 0) return unavailable("closed by the server");
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::ok();
    if (errno == EINTR) continue;
    return unavailable(std::string("recv: ") + std::strerror(errno));
  }
}

}  // namespace spindle
