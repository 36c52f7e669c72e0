#include "net/http2_session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "net/content_coding.h"
#include "net/grpc_framer.h"

namespace spindle {
namespace {

constexpr int32_t kInitialStreamWindow = 1 << 20;
constexpr int32_t kConnectionWindow = 16 << 20;
constexpr size_t kMaxContinuations = 8;
constexpr uint64_t kResetBurst =
    1000;  // RST_STREAM tokens ("rapid reset"); nghttp2's defaults, made explicit
constexpr uint64_t kResetRatePerSecond = 33;
constexpr size_t kMaxOutboundAck = 10000;
constexpr uint32_t kMaxConsecutiveEmptyData = 8;
constexpr uint64_t kMaxPriorityPerStream = 100;
constexpr uint64_t kWindowUpdatesPerDataFrame = 10;
constexpr size_t kHeaderEntryOverhead = 32;  // RFC 7541 section 4.1: what each header costs in a header list
constexpr size_t kCompactOutputBytes = 64 << 10;
constexpr uint8_t kShutdownPing[8] = {'s', 'h', 'u', 't', 'd', 'o', 'w', 'n'};
constexpr std::string_view kGrpcContentType = "application/grpc";
constexpr std::string_view kGrpcAcceptEncoding = "identity,gzip";

enum class Coding { Identity, Gzip };

// HTTP/1 connection-level headers are forbidden in HTTP/2 (RFC 9113 8.2.2); a handler shared with HTTP/1 may
// set them, so they are dropped here.
bool forbidden_response_header(std::string_view name) {
  return name.empty() || name[0] == ':' || name == "content-length" || name == "connection" ||
         name == "keep-alive" || name == "proxy-connection" || name == "transfer-encoding" ||
         name == "upgrade";
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view find_header(const std::vector<Header>& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name == name) return h.value;
  }
  return {};
}

std::vector<nghttp2_nv> to_nv(const std::vector<Header>& fields) {
  std::vector<nghttp2_nv> nv;
  nv.reserve(fields.size());
  for (const auto& f : fields) {
    // nghttp2 copies name and value (no NO_COPY flags): `fields` may die right after the submit call.
    nv.push_back(nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(f.name.data())),
                            reinterpret_cast<uint8_t*>(const_cast<char*>(f.value.data())), f.name.size(),
                            f.value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  return nv;
}

std::string_view as_view(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace

// Everything the session knows about one stream. Owned by Http2Session::streams_, erased when nghttp2 closes
// the stream; nothing keeps a Stream* across a call into nghttp2 that may close streams.
struct Http2Session::Stream {
  Stream(int32_t stream_id, uint64_t max_grpc_message_bytes)
      : id(stream_id), framer(max_grpc_message_bytes) {}

  int32_t id;
  // Request.
  std::string method;
  std::string path;
  std::vector<Header> headers;
  size_t header_bytes = 0;
  bool headers_too_large = false;
  bool headers_done = false;
  bool grpc = false;
  Coding coding = Coding::Identity;
  uint64_t deadline_ms = 0;
  std::string body;                   // HTTP
  GrpcFramer framer;                  // gRPC
  std::vector<GrpcMessage> messages;  // gRPC
  bool request_complete = false;      // END_STREAM received
  size_t unconsumed = 0;              // accepted while overloaded, not yet given back to the peer's windows
  // Answer.
  bool awaiting_handler = false;
  bool answered = false;  // respond/grpc_finish/session error submitted: later request bytes are discarded
  std::shared_ptr<StreamTarget> target;
  // Response body as the data source serves it.
  bool response_started = false;
  bool body_complete = false;
  bool deferred = false;  // the data source returned NGHTTP2_ERR_DEFERRED and waits for resume_data
  std::string out;
  size_t out_offset = 0;
  std::vector<Header> trailers;
};

// The Responder's target: refers to its stream by id through a session pointer that the session nulls when
// the stream closes or the session dies, so a late answer is a no-op.
class Http2Session::StreamTarget : public ResponseTarget {
 public:
  StreamTarget(Http2Session* session, int32_t stream_id) : session_(session), stream_id_(stream_id) {}

  void respond(HttpResponse response) override {
    if (is_closed()) return;
    done_ = true;
    session_->respond_http(stream_id_, std::move(response));
  }
  void grpc_message(std::string_view message) override {
    if (!is_closed()) session_->grpc_message(stream_id_, message);
  }
  void grpc_finish(const Status& status) override {
    if (is_closed()) return;
    done_ = true;
    session_->grpc_finish(stream_id_, status);
  }
  bool is_closed() const override { return session_ == nullptr || done_; }

  void detach() { session_ = nullptr; }

 private:
  Http2Session* session_;
  int32_t stream_id_;
  bool done_ = false;
};

// One nghttp2 callbacks table and option set for every session (Envoy style): captureless lambdas that
// recover the session from user_data and forward to a named member.
class Http2Callbacks {
 public:
  static const Http2Callbacks& get() {
    static const Http2Callbacks kTable;
    return kTable;
  }
  Http2Callbacks(const Http2Callbacks&) = delete;
  Http2Callbacks& operator=(const Http2Callbacks&) = delete;
  ~Http2Callbacks() {
    nghttp2_session_callbacks_del(callbacks_);
    nghttp2_option_del(options_);
  }

  const nghttp2_session_callbacks* callbacks() const { return callbacks_; }
  const nghttp2_option* options() const { return options_; }

  static nghttp2_data_provider data_provider() {
    nghttp2_data_provider provider{};
    provider.read_callback = [](nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                                uint32_t* data_flags, nghttp2_data_source*, void* user_data) {
      return self(user_data)->read_body(stream_id, buf, length, data_flags);
    };
    return provider;
  }

 private:
  static Http2Session* self(void* user_data) { return static_cast<Http2Session*>(user_data); }

  Http2Callbacks() {
    nghttp2_session_callbacks_new(&callbacks_);
    nghttp2_session_callbacks_set_on_begin_headers_callback(
        callbacks_, [](nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
          if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
          return self(user_data)->on_begin_headers(frame->hd.stream_id);
        });
    nghttp2_session_callbacks_set_on_header_callback(
        callbacks_, [](nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t name_len,
                       const uint8_t* value, size_t value_len, uint8_t, void* user_data) {
          if (frame->hd.type != NGHTTP2_HEADERS) return 0;
          return self(user_data)->on_header(frame->hd.stream_id, frame->headers.cat == NGHTTP2_HCAT_REQUEST,
                                            as_view(name, name_len), as_view(value, value_len));
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        callbacks_, [](nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
          const uint8_t* ping = frame->hd.type == NGHTTP2_PING ? frame->ping.opaque_data : nullptr;
          return self(user_data)->on_frame_recv(frame->hd.stream_id, frame->hd.type, frame->hd.flags,
                                                frame->hd.length, ping);
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        callbacks_, [](nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t size,
                       void* user_data) { return self(user_data)->on_data_chunk(stream_id, data, size); });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        callbacks_, [](nghttp2_session*, int32_t stream_id, uint32_t, void* user_data) {
          return self(user_data)->on_stream_close(stream_id);
        });
    nghttp2_session_callbacks_set_on_frame_send_callback(
        callbacks_, [](nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
          return self(user_data)->on_frame_send(frame->hd.stream_id, frame->hd.type, frame->hd.flags);
        });

    nghttp2_option_new(&options_);
    // We give window back only for bytes we accepted (nghttp2_session_consume): the backpressure lever.
    nghttp2_option_set_no_auto_window_update(options_, 1);
    nghttp2_option_set_no_closed_streams(options_, 1);
    nghttp2_option_set_max_continuations(options_, kMaxContinuations);
    nghttp2_option_set_stream_reset_rate_limit(options_, kResetBurst, kResetRatePerSecond);
    nghttp2_option_set_max_outbound_ack(options_, kMaxOutboundAck);
  }

  nghttp2_session_callbacks* callbacks_ = nullptr;
  nghttp2_option* options_ = nullptr;
};

Http2Session::Http2Session(Transport& transport, RequestHandler& handler)
    : transport_(transport), handler_(handler), limits_(transport.limits()) {
  const Http2Callbacks& table = Http2Callbacks::get();
  // Only fails on out-of-memory, which is fatal everywhere in this server.
  if (nghttp2_session_server_new2(&session_, table.callbacks(), this, table.options()) != 0) std::abort();
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kInitialStreamWindow)},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(limits_.max_header_bytes)},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
}

Http2Session::~Http2Session() {
  for (auto& [id, stream] : streams_) {
    if (stream->target) stream->target->detach();
  }
  if (deadline_timer_ != nullptr) {
    deadline_timer_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(deadline_timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }
  nghttp2_session_del(session_);
}

// ---- Session interface ------------------------------------------------------------------------------------

Status Http2Session::on_data(const char* data, size_t size) {
  if (closing_) return Status::ok();
  dispatching_ = true;
  const ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(data), size);
  if (rv >= 0 && !flood_) dispatch_ready();
  dispatching_ = false;
  if (rv < 0 || flood_) {
    if (rv >= 0 || !nghttp2_is_fatal(static_cast<int>(rv))) {
      nghttp2_session_terminate_session(session_,
                                        flood_ ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR);
      flush();  // best effort: the GOAWAY
    }
    closing_ = true;
    if (flood_) return resource_exhausted("HTTP/2 peer flooded the connection with frames");
    return invalid_argument(std::string("HTTP/2 protocol error: ") + nghttp2_strerror(static_cast<int>(rv)));
  }
  after_change();
  return Status::ok();
}

void Http2Session::on_writable() { after_change(); }

bool Http2Session::receiving() const {
  return std::any_of(streams_.begin(), streams_.end(), [](const auto& entry) {
    return !entry.second->request_complete && !entry.second->answered;
  });
}

bool Http2Session::idle() const {
  return streams_.empty() && ready_.empty() && nghttp2_session_want_write(session_) == 0;
}

bool Http2Session::blocked_on_peer() const {
  // nghttp2 wants to write whenever it may: DATA held back by a closed stream or connection window does not
  // count, so "response bytes left and nothing writable" is exactly "waiting for the peer's WINDOW_UPDATE".
  if (nghttp2_session_want_write(session_) != 0) return false;
  return std::any_of(streams_.begin(), streams_.end(), [](const auto& entry) {
    const Stream& s = *entry.second;
    return s.response_started && !s.deferred && s.out_offset < s.out.size();
  });
}

void Http2Session::begin_shutdown() {
  if (shutting_down_ || closing_) return;
  shutting_down_ = true;
  // Two-step GOAWAY: the notice (last id 2^31-1) stops the client from opening streams; the final GOAWAY,
  // sent when our PING comes back, names the last stream we took, so nothing in flight on the wire is lost.
  nghttp2_submit_shutdown_notice(session_);
  nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, kShutdownPing);
  after_change();
}

