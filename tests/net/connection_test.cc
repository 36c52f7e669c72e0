// Listener + Connection + Http1Session over real loopback sockets. The uv loop runs on the test thread; clients
// are blocking sockets on helper threads. Waiting is always "run the loop until a condition, with a deadline".
#include "net/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "net/listener.h"

namespace spindle {
namespace {

using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// ---- client side (blocking sockets, on helper threads) ----

int connect_to(uint16_t port, int rcvbuf = 0) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  timeval tv{5, 0};  // safety net: no client call blocks a test forever
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads one content-length framed response (empty on EOF/error before it is complete).
std::string read_response(int fd, std::string& buffered) {
  while (true) {
    size_t end = buffered.find("\r\n\r\n");
    if (end != std::string::npos) {
      size_t length = 0;
      size_t cl = buffered.find("content-length: ");
      if (cl != std::string::npos && cl < end) length = std::stoul(buffered.substr(cl + 16));
      if (buffered.size() >= end + 4 + length) {
        std::string response = buffered.substr(0, end + 4 + length);
        buffered.erase(0, end + 4 + length);
        return response;
      }
    }
    char buf[16384];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return {};
    buffered.append(buf, static_cast<size_t>(n));
  }
}

std::string read_response(int fd) {
  std::string buffered;
  return read_response(fd, buffered);
}

// True once the server closed the connection (EOF or reset) within `timeout_ms`; input is discarded.
bool wait_closed(int fd, int timeout_ms) {
  auto start = Clock::now();
  while (ms_since(start) < timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    int left = static_cast<int>(timeout_ms - ms_since(start));
    if (poll(&p, 1, std::max(left, 1)) <= 0) continue;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return true;
  }
  return false;
}

// ---- server side ----

// Answers on the loop thread. "/slow" answers after a uv timer; "/big?n=N" sends N bytes.
class TestHandler : public RequestHandler {
 public:
  explicit TestHandler(uv_loop_t* loop) : loop_(loop) {}

  void on_http(HttpRequest&& request, Responder responder) override {
    requests++;
    if (on_request) on_request();
    HttpResponse response;
    response.headers.push_back({"content-type", "text/plain"});
    if (request.path == "/slow") {
      response.body = "slow done";
      answer_later(std::move(responder), std::move(response), 200);
      return;
    }
    if (request.path == "/big") {
      response.body.assign(std::stoul(request.query.substr(2)), 'b');
    } else {
      response.body = "hello " + request.path;
    }
    responder.respond(std::move(response));
  }
  void on_grpc(GrpcRequest&&, Responder responder) override {
    responder.grpc_finish(unimplemented("not in this test"));
  }

  std::atomic<int> requests{0};
  std::function<void()> on_request;

 private:
  struct Later {
    uv_timer_t timer;
    Responder responder;
    HttpResponse response;
  };

  void answer_later(Responder responder, HttpResponse response, uint64_t ms) {
    auto* later = new Later{{}, std::move(responder), std::move(response)};
    uv_timer_init(loop_, &later->timer);
    later->timer.data = later;
    uv_timer_start(
        &later->timer,
        [](uv_timer_t* timer) {
          auto* l = static_cast<Later*>(timer->data);
          l->responder.respond(std::move(l->response));
          uv_close(reinterpret_cast<uv_handle_t*>(timer),
                   [](uv_handle_t* h) { delete static_cast<Later*>(h->data); });
        },
        ms, 0);
  }

  uv_loop_t* loop_;
};

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }

