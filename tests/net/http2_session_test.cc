// Http2Session against a real nghttp2 client session, wired byte for byte in memory through a fake Transport.
#include "net/http2_session.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "net/content_coding.h"
#include "net/grpc_framer.h"

namespace spindle {
namespace {

// Records what the session sends; "a client that never reads" is simply one whose bytes we do not drain.
class FakeTransport : public Transport {
 public:
  explicit FakeTransport(const ConnectionLimits& limits) : limits_(limits) { uv_loop_init(&loop_); }
  ~FakeTransport() override {
    uv_run(&loop_, UV_RUN_DEFAULT);  // close callbacks of handles the session released (its deadline timer)
    uv_loop_close(&loop_);
  }

  uv_loop_t* loop() override { return &loop_; }
  void send(std::string_view bytes) override { out.append(bytes); }
  size_t pending_write_bytes() const override { return out.size(); }
  void pause_reading(bool paused_now) override { paused = paused_now; }
  void close_after_flush() override { close_requested = true; }
  void abort() override { aborted = true; }
  const ConnectionLimits& limits() const override { return limits_; }

  std::string out;
  bool paused = false;
  bool close_requested = false;
  bool aborted = false;

 private:
  ConnectionLimits limits_;
  uv_loop_t loop_;
};

class TestHandler : public RequestHandler {
 public:
  void on_http(HttpRequest&& request, Responder responder) override {
    http.push_back(std::move(request));
    responders.push_back(responder);
    if (answer_http) answer_http(http.back(), responder);
  }
  void on_grpc(GrpcRequest&& request, Responder responder) override {
    grpc.push_back(std::move(request));
    responders.push_back(responder);
    if (answer_grpc) answer_grpc(grpc.back(), responder);
  }

  std::vector<HttpRequest> http;
  std::vector<GrpcRequest> grpc;
  std::vector<Responder> responders;
  std::function<void(const HttpRequest&, const Responder&)> answer_http;
  std::function<void(const GrpcRequest&, const Responder&)> answer_grpc;
};

struct ClientStream {
  std::vector<Header> headers;   // response HEADERS
  std::vector<Header> trailers;  // a second HEADERS block
  std::string data;
  bool closed = false;
  uint32_t close_code = 0;
  bool rst_received = false;
  // Request body source.
  std::string body;
  size_t body_offset = 0;
  bool end_stream = true;  // false: the body is followed by nothing, the stream stays open
  int empty_frames = 0;    // zero-length DATA frames to send before the body (flood test)

