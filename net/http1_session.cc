#include "net/http1_session.h"

#include <algorithm>

namespace spindle {
namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr uint64_t kMaxBodyReserve = 1 << 20;  // a claimed Content-Length must not buy memory up front

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
         });
}

void lowercase(std::string& s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
}

// Header values may echo request data: never let them break the response framing.
void append_sanitized(std::string& out, std::string_view text) {
  for (char c : text) out.push_back(c == '\r' || c == '\n' ? ' ' : c);
}

std::string serialize(const HttpResponse& response, bool keep_alive, bool http10, bool head) {
  int status = response.status >= 100 && response.status <= 999 ? response.status : 500;
  bool has_body = status >= 200 && status != 204 && status != 304;
  std::string out;
  out.reserve(128 + response.body.size());
  out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ");
  out.append(reason_phrase(status)).append("\r\n");
  for (const Header& h : response.headers) {
    if (iequals(h.name, "content-length") || iequals(h.name, "connection") ||
        iequals(h.name, "transfer-encoding")) {
      continue;
    }
    append_sanitized(out, h.name);
    out.append(": ");
    append_sanitized(out, h.value);
    out.append("\r\n");
  }
  if (has_body) out.append("content-length: ").append(std::to_string(response.body.size())).append("\r\n");
  if (!keep_alive) {
    out.append("connection: close\r\n");
  } else if (http10) {
    out.append("connection: keep-alive\r\n");
  }
  out.append("\r\n");
  if (has_body && !head) out.append(response.body);
  return out;
}

// Origin-form "/p?q" or absolute-form "http://h/p?q" -> path and query.
void split_target(std::string_view url, HttpRequest& request) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.size() >= scheme.size() && iequals(url.substr(0, scheme.size()), scheme)) {
      size_t slash = url.find('/', scheme.size());
      url = slash == std::string_view::npos ? std::string_view("/") : url.substr(slash);
      break;
    }
  }
  size_t q = url.find('?');
  request.path.assign(url.substr(0, q));
  if (q != std::string_view::npos) request.query.assign(url.substr(q + 1));
}

}  // namespace

// ---- Responder target ----

class Http1Session::Target final : public ResponseTarget {
 public:
  explicit Target(Http1Session* session) : session_(session) {}

  void respond(HttpResponse response) override {
    Http1Session* session = session_;
    if (session == nullptr) return;
    session_ = nullptr;
    session->finish(std::move(response));
  }
  void grpc_message(std::string_view) override {}
  // gRPC needs HTTP/2; a handler that ends a call here still gets a plain answer out.
  void grpc_finish(const Status& status) override {
    HttpResponse response;
    response.status = status.is_ok() ? 200 : 500;
    response.body = status.to_string();
    respond(std::move(response));
  }
  bool is_closed() const override { return session_ == nullptr; }
  bool peer_gone() const override { return session_ == nullptr || session_->peer_eof_; }

  Http1Session* session_;
};

// ---- llhttp trampolines ----

struct Http1Session::Callbacks {
  static Http1Session* self(llhttp_t* p) { return static_cast<Http1Session*>(p->data); }

  static int message_begin(llhttp_t* p) { return self(p)->on_message_begin(); }
  static int url(llhttp_t* p, const char* at, size_t n) { return self(p)->on_url(at, n); }
  static int header_field(llhttp_t* p, const char* at, size_t n) { return self(p)->on_header_field(at, n); }
  static int header_value(llhttp_t* p, const char* at, size_t n) { return self(p)->on_header_value(at, n); }
  static int header_value_complete(llhttp_t* p) { return self(p)->on_header_value_complete(); }
  static int headers_complete(llhttp_t* p) { return self(p)->on_headers_complete(); }
  static int body(llhttp_t* p, const char* at, size_t n) { return self(p)->on_body(at, n); }
  static int message_complete(llhttp_t* p) { return self(p)->on_message_complete(); }

  // Set by field name: the struct layout differs between llhttp versions.
  static const llhttp_settings_t* settings() {
    static const llhttp_settings_t kSettings = [] {
      llhttp_settings_t s;
      llhttp_settings_init(&s);
      s.on_message_begin = message_begin;
      s.on_url = url;
      s.on_header_field = header_field;
      s.on_header_value = header_value;
      s.on_header_value_complete = header_value_complete;
      s.on_headers_complete = headers_complete;
      s.on_body = body;
      s.on_message_complete = message_complete;
      return s;
    }();
    return &kSettings;
  }
};

// ---- Session ----

Http1Session::Http1Session(Transport& transport, RequestHandler& handler)
    : transport_(transport), handler_(handler) {
  llhttp_init(&parser_, HTTP_REQUEST, Callbacks::settings());
  parser_.data = this;
}

Http1Session::~Http1Session() {
  if (target_) target_->session_ = nullptr;
}

Status Http1Session::on_data(const char* data, size_t size) {
  if (closed_) return Status::ok();
  if (blocked() || !pending_input_.empty()) {
    pending_input_.append(data, size);
    resume();  // also updates the read pause
    return Status::ok();
  }
  return parse(data, size);
}

bool Http1Session::blocked() const {
  return closed_ || in_flight_ || transport_.pending_write_bytes() >= transport_.limits().max_pending_write_bytes;
}