  void TearDown() override {
    listeners_.clear();
    for (std::thread& t : clients_) t.join();
    // Let every close callback run; a handle left open fails uv_loop_close.
    for (int i = 0; i < 100 && uv_loop_alive(&loop_); ++i) uv_run(&loop_, UV_RUN_NOWAIT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  // Starts one listener on a fresh loopback port; returns the port.
  uint16_t start_listener(ConnectionLimits limits = {}) {
    Result<std::vector<int>> fds = open_listen_sockets("127.0.0.1", 0, 1);
    EXPECT_TRUE(fds.ok()) << fds.status().to_string();
    uint16_t port = local_port((*fds)[0]);
    listeners_.push_back(
        std::make_unique<Listener>(&loop_, (*fds)[0], handler_, limits, "test"));
    EXPECT_TRUE(listeners_.back()->start().is_ok());
    return port;
  }

  // Runs the loop until `done()` holds or `timeout_ms` passes; returns done().
  bool run_until(const std::function<bool()>& done, uint64_t timeout_ms = 10000) {
    struct Poll {
      const std::function<bool()>* done;
      Clock::time_point deadline;
    } poll{&done, Clock::now() + std::chrono::milliseconds(timeout_ms)};
    uv_timer_t timer;
    uv_timer_init(&loop_, &timer);
    timer.data = &poll;
    uv_timer_start(
        &timer,
        [](uv_timer_t* t) {
          auto* p = static_cast<Poll*>(t->data);
          if ((*p->done)() || Clock::now() >= p->deadline) uv_stop(t->loop);
        },
        0, 5);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
    return done();
  }

  void client(std::function<void()> body) { clients_.emplace_back(std::move(body)); }

  uv_loop_t loop_;
  TestHandler handler_{&loop_};
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::thread> clients_;
};

TEST(ListenSocketsTest, SeveralSocketsShareOneKernelChosenPort) {
  Result<std::vector<int>> fds = open_listen_sockets("127.0.0.1", 0, 2);
  ASSERT_TRUE(fds.ok()) << fds.status().to_string();
  ASSERT_EQ(fds->size(), 2u);
  uint16_t port = local_port((*fds)[0]);
  EXPECT_NE(port, 0);
  EXPECT_EQ(local_port((*fds)[1]), port);
  for (int fd : *fds) ::close(fd);

  Result<std::vector<int>> local = open_listen_sockets("localhost", 0, 1);
  ASSERT_TRUE(local.ok()) << local.status().to_string();
  ::close((*local)[0]);
}

TEST(ListenSocketsTest, ErrorsNameTheAddress) {
  // A plain listening socket (no SO_REUSEPORT) owns the port.
  int owner = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(owner, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(owner, 1), 0);
  uint16_t port = local_port(owner);

  Result<std::vector<int>> fds = open_listen_sockets("127.0.0.1", port, 2);
  ASSERT_FALSE(fds.ok());
  EXPECT_EQ(fds.status().message(),
            "listen 127.0.0.1:" + std::to_string(port) + ": Address already in use");
  ::close(owner);

  Result<std::vector<int>> bad = open_listen_sockets("no-such-host.invalid", 4317, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("listen no-such-host.invalid:4317: ", 0), 0u);
}

TEST_F(ConnectionTest, ServesRequestsOnTwoListenersSharingAPort) {
  Result<std::vector<int>> fds = open_listen_sockets("127.0.0.1", 0, 2);
  ASSERT_TRUE(fds.ok());
  uint16_t port = local_port((*fds)[0]);
  for (int fd : *fds) {
    listeners_.push_back(std::make_unique<Listener>(&loop_, fd, handler_, ConnectionLimits{}, "shard"));
    ASSERT_TRUE(listeners_.back()->start().is_ok());
  }
  constexpr int kConnections = 16;
  std::atomic<int> ok{0};
  client([&] {
    for (int i = 0; i < kConnections; ++i) {
      int fd = connect_to(port);
      std::string path = "/c" + std::to_string(i);
      // Two keep-alive requests per connection.
      for (int r = 0; r < 2; ++r) {
        if (fd < 0 || !send_all(fd, "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")) break;
        std::string response = read_response(fd);
        if (response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0 &&
            response.find("\r\n\r\nhello " + path) != std::string::npos) {
          ok++;
        }
      }
      if (fd >= 0) ::close(fd);
    }
  });
  EXPECT_TRUE(run_until([&] { return ok == 2 * kConnections; }));
  uint64_t accepted = listeners_[0]->stats().accepted + listeners_[1]->stats().accepted;
  EXPECT_EQ(accepted, static_cast<uint64_t>(kConnections));
  // Closed by the clients: both listeners end up empty.
  EXPECT_TRUE(run_until(
      [&] { return listeners_[0]->connection_count() + listeners_[1]->connection_count() == 0; }));
}

TEST_F(ConnectionTest, LargeBodyWithExpectContinue) {
  uint16_t port = start_listener();
  std::string body(3 << 20, 'z');
  std::atomic<bool> done{false};
  std::string response;
  handler_.on_request = nullptr;
  client([&] {
    int fd = connect_to(port);
    std::string head = "POST /upload HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\nExpect: 100-continue\r\n\r\n";
    send_all(fd, head);
    std::string buffered;
    std::string interim = read_response(fd, buffered);
    if (interim == "HTTP/1.1 100 Continue\r\n\r\n" && send_all(fd, body)) {
      response = read_response(fd, buffered);
    }
    ::close(fd);
    done = true;
  });
  ASSERT_TRUE(run_until([&] { return done.load(); }));
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
}

TEST_F(ConnectionTest, OversizeBodyGets413BeforeTheClientIsCut) {
  ConnectionLimits limits;
  limits.max_body_bytes = 1000;
  uint16_t port = start_listener(limits);
  std::atomic<bool> done{false};
  std::string response;
  client([&] {
    int fd = connect_to(port);
    // The whole oversize body is sent without waiting: the 413 must still arrive (lingering close).
    send_all(fd, "POST /x HTTP/1.1\r\nContent-Length: 8000000\r\n\r\n");
    send_all(fd, std::string(8000000, 'a'));
    response = read_response(fd);
    ::close(fd);
    done = true;
  });
  ASSERT_TRUE(run_until([&] { return done.load(); }));
  EXPECT_EQ(response.rfind("HTTP/1.1 413 Payload Too Large\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("request body exceeds 1000 bytes"), std::string::npos);
  EXPECT_TRUE(run_until([&] { return listeners_[0]->connection_count() == 0; }));
  EXPECT_EQ(listeners_[0]->stats().protocol_errors, 1u);
  EXPECT_EQ(handler_.requests, 0);
}

TEST_F(ConnectionTest, SlowlorisIsCutOffWhileOthersAreServed) {
  ConnectionLimits limits;
  limits.read_timeout_ms = 500;
  uint16_t port = start_listener(limits);
  std::atomic<bool> slow_started{false};
  std::atomic<int64_t> slow_cut_after_ms{-1};
  std::atomic<int64_t> fast_served_after_ms{-1};
  auto slow_start = std::make_shared<Clock::time_point>();
  client([&, slow_start] {
    int fd = connect_to(port);
    std::string request = "GET /slow-headers HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaa\r\n\r\n";
    *slow_start = Clock::now();
    slow_started = true;
    for (char c : request) {
      if (!send_all(fd, std::string_view(&c, 1))) break;
      // One byte every 200 ms; a readable socket here means the server closed it.
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 200) > 0) break;
    }
    if (wait_closed(fd, 5000)) slow_cut_after_ms = ms_since(*slow_start);
    ::close(fd);
  });
  client([&] {
    while (!slow_started) std::this_thread::yield();
    int fd = connect_to(port);
    send_all(fd, "GET /fast HTTP/1.1\r\n\r\n");
    std::string response = read_response(fd);
    if (response.find("hello /fast") != std::string::npos) fast_served_after_ms = ms_since(*slow_start);
    ::close(fd);
  });
  ASSERT_TRUE(run_until([&] { return slow_cut_after_ms >= 0 && fast_served_after_ms >= 0; }));
  EXPECT_GE(slow_cut_after_ms, 450);
  EXPECT_LE(slow_cut_after_ms, 2000);
  EXPECT_LT(fast_served_after_ms, slow_cut_after_ms);
  EXPECT_EQ(listeners_[0]->stats().timed_out, 1u);
  EXPECT_EQ(handler_.requests, 1);  // only the fast one
}

TEST_F(ConnectionTest, IdleKeepAliveConnectionIsClosed) {
  ConnectionLimits limits;
  limits.idle_timeout_ms = 300;
  uint16_t port = start_listener(limits);
  std::atomic<int64_t> closed_after_ms{-1};
  std::atomic<bool> served{false};
  client([&] {
    int fd = connect_to(port);
    send_all(fd, "GET /a HTTP/1.1\r\n\r\n");
    served = !read_response(fd).empty();
    auto start = Clock::now();
    if (wait_closed(fd, 5000)) closed_after_ms = ms_since(start);
    ::close(fd);
  });
  ASSERT_TRUE(run_until([&] { return closed_after_ms >= 0; }));
  EXPECT_TRUE(served);
  EXPECT_GE(closed_after_ms, 200);
  EXPECT_LE(closed_after_ms, 2000);
  EXPECT_EQ(listeners_[0]->stats().timed_out, 0u);  // idle closes are not timeouts
}

TEST_F(ConnectionTest, ClientThatNeverReadsStaysBoundedAndTimesOut) {
  ConnectionLimits limits;
  limits.max_pending_write_bytes = 1 << 20;
  limits.write_timeout_ms = 500;
  uint16_t port = start_listener(limits);
  constexpr size_t kResponse = 256 << 10;
  constexpr int kRequests = 200;  // 50 MiB of responses if all were produced
  size_t max_pending = 0;
  handler_.on_request = [&] {
    max_pending = std::max(max_pending, listeners_[0]->pending_write_bytes_for_test());
  };
  std::promise<void> finish;
  std::shared_future<void> finished = finish.get_future().share();
  std::atomic<bool> sent{false};
  client([&, finished] {
    int fd = connect_to(port, 4096);
    std::string requests;
    for (int i = 0; i < kRequests; ++i) requests += "GET /big?n=" + std::to_string(kResponse) + " HTTP/1.1\r\n\r\n";
    send_all(fd, requests);
    sent = true;
    finished.wait();  // never reads
    ::close(fd);
  });
  ASSERT_TRUE(run_until([&] { return sent && listeners_[0]->stats().closed == 1; }));
  finish.set_value();
  EXPECT_EQ(listeners_[0]->stats().timed_out, 1u);
  EXPECT_LT(handler_.requests, kRequests);
  EXPECT_LE(max_pending, limits.max_pending_write_bytes + kResponse);
  EXPECT_EQ(listeners_[0]->pending_write_bytes_for_test(), 0u);
}

TEST_F(ConnectionTest, DrainFinishesInFlightRequestsThenStopsAccepting) {
  uint16_t port = start_listener();
  std::atomic<bool> idle_connected{false};
  std::atomic<bool> idle_closed{false};
  std::atomic<bool> slow_sent{false};
  std::string slow_response;
  std::atomic<bool> slow_done{false};
  client([&] {
    int fd = connect_to(port);
    idle_connected = true;
    idle_closed = wait_closed(fd, 5000);
    ::close(fd);
  });
  client([&] {
    int fd = connect_to(port);
    send_all(fd, "GET /slow HTTP/1.1\r\n\r\n");
    slow_sent = true;
    slow_response = read_response(fd);
    wait_closed(fd, 5000);
    ::close(fd);
    slow_done = true;
  });
  ASSERT_TRUE(run_until([&] { return handler_.requests == 1 && listeners_[0]->connection_count() == 2; }));

  bool drained = false;
  listeners_[0]->drain([&] { drained = true; });
  EXPECT_FALSE(drained);  // the slow request is still being answered
  // Nothing accepts on the port any more.
  int refused = connect_to(port);
  EXPECT_EQ(refused, -1);
  if (refused >= 0) ::close(refused);

  ASSERT_TRUE(run_until([&] { return drained; }));
  EXPECT_TRUE(run_until([&] { return slow_done && idle_closed; }));
  EXPECT_EQ(slow_response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << slow_response;
  EXPECT_NE(slow_response.find("connection: close\r\n"), std::string::npos);
  EXPECT_NE(slow_response.find("slow done"), std::string::npos);
  EXPECT_EQ(listeners_[0]->connection_count(), 0u);
}

TEST_F(ConnectionTest, CloseAllMakesLateAnswersNoOps) {
  uint16_t port = start_listener();
  std::atomic<bool> closed{false};
  client([&] {
    int fd = connect_to(port);
    send_all(fd, "GET /slow HTTP/1.1\r\n\r\n");
    closed = wait_closed(fd, 5000);
    ::close(fd);
  });
  ASSERT_TRUE(run_until([&] { return handler_.requests == 1; }));
  listeners_[0]->close_all();
  EXPECT_EQ(listeners_[0]->connection_count(), 0u);
  // The handler's timer answers after the connection is gone.
  EXPECT_TRUE(run_until([&] { return closed.load(); }));
  run_until([] { return false; }, 300);  // let the late answer fire
}

TEST_F(ConnectionTest, Http2PrefaceSelectsHttp2EvenWhenSplit) {
  uint16_t port = start_listener();
  std::atomic<bool> done{false};
  std::string first_frame;
  client([&] {
    int fd = connect_to(port);
    send_all(fd, std::string_view("PRI * HTTP/2.0\r\n", 16));
    pollfd p{fd, POLLIN, 0};
    poll(&p, 1, 50);  // give the server a chance to see the partial preface alone
    send_all(fd, std::string_view("\r\nSM\r\n\r\n", 8));
    send_all(fd, std::string_view("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9));  // empty SETTINGS
    char buf[9];
    size_t got = 0;
    while (got < sizeof(buf)) {
      ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    first_frame.assign(buf, got);
    ::close(fd);
    done = true;
  });
  ASSERT_TRUE(run_until([&] { return done.load(); }));
  ASSERT_EQ(first_frame.size(), 9u);
  EXPECT_EQ(first_frame[3], 0x04);  // the server's SETTINGS frame, not an HTTP/1 400
}

}  // namespace
}  // namespace spindle