  std::string header(std::string_view name) const { return find(headers, name); }
  std::string trailer(std::string_view name) const { return find(trailers, name); }
  static std::string find(const std::vector<Header>& list, std::string_view name) {
    for (const auto& h : list) {
      if (h.name == name) return h.value;
    }
    return "<absent>";
  }
};

// A real nghttp2 client.
class Client {
 public:
  Client() {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(
        cbs, [](nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t name_len,
                const uint8_t* value, size_t value_len, uint8_t, void* user) {
          auto& stream = static_cast<Client*>(user)->streams[frame->hd.stream_id];
          Header h{std::string(reinterpret_cast<const char*>(name), name_len),
                   std::string(reinterpret_cast<const char*>(value), value_len)};
          (frame->headers.cat == NGHTTP2_HCAT_HEADERS ? stream.trailers : stream.headers).push_back(h);
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cbs, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user) {
          static_cast<Client*>(user)->streams[id].data.append(reinterpret_cast<const char*>(data), len);
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cbs, [](nghttp2_session*, const nghttp2_frame* frame, void* user) {
          auto* self = static_cast<Client*>(user);
          if (frame->hd.type == NGHTTP2_GOAWAY) self->goaways.push_back(frame->goaway.last_stream_id);
          if (frame->hd.type == NGHTTP2_RST_STREAM) self->streams[frame->hd.stream_id].rst_received = true;
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cbs, [](nghttp2_session*, int32_t id, uint32_t code, void* user) {
          auto& stream = static_cast<Client*>(user)->streams[id];
          stream.closed = true;
          stream.close_code = code;
          return 0;
        });
    nghttp2_session_client_new(&session_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~Client() { nghttp2_session_del(session_); }

  int32_t submit(const std::vector<Header>& headers, std::string body, bool end_stream = true,
                 int empty_frames = 0) {
    std::vector<nghttp2_nv> nv;
    for (const auto& h : headers) {
      nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(h.name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(h.value.data())), h.name.size(),
                    h.value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider provider{};
    provider.read_callback = [](nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                                uint32_t* flags, nghttp2_data_source*, void* user) -> ssize_t {
      auto& s = static_cast<Client*>(user)->streams[id];
      if (s.empty_frames > 0) {
        --s.empty_frames;
        return 0;
      }
      const size_t n = std::min(length, s.body.size() - s.body_offset);
      std::memcpy(buf, s.body.data() + s.body_offset, n);
      s.body_offset += n;
      if (s.body_offset == s.body.size()) {
        if (s.end_stream) {
          *flags |= NGHTTP2_DATA_FLAG_EOF;
        } else if (n == 0) {
          return NGHTTP2_ERR_DEFERRED;
        }
      }
      return static_cast<ssize_t>(n);
    };
    const bool no_body = body.empty() && end_stream && empty_frames == 0;
    const int32_t id = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(),
                                              no_body ? nullptr : &provider, nullptr);
    EXPECT_GT(id, 0);
    auto& s = streams[id];
    s.body = std::move(body);
    s.end_stream = end_stream;
    s.empty_frames = empty_frames;
    return id;
  }

  std::string take_output() {
    std::string out;
    const uint8_t* data = nullptr;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session_, &data)) > 0) {
      out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    EXPECT_GE(n, 0);
    return out;
  }
  void receive(std::string_view bytes) {
    const ssize_t n =
        nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    EXPECT_EQ(n, static_cast<ssize_t>(bytes.size())) << nghttp2_strerror(static_cast<int>(n));
  }
  void reset(int32_t id) { nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL); }

  nghttp2_session* session() { return session_; }
  std::map<int32_t, ClientStream> streams;
  std::vector<int32_t> goaways;

 private:
  nghttp2_session* session_ = nullptr;
};

std::vector<Header> grpc_headers(std::vector<Header> extra = {}) {
  std::vector<Header> h = {{":method", "POST"},
                           {":scheme", "http"},
                           {":path", "/opentelemetry.proto.collector.trace.v1.TraceService/Export"},
                           {":authority", "localhost"},
                           {"content-type", "application/grpc"},
                           {"te", "trailers"}};
  h.insert(h.end(), extra.begin(), extra.end());
  return h;
}

std::vector<Header> http_headers(std::string method, std::string path, std::vector<Header> extra = {}) {
  std::vector<Header> h = {
      {":method", std::move(method)}, {":scheme", "http"}, {":path", std::move(path)}, {":authority", "x"}};
  h.insert(h.end(), extra.begin(), extra.end());
  return h;
}

class Http2SessionTest : public ::testing::Test {
 protected:
  void start() {
    transport_ = std::make_unique<FakeTransport>(limits_);
    session_ = std::make_unique<Http2Session>(*transport_, handler_);
    pump();
  }

  // Moves bytes both ways until neither side has anything to say.
  void pump() {
    for (int round = 0; round < 10000; ++round) {
      bool progress = false;
      const std::string to_server = client_.take_output();
      if (!to_server.empty()) {
        last_status_ = session_->on_data(to_server.data(), to_server.size());
        if (!last_status_.is_ok()) return;  // the connection would be closed now
        progress = true;
      }
      if (drain_ && !transport_->out.empty()) {
        std::string to_client;
        to_client.swap(transport_->out);
        client_.receive(to_client);
        session_->on_writable();
        progress = true;
      }
      if (!progress) return;
    }
    FAIL() << "pump did not settle";
  }

  std::string status_of(int32_t id) {
    const ClientStream& s = client_.streams[id];
    // Trailers-Only puts grpc-status in the headers.
    return s.trailers.empty() ? s.header("grpc-status") : s.trailer("grpc-status");
  }

