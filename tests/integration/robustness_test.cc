// Hostile clients against a running server: each is cut off or contained, and everyone else keeps being served.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <chrono>
#include <string>

#include "tests/support/http_client.h"
#include "tests/support/test_server.h"

namespace spindle {
namespace {

using Clock = std::chrono::steady_clock;

int connect_loopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// True once the server has closed `fd` (EOF or reset), waiting at most `wait_ms`. Anything the server sends
// meanwhile is drained unparsed: the question is only whether it gave up on us.
bool closed_by_peer(int fd, int wait_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(wait_ms);
  while (Clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[65536];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
  }
  return false;
}

TEST(RobustnessTest, SlowHeaderSenderIsCutOffWhileOthersAreServed) {
  Config c = test_config();
  c.read_timeout_ms = 600;
  TestServer server(c);
  Server& s = server.start();
  int fd = connect_loopback(s.query_port());
  ASSERT_GE(fd, 0);
  const std::string request = "GET /api/echo HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
  auto started = Clock::now();
  bool cut = false;
  for (size_t i = 0; i < request.size() && !cut; ++i) {
    if (send(fd, &request[i], 1, MSG_NOSIGNAL) != 1) {
      cut = true;
      break;
    }
    // Other clients are served while the slow one dribbles.
    auto echo = http1_request(s.query_port(), "GET", "/api/echo");
    ASSERT_TRUE(echo.ok());
    ASSERT_EQ(echo->status, 200);
    cut = closed_by_peer(fd, 100);  // one byte per ~100 ms
  }
  if (!cut) cut = closed_by_peer(fd, 2000);
  EXPECT_TRUE(cut) << "slow client was never disconnected";
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(5));
  close(fd);
}

// An HTTP/2 client that opens many streams and never reads a byte of the responses.
TEST(RobustnessTest, Http2ClientThatNeverReadsDoesNotStallOthers) {
  Config c = test_config();
  c.write_timeout_ms = 1000;
  TestServer server(c);
  Server& s = server.start();
  int fd = connect_loopback(s.query_port());
  ASSERT_GE(fd, 0);
  nghttp2_session_callbacks* cbs;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session* session;
  ASSERT_EQ(nghttp2_session_client_new(&session, cbs, nullptr), 0);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, nullptr, 0);
  nghttp2_nv nv[] = {
      {(uint8_t*)":method", (uint8_t*)"GET", 7, 3, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t*)":scheme", (uint8_t*)"http", 7, 4, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t*)":authority", (uint8_t*)"x", 10, 1, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t*)":path", (uint8_t*)"/metrics", 5, 8, NGHTTP2_NV_FLAG_NONE},
  };
  for (int i = 0; i < 90; ++i) nghttp2_submit_request(session, nullptr, nv, 4, nullptr, nullptr);
  const uint8_t* out;
  ssize_t n;
  std::string wire;
  while ((n = nghttp2_session_mem_send(session, &out)) > 0) wire.append(reinterpret_cast<const char*>(out), n);
  ASSERT_EQ(send(fd, wire.data(), wire.size(), MSG_NOSIGNAL), static_cast<ssize_t>(wire.size()));
  // Never read from fd. Meanwhile everyone else is served promptly.
  for (int i = 0; i < 20; ++i) {
    auto t0 = Clock::now();
    auto echo = h2c_request(s.query_port(), "GET", "/api/echo");
    ASSERT_TRUE(echo.ok()) << echo.status().to_string();
    ASSERT_EQ(echo->status, 200);
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
  }
  auto ready = http1_request(s.query_port(), "GET", "/ready");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200);
  // The stuck connection itself is cut once its responses make no progress for write_timeout_ms.
  auto stuck_since = Clock::now();
  EXPECT_TRUE(closed_by_peer(fd, 5000)) << "a client that never reads was never disconnected";
  EXPECT_LT(Clock::now() - stuck_since, std::chrono::seconds(5));
  nghttp2_session_del(session);
  close(fd);
}

TEST(RobustnessTest, GarbageOnEveryPortIsRejectedAndServingContinues) {
  TestServer server;
  Server& s = server.start();
  for (uint16_t port : {s.otlp_grpc_port(), s.otlp_http_port(), s.query_port()}) {
    auto r = tcp_exchange(port, std::string("\x16\x03\x01\x02\x00garbage\r\n\r\n", 15));
    ASSERT_TRUE(r.ok()) << r.status().to_string();  // the server closed the connection
    // a broken h2 preface followed by junk frames
    auto h2 = tcp_exchange(port, std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\xff\xff\xff\xff\xff\xff", 33));
    ASSERT_TRUE(h2.ok()) << h2.status().to_string();
  }
  auto echo = http1_request(s.query_port(), "GET", "/api/echo");
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->status, 200);
}

}  // namespace
}  // namespace spindle