uint64_t Http2Session::unconsumed_bytes() const {
  uint64_t total = closed_unconsumed_;
  for (const auto& [id, stream] : streams_) total += stream->unconsumed;
  return total;
}

// ---- nghttp2 callbacks ------------------------------------------------------------------------------------

int Http2Session::on_begin_headers(int32_t stream_id) {
  streams_[stream_id] = std::make_unique<Stream>(stream_id, limits_.max_grpc_message_bytes);
  ++streams_opened_;
  return 0;
}

int Http2Session::on_header(int32_t stream_id, bool request_headers, std::string_view name,
                            std::string_view value) {
  Stream* stream = find(stream_id);
  // Request trailers carry nothing we use.
  if (stream == nullptr || !request_headers || stream->headers_done) return 0;
  stream->header_bytes += name.size() + value.size() + kHeaderEntryOverhead;
  if (stream->header_bytes > limits_.max_header_bytes) stream->headers_too_large = true;
  if (stream->headers_too_large) return 0;
  if (name == ":method") {
    stream->method = value;
  } else if (name == ":path") {
    stream->path = value;
  } else if (name.empty() || name[0] != ':') {
    stream->headers.push_back(Header{std::string(name), std::string(value)});
  }
  return 0;
}

int Http2Session::on_frame_recv(int32_t stream_id, uint8_t type, uint8_t flags, size_t length,
                                const uint8_t* ping_data) {
  switch (type) {
    case NGHTTP2_DATA:
      consecutive_empty_data_ =
          length == 0 && (flags & NGHTTP2_FLAG_END_STREAM) == 0 ? consecutive_empty_data_ + 1 : 0;
      if (consecutive_empty_data_ > kMaxConsecutiveEmptyData) flood_ = true;
      break;
    case NGHTTP2_HEADERS:
      if (Stream* stream = find(stream_id); stream != nullptr && !stream->headers_done) {
        stream->headers_done = true;
        on_request_headers_done(*stream);
      }
      break;
    case NGHTTP2_PRIORITY:
      if (++priority_frames_ > kMaxPriorityPerStream * (1 + streams_opened_)) flood_ = true;
      break;
    case NGHTTP2_WINDOW_UPDATE:
      if (++window_update_frames_ >
          10 + 2 * streams_opened_ + kWindowUpdatesPerDataFrame * data_frames_sent_) {
        flood_ = true;
      }
      break;
    case NGHTTP2_PING:
      if ((flags & NGHTTP2_FLAG_ACK) != 0 && shutting_down_ &&
          std::memcmp(ping_data, kShutdownPing, sizeof(kShutdownPing)) == 0) {
        nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_),
                              NGHTTP2_NO_ERROR, nullptr, 0);
      }
      break;
    default:
      break;
  }
  if (flood_) {
    // Closed after this mem_recv returns (Envoy closes on the next iteration too, never inside nghttp2).
    return 0;
  }
  if ((type == NGHTTP2_DATA || type == NGHTTP2_HEADERS) && (flags & NGHTTP2_FLAG_END_STREAM) != 0) {
    if (Stream* stream = find(stream_id); stream != nullptr && !stream->request_complete) {
      stream->request_complete = true;
      on_request_complete(*stream);
    }
  }
  return 0;
}