  ConnectionLimits limits_;
  TestHandler handler_;
  Client client_;
  std::unique_ptr<FakeTransport> transport_;
  std::unique_ptr<Http2Session> session_;
  Status last_status_;
  bool drain_ = true;
};

TEST_F(Http2SessionTest, UnaryGrpcAnswersMessageThenTrailers) {
  start();
  handler_.answer_grpc = [](const GrpcRequest&, const Responder& r) {
    r.grpc_message("response");
    r.grpc_finish(Status::ok());
  };
  const int32_t id = client_.submit(grpc_headers({{"grpc-timeout", "100m"}, {"x-tenant", "t1"}}),
                                    encode_grpc_frame("request"));
  pump();
  ASSERT_TRUE(last_status_.is_ok());
  ASSERT_EQ(handler_.grpc.size(), 1u);
  const GrpcRequest& request = handler_.grpc[0];
  EXPECT_EQ(request.method, "/opentelemetry.proto.collector.trace.v1.TraceService/Export");
  EXPECT_EQ(request.message, "request");
  EXPECT_EQ(request.header("x-tenant"), "t1");
  EXPECT_EQ(request.deadline_ms, uv_now(transport_->loop()) + 100);

  const ClientStream& s = client_.streams[id];
  EXPECT_EQ(s.header(":status"), "200");
  EXPECT_EQ(s.header("content-type"), "application/grpc");
  EXPECT_EQ(s.header("grpc-status"), "<absent>");
  EXPECT_EQ(s.data, encode_grpc_frame("response"));
  EXPECT_EQ(s.trailer("grpc-status"), "0");
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.close_code, NGHTTP2_NO_ERROR);
  EXPECT_FALSE(s.rst_received);
  EXPECT_EQ(session_->open_streams(), 0u);
  EXPECT_TRUE(session_->idle());
}

TEST_F(Http2SessionTest, UnansweredCallIsFinishedWithDeadlineExceededAtItsGrpcTimeout) {
  start();
  Responder late;
  handler_.answer_grpc = [&late](const GrpcRequest&, const Responder& r) { late = r; };  // never answers in time
  const int32_t slow = client_.submit(grpc_headers({{"grpc-timeout", "40m"}}), encode_grpc_frame("a"));
  const int32_t patient = client_.submit(grpc_headers(), encode_grpc_frame("b"));  // no deadline
  pump();
  ASSERT_EQ(handler_.grpc.size(), 2u);
  EXPECT_EQ(status_of(slow), "<absent>");
  const uint64_t started = uv_now(transport_->loop());
  while (status_of(slow) == "<absent>" && uv_now(transport_->loop()) - started < 2000) {
    uv_run(transport_->loop(), UV_RUN_ONCE);  // returns when the session's deadline timer has fired
    pump();
  }
  EXPECT_EQ(status_of(slow), "4");  // DEADLINE_EXCEEDED
  EXPECT_GE(uv_now(transport_->loop()) - started, 30u);
  EXPECT_EQ(status_of(patient), "<absent>");  // calls without grpc-timeout are left alone
  late.grpc_finish(Status::ok());               // the handler's late answer is a no-op
  pump();
  EXPECT_EQ(status_of(slow), "4");
}

TEST_F(Http2SessionTest, GzipCompressedRequestIsInflated) {
  start();
  handler_.answer_grpc = [](const GrpcRequest&, const Responder& r) { r.grpc_finish(Status::ok()); };
  std::string body = encode_grpc_frame(gzip_compress("a fairly compressible payload payload payload"));
  body[0] = 1;
  const int32_t id = client_.submit(grpc_headers({{"grpc-encoding", "gzip"}}), body);
  pump();
  ASSERT_EQ(handler_.grpc.size(), 1u);
  EXPECT_EQ(handler_.grpc[0].message, "a fairly compressible payload payload payload");
  EXPECT_EQ(status_of(id), "0");
}

TEST_F(Http2SessionTest, UnknownEncodingIsUnimplementedTrailersOnly) {
  start();
  std::string body = encode_grpc_frame("x");
  body[0] = 1;
  const int32_t id = client_.submit(grpc_headers({{"grpc-encoding", "snappy"}}), body);
  pump();
  EXPECT_TRUE(handler_.grpc.empty());
  const ClientStream& s = client_.streams[id];
  EXPECT_EQ(s.header(":status"), "200");
  EXPECT_EQ(s.header("content-type"), "application/grpc");
  EXPECT_EQ(s.header("grpc-status"), "12");
  EXPECT_EQ(s.header("grpc-accept-encoding"), "identity,gzip");
  EXPECT_TRUE(s.trailers.empty());
  EXPECT_TRUE(s.data.empty());
  EXPECT_TRUE(s.closed);
}

TEST_F(Http2SessionTest, OversizePrefixIsRefusedBeforeTheBodyArrives) {
  limits_.max_grpc_message_bytes = 1024;
  start();
  // Only the 5-byte prefix announcing 4096 bytes; the client keeps the stream open.
  const std::string prefix = encode_grpc_frame(std::string(4096, 'x')).substr(0, 5);
  const int32_t id = client_.submit(grpc_headers(), prefix, /*end_stream=*/false);
  pump();
  EXPECT_TRUE(handler_.grpc.empty());
  const ClientStream& s = client_.streams[id];
  EXPECT_EQ(s.header("grpc-status"), "8");
  EXPECT_NE(s.header("grpc-message").find("4096"), std::string::npos) << s.header("grpc-message");
  // Answered before the client's END_STREAM: followed by RST_STREAM(NO_ERROR).
  EXPECT_TRUE(s.rst_received);
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.close_code, NGHTTP2_NO_ERROR);
  EXPECT_EQ(session_->open_streams(), 0u);
}

TEST_F(Http2SessionTest, DecompressedSizeOverLimitIsResourceExhausted) {
  limits_.max_grpc_message_bytes = 1024;
  start();
  std::string body = encode_grpc_frame(gzip_compress(std::string(100000, 'a')));
  body[0] = 1;
  const int32_t id = client_.submit(grpc_headers({{"grpc-encoding", "gzip"}}), body);
  pump();
  EXPECT_TRUE(handler_.grpc.empty());
  EXPECT_EQ(status_of(id), "8");
}

// Framing violations are INTERNAL, as gRPC implementations report transport-level violations.
TEST_F(Http2SessionTest, MalformedFramingIsInternal) {
  start();
  const int32_t truncated = client_.submit(grpc_headers(), encode_grpc_frame("0123456789").substr(0, 8));
  const int32_t two = client_.submit(grpc_headers(), encode_grpc_frame("a") + encode_grpc_frame("b"));
  const int32_t none = client_.submit(grpc_headers(), "");
  std::string flagged = encode_grpc_frame("x");
  flagged[0] = 1;  // compressed, but no grpc-encoding
  const int32_t no_encoding = client_.submit(grpc_headers(), flagged);
  std::string bad_flag = encode_grpc_frame("x");
  bad_flag[0] = 7;
  const int32_t bad = client_.submit(grpc_headers(), bad_flag);
  const int32_t bad_timeout =
      client_.submit(grpc_headers({{"grpc-timeout", "soon"}}), encode_grpc_frame("x"));
  pump();
  EXPECT_TRUE(handler_.grpc.empty());
  for (int32_t id : {truncated, two, none, no_encoding, bad, bad_timeout}) {
    EXPECT_EQ(status_of(id), "13") << "stream " << id;
    EXPECT_TRUE(client_.streams[id].closed) << "stream " << id;
  }
  EXPECT_TRUE(last_status_.is_ok());
}

TEST_F(Http2SessionTest, LateAnswerAfterClientResetIsANoop) {
  start();
  const int32_t id = client_.submit(grpc_headers(), encode_grpc_frame("req"));
  pump();
  ASSERT_EQ(handler_.responders.size(), 1u);
  const Responder responder = handler_.responders[0];
  EXPECT_FALSE(responder.is_closed());
  EXPECT_FALSE(session_->idle());

  client_.reset(id);
  pump();
  EXPECT_TRUE(responder.is_closed());
  EXPECT_EQ(session_->open_streams(), 0u);
  responder.grpc_message("late");
  responder.grpc_finish(Status::ok());
  pump();
  EXPECT_TRUE(client_.streams[id].data.empty());
  EXPECT_TRUE(client_.streams[id].headers.empty());
  EXPECT_TRUE(session_->idle());
}

TEST_F(Http2SessionTest, AnswerAfterSessionDestroyedIsANoop) {
  start();
  client_.submit(grpc_headers(), encode_grpc_frame("req"));
  pump();
  ASSERT_EQ(handler_.responders.size(), 1u);
  const Responder responder = handler_.responders[0];
  session_.reset();
  EXPECT_TRUE(responder.is_closed());
  responder.grpc_finish(Status::ok());  // must not touch the dead session (ASan)
  responder.respond(HttpResponse{});
}

TEST_F(Http2SessionTest, ServerStreamingSendsEachMessageThenTrailers) {
  start();
  const int32_t id = client_.submit(grpc_headers(), encode_grpc_frame("search"));
  pump();
  ASSERT_EQ(handler_.responders.size(), 1u);
  const Responder responder = handler_.responders[0];
  std::string expected;
  for (const char* m : {"one", "two", "three"}) {
    responder.grpc_message(m);
    expected += encode_grpc_frame(m);
    pump();
    EXPECT_EQ(client_.streams[id].data, expected);  // each message reaches the client before the end
    EXPECT_FALSE(client_.streams[id].closed);
  }
  responder.grpc_finish(Status(StatusCode::Unavailable, "busy 100%\n"));
  pump();
  const ClientStream& s = client_.streams[id];
  EXPECT_EQ(s.data, expected);
  EXPECT_EQ(s.trailer("grpc-status"), "14");
  EXPECT_EQ(s.trailer("grpc-message"), "busy 100%25%0A");
  EXPECT_TRUE(s.closed);
  EXPECT_TRUE(responder.is_closed());
}

TEST_F(Http2SessionTest, HttpGetGetsBodyResponse) {
  start();
  handler_.answer_http = [](const HttpRequest&, const Responder& r) {
    HttpResponse response;
    response.headers = {{"Content-Type", "text/plain"}, {"Connection", "close"}};
    response.body = "hello";
    r.respond(std::move(response));
  };
  const int32_t id = client_.submit(http_headers("GET", "/api/echo?limit=5&q=x", {{"accept", "*/*"}}), "");
  pump();
  ASSERT_EQ(handler_.http.size(), 1u);
  const HttpRequest& request = handler_.http[0];
  EXPECT_EQ(request.version, HttpVersion::Http2);
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.path, "/api/echo");
  EXPECT_EQ(request.query, "limit=5&q=x");
  EXPECT_EQ(request.header("accept"), "*/*");
  const ClientStream& s = client_.streams[id];
  EXPECT_EQ(s.header(":status"), "200");
  EXPECT_EQ(s.header("content-type"), "text/plain");
  EXPECT_EQ(s.header("connection"), "<absent>");
  EXPECT_EQ(s.header("content-length"), "5");
  EXPECT_EQ(s.data, "hello");
  EXPECT_TRUE(s.closed);
  EXPECT_EQ(s.close_code, NGHTTP2_NO_ERROR);
}

