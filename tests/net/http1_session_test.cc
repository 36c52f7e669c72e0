#include "net/http1_session.h"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace spindle {
namespace {

class FakeTransport : public Transport {
 public:
  uv_loop_t* loop() override { return nullptr; }
  void send(std::string_view bytes) override {
    if (!closing && !aborted) out.append(bytes);
  }
  size_t pending_write_bytes() const override { return pending; }
  void pause_reading(bool p) override { paused = p; }
  void close_after_flush() override { closing = true; }
  void abort() override { aborted = true; }
  const ConnectionLimits& limits() const override { return limits_; }

  ConnectionLimits limits_;
  std::string out;
  size_t pending = 0;
  bool paused = false;
  bool closing = false;
  bool aborted = false;
};

// Keeps every request and its responder; answers at once when `auto_answer` is set (echoing the body).
class FakeHandler : public RequestHandler {
 public:
  void on_http(HttpRequest&& request, Responder responder) override {
    requests.push_back(std::move(request));
    responders.push_back(responder);
    if (auto_answer) {
      HttpResponse response;
      response.body = "echo:" + requests.back().body;
      responder.respond(std::move(response));
    }
  }
  void on_grpc(GrpcRequest&&, Responder) override { grpc_calls++; }

  bool auto_answer = false;
  std::vector<HttpRequest> requests;
  std::vector<Responder> responders;
  int grpc_calls = 0;
};

HttpResponse text_response(std::string body, int status = 200) {
  HttpResponse response;
  response.status = status;
  response.headers.push_back({"content-type", "text/plain"});
  response.body = std::move(body);
  return response;
}

// Splits a byte stream of HTTP responses into individual responses (content-length framed).
std::vector<std::string> split_responses(const std::string& out) {
  std::vector<std::string> responses;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find("\r\n\r\n", pos);
    if (end == std::string::npos) break;
    std::string head = out.substr(pos, end + 4 - pos);
    size_t length = 0;
    size_t cl = head.find("content-length: ");
    if (cl != std::string::npos) length = std::stoul(head.substr(cl + 16));
    responses.push_back(out.substr(pos, end + 4 + length - pos));
    pos = end + 4 + length;
  }
  return responses;
}

std::string body_of(const std::string& response) { return response.substr(response.find("\r\n\r\n") + 4); }

class Http1SessionTest : public ::testing::Test {
 protected:
  Status feed(std::string_view bytes) { return session_.on_data(bytes.data(), bytes.size()); }

  FakeTransport transport_;
  FakeHandler handler_;
  Http1Session session_{transport_, handler_};
};

constexpr std::string_view kPost =
    "POST /v1/traces?a=1&b=2 HTTP/1.1\r\nHost: example\r\nContent-Type: application/x-protobuf\r\n"
    "X-Mixed-CASE: Value With Spaces\r\nContent-Length: 5\r\n\r\nhello";

TEST_F(Http1SessionTest, ParsesARequestFedByteByByte) {
  EXPECT_TRUE(session_.idle());
  for (size_t i = 0; i < kPost.size(); ++i) {
    ASSERT_TRUE(feed(kPost.substr(i, 1)).is_ok()) << i;
    if (i + 1 < kPost.size()) {
      EXPECT_TRUE(session_.receiving()) << i;
    }
  }
  ASSERT_EQ(handler_.requests.size(), 1u);
  const HttpRequest& r = handler_.requests[0];
  EXPECT_EQ(r.version, HttpVersion::Http1);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/v1/traces");
  EXPECT_EQ(r.query, "a=1&b=2");
  EXPECT_EQ(r.header("content-type"), "application/x-protobuf");
  EXPECT_EQ(r.header("x-mixed-case"), "Value With Spaces");
  EXPECT_EQ(r.body, "hello");
  EXPECT_FALSE(session_.receiving());
  EXPECT_FALSE(session_.idle());  // in flight

  handler_.responders[0].respond(text_response("ok"));
  EXPECT_EQ(transport_.out, "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok");
  EXPECT_TRUE(handler_.responders[0].is_closed());
  EXPECT_TRUE(session_.idle());
  EXPECT_FALSE(transport_.closing);
  EXPECT_EQ(handler_.grpc_calls, 0);
}

