// The real `spindle` binary: starts from a config file with ports 0, reports readiness, refuses a bad config
// with a message naming the key, and exits 0 after SIGTERM once in-flight work is done.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "tests/support/command.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

namespace spindle {
namespace {

using Clock = std::chrono::steady_clock;

// Per-process names: several test processes may share TempDir.
std::string unique_path(const std::string& name) {
  return ::testing::TempDir() + std::to_string(getpid()) + "-" + name;
}

std::string write_file(const std::string& name, const std::string& text) {
  std::string path = unique_path(name);
  std::ofstream(path) << text;
  return path;
}

// The binary with stderr in a file; waits for its "spindle ready" log line and returns the query port.
class RunningBinary {
 public:
  RunningBinary(std::vector<std::string> args, const std::string& log_name) : log_path_(unique_path(log_name)) {
    // The parent polls this file: it must not hold an earlier run's "ready" line before the child truncates it.
    std::remove(log_path_.c_str());
    const std::string log_path = log_path_;
    pid_ = fork();
    if (pid_ == 0) {
      FILE* log = freopen(log_path.c_str(), "w", stderr);
      (void)log;
      std::vector<char*> argv;
      std::string bin = SPINDLE_BINARY;
      argv.push_back(bin.data());
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
  }
  ~RunningBinary() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  // Polls the log for the ready line, at most `limit`.
  int query_port(std::chrono::seconds limit) {
    std::regex ready(R"(spindle ready:.* query=[0-9.]+:([0-9]+))");
    for (auto deadline = Clock::now() + limit; Clock::now() < deadline;) {
      std::smatch m;
      std::string log = read_file(log_path_);
      if (std::regex_search(log, m, ready)) return std::stoi(m[1]);
      if (exited(0)) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a file the child writes
    }
    return -1;
  }
  // Waits up to `ms` for the child to exit; true if it did (status in exit_status()).
  bool exited(int ms) {
    for (auto deadline = Clock::now() + std::chrono::milliseconds(ms);;) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = status;
        pid_ = -1;
        return true;
      }
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling the child's exit
    }
  }
  void signal(int sig) { kill(pid_, sig); }
  int exit_status() const { return status_; }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_path_;
};

const char* kPortsZero = R"(
server:
  http_listen_address: 127.0.0.1
  http_listen_port: 0
distributor:
  receivers:
    otlp:
      protocols:
        grpc:
          endpoint: 127.0.0.1:0
        http:
          endpoint: "${OTLP_HTTP:-127.0.0.1:0}"
spindle:
  shards: 2
)";

// Flags that put the WAL and blocks under `dir` (never Tempo's default /var/tempo).
std::vector<std::string> with_data(const TempDir& dir, std::vector<std::string> args) {
  args.push_back("-storage.trace.wal.path=" + dir.path() + "/wal");
  args.push_back("-storage.trace.local.path=" + dir.path() + "/blocks");
  return args;
}

std::string shell_command(const std::vector<std::string>& args) {
  std::string cmd = SPINDLE_BINARY;
  for (const auto& a : args) cmd += " '" + a + "'";
  return cmd + " 2>&1";
}

TEST(SpindleBinaryTest, StartsServesAndExitsZeroOnSigterm) {
  std::string cfg = write_file("ports0.yaml", kPortsZero);
  TempDir data;
  RunningBinary bin(with_data(data, {"-config.file=" + cfg, "-config.expand-env=true"}), "bin1.log");
  int port = bin.query_port(std::chrono::seconds(20));
  ASSERT_GT(port, 0) << read_file(unique_path("bin1.log"));
  auto ready = http1_request(static_cast<uint16_t>(port), "GET", "/ready");
  ASSERT_TRUE(ready.ok()) << "port " << port << ": " << ready.status().to_string() << "\n"
                          << read_file(unique_path("bin1.log"));
  EXPECT_EQ(ready->status, 200);
  bin.signal(SIGTERM);
  ASSERT_TRUE(bin.exited(10000)) << "no exit within 10 s of SIGTERM";
  EXPECT_TRUE(WIFEXITED(bin.exit_status()));
  EXPECT_EQ(WEXITSTATUS(bin.exit_status()), 0);
}