TEST_F(Http2SessionTest, NonGrpcPostGoesToHttpWithBody) {
  start();
  handler_.answer_http = [](const HttpRequest& req, const Responder& r) {
    r.respond(HttpResponse{201, {}, req.body});
  };
  const std::string body(100000, 'b');  // several DATA frames
  const int32_t id =
      client_.submit(http_headers("POST", "/v1/traces", {{"content-type", "application/x-protobuf"}}), body);
  pump();
  ASSERT_EQ(handler_.http.size(), 1u);
  EXPECT_EQ(handler_.http[0].body, body);
  EXPECT_EQ(client_.streams[id].header(":status"), "201");
  EXPECT_EQ(client_.streams[id].data, body);
}

TEST_F(Http2SessionTest, HttpPostOverLimitIs413) {
  limits_.max_body_bytes = 1000;
  start();
  const int32_t streamed = client_.submit(http_headers("POST", "/v1/traces"), std::string(5000, 'x'));
  const int32_t declared = client_.submit(http_headers("POST", "/v1/traces", {{"content-length", "5000"}}),
                                          std::string(5000, 'x'), false);
  pump();
  EXPECT_TRUE(handler_.http.empty());
  for (int32_t id : {streamed, declared}) {
    EXPECT_EQ(client_.streams[id].header(":status"), "413") << id;
    EXPECT_TRUE(client_.streams[id].closed) << id;
  }
  EXPECT_EQ(session_->open_streams(), 0u);
}