int Http2Session::on_data_chunk(int32_t stream_id, const uint8_t* data, size_t size) {
  Stream* stream = find(stream_id);
  if (stream == nullptr || stream->answered) {
    // Discarded bytes hold no memory: give the window back at once.
    nghttp2_session_consume(session_, stream_id, size);
    return 0;
  }
  if (stream->grpc) {
    accept_grpc_data(*stream, data, size);
  } else {
    accept_http_data(*stream, data, size);
  }
  consume(*stream, size);
  return 0;
}

int Http2Session::on_stream_close(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return 0;
  Stream& stream = *it->second;
  if (stream.target) stream.target->detach();
  if (stream.awaiting_handler) --awaiting_handler_;
  closed_unconsumed_ += stream.unconsumed;
  streams_.erase(it);
  return 0;
}

int Http2Session::on_frame_send(int32_t stream_id, uint8_t type, uint8_t flags) {
  if (type == NGHTTP2_DATA) ++data_frames_sent_;
  if ((type == NGHTTP2_DATA || type == NGHTTP2_HEADERS) && (flags & NGHTTP2_FLAG_END_STREAM) != 0) {
    // We answered before the request ended: tell the client to stop sending (PROTOCOL-HTTP2.md).
    if (Stream* stream = find(stream_id); stream != nullptr && !stream->request_complete) {
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_NO_ERROR);
    }
  }
  return 0;
}

