#include "tests/support/http_client.h"

#include "net/content_coding.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>

namespace spindle {
namespace {

using Clock = std::chrono::steady_clock;

// A response larger than this is a server bug; stop instead of eating the test machine's memory.
constexpr size_t kMaxResponseBytes = size_t{512} << 20;

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

Status errno_status(const std::string& what) { return unavailable(what + ": " + std::strerror(errno)); }

// A non-blocking loopback TCP connection whose every wait ends at one deadline.
class Connection {
 public:
  static Result<Connection> open(uint16_t port, Clock::time_point deadline) {
    Connection conn(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), deadline);
    if (conn.fd_ < 0) return errno_status("socket");
    const int one = 1;
    ::setsockopt(conn.fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(conn.fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      if (errno != EINPROGRESS) return errno_status("connect to port " + std::to_string(port));
      SPINDLE_RETURN_IF_ERROR(conn.wait(POLLOUT));
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(conn.fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        return unavailable("connect to port " + std::to_string(port) + ": " + std::strerror(err));
      }
    }
    return conn;
  }

  Connection(Connection&& other) noexcept : fd_(other.fd_), deadline_(other.deadline_) { other.fd_ = -1; }
  Connection& operator=(Connection&&) = delete;
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }

  Status send_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n >= 0) {
        data.remove_prefix(static_cast<size_t>(n));
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        SPINDLE_RETURN_IF_ERROR(wait(POLLOUT));
      } else if (errno != EINTR) {
        return errno_status("send");
      }
    }
    return Status::ok();
  }

  // Bytes read into buf; 0 means the peer closed its side.
  Result<size_t> recv_some(char* buf, size_t cap) {
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, cap, 0);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        SPINDLE_RETURN_IF_ERROR(wait(POLLIN));
      } else if (errno == ECONNRESET) {
        return size_t{0};  // a reset after a complete response is as good as a close
      } else if (errno != EINTR) {
        return errno_status("recv");
      }
    }
  }

  // Appends what arrives to out; false at EOF.
  Result<bool> recv_append(std::string& out) {
    char buf[65536];
    SPINDLE_ASSIGN_OR_RETURN(size_t n, recv_some(buf, sizeof(buf)));
    if (out.size() + n > kMaxResponseBytes) return resource_exhausted("response too large");
    out.append(buf, n);
    return n > 0;
  }

  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

 private:
  Connection(int fd, Clock::time_point deadline) : fd_(fd), deadline_(deadline) {}

  Status wait(short events) {
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
      if (left.count() <= 0) return deadline_exceeded("loopback client: timed out");
      pollfd pfd{fd_, events, 0};
      const int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
      if (r > 0) return Status::ok();
      if (r < 0 && errno != EINTR) return errno_status("poll");
    }
  }

  int fd_;
  Clock::time_point deadline_;
};

Clock::time_point call_deadline() { return Clock::now() + kClientTimeout; }

// ---------------------------------------------------------------------------------------------------------
// HTTP/1.1

bool has_header(const HeaderList& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); });
}

std::string to_hex(size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%zx", n);
  return buf;
}

std::string encode_http1_request(uint16_t port, const std::string& method, const std::string& target,
                                 const HeaderList& headers, const std::string& body, bool chunked) {
  std::string out = method + " " + target + " HTTP/1.1\r\n";
  if (!has_header(headers, "host")) out += "Host: 127.0.0.1:" + std::to_string(port) + "\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  if (chunked) {
    if (!has_header(headers, "transfer-encoding")) out += "Transfer-Encoding: chunked\r\n";
    out += "\r\n";
    // Uneven chunk sizes, so a server that assumes one chunk or aligned chunks fails.
    size_t pos = 0;
    size_t size = 1;
    while (pos < body.size()) {
      const size_t n = std::min(size, body.size() - pos);
      out += to_hex(n) + "\r\n" + body.substr(pos, n) + "\r\n";
      pos += n;
      size = size * 3 + 7;
    }
    out += "0\r\n\r\n";
    return out;
  }
  const bool bodiless_method =
      method == "GET" || method == "HEAD" || method == "DELETE" || method == "OPTIONS";
  if (!has_header(headers, "content-length") && (!body.empty() || !bodiless_method)) {
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  out += "\r\n" + body;
  return out;
}

// Reads one response from a connection, pulling more bytes as each step needs them.
class Http1ResponseReader {
 public:
  explicit Http1ResponseReader(Connection& conn) : conn_(conn) {}