TEST_F(Http2SessionTest, OversizeHeadersAre431OrResourceExhausted) {
  limits_.max_header_bytes = 512;
  start();
  const Header big{"x-big", std::string(600, 'h')};
  const int32_t http = client_.submit(http_headers("GET", "/api/echo", {big}), "");
  const int32_t grpc = client_.submit(grpc_headers({big}), encode_grpc_frame("x"));
  pump();
  EXPECT_TRUE(handler_.http.empty());
  EXPECT_TRUE(handler_.grpc.empty());
  EXPECT_EQ(client_.streams[http].header(":status"), "431");
  EXPECT_EQ(status_of(grpc), "8");
}

TEST_F(Http2SessionTest, HeadResponseHasLengthButNoBody) {
  start();
  handler_.answer_http = [](const HttpRequest&, const Responder& r) {
    r.respond(HttpResponse{200, {}, "twelve bytes"});
  };
  const int32_t id = client_.submit(http_headers("HEAD", "/ready"), "");
  pump();
  EXPECT_EQ(client_.streams[id].header("content-length"), "12");
  EXPECT_TRUE(client_.streams[id].data.empty());
  EXPECT_TRUE(client_.streams[id].closed);
  EXPECT_EQ(client_.streams[id].close_code, NGHTTP2_NO_ERROR);
}