TEST(SpindleBinaryTest, UnknownConfigKeyStopsStartupNamingTheKey) {
  std::string cfg = write_file("typo.yaml", "server:\n  http_listen_prot: 3200\n");
  int code = -1;
  auto out = run_command({"/bin/sh", "-c", std::string(SPINDLE_BINARY) + " -config.file=" + cfg + " 2>&1"}, 20,
                         &code);
  ASSERT_TRUE(out.ok());
  EXPECT_NE(code, 0);
  EXPECT_NE(out->find("server.http_listen_prot"), std::string::npos) << *out;
}

TEST(SpindleBinaryTest, PortInUseIsAStartupError) {
  std::string cfg = write_file("ports0b.yaml", kPortsZero);
  TempDir data;
  TempDir other_data;
  RunningBinary first(with_data(data, {"-config.file=" + cfg, "-config.expand-env=true"}), "bin2.log");
  int port = first.query_port(std::chrono::seconds(20));
  ASSERT_GT(port, 0);
  // SO_REUSEPORT lets our own shards share a port, but only sockets of the same user that all set it; a second
  // spindle on the same port would silently split traffic, so the query port clash must be refused.
  int code = -1;
  auto out = run_command({"/bin/sh", "-c",
                          shell_command(with_data(other_data, {"-config.file=" + cfg, "-config.expand-env=true",
                                                               "-server.http-listen-port=" + std::to_string(port)}))},
                         20, &code);
  ASSERT_TRUE(out.ok());
  EXPECT_NE(code, 0) << *out;
  EXPECT_NE(out->find(std::to_string(port)), std::string::npos) << *out;
}

// Two processes writing one WAL would corrupt it: the second is refused at start, naming the directory.
TEST(SpindleBinaryTest, SecondProcessOnTheSameDataIsRefused) {
  std::string cfg = write_file("ports0c.yaml", kPortsZero);
  TempDir data;
  RunningBinary first(with_data(data, {"-config.file=" + cfg, "-config.expand-env=true"}), "bin3.log");
  ASSERT_GT(first.query_port(std::chrono::seconds(20)), 0) << read_file(unique_path("bin3.log"));
  int code = -1;
  auto out = run_command(
      {"/bin/sh", "-c", shell_command(with_data(data, {"-config.file=" + cfg, "-config.expand-env=true"}))}, 20,
      &code);
  ASSERT_TRUE(out.ok());
  EXPECT_NE(code, 0) << *out;
  EXPECT_NE(out->find("storage.trace.wal.path " + data.path() + "/wal is in use by another spindle process"),
            std::string::npos)
      << *out;
}

// Data written by 2 shards, restarted with 1: traces are routed by hash % shards, so rather than miss some,
// startup refuses and says how to read the data.
TEST(SpindleBinaryTest, ChangedShardCountIsRefusedWithAdvice) {
  std::string cfg = write_file("ports0d.yaml", kPortsZero);
  TempDir data;
  {
    RunningBinary two(with_data(data, {"-config.file=" + cfg, "-config.expand-env=true"}), "bin4.log");
    ASSERT_GT(two.query_port(std::chrono::seconds(20)), 0) << read_file(unique_path("bin4.log"));
    two.signal(SIGTERM);
    ASSERT_TRUE(two.exited(10000));
  }
  int code = -1;
  auto out = run_command({"/bin/sh", "-c",
                          shell_command(with_data(data, {"-config.file=" + cfg, "-config.expand-env=true",
                                                         "-shards=1"}))},
                         20, &code);
  ASSERT_TRUE(out.ok());
  EXPECT_NE(code, 0) << *out;
  EXPECT_NE(out->find("written by a server with 2 shards, this one has 1"), std::string::npos) << *out;
  EXPECT_NE(out->find("restart with the old shard count"), std::string::npos) << *out;
}

}  // namespace
}  // namespace spindle