ssize_t Http2Session::read_body(int32_t stream_id, uint8_t* buf, size_t length, uint32_t* data_flags) {
  Stream* stream = find(stream_id);
  if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  const size_t n = std::min(stream->out.size() - stream->out_offset, length);
  if (n == 0 && !stream->body_complete) {
    stream->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  std::memcpy(buf, stream->out.data() + stream->out_offset, n);
  stream->out_offset += n;
  if (stream->out_offset == stream->out.size()) {
    stream->out.clear();
    stream->out_offset = 0;
  } else if (stream->out_offset >= kCompactOutputBytes && stream->out_offset * 2 >= stream->out.size()) {
    stream->out.erase(0, stream->out_offset);
    stream->out_offset = 0;
  }
  if (stream->out.empty() && stream->body_complete) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!stream->trailers.empty()) {
      *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      const auto nv = to_nv(stream->trailers);
      if (nghttp2_submit_trailer(session_, stream_id, nv.data(), nv.size()) != 0) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      }
    }
  }
  return static_cast<ssize_t>(n);
}

// ---- Requests ---------------------------------------------------------------------------------------------

void Http2Session::on_request_headers_done(Stream& stream) {
  stream.grpc =
      stream.method == "POST" && find_header(stream.headers, "content-type").starts_with(kGrpcContentType);
  if (stream.headers_too_large) {
    const std::string message =
        "request headers exceed " + std::to_string(limits_.max_header_bytes) + " bytes";
    if (stream.grpc) {
      fail_grpc(stream, resource_exhausted(message));
    } else {
      respond_local(stream, 431, message);
    }
    return;
  }
  if (!stream.grpc) {
    const std::string_view length = find_header(stream.headers, "content-length");
    uint64_t declared = 0;
    const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), declared);
    if (!length.empty() && ec == std::errc() && declared > limits_.max_body_bytes) {
      respond_local(stream, 413, "request body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
    }
    return;
  }
  const std::string_view encoding = find_header(stream.headers, "grpc-encoding");
  if (encoding == "gzip") {
    stream.coding = Coding::Gzip;
  } else if (!encoding.empty() && encoding != "identity") {
    fail_grpc(stream, unimplemented("grpc-encoding '" + std::string(encoding) + "' is not supported"),
              /*advertise_encodings=*/true);
    return;
  }
  const std::string_view timeout = find_header(stream.headers, "grpc-timeout");
  if (!timeout.empty()) {
    const std::optional<uint64_t> ms = parse_grpc_timeout(timeout);
    if (!ms) {
      fail_grpc(stream, internal_error("malformed grpc-timeout '" + std::string(timeout) + "'"));
      return;
    }
    // 0 means "no deadline" in GrpcRequest: an already expired deadline must stay non-zero.
    stream.deadline_ms = std::max<uint64_t>(1, uv_now(transport_.loop()) + *ms);
  }
}