  Result<HttpResult> read(bool head_request) {
    for (;;) {
      SPINDLE_ASSIGN_OR_RETURN(HttpResult result, read_head());
      if (result.status >= 100 && result.status < 200) continue;  // interim: the real one follows
      if (head_request || result.status == 204 || result.status == 304) return result;
      SPINDLE_RETURN_IF_ERROR(read_body(result));
      return result;
    }
  }

 private:
  // Makes sure buf_ holds at least pos_ + n bytes.
  Status need(size_t n) {
    while (buf_.size() - pos_ < n) {
      SPINDLE_ASSIGN_OR_RETURN(bool more, conn_.recv_append(buf_));
      if (!more) return unavailable("HTTP/1.1 response truncated: connection closed");
    }
    return Status::ok();
  }

  // The text up to (not including) the next CRLF; consumes the CRLF.
  Result<std::string> line() {
    size_t scanned = pos_;
    for (;;) {
      const size_t crlf = buf_.find("\r\n", scanned);
      if (crlf != std::string::npos) {
        std::string text = buf_.substr(pos_, crlf - pos_);
        pos_ = crlf + 2;
        return text;
      }
      scanned = buf_.empty() ? pos_ : std::max(pos_, buf_.size() - 1);
      SPINDLE_ASSIGN_OR_RETURN(bool more, conn_.recv_append(buf_));
      if (!more) return unavailable("HTTP/1.1 response truncated: connection closed mid-line");
    }
  }

  Result<HttpResult> read_head() {
    HttpResult result;
    SPINDLE_ASSIGN_OR_RETURN(std::string status_line, line());
    // "HTTP/1.1 200 OK"
    if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12 || status_line[8] != ' ') {
      return data_loss("bad HTTP/1.1 status line: '" + status_line + "'");
    }
    result.status = std::atoi(status_line.substr(9, 3).c_str());
    if (result.status < 100 || result.status > 999) {
      return data_loss("bad HTTP/1.1 status: '" + status_line + "'");
    }
    for (;;) {
      SPINDLE_ASSIGN_OR_RETURN(std::string header, line());
      if (header.empty()) break;
      const size_t colon = header.find(':');
      if (colon == std::string::npos) return data_loss("bad HTTP/1.1 header: '" + header + "'");
      std::string value = header.substr(colon + 1);
      const size_t first = value.find_first_not_of(" \t");
      const size_t last = value.find_last_not_of(" \t");
      value = first == std::string::npos ? "" : value.substr(first, last - first + 1);
      result.headers.emplace_back(lowercase(header.substr(0, colon)), std::move(value));
    }
    return result;
  }

  Status read_body(HttpResult& result) {
    if (lowercase(result.header("transfer-encoding")).find("chunked") != std::string::npos) {
      return read_chunked(result.body);
    }
    const std::string length = result.header("content-length");
    if (!length.empty()) {
      char* end = nullptr;
      const unsigned long long n = std::strtoull(length.c_str(), &end, 10);
      if (*end != '\0' || n > kMaxResponseBytes) return data_loss("bad Content-Length: " + length);
      SPINDLE_RETURN_IF_ERROR(need(n));
      result.body = buf_.substr(pos_, n);
      pos_ += n;
      return Status::ok();
    }
    for (;;) {  // delimited by close
      SPINDLE_ASSIGN_OR_RETURN(bool more, conn_.recv_append(buf_));
      if (!more) break;
    }
    result.body = buf_.substr(pos_);
    pos_ = buf_.size();
    return Status::ok();
  }

  Status read_chunked(std::string& body) {
    for (;;) {
      SPINDLE_ASSIGN_OR_RETURN(std::string size_line, line());
      char* end = nullptr;
      const unsigned long long n = std::strtoull(size_line.c_str(), &end, 16);
      if (end == size_line.c_str() || (*end != '\0' && *end != ';' && *end != ' ') ||
          body.size() + n > kMaxResponseBytes) {
        return data_loss("bad chunk size line: '" + size_line + "'");
      }
      if (n == 0) break;
      SPINDLE_RETURN_IF_ERROR(need(n + 2));
      body.append(buf_, pos_, n);
      if (buf_.compare(pos_ + n, 2, "\r\n") != 0) return data_loss("chunk not followed by CRLF");
      pos_ += n + 2;
    }
    for (;;) {  // trailer section, ended by an empty line
      SPINDLE_ASSIGN_OR_RETURN(std::string trailer, line());
      if (trailer.empty()) return Status::ok();
    }
  }

  Connection& conn_;
  std::string buf_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------------------
