#include "bench/loadgen/http2_connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace spindle {
namespace {

nghttp2_nv header(const std::string& name, const std::string& value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                    NGHTTP2_NV_FLAG_NONE};
}

int to_int(std::string_view s) {
  int v = -1;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

Http2Connection::~Http2Connection() { close_protocol(); }

void Http2Connection::close_protocol() {
  if (session_) nghttp2_session_del(session_);
  session_ = nullptr;
  streams_.clear();
}

Status Http2Connection::start_protocol() {
  nghttp2_session_callbacks* cb = nullptr;
  if (nghttp2_session_callbacks_new(&cb) != 0) return internal_error("nghttp2: out of memory");
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  int rv = nghttp2_session_client_new(&session_, cb, this);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) return internal_error(std::string("nghttp2: ") + nghttp2_strerror(rv));
  // Responses are small; a large receive window only keeps the server's writes unblocked.
  nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                       {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
  rv = nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  if (rv != 0) return internal_error(std::string("nghttp2: ") + nghttp2_strerror(rv));
  return Status::ok();
}

bool Http2Connection::wants_write() const {
  return alive() && session_ && (has_pending_output() || nghttp2_session_want_write(session_));
}

bool Http2Connection::finished() const {
  return alive() && session_ && !nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_);
}

Status Http2Connection::submit(ClientRequest request) {
  if (!session_) return unavailable("connection closed");
  auto s = std::make_unique<Stream>();
  s->tag = request.tag;
  s->body = std::move(request.body);
  s->started = LoadClock::now();
  const std::string method = ":method", scheme = ":scheme", http = "http", path = ":path",
                    authority = ":authority";
  std::vector<nghttp2_nv> nv = {header(method, request.method), header(scheme, http),
                                header(path, request.path), header(authority, authority_)};
  for (const auto& [name, value] : request.headers) nv.push_back(header(name, value));
  nghttp2_data_provider provider;
  provider.source.ptr = s.get();
  provider.read_callback = read_body;
  // nghttp2 copies the header strings (no NO_COPY flags); the body stays in the Stream until it closes.
  int32_t id = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(), &provider, s.get());
  if (id < 0) return unavailable(std::string("nghttp2: ") + nghttp2_strerror(id));
  streams_.emplace(id, std::move(s));
  return Status::ok();
}

std::vector<std::pair<uint64_t, LoadClock::time_point>> Http2Connection::take_in_flight() {
  std::vector<std::pair<uint64_t, LoadClock::time_point>> out;
  for (auto& [id, s] : streams_) out.emplace_back(s->tag, s->started);
  streams_.clear();
  return out;
}

ssize_t Http2Connection::read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length,
                                   uint32_t* data_flags, nghttp2_data_source* source, void*) {
  auto* s = static_cast<Stream*>(source->ptr);
  size_t n = std::min(length, s->body.size() - s->sent);
  std::memcpy(buf, s->body.data() + s->sent, n);
  s->sent += n;
  if (s->sent == s->body.size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

int Http2Connection::on_header(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                               size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void*) {
  auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
  if (!s) return 0;
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") {
    s->http_status = to_int(v);
  } else if (n == "grpc-status") {
    s->grpc_status = to_int(v);
  }
  return 0;
}

int Http2Connection::on_data_chunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                                   size_t len, void*) {
  auto* s = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
  if (s && s->response.size() < kMaxReplyBody) s->response.append(reinterpret_cast<const char*>(data), len);
  return 0;
}

int Http2Connection::on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                                     void* user_data) {
  auto* c = static_cast<Http2Connection*>(user_data);
  auto it = c->streams_.find(stream_id);
  if (it == c->streams_.end()) return 0;
  std::unique_ptr<Stream> s = std::move(it->second);
  c->streams_.erase(it);
  ClientReply r;
  r.tag = s->tag;
  r.latency = LoadClock::now() - s->started;
  if (error_code != NGHTTP2_NO_ERROR) {
    r.failure = "rst_" + std::to_string(error_code);
  } else {
    r.http_status = s->http_status;
    r.grpc_status = s->grpc_status;
    r.body = std::move(s->response);
  }
  c->deliver(std::move(r));
  return 0;
}

Status Http2Connection::on_readable() {
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = recv(fd(), buf, sizeof buf, 0);
    if (n > 0) {
      ssize_t used = nghttp2_session_mem_recv(session_, buf, static_cast<size_t>(n));
      if (used < 0) return internal_error(std::string("HTTP/2: ") + nghttp2_strerror(static_cast<int>(used)));
      continue;
    }
    if (n == 0) return unavailable("closed by the server");
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::ok();
    if (errno == EINTR) continue;
    return unavailable(std::string("recv: ") + std::strerror(errno));
  }
}

Status Http2Connection::flush() {
  constexpr size_t kBatch = 256 * 1024;
  for (;;) {
    if (!has_pending_output()) {
      out_.clear();
      out_off_ = 0;
      // Gather several frames per send() so a 30 KB request costs one or two system calls.
      while (out_.size() < kBatch) {
        const uint8_t* data = nullptr;
        ssize_t n = nghttp2_session_mem_send(session_, &data);
        if (n < 0) return internal_error(std::string("HTTP/2: ") + nghttp2_strerror(static_cast<int>(n)));
        if (n == 0) break;
        out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
      }
      if (out_.empty()) return Status::ok();
    }
    SPINDLE_RETURN_IF_ERROR(send_pending());
    if (has_pending_output()) return Status::ok();  // socket full
  }
}

}  // namespace spindle