void Http2Session::accept_grpc_data(Stream& stream, const uint8_t* data, size_t size) {
  Status status = stream.framer.decode(as_view(data, size), stream.messages);
  if (!status.is_ok()) {
    fail_grpc(stream, status);
  } else if (stream.messages.size() > 1) {
    fail_grpc(stream, internal_error("unary call carried more than one request message"));
  }
}

void Http2Session::accept_http_data(Stream& stream, const uint8_t* data, size_t size) {
  if (stream.body.size() + size > limits_.max_body_bytes) {
    respond_local(stream, 413, "request body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
    return;
  }
  stream.body.append(reinterpret_cast<const char*>(data), size);
}

void Http2Session::on_request_complete(Stream& stream) {
  if (stream.answered) return;
  if (stream.grpc) {
    if (!stream.framer.at_message_boundary()) {
      fail_grpc(stream, internal_error("request ended inside a gRPC message"));
      return;
    }
    if (stream.messages.size() != 1) {
      fail_grpc(stream, internal_error("unary call carried no request message"));
      return;
    }
    GrpcMessage& message = stream.messages.front();
    if (message.compressed) {
      if (stream.coding == Coding::Identity) {
        fail_grpc(stream, internal_error("compressed gRPC message without a grpc-encoding"));
        return;
      }
      Result<std::string> plain = gzip_decompress(message.data, limits_.max_grpc_message_bytes);
      if (!plain.ok()) {
        fail_grpc(stream, plain.status());
        return;
      }
      message.data = std::move(plain).value();
    }
  }
  ready_.push_back(stream.id);
}

void Http2Session::dispatch_ready() {
  std::vector<int32_t> ready;
  ready.swap(ready_);
  for (int32_t id : ready) {
    Stream* stream = find(id);
    if (stream == nullptr || stream->answered) continue;  // reset by the client in the same read
    stream->target = std::make_shared<StreamTarget>(this, id);
    stream->awaiting_handler = true;
    ++awaiting_handler_;
    Responder responder(stream->target);
    if (stream->grpc) {
      GrpcRequest request;
      request.method = std::move(stream->path);
      request.metadata = std::move(stream->headers);
      request.message = std::move(stream->messages.front().data);
      request.deadline_ms = stream->deadline_ms;
      stream->messages.clear();
      handler_.on_grpc(std::move(request), std::move(responder));
    } else {
      HttpRequest request;
      request.version = HttpVersion::Http2;
      request.method = std::move(stream->method);
      const size_t question = stream->path.find('?');
      if (question != std::string::npos) {
        request.query = stream->path.substr(question + 1);
        stream->path.resize(question);
      }
      request.path = std::move(stream->path);
      request.headers = std::move(stream->headers);
      request.body = std::move(stream->body);
      // The stream keeps the method: HEAD answers carry no body.
      stream->method = request.method;
      handler_.on_http(std::move(request), std::move(responder));
    }
    // `stream` may be gone now only if the handler answered and output ran; it did not (dispatching_).
  }
  if (!ready.empty()) arm_deadline_timer();
}

Http2Session::Stream* Http2Session::find(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

// ---- Responses --------------------------------------------------------------------------------------------

void Http2Session::respond_http(int32_t stream_id, HttpResponse response) {
  Stream* stream = find(stream_id);
  if (stream == nullptr || stream->answered) return;
  mark_answered(*stream);
  std::vector<Header> fields;
  fields.reserve(response.headers.size() + 2);
  fields.push_back(Header{":status", std::to_string(response.status)});
  for (auto& header : response.headers) {
    std::string name = lowercase(header.name);
    if (!forbidden_response_header(name)) fields.push_back(Header{std::move(name), std::move(header.value)});
  }
  fields.push_back(Header{"content-length", std::to_string(response.body.size())});
  if (stream->method != "HEAD") stream->out = std::move(response.body);
  stream->out_offset = 0;
  stream->response_started = true;
  stream->body_complete = true;
  const auto nv = to_nv(fields);
  const nghttp2_data_provider provider = Http2Callbacks::data_provider();
  nghttp2_submit_response(session_, stream_id, nv.data(), nv.size(),
                          stream->out.empty() ? nullptr : &provider);
  after_change();
}

void Http2Session::respond_local(Stream& stream, int status, std::string message) {
  HttpResponse response;
  response.status = status;
  response.headers.push_back(Header{"content-type", "text/plain; charset=utf-8"});
  response.body = std::move(message);
  respond_http(stream.id, std::move(response));
}

void Http2Session::grpc_message(int32_t stream_id, std::string_view message) {
  Stream* stream = find(stream_id);
  if (stream == nullptr || stream->answered) return;
  stream->out += encode_grpc_frame(message);
  if (stream->response_started) {
    resume(*stream);
  } else {
    stream->response_started = true;
    const std::vector<Header> fields = {{":status", "200"}, {"content-type", std::string(kGrpcContentType)}};
    const auto nv = to_nv(fields);
    const nghttp2_data_provider provider = Http2Callbacks::data_provider();
    nghttp2_submit_response(session_, stream_id, nv.data(), nv.size(), &provider);
  }
  after_change();
}

void Http2Session::grpc_finish(int32_t stream_id, const Status& status) {
  Stream* stream = find(stream_id);
  if (stream == nullptr || stream->answered) return;
  if (!stream->response_started) {
    fail_grpc(*stream, status);  // Trailers-Only
    return;
  }
  mark_answered(*stream);
  stream->trailers.push_back(Header{"grpc-status", std::to_string(static_cast<int>(status.code()))});
  if (!status.message().empty()) {
    stream->trailers.push_back(Header{"grpc-message", grpc_percent_encode(status.message())});
  }
  stream->body_complete = true;
  resume(*stream);
  after_change();
}

void Http2Session::arm_deadline_timer() {
  uint64_t earliest = 0;
  for (const auto& [id, stream] : streams_) {
    if (stream->grpc && stream->deadline_ms != 0 && !stream->answered &&
        (earliest == 0 || stream->deadline_ms < earliest)) {
      earliest = stream->deadline_ms;
    }
  }
  if (earliest == 0) {
    if (deadline_timer_ != nullptr) uv_timer_stop(deadline_timer_);
    return;
  }
  if (deadline_timer_ == nullptr) {
    deadline_timer_ = new uv_timer_t;
    uv_timer_init(transport_.loop(), deadline_timer_);
    deadline_timer_->data = this;
  }
  const uint64_t now = uv_now(transport_.loop());
  uv_timer_start(
      deadline_timer_,
      [](uv_timer_t* t) {
        if (t->data != nullptr) static_cast<Http2Session*>(t->data)->expire_deadlines();
      },
      earliest > now ? earliest - now : 0, 0);
}

void Http2Session::expire_deadlines() {
  const uint64_t now = uv_now(transport_.loop());
  std::vector<int32_t> expired;
  for (const auto& [id, stream] : streams_) {
    if (stream->grpc && stream->deadline_ms != 0 && !stream->answered && stream->deadline_ms <= now) {
      expired.push_back(id);
    }
  }
  for (int32_t id : expired) {
    grpc_finish(id, deadline_exceeded("the call's grpc-timeout passed before the server finished it"));
  }
  arm_deadline_timer();
}

void Http2Session::fail_grpc(Stream& stream, const Status& status, bool advertise_encodings) {
  if (stream.answered) return;
  mark_answered(stream);
  stream.response_started = true;
  stream.body_complete = true;
  std::vector<Header> fields = {
      {":status", "200"},
      {"content-type", std::string(kGrpcContentType)},
      {"grpc-status", std::to_string(static_cast<int>(status.code()))},
  };
  if (!status.message().empty()) fields.push_back({"grpc-message", grpc_percent_encode(status.message())});
  if (advertise_encodings) fields.push_back({"grpc-accept-encoding", std::string(kGrpcAcceptEncoding)});
  const auto nv = to_nv(fields);
  nghttp2_submit_response(session_, stream.id, nv.data(), nv.size(), nullptr);
  after_change();
}

void Http2Session::mark_answered(Stream& stream) {
  stream.answered = true;
  if (stream.awaiting_handler) {
    stream.awaiting_handler = false;
    --awaiting_handler_;
  }
  // The request is not needed any more: free it now, not when the response has drained.
  stream.body = std::string();
  stream.messages = std::vector<GrpcMessage>();
  stream.headers = std::vector<Header>();
}

void Http2Session::resume(Stream& stream) {
  if (!stream.deferred) return;
  stream.deferred = false;
  nghttp2_session_resume_data(session_, stream.id);
}

// ---- Output, flow control, lifecycle ----------------------------------------------------------------------

void Http2Session::after_change() {
  if (dispatching_ || sending_) return;
  flush();
  update_backpressure();
  flush();  // WINDOW_UPDATEs the consumption above may have queued
  maybe_close();
}

void Http2Session::flush() {
  if (dispatching_ || sending_) return;
  sending_ = true;
  // Stop at the cap: nghttp2 keeps the rest (bounded by the streams' responses) until on_writable.
  while (transport_.pending_write_bytes() < limits_.max_pending_write_bytes) {
    const uint8_t* bytes = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &bytes);
    if (n < 0) {
      // Only out of memory or a broken callback: nothing sensible left to say to the peer.
      closing_ = true;
      transport_.abort();
      break;
    }
    if (n == 0) break;
    transport_.send(as_view(bytes, static_cast<size_t>(n)));
  }
  sending_ = false;
}

void Http2Session::consume(Stream& stream, size_t size) {
  if (stream.answered || !overloaded()) {
    nghttp2_session_consume(session_, stream.id, size);
  } else {
    stream.unconsumed += size;
  }
}

bool Http2Session::overloaded() const {
  return transport_.pending_write_bytes() >= limits_.max_pending_write_bytes ||
         awaiting_handler_ > limits_.max_concurrent_streams;
}

void Http2Session::update_backpressure() {
  const bool over = overloaded();
  if (over != reading_paused_) {
    reading_paused_ = over;
    transport_.pause_reading(over);
  }
  if (over) return;
  for (auto& [id, stream] : streams_) {
    if (stream->unconsumed > 0) {
      nghttp2_session_consume(session_, id, stream->unconsumed);
      stream->unconsumed = 0;
    }
  }
  if (closed_unconsumed_ > 0) {
    nghttp2_session_consume_connection(session_, closed_unconsumed_);
    closed_unconsumed_ = 0;
  }
}

void Http2Session::maybe_close() {
  if (closing_) return;
  // nghttp2 stops wanting to read once a GOAWAY went either way and no stream is left, or after it terminated
  // the session for a protocol error.
  if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) {
    closing_ = true;
    transport_.close_after_flush();
  }
}

}  // namespace spindle