// HTTP/2 (nghttp2 client session driven by hand over the blocking connection)

struct H2Response {
  int status = 0;
  HeaderList headers;
  HeaderList trailers;
  std::string body;
};

// State shared with the nghttp2 callbacks for the one stream of the exchange.
struct H2Exchange {
  int32_t stream_id = -1;
  std::string request_body;
  size_t request_sent = 0;
  H2Response response;
  bool in_trailers = false;
  bool closed = false;
  uint32_t close_error = 0;
  bool too_large = false;
};

nghttp2_nv make_nv(const std::string& name, const std::string& value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                    NGHTTP2_NV_FLAG_NONE};
}

int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  auto* ex = static_cast<H2Exchange*>(user_data);
  if (frame->hd.stream_id != ex->stream_id) return 0;
  // A HEADERS block after a final (non-1xx) response is the trailer section.
  ex->in_trailers = frame->headers.cat == NGHTTP2_HCAT_HEADERS && ex->response.status >= 200;
  return 0;
}

int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
              const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
  auto* ex = static_cast<H2Exchange*>(user_data);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->hd.stream_id != ex->stream_id) return 0;
  std::string n(reinterpret_cast<const char*>(name), namelen);
  std::string v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") {
    ex->response.status = std::atoi(v.c_str());
    ex->response.headers.clear();  // drop the headers of an interim 1xx response
  } else if (ex->in_trailers) {
    ex->response.trailers.emplace_back(std::move(n), std::move(v));
  } else {
    ex->response.headers.emplace_back(std::move(n), std::move(v));
  }
  return 0;
}

int on_data_chunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                  void* user_data) {
  auto* ex = static_cast<H2Exchange*>(user_data);
  if (stream_id != ex->stream_id) return 0;
  if (ex->response.body.size() + len > kMaxResponseBytes) {
    ex->too_large = true;
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  ex->response.body.append(reinterpret_cast<const char*>(data), len);
  return 0;
}

int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
  auto* ex = static_cast<H2Exchange*>(user_data);
  if (stream_id == ex->stream_id) {
    ex->closed = true;
    ex->close_error = error_code;
  }
  return 0;
}

ssize_t read_request_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source*, void* user_data) {
  auto* ex = static_cast<H2Exchange*>(user_data);
  const size_t n = std::min(length, ex->request_body.size() - ex->request_sent);
  std::memcpy(buf, ex->request_body.data() + ex->request_sent, n);
  ex->request_sent += n;
  if (ex->request_sent == ex->request_body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

class H2Session {
 public:
  H2Session() = default;
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;
  ~H2Session() {
    if (session_) nghttp2_session_del(session_);
  }

  Status init(H2Exchange* ex) {
    nghttp2_session_callbacks* cbs = nullptr;
    if (nghttp2_session_callbacks_new(&cbs) != 0) return internal_error("nghttp2 callbacks");
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    const int rv = nghttp2_session_client_new(&session_, cbs, ex);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0) return internal_error("nghttp2_session_client_new failed");
    return Status::ok();
  }

  nghttp2_session* get() { return session_; }

  // Writes everything the session has queued.
  Status flush(Connection& conn) {
    for (;;) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) return internal_error(std::string("nghttp2 send: ") + nghttp2_strerror(int(n)));
      if (n == 0) return Status::ok();
      SPINDLE_RETURN_IF_ERROR(
          conn.send_all(std::string_view(reinterpret_cast<const char*>(data), size_t(n))));
    }
  }

 private:
  nghttp2_session* session_ = nullptr;
};