Status Http1Session::parse(const char* data, size_t size) {
  parsing_ = true;
  Status status;
  while (size > 0 && !closed_) {
    llhttp_errno_t err = llhttp_execute(&parser_, data, size);
    if (reject_status_ != 0) {
      status = reject(reject_status_, reject_text_);
      break;
    }
    if (err == HPE_OK) {
      size = 0;
      break;
    }
    if (err != HPE_PAUSED) {
      status = reject(400, std::string("bad request: ") + llhttp_get_error_reason(&parser_));
      break;
    }
    size_t used = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
    data += used;
    size -= used;
    llhttp_resume(&parser_);
    dispatch();  // the handler may answer right away
    if (blocked()) break;
  }
  parsing_ = false;
  if (!closed_ && size > 0) pending_input_.append(data, size);
  bool pause = !closed_ && pending_input_.size() >= kMaxBufferedInput;
  if (pause != reading_paused_) {
    reading_paused_ = pause;
    transport_.pause_reading(pause);
  }
  return status;
}

void Http1Session::resume() {
  if (parsing_) return;
  if (!blocked() && !pending_input_.empty()) {
    std::string input = std::move(pending_input_);
    pending_input_.clear();
    parse(input.data(), input.size()).ignore();  // an error was answered and the connection is closing
    return;
  }
  bool pause = !closed_ && pending_input_.size() >= kMaxBufferedInput;
  if (pause != reading_paused_) {
    reading_paused_ = pause;
    transport_.pause_reading(pause);
  }
}

void Http1Session::dispatch() {
  in_flight_ = true;
  response_keep_alive_ = keep_alive_ && !shutting_down_;
  response_head_ = head_request_;
  response_http10_ = parser_.http_major == 1 && parser_.http_minor == 0;
  target_ = std::make_shared<Target>(this);
  HttpRequest request = std::move(request_);
  request_ = HttpRequest{};
  split_target(url_, request);
  handler_.on_http(std::move(request), Responder(target_));
}

void Http1Session::finish(HttpResponse&& response) {
  target_.reset();
  in_flight_ = false;
  bool keep_alive = response_keep_alive_ && !shutting_down_;
  if (!keep_alive) closed_ = true;  // state first: the transport samples idle() inside send()
  transport_.send(serialize(response, keep_alive, response_http10_, response_head_));
  if (!keep_alive) {
    transport_.close_after_flush();
    return;
  }
  resume();
}

void Http1Session::on_writable() { resume(); }

void Http1Session::begin_shutdown() {
  shutting_down_ = true;
  if (closed_ || message_begun_ || in_flight_) return;  // the answer in progress will close
  closed_ = true;
  pending_input_.clear();
  transport_.close_after_flush();
}

Status Http1Session::reject(int status, const std::string& text) {
  closed_ = true;
  message_begun_ = false;
  pending_input_.clear();
  HttpResponse response;
  response.status = status;
  response.headers.push_back({"content-type", "text/plain; charset=utf-8"});
  response.body = text + "\n";
  transport_.send(serialize(response, false, false, false));
  transport_.close_after_flush();
  return status == 400 ? invalid_argument(text) : resource_exhausted(text);
}

// ---- llhttp callbacks ----

int Http1Session::on_message_begin() {
  request_ = HttpRequest{};
  url_.clear();
  field_.clear();
  value_.clear();
  header_bytes_ = 0;
  message_begun_ = true;
  return 0;
}

bool Http1Session::add_header_bytes(size_t length) {
  header_bytes_ += length;
  uint64_t limit = transport_.limits().max_header_bytes;
  if (header_bytes_ <= limit) return true;
  reject_status_ = 431;
  reject_text_ = "request header fields exceed " + std::to_string(limit) + " bytes";
  return false;
}

int Http1Session::on_url(const char* at, size_t length) {
  if (!add_header_bytes(length)) return HPE_USER;
  url_.append(at, length);
  return 0;
}

int Http1Session::on_header_field(const char* at, size_t length) {
  if (!add_header_bytes(length)) return HPE_USER;
  field_.append(at, length);
  return 0;
}

int Http1Session::on_header_value(const char* at, size_t length) {
  if (!add_header_bytes(length)) return HPE_USER;
  value_.append(at, length);
  return 0;
}

int Http1Session::on_header_value_complete() {
  if (!add_header_bytes(4)) return HPE_USER;  // ": " and CRLF: many empty headers still count
  lowercase(field_);
  request_.headers.push_back({std::move(field_), std::move(value_)});
  field_.clear();
  value_.clear();
  return 0;
}

int Http1Session::on_headers_complete() {
  request_.version = HttpVersion::Http1;
  request_.method = llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
  head_request_ = parser_.method == HTTP_HEAD;
  parser_.upgrade = 0;  // h2c upgrades and CONNECT tunnels are served as plain HTTP/1.1 requests
  uint64_t limit = transport_.limits().max_body_bytes;
  bool has_length = (parser_.flags & F_CONTENT_LENGTH) != 0;
  if (has_length && parser_.content_length > limit) {
    reject_status_ = 413;
    reject_text_ = "request body exceeds " + std::to_string(limit) + " bytes";
    return -1;
  }
  if (has_length) request_.body.reserve(std::min(parser_.content_length, kMaxBodyReserve));
  bool expects_body = (has_length && parser_.content_length > 0) || (parser_.flags & F_CHUNKED) != 0;
  if (expects_body && parser_.http_minor >= 1 && iequals(request_.header("expect"), "100-continue")) {
    transport_.send(kContinue);
  }
  return 0;
}

int Http1Session::on_body(const char* at, size_t length) {
  uint64_t limit = transport_.limits().max_body_bytes;
  if (request_.body.size() + length > limit) {
    reject_status_ = 413;
    reject_text_ = "request body exceeds " + std::to_string(limit) + " bytes";
    return HPE_USER;
  }
  request_.body.append(at, length);
  return 0;
}

int Http1Session::on_message_complete() {
  message_begun_ = false;
  keep_alive_ = llhttp_should_keep_alive(&parser_) != 0;
  return HPE_PAUSED;  // one request at a time: parse() dispatches it and decides whether to go on
}

}  // namespace spindle