TEST_F(Http2SessionTest, ClientThatNeverReadsStallsItself) {
  limits_.max_pending_write_bytes = 32 << 10;
  start();  // handshake with draining, so the client knows our windows
  handler_.answer_http = [](const HttpRequest&, const Responder& r) {
    r.respond(HttpResponse{200, {}, std::string(100 << 10, 'r')});
  };
  drain_ = false;
  std::vector<int32_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(client_.submit(http_headers("GET", "/big"), ""));
  pump();
  EXPECT_EQ(handler_.http.size(), 10u);
  // Output stops at the cap (plus at most one frame), not at 10 x 100 KiB.
  EXPECT_GE(transport_->out.size(), limits_.max_pending_write_bytes);
  EXPECT_LT(transport_->out.size(), limits_.max_pending_write_bytes + 17 * 1024);
  EXPECT_TRUE(transport_->paused);

  // More request bytes arrive (the fake ignores the pause): accepted but not consumed, so the client's
  // windows do not reopen.
  const int32_t window_before = nghttp2_session_get_remote_window_size(client_.session());
  ids.push_back(client_.submit(http_headers("POST", "/upload"), std::string(200 << 10, 'u')));
  pump();
  EXPECT_EQ(session_->unconsumed_bytes(), 200u << 10);
  EXPECT_EQ(nghttp2_session_get_remote_window_size(client_.session()), window_before - (200 << 10));
  EXPECT_LT(transport_->out.size(), limits_.max_pending_write_bytes + 17 * 1024);

  // The client reads again: everything completes and the bank is released.
  drain_ = true;
  pump();
  EXPECT_FALSE(transport_->paused);
  EXPECT_EQ(session_->unconsumed_bytes(), 0u);
  for (int32_t id : ids) {
    EXPECT_TRUE(client_.streams[id].closed) << id;
    EXPECT_EQ(client_.streams[id].data.size(), 100u << 10) << id;
  }
  EXPECT_EQ(handler_.http.back().body.size(), 200u << 10);
}

TEST_F(Http2SessionTest, GracefulShutdownSendsGoawayAndFinishesInFlightStream) {
  start();
  const int32_t id = client_.submit(grpc_headers(), encode_grpc_frame("req"));
  pump();
  ASSERT_EQ(handler_.responders.size(), 1u);
  session_->begin_shutdown();
  pump();
  // The notice (2^31-1), then the final GOAWAY naming the last stream we took once our PING came back.
  ASSERT_EQ(client_.goaways.size(), 2u);
  EXPECT_EQ(client_.goaways[0], (1u << 31) - 1);
  EXPECT_EQ(client_.goaways[1], id);
  EXPECT_FALSE(transport_->close_requested);  // a stream is still in flight

  handler_.responders[0].grpc_message("done");
  handler_.responders[0].grpc_finish(Status::ok());
  pump();
  EXPECT_EQ(client_.streams[id].data, encode_grpc_frame("done"));
  EXPECT_EQ(client_.streams[id].trailer("grpc-status"), "0");
  EXPECT_TRUE(transport_->close_requested);
}

TEST_F(Http2SessionTest, ReceivingAndIdleFollowTheRequest) {
  start();
  EXPECT_TRUE(session_->idle());
  EXPECT_FALSE(session_->receiving());
  const int32_t id = client_.submit(grpc_headers(), encode_grpc_frame("req"), /*end_stream=*/false);
  pump();
  EXPECT_TRUE(session_->receiving());
  EXPECT_FALSE(session_->idle());
  client_.streams[id].end_stream = true;
  nghttp2_session_resume_data(client_.session(), id);
  pump();
  EXPECT_FALSE(session_->receiving());
  EXPECT_FALSE(session_->idle());  // the handler has not answered
  handler_.responders.at(0).grpc_finish(Status::ok());
  pump();
  EXPECT_TRUE(session_->idle());
}

TEST_F(Http2SessionTest, BadPrefaceIsAProtocolError) {
  start();
  Http2Session fresh(*transport_, handler_);
  const std::string http1 = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_FALSE(fresh.on_data(http1.data(), http1.size()).is_ok());
}

TEST_F(Http2SessionTest, EmptyDataFrameFloodClosesTheConnection) {
  start();
  client_.submit(http_headers("POST", "/v1/traces"), "x", true, /*empty_frames=*/50);
  pump();
  EXPECT_EQ(last_status_.code(), StatusCode::ResourceExhausted);
  EXPECT_TRUE(handler_.http.empty());
}

}  // namespace
}  // namespace spindle