// Opens the session on `conn` and submits one request (settings first, a large receive window); the caller
// flushes. Sets ex.stream_id.
Status start_h2_request(H2Session& session, H2Exchange& ex, uint16_t port, const std::string& method,
                        const std::string& target, const HeaderList& headers) {
  SPINDLE_RETURN_IF_ERROR(session.init(&ex));
  const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                             {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 24}};
  nghttp2_submit_settings(session.get(), NGHTTP2_FLAG_NONE, settings, 2);
  nghttp2_session_set_local_window_size(session.get(), NGHTTP2_FLAG_NONE, 0, 1 << 24);

  const std::string scheme = "http";
  const std::string authority = "127.0.0.1:" + std::to_string(port);
  const std::string k_method = ":method", k_scheme = ":scheme", k_authority = ":authority", k_path = ":path";
  std::vector<nghttp2_nv> nva = {make_nv(k_method, method), make_nv(k_scheme, scheme),
                                 make_nv(k_authority, authority), make_nv(k_path, target)};
  for (const auto& [name, value] : headers) nva.push_back(make_nv(name, value));
  nghttp2_data_provider provider{};
  provider.read_callback = read_request_body;
  // No DATA frames at all for an empty GET-style body: END_STREAM rides on HEADERS.
  const bool send_body = !ex.request_body.empty() || method == "POST" || method == "PUT";
  ex.stream_id = nghttp2_submit_request(session.get(), nullptr, nva.data(), nva.size(),
                                        send_body ? &provider : nullptr, nullptr);
  if (ex.stream_id < 0) {
    return internal_error(std::string("nghttp2_submit_request: ") + nghttp2_strerror(ex.stream_id));
  }
  return Status::ok();
}

Result<H2Response> h2_exchange(uint16_t port, const std::string& method, const std::string& target,
                               const HeaderList& headers, std::string body) {
  SPINDLE_ASSIGN_OR_RETURN(Connection conn, Connection::open(port, call_deadline()));
  H2Exchange ex;
  ex.request_body = std::move(body);
  H2Session session;
  SPINDLE_RETURN_IF_ERROR(start_h2_request(session, ex, port, method, target, headers));

  char buf[65536];
  while (!ex.closed) {
    SPINDLE_RETURN_IF_ERROR(session.flush(conn));
    if (ex.closed) break;
    if (!nghttp2_session_want_read(session.get())) {
      return unavailable("HTTP/2 session ended (GOAWAY?) before the response was complete");
    }
    SPINDLE_ASSIGN_OR_RETURN(size_t n, conn.recv_some(buf, sizeof(buf)));
    if (n == 0) return unavailable("HTTP/2 connection closed before the stream ended");
    const ssize_t rv = nghttp2_session_mem_recv(session.get(), reinterpret_cast<const uint8_t*>(buf), n);
    if (ex.too_large) return resource_exhausted("HTTP/2 response too large");
    if (rv < 0) {
      return data_loss(std::string("HTTP/2 protocol error from server: ") + nghttp2_strerror(int(rv)));
    }
  }
  // Say goodbye politely; the server should see a clean GOAWAY rather than a reset.
  nghttp2_session_terminate_session(session.get(), NGHTTP2_NO_ERROR);
  (void)session.flush(conn);

  if (ex.close_error != NGHTTP2_NO_ERROR) {
    return unavailable("HTTP/2 stream reset by server, error code " + std::to_string(ex.close_error) + " (" +
                       nghttp2_http2_strerror(ex.close_error) + ")");
  }
  if (ex.response.status == 0) return data_loss("HTTP/2 stream ended without a :status");
  return std::move(ex.response);
}

// ---------------------------------------------------------------------------------------------------------
// gRPC

std::string find_header(const HeaderList& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (iequals(n, name)) return v;
  }
  return {};
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// gRPC length-prefixed message: 1 byte compressed flag, 4 bytes big-endian length, then the message.
std::string frame_grpc_message(std::string_view message, bool compressed) {
  std::string out;
  out.push_back(compressed ? 1 : 0);
  const auto n = static_cast<uint32_t>(message.size());
  out.push_back(static_cast<char>(n >> 24));
  out.push_back(static_cast<char>(n >> 16));
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n));
  out.append(message);
  return out;
}

Result<std::vector<std::string>> unframe_grpc_messages(std::string_view body, std::string_view encoding) {
  std::vector<std::string> messages;
  while (!body.empty()) {
    if (body.size() < 5) return data_loss("truncated gRPC message prefix");
    const auto* p = reinterpret_cast<const uint8_t*>(body.data());
    const uint32_t n = (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 8) | p[4];
    if (p[0] > 1) return data_loss("bad gRPC compressed flag " + std::to_string(p[0]));
    if (body.size() - 5 < n) return data_loss("truncated gRPC message");
    std::string_view message = body.substr(5, n);
    if (p[0] == 1) {
      if (encoding != "gzip") {
        return data_loss("compressed gRPC message with grpc-encoding '" + std::string(encoding) + "'");
      }
      SPINDLE_ASSIGN_OR_RETURN(std::string plain, gzip_decompress(message, 1u << 30));
      messages.push_back(std::move(plain));
    } else {
      messages.emplace_back(message);
    }
    body.remove_prefix(5 + n);
  }
  return messages;
}

}  // namespace