TEST_F(Http1SessionTest, PipelinedRequestsInRandomSplitsAreAnsweredInOrder) {
  std::string stream;
  std::vector<std::string> bodies;
  for (int i = 0; i < 12; ++i) {
    std::string body = "body-" + std::to_string(i) + std::string(i * 7, 'x');
    bodies.push_back(body);
    if (i % 3 == 0) {
      stream += "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
      size_t half = body.size() / 2;
      char buf[32];
      snprintf(buf, sizeof(buf), "%zx\r\n", half);
      stream += buf + body.substr(0, half) + "\r\n";
      snprintf(buf, sizeof(buf), "%zx\r\n", body.size() - half);
      stream += buf + body.substr(half) + "\r\n0\r\n\r\n";
    } else {
      stream += "POST /l HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    }
  }
  std::mt19937 rng(42);
  for (int round = 0; round < 50; ++round) {
    FakeTransport transport;
    FakeHandler handler;
    handler.auto_answer = round % 2 == 0;
    Http1Session session(transport, handler);
    // Asynchronous mode: whatever is in flight is answered now and then (answering dispatches the next).
    auto answer_in_flight = [&handler] {
      while (!handler.responders.empty() && !handler.responders.back().is_closed()) {
        handler.responders.back().respond(text_response("echo:" + handler.requests.back().body));
      }
    };
    size_t pos = 0;
    while (pos < stream.size()) {
      size_t n = std::uniform_int_distribution<size_t>(1, 40)(rng);
      n = std::min(n, stream.size() - pos);
      ASSERT_TRUE(session.on_data(stream.data() + pos, n).is_ok());
      pos += n;
      if (n % 2 == 0) answer_in_flight();
    }
    answer_in_flight();
    ASSERT_EQ(handler.requests.size(), bodies.size()) << round;
    std::vector<std::string> responses = split_responses(transport.out);
    ASSERT_EQ(responses.size(), bodies.size()) << round;
    for (size_t i = 0; i < bodies.size(); ++i) {
      EXPECT_EQ(handler.requests[i].body, bodies[i]);
      EXPECT_EQ(body_of(responses[i]), "echo:" + bodies[i]);
    }
    EXPECT_TRUE(session.idle());
  }
}

TEST_F(Http1SessionTest, OneRequestAtATime) {
  ASSERT_TRUE(feed("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n").is_ok());
  ASSERT_EQ(handler_.requests.size(), 1u);
  EXPECT_EQ(handler_.requests[0].path, "/1");
  handler_.responders[0].respond(text_response("one"));
  ASSERT_EQ(handler_.requests.size(), 2u);
  EXPECT_EQ(handler_.requests[1].path, "/2");
  handler_.responders[1].respond(text_response("two"));
  ASSERT_EQ(handler_.requests.size(), 3u);
  handler_.responders[2].respond(text_response("three"));
  std::vector<std::string> responses = split_responses(transport_.out);
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_EQ(body_of(responses[0]), "one");
  EXPECT_EQ(body_of(responses[1]), "two");
  EXPECT_EQ(body_of(responses[2]), "three");
  // A second answer through the same responder is ignored.
  handler_.responders[0].respond(text_response("again"));
  EXPECT_EQ(split_responses(transport_.out).size(), 3u);
}

TEST_F(Http1SessionTest, ChunkedBodyIsDechunked) {
  ASSERT_TRUE(feed("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: t\r\n\r\n")
                  .is_ok());
  ASSERT_EQ(handler_.requests.size(), 1u);
  EXPECT_EQ(handler_.requests[0].body, "hello world");
}

TEST_F(Http1SessionTest, ExpectContinueIsAnsweredBeforeTheBody) {
  ASSERT_TRUE(feed("POST /x HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n").is_ok());
  EXPECT_EQ(transport_.out, "HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_TRUE(handler_.requests.empty());
  ASSERT_TRUE(feed("data").is_ok());
  ASSERT_EQ(handler_.requests.size(), 1u);
  EXPECT_EQ(handler_.requests[0].body, "data");
}

TEST_F(Http1SessionTest, OversizeContentLengthIsRejectedBeforeTheBody) {
  transport_.limits_.max_body_bytes = 10;
  Status status = feed("POST /x HTTP/1.1\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_FALSE(status.is_ok());
  EXPECT_EQ(transport_.out.find("100 Continue"), std::string::npos);
  EXPECT_EQ(transport_.out.rfind("HTTP/1.1 413 Payload Too Large\r\n", 0), 0u) << transport_.out;
  EXPECT_NE(transport_.out.find("request body exceeds 10 bytes"), std::string::npos);
  EXPECT_NE(transport_.out.find("connection: close"), std::string::npos);
  EXPECT_TRUE(transport_.closing);
  EXPECT_TRUE(handler_.requests.empty());
  // Whatever follows is ignored.
  EXPECT_TRUE(feed("01234567890").is_ok());
  EXPECT_TRUE(handler_.requests.empty());
}

TEST_F(Http1SessionTest, ContentLengthAtTheLimitIsAccepted) {
  transport_.limits_.max_body_bytes = 10;
  ASSERT_TRUE(feed("POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789").is_ok());
  ASSERT_EQ(handler_.requests.size(), 1u);
}

TEST_F(Http1SessionTest, OversizeChunkedBodyIsRejected) {
  transport_.limits_.max_body_bytes = 10;
  EXPECT_TRUE(feed("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n").is_ok());
  Status status = feed("6\r\nghijkl\r\n0\r\n\r\n");
  EXPECT_EQ(status.code(), StatusCode::ResourceExhausted);
  EXPECT_EQ(transport_.out.rfind("HTTP/1.1 413 ", 0), 0u);
  EXPECT_TRUE(transport_.closing);
  EXPECT_TRUE(handler_.requests.empty());
}

TEST_F(Http1SessionTest, OversizeHeadersAre431) {
  transport_.limits_.max_header_bytes = 256;
  std::string request = "GET / HTTP/1.1\r\nX-Big: " + std::string(300, 'a') + "\r\n\r\n";
  Status status;
  for (char c : request) {  // also byte by byte: the limit must count fragments
    status = feed(std::string_view(&c, 1));
    if (!status.is_ok()) break;
  }
  EXPECT_EQ(status.code(), StatusCode::ResourceExhausted);
  EXPECT_EQ(transport_.out.rfind("HTTP/1.1 431 Request Header Fields Too Large\r\n", 0), 0u);
  EXPECT_TRUE(transport_.closing);
  EXPECT_TRUE(handler_.requests.empty());
}

TEST_F(Http1SessionTest, ManySmallHeadersCountAgainstTheLimit) {
  transport_.limits_.max_header_bytes = 1000;
  std::string request = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 300; ++i) request += "a:\r\n";
  request += "\r\n";
  EXPECT_FALSE(feed(request).is_ok());
  EXPECT_EQ(transport_.out.rfind("HTTP/1.1 431 ", 0), 0u);
}

TEST_F(Http1SessionTest, GarbageIs400WithTheParserReason) {
  Status status = feed("\x01\x02 nonsense\r\n\r\n");
  EXPECT_EQ(status.code(), StatusCode::InvalidArgument);
  EXPECT_EQ(transport_.out.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
  EXPECT_NE(body_of(transport_.out).find("bad request: Invalid method"), std::string::npos)
      << transport_.out;
  EXPECT_TRUE(transport_.closing);
}

TEST_F(Http1SessionTest, ContentLengthWithTransferEncodingIs400) {
  Status status = feed(
      "POST /x HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled "
      "HTTP/1.1\r\n\r\n");
  EXPECT_FALSE(status.is_ok());
  EXPECT_EQ(transport_.out.rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_NE(transport_.out.find("Content-Length can't be present with Transfer-Encoding"),
            std::string::npos);
  EXPECT_TRUE(handler_.requests.empty());
}

TEST_F(Http1SessionTest, DuplicateContentLengthIs400) {
  EXPECT_FALSE(feed("POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab").is_ok());
  EXPECT_EQ(transport_.out.rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_TRUE(handler_.requests.empty());
}

TEST_F(Http1SessionTest, KeepAliveByDefault) {
  ASSERT_TRUE(feed("GET / HTTP/1.1\r\n\r\n").is_ok());
  handler_.responders[0].respond(text_response("a"));
  EXPECT_FALSE(transport_.closing);
  EXPECT_EQ(transport_.out.find("connection:"), std::string::npos);
}

TEST_F(Http1SessionTest, ConnectionCloseClosesAfterTheResponse) {
  ASSERT_TRUE(feed("GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\n\r\n").is_ok());
  ASSERT_EQ(handler_.requests.size(), 1u);
  EXPECT_FALSE(transport_.closing);
  handler_.responders[0].respond(text_response("a"));
  EXPECT_TRUE(transport_.closing);
  EXPECT_NE(transport_.out.find("connection: close\r\n"), std::string::npos);
  EXPECT_EQ(handler_.requests.size(), 1u);
}

TEST_F(Http1SessionTest, Http10ClosesUnlessKeepAlive) {
  ASSERT_TRUE(feed("GET / HTTP/1.0\r\n\r\n").is_ok());
  handler_.responders[0].respond(text_response("a"));
  EXPECT_TRUE(transport_.closing);
  EXPECT_EQ(transport_.out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);

  FakeTransport transport;
  FakeHandler handler;
  Http1Session session(transport, handler);
  std::string_view request = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  ASSERT_TRUE(session.on_data(request.data(), request.size()).is_ok());
  handler.responders[0].respond(text_response("a"));
  EXPECT_FALSE(transport.closing);
  EXPECT_NE(transport.out.find("connection: keep-alive\r\n"), std::string::npos);
}

TEST_F(Http1SessionTest, H2cUpgradeIsServedAsHttp1) {
  ASSERT_TRUE(feed("GET /u HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                   "HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\nGET /next HTTP/1.1\r\n\r\n")
                  .is_ok());
  ASSERT_EQ(handler_.requests.size(), 1u);
  handler_.responders[0].respond(text_response("plain"));
  ASSERT_EQ(handler_.requests.size(), 2u);
  EXPECT_EQ(handler_.requests[1].path, "/next");
  EXPECT_EQ(transport_.out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
}

TEST_F(Http1SessionTest, HeadResponseHasLengthButNoBody) {
  ASSERT_TRUE(feed("HEAD /h HTTP/1.1\r\n\r\n").is_ok());
  handler_.responders[0].respond(text_response("12345"));
  EXPECT_EQ(transport_.out, "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\n");
}

TEST_F(Http1SessionTest, ResponseHeadersCannotInjectLines) {
  ASSERT_TRUE(feed("GET / HTTP/1.1\r\n\r\n").is_ok());
  HttpResponse response = text_response("");
  response.headers.push_back({"x-echo", "a\r\nset-cookie: evil"});
  response.headers.push_back({"content-length", "999"});
  handler_.responders[0].respond(std::move(response));
  EXPECT_NE(transport_.out.find("x-echo: a  set-cookie: evil\r\n"), std::string::npos);
  EXPECT_EQ(transport_.out.find("999"), std::string::npos);
}

TEST_F(Http1SessionTest, AbsoluteFormTargetIsReducedToPath) {
  ASSERT_TRUE(feed("GET http://host:80/api/echo?q=1 HTTP/1.1\r\n\r\n").is_ok());
  EXPECT_EQ(handler_.requests[0].path, "/api/echo");
  EXPECT_EQ(handler_.requests[0].query, "q=1");
}

TEST_F(Http1SessionTest, LateAnswerAfterTheSessionIsGoneIsANoOp) {
  FakeTransport transport;
  FakeHandler handler;
  Responder kept;
  {
    Http1Session session(transport, handler);
    std::string_view request = "GET / HTTP/1.1\r\n\r\n";
    ASSERT_TRUE(session.on_data(request.data(), request.size()).is_ok());
    kept = handler.responders[0];
    EXPECT_FALSE(kept.is_closed());
  }
  EXPECT_TRUE(kept.is_closed());
  kept.respond(text_response("late"));
  EXPECT_TRUE(transport.out.empty());
}

TEST_F(Http1SessionTest, OutputBackpressureDelaysTheNextRequest) {
  transport_.limits_.max_pending_write_bytes = 100;
  ASSERT_TRUE(feed("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n").is_ok());
  transport_.pending = 150;  // the first answer is stuck in the socket
  handler_.responders[0].respond(text_response("one"));
  EXPECT_EQ(handler_.requests.size(), 1u);
  transport_.pending = 10;
  session_.on_writable();
  ASSERT_EQ(handler_.requests.size(), 2u);
  EXPECT_EQ(handler_.requests[1].path, "/2");
}

TEST_F(Http1SessionTest, BufferedPipelinedInputPausesReading) {
  ASSERT_TRUE(feed("GET /1 HTTP/1.1\r\n\r\n").is_ok());
  std::string more;
  while (more.size() < Http1Session::kMaxBufferedInput) more += "GET /more HTTP/1.1\r\n\r\n";
  ASSERT_TRUE(feed(more).is_ok());
  EXPECT_TRUE(transport_.paused);
  handler_.auto_answer = true;  // the rest is answered as it is dispatched
  handler_.responders[0].respond(text_response("one"));
  EXPECT_FALSE(transport_.paused);
  EXPECT_EQ(handler_.requests.size(), 1 + more.size() / std::string("GET /more HTTP/1.1\r\n\r\n").size());
  EXPECT_TRUE(session_.idle());
}

TEST_F(Http1SessionTest, ShutdownFinishesTheRequestInFlightThenCloses) {
  ASSERT_TRUE(feed("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n").is_ok());
  session_.begin_shutdown();
  EXPECT_FALSE(transport_.closing);
  handler_.responders[0].respond(text_response("one"));
  EXPECT_TRUE(transport_.closing);
  EXPECT_NE(transport_.out.find("connection: close"), std::string::npos);
  EXPECT_EQ(handler_.requests.size(), 1u);
}

TEST_F(Http1SessionTest, ShutdownWhenIdleClosesAtOnce) {
  session_.begin_shutdown();
  EXPECT_TRUE(transport_.closing);
  EXPECT_TRUE(transport_.out.empty());
}

TEST_F(Http1SessionTest, GrpcFinishOnHttp1StillAnswers) {
  ASSERT_TRUE(feed("POST /grpc HTTP/1.1\r\nContent-Length: 0\r\n\r\n").is_ok());
  handler_.responders[0].grpc_finish(unimplemented("no"));
  EXPECT_EQ(transport_.out.rfind("HTTP/1.1 500 ", 0), 0u);
  EXPECT_EQ(handler_.grpc_calls, 0);
}

TEST(Http1SessionFuzzTest, MutatedRequestsNeverCrashOrDispatchAfterAnError) {
  const std::string seed =
      "POST /v1/traces?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"
      "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
      "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string input = seed;
    int mutations = std::uniform_int_distribution<int>(1, 4)(rng);
    for (int m = 0; m < mutations; ++m) {
      size_t at = std::uniform_int_distribution<size_t>(0, input.size() - 1)(rng);
      input[at] = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    }
    FakeTransport transport;
    transport.limits_.max_body_bytes = 64;
    transport.limits_.max_header_bytes = 128;
    FakeHandler handler;
    handler.auto_answer = true;
    Http1Session session(transport, handler);
    bool failed = false;
    size_t pos = 0;
    while (pos < input.size()) {
      size_t n = std::min(std::uniform_int_distribution<size_t>(1, 16)(rng), input.size() - pos);
      size_t before = handler.requests.size();
      Status status = session.on_data(input.data() + pos, n);
      pos += n;
      if (failed) {
        EXPECT_EQ(handler.requests.size(), before) << round;
      }
      if (!status.is_ok()) {
        failed = true;
        EXPECT_TRUE(transport.closing);
        EXPECT_FALSE(session.receiving());
      }
    }
    EXPECT_LE(handler.requests.size(), 3u);
  }
}

}  // namespace
}  // namespace spindle