std::string HttpResult::header(std::string_view name) const { return find_header(headers, name); }

Result<HttpResult> http1_request(uint16_t port, std::string method, std::string target, HeaderList headers,
                                 std::string body, bool chunked) {
  SPINDLE_ASSIGN_OR_RETURN(Connection conn, Connection::open(port, call_deadline()));
  SPINDLE_RETURN_IF_ERROR(conn.send_all(encode_http1_request(port, method, target, headers, body, chunked)));
  Http1ResponseReader reader(conn);
  return reader.read(method == "HEAD");
}

Result<HttpResult> h2c_request(uint16_t port, std::string method, std::string target, HeaderList headers,
                               std::string body) {
  SPINDLE_ASSIGN_OR_RETURN(H2Response response, h2_exchange(port, method, target, headers, std::move(body)));
  HttpResult result;
  result.status = response.status;
  result.headers = std::move(response.headers);
  for (auto& t : response.trailers) result.headers.push_back(std::move(t));
  result.body = std::move(response.body);
  return result;
}

const HeaderList kGrpcHeaders = {
    {"content-type", "application/grpc"}, {"te", "trailers"}, {"user-agent", "spindle-test-client/1"}};

Status grpc_cancelled_call(uint16_t port, std::string method_path, std::string message,
                           const std::function<void()>& before_cancel, const std::function<void()>& while_open) {
  SPINDLE_ASSIGN_OR_RETURN(Connection conn, Connection::open(port, call_deadline()));
  H2Exchange ex;
  ex.request_body = frame_grpc_message(message, false);
  H2Session session;
  SPINDLE_RETURN_IF_ERROR(start_h2_request(session, ex, port, "POST", method_path, kGrpcHeaders));
  SPINDLE_RETURN_IF_ERROR(session.flush(conn));
  before_cancel();
  if (nghttp2_submit_rst_stream(session.get(), NGHTTP2_FLAG_NONE, ex.stream_id, NGHTTP2_CANCEL) != 0) {
    return internal_error("nghttp2_submit_rst_stream failed");
  }
  SPINDLE_RETURN_IF_ERROR(session.flush(conn));
  while_open();
  nghttp2_session_terminate_session(session.get(), NGHTTP2_NO_ERROR);
  return session.flush(conn);
}

Result<GrpcResult> grpc_unary(uint16_t port, std::string method_path, std::string message, bool gzip,
                              HeaderList extra_headers) {
  HeaderList headers = kGrpcHeaders;
  if (gzip) {
    headers.emplace_back("grpc-encoding", "gzip");
    headers.emplace_back("grpc-accept-encoding", "gzip");
  }
  for (auto& h : extra_headers) headers.push_back(std::move(h));
  const std::string body =
      gzip ? frame_grpc_message(gzip_compress(message), true) : frame_grpc_message(message, false);
  SPINDLE_ASSIGN_OR_RETURN(H2Response response, h2_exchange(port, "POST", method_path, headers, body));
  GrpcResult result;
  result.http_status = response.status;
  // A Trailers-Only response carries grpc-status in its only HEADERS block.
  const HeaderList& status_block = response.trailers.empty() ? response.headers : response.trailers;
  const std::string status = find_header(status_block, "grpc-status");
  if (!status.empty()) result.grpc_status = std::atoi(status.c_str());
  result.grpc_message = percent_decode(find_header(status_block, "grpc-message"));
  if (response.status != 200) return result;  // not a gRPC response body: nothing to unframe
  SPINDLE_ASSIGN_OR_RETURN(
      result.messages, unframe_grpc_messages(response.body, find_header(response.headers, "grpc-encoding")));
  return result;
}

Result<std::string> tcp_exchange(uint16_t port, std::string_view bytes) {
  SPINDLE_ASSIGN_OR_RETURN(Connection conn, Connection::open(port, call_deadline()));
  SPINDLE_RETURN_IF_ERROR(conn.send_all(bytes));
  std::string out;
  for (;;) {
    SPINDLE_ASSIGN_OR_RETURN(bool more, conn.recv_append(out));
    if (!more) return out;
  }
}


}  // namespace spindle
