// Disk full while ingesting (storage issue): requests are refused with a retryable status (gRPC UNAVAILABLE,
// HTTP 503 + Retry-After), a log line and metrics say why, nothing acknowledged is lost or damaged, and
// ingest resumes by itself once space returns, also across a restart on the same directories.
//
// The full disk is real: the WAL and block directories live on a small tmpfs the test mounts (the tests run
// as root). A filler file takes all but a little of it, so the WAL and the block writer run into ENOSPC
// themselves while the test keeps sending. No fault injection: the server is built from its Config as in
// production. If the mount is impossible (unprivileged container) the test fails and says so rather than
// skipping.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include "core/log.h"
#include "core/trace_id.h"
#include "tempopb/tempo.pb.h"
#include "tests/integration/otlp_fixtures.h"
#include "tests/integration/trace_compare.h"
#include "tests/support/http_client.h"
#include "tests/support/server_metrics.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

namespace spindle {
namespace {

constexpr const char* kExport = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
constexpr uint64_t kFsBytes = 8 << 20;
// Free space left once the filler is written: enough for a few dozen requests, so the disk fills up while
// ingesting (WAL appends and block writes both meet ENOSPC), not before.
constexpr uint64_t kRoomLeft = 512 << 10;
constexpr int kSpansPerRequest = 16;
constexpr size_t kAttrBytes = 256;
constexpr auto kDeadline = std::chrono::seconds(20);
// Between polls of a condition, never as the wait itself.
constexpr auto kPollPause = std::chrono::milliseconds(20);

using Clock = std::chrono::steady_clock;

std::string errno_text(int err) {
  return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")";
}

// Threads of this process, from /proc/self/status (0 if unknown).
int thread_count() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("Threads:")) return std::atoi(line.c_str() + 8);
  }
  return 0;
}

// A tmpfs of a fixed size on an existing directory, unmounted on destruction (lazily if it is still busy).
class TmpfsMount {
 public:
  TmpfsMount(std::string dir, uint64_t bytes) : dir_(std::move(dir)) {
    // A private mount namespace when one is available: the mount then disappears with the process even if
    // the test crashes before its teardown. unshare(CLONE_NEWNS) moves only the calling thread, so it is done
    // only while the process is single-threaded (threads made later inherit the namespace); otherwise, e.g.
    // for a second test once libuv's thread pool runs, the mount goes where every thread sees it.
    static bool unshared = false;
    if (!unshared && thread_count() == 1 && ::unshare(CLONE_NEWNS) == 0) {
      unshared = true;
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    }
    private_ns_ = unshared;
    std::string opts = "size=" + std::to_string(bytes) + ",mode=0755";
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
      error_ = "cannot mount tmpfs on " + dir_ + ": " + errno_text(errno) + "; run as root";
      return;
    }
    mounted_ = true;
  }
  ~TmpfsMount() {
    if (mounted_ && ::umount2(dir_.c_str(), 0) != 0) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  bool mounted() const { return mounted_; }
  bool private_ns() const { return private_ns_; }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  bool private_ns_ = false;
  std::string error_;
};


std::string fetch_metrics(uint16_t query_port) {
  auto r = http1_request(query_port, "GET", "/metrics");
  EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? std::to_string(r->status) : r.status().to_string());
  return r.ok() ? r->body : std::string();
}

std::string read_file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

enum class Proto { Grpc, Http };
enum class Outcome { Acked, Refused, Unexpected };

// An OTLP client per protocol that behaves like a well-written exporter: a refused request is retried as it
// is (same trace, same spans) until acknowledged; only then does a new trace follow. Every acknowledged
// request is kept: those are the spans the server promised to keep.
class Client {
 public:
  void set_ports(uint16_t grpc, uint16_t http) {
    grpc_port_ = grpc;
    http_port_ = http;
  }

  Outcome send(Proto proto) {
    std::string& pending = pending_[static_cast<int>(proto)];
    if (pending.empty()) pending = new_trace();
    const ExportRequest& req = requests_.at(pending);
    Outcome out = proto == Proto::Grpc ? send_grpc(req) : send_http(req);
    if (out == Outcome::Acked) {
      acked_[pending] = req;
      acked_spans_ += kSpansPerRequest;
      pending.clear();
    }
    return out;
  }

  const std::map<std::string, ExportRequest>& acked() const { return acked_; }
  uint64_t acked_spans() const { return acked_spans_; }

 private:
  std::string new_trace() {
    std::string id(16, '\0');
    uint64_t hi = splitmix64(++counter_), lo = splitmix64(counter_ ^ 0x5a5a5a5a5a5a5a5aull);
    std::memcpy(id.data(), &hi, 8);
    std::memcpy(id.data() + 8, &lo, 8);
    requests_[id] = make_request(id, kSpansPerRequest, 1, "disk-full", kAttrBytes);
    return id;
  }

  Outcome send_grpc(const ExportRequest& req) {
    auto r = grpc_unary(grpc_port_, kExport, req.SerializeAsString());
    if (!r.ok()) {
      ADD_FAILURE() << "gRPC export failed at the transport: " << r.status().to_string();
      return Outcome::Unexpected;
    }
    if (r->grpc_status == 0) return Outcome::Acked;
    if (r->grpc_status == 14) {  // UNAVAILABLE: retryable, and the message says it is the storage
      EXPECT_NE(r->grpc_message.find("storage"), std::string::npos) << r->grpc_message;
      return Outcome::Refused;
    }
    ADD_FAILURE() << "gRPC export answered " << r->grpc_status << " (" << r->grpc_message
                  << "); expected OK or UNAVAILABLE";
    return Outcome::Unexpected;
  }

  Outcome send_http(const ExportRequest& req) {
    auto r = http1_request(http_port_, "POST", "/v1/traces", {{"Content-Type", "application/x-protobuf"}},
                           req.SerializeAsString());
    if (!r.ok()) {
      ADD_FAILURE() << "OTLP/HTTP export failed at the transport: " << r.status().to_string();
      return Outcome::Unexpected;
    }
    if (r->status == 200) return Outcome::Acked;
    if (r->status == 503) {
      EXPECT_FALSE(r->header("retry-after").empty())
          << "a 503 without Retry-After is not retryable for exporters";
      return Outcome::Refused;
    }
    ADD_FAILURE() << "OTLP/HTTP export answered " << r->status << "; expected 200 or 503";
    return Outcome::Unexpected;
  }

  uint16_t grpc_port_ = 0;
  uint16_t http_port_ = 0;
  uint64_t counter_ = 0;
  std::string pending_[2];
  std::map<std::string, ExportRequest> requests_;
  std::map<std::string, ExportRequest> acked_;
  uint64_t acked_spans_ = 0;
};

// Every acknowledged trace, read back through /api/v2/traces as protobuf, equals what was sent span for span
// and field for field: nothing lost, nothing duplicated, nothing damaged.
void expect_all_acked_intact(uint16_t query_port, const Client& client, const std::string& when) {
  size_t bad = 0;
  for (const auto& [id, req] : client.acked()) {
    const std::string hex = to_hex(id);
    FlatTraces got;
    auto r = http1_request(query_port, "GET", "/api/v2/traces/" + hex, {{"Accept", "application/protobuf"}});
    if (r.ok() && r->status == 200) {
      tempopb::TraceByIDResponse resp;
      if (resp.ParseFromString(r->body)) flatten_into(resp.trace().resourcespans(), got);
    }
    FlatTraces want = flatten_request(req);
    if (got == want) continue;
    if (++bad <= 3) {
      ADD_FAILURE() << when << ": acknowledged trace " << hex << " read back with " << got[id].size()
                    << " spans (" << kSpansPerRequest << " sent) or different content; HTTP "
                    << (r.ok() ? std::to_string(r->status) : r.status().to_string());
    }
  }
  EXPECT_EQ(bad, 0u) << when << ": " << bad << " of " << client.acked().size()
                     << " acknowledged traces are not intact";
}

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(data_.path().empty());
    ASSERT_FALSE(logs_.path().empty());
    mount_point_ = data_.path() + "/fs";
    ASSERT_EQ(::mkdir(mount_point_.c_str(), 0755), 0) << errno_text(errno);
    mount_ = std::make_unique<TmpfsMount>(mount_point_, kFsBytes);
    if (!mount_->mounted()) {
      // Deliberately no fallback to injected write errors: that would need a test-only hook in Config.
      RecordProperty("disk_full_path", "none");
      GTEST_FAIL() << mount_->error();
    }
    RecordProperty("disk_full_path", "tmpfs");
    std::printf("[ disk-full ] real ENOSPC on a %llu KiB tmpfs at %s (%s mount namespace)\n",
                static_cast<unsigned long long>(kFsBytes >> 10), mount_point_.c_str(),
                mount_->private_ns() ? "private" : "shared");
    // The server's log goes to a file on the normal filesystem, so the test can look for the warning lines.
    log_path_ = logs_.path() + "/spindle.log";
    log_fd_ = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ASSERT_GE(log_fd_, 0) << errno_text(errno);
    set_log_fd(log_fd_);
  }

  void TearDown() override {
    server_.reset();  // stops the shards before their directories go away
    set_log_fd(2);
    if (log_fd_ >= 0) ::close(log_fd_);
    if (HasFailure() && !log_path_.empty())
      std::fprintf(stderr, "server log:\n%s\n", read_file_text(log_path_).c_str());
    mount_.reset();  // before data_ removes the mount point
  }

  Config config() const {
    Config c = test_config();
    c.wal_path = mount_point_ + "/wal";
    c.blocks_path = mount_point_ + "/blocks";
    c.wal_ack = "synced";
    // Traces are cut into blocks quickly, so block writes meet the full disk too; the idle period still
    // leaves ample time to take the last free bytes before the traces acknowledged at the wall are cut.
    c.trace_idle_period_ms = 500;
    c.flush_check_period_ms = 100;
    return c;
  }

  void start_server() {
    server_ = std::make_unique<TestServer>(config());
    server_->start();
    client_.set_ports((*server_)->otlp_grpc_port(), (*server_)->otlp_http_port());
  }
  uint16_t query() { return (*server_)->query_port(); }
  std::string log_text() const { return read_file_text(log_path_); }
  std::string filler() const { return mount_point_ + "/filler"; }

  // Something else fills the disk: the filler file grows until ENOSPC, then gives back `leave` bytes.
  void fill_disk(uint64_t leave) {
    int fd = ::open(filler().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0) << errno_text(errno);
    std::string chunk(64 << 10, 'f');
    int err = 0;
    while (err == 0) {
      ssize_t n = ::write(fd, chunk.data(), chunk.size());
      if (n < 0 && errno != EINTR) err = errno;
    }
    struct stat st {};
    int truncated = ::fstat(fd, &st);
    if (truncated == 0 && leave > 0) {
      truncated = static_cast<uint64_t>(st.st_size) > leave
                      ? ::ftruncate(fd, st.st_size - static_cast<off_t>(leave))
                      : -1;
    }
    int truncate_err = errno;
    ::close(fd);
    ASSERT_EQ(err, ENOSPC) << errno_text(err);
    ASSERT_EQ(truncated, 0) << errno_text(truncate_err);
  }

  // Ingest runs into the wall: each protocol keeps sending (retrying what was refused, as exporters do) until
  // it is refused.
  void ingest_until_refused() {
    bool refused[2] = {false, false};
    auto deadline = Clock::now() + kDeadline;
    while (!refused[0] || !refused[1]) {
      ASSERT_LT(Clock::now(), deadline)
          << "never refused although the disk is full; acked " << client_.acked().size() << " traces";
      for (Proto p : kBoth) {
        Outcome o = client_.send(p);
        ASSERT_NE(o, Outcome::Unexpected);
        if (o == Outcome::Refused) refused[static_cast<int>(p)] = true;
      }
    }
  }

  // While the disk stays full: clients keep retrying (and keep being refused) until the metrics show the
  // refusals, the WAL's disk-full errors and a failed block write (traces acknowledged just before the wall
  // are due for a block). Returns the last /metrics text.
  std::string wait_for_full_disk_metrics() {
    auto deadline = Clock::now() + kDeadline;
    for (;;) {
      for (Proto p : kBoth) {
        if (client_.send(p) == Outcome::Unexpected) return {};
      }
      std::string m = fetch_metrics(query());
      bool all =
          metric_sum(m, "spindle_receiver_refused_spans_total", "protocol=\"grpc\",reason=\"storage\"") > 0 &&
          metric_sum(m, "spindle_receiver_refused_spans_total",
                     "protocol=\"http-protobuf\",reason=\"storage\"") > 0 &&
          metric_sum(m, "spindle_wal_disk_full_errors_total") > 0 &&
          metric_sum(m, "spindle_storage_block_write_errors_total") > 0;
      if (all) {
        EXPECT_EQ(metric_sum(m, "spindle_receiver_refused_spans_total", "reason=\"head_full\""), 0u)
            << "the refusals must be blamed on storage, not on memory";
        return m;
      }
      if (Clock::now() > deadline) {
        ADD_FAILURE() << "metrics never showed the full disk:\n" << m;
        return {};
      }
      std::this_thread::sleep_for(kPollPause);
    }
  }

  static constexpr Proto kBoth[] = {Proto::Grpc, Proto::Http};

  TempDir data_{"spindle-disk-full"};
  TempDir logs_{"spindle-disk-full-log"};
  std::string mount_point_;
  std::unique_ptr<TmpfsMount> mount_;
  std::string log_path_;
  int log_fd_ = -1;
  std::unique_ptr<TestServer> server_;
  Client client_;
};

TEST_F(DiskFullTest, RefusesRetryablyKeepsAcknowledgedSpansAndResumesWhenSpaceReturns) {
  start_server();

  // 1. Normal ingest, and those traces reach a block before the disk fills.
  for (int i = 0; i < 10; ++i) ASSERT_EQ(client_.send(kBoth[i % 2]), Outcome::Acked) << "request " << i;
  {
    auto deadline = Clock::now() + kDeadline;
    while (metric_sum(fetch_metrics(query()), "spindle_storage_cut_spans_total") < client_.acked_spans()) {
      ASSERT_LT(Clock::now(), deadline) << "the first traces were never cut into a block";
      std::this_thread::sleep_for(kPollPause);
    }
  }

  // 2-3. The disk fills up under ingest until both protocols are refused.
  ASSERT_NO_FATAL_FAILURE(fill_disk(kRoomLeft));
  ASSERT_NO_FATAL_FAILURE(ingest_until_refused());
  // The WAL leaves a few KiB it could not use for a whole record, enough for a small block. The filler takes
  // them too, well within the idle period, so the traces acknowledged just before the wall (still in the
  // head) cannot be cut into a block either.
  ASSERT_NO_FATAL_FAILURE(fill_disk(0));
  const size_t acked_before_refusal = client_.acked().size();

  // 4. While the disk stays full: metrics and log lines say why, and everything acknowledged so far is
  // readable (from memory: the head and the cut whose block write keeps failing).
  std::string metrics = wait_for_full_disk_metrics();
  ASSERT_FALSE(metrics.empty());
  const uint64_t cuts_while_full = metric_sum(metrics, "spindle_storage_cuts_total");
  {
    std::string log = log_text();
    EXPECT_NE(log.find("WAL disk full"), std::string::npos) << log;
    EXPECT_NE(log.find("No space left on device"), std::string::npos) << log;
    EXPECT_NE(log.find("writing a block failed"), std::string::npos) << log;
  }
  expect_all_acked_intact(query(), client_, "while the disk is full");
  std::printf(
      "[ disk-full ] %zu traces acknowledged before the first refusals, %zu by the end of the full period\n",
      acked_before_refusal, client_.acked().size());

  // 5. Space returns: nobody restarts anything, the same clients' retries are simply acknowledged again.
  ASSERT_EQ(::unlink(filler().c_str()), 0) << errno_text(errno);
  bool resumed[2] = {false, false};
  {
    auto deadline = Clock::now() + kDeadline;
    while (!resumed[0] || !resumed[1]) {
      ASSERT_LT(Clock::now(), deadline) << "ingest did not resume after space returned";
      for (Proto p : kBoth) {
        Outcome o = client_.send(p);
        ASSERT_NE(o, Outcome::Unexpected);
        if (o == Outcome::Acked) resumed[static_cast<int>(p)] = true;
      }
      if (!resumed[0] || !resumed[1]) std::this_thread::sleep_for(kPollPause);
    }
  }
  // A few more after the recovery, on both protocols, must all be acknowledged at once.
  for (int i = 0; i < 6; ++i) ASSERT_EQ(client_.send(kBoth[i % 2]), Outcome::Acked) << "request " << i;

  // Block writes recover too: every acknowledged span ends up in a block (each trace came in one request, so
  // each span is cut exactly once).
  {
    auto deadline = Clock::now() + kDeadline;
    for (;;) {
      metrics = fetch_metrics(query());
      if (metric_sum(metrics, "spindle_storage_cut_spans_total") == client_.acked_spans()) break;
      ASSERT_LT(Clock::now(), deadline)
          << "acknowledged spans never all reached blocks (" << client_.acked_spans() << " acknowledged):\n"
          << metrics;
      std::this_thread::sleep_for(kPollPause);
    }
  }
  EXPECT_GT(metric_sum(metrics, "spindle_storage_cuts_total"), cuts_while_full);
  EXPECT_EQ(metric_sum(metrics, "spindle_storage_block_read_errors_total"), 0u);
  {
    std::string log = log_text();
    EXPECT_NE(log.find("WAL writes succeed again"), std::string::npos) << log;
    EXPECT_NE(log.find("block writes work again"), std::string::npos) << log;
  }
  expect_all_acked_intact(query(), client_, "after space returned");

  // 6. Restart on the same directories: the WAL written around the full disk replays cleanly, the blocks
  // open, and every acknowledged span is still there exactly once.
  server_.reset();
  start_server();
  metrics = fetch_metrics(query());
  EXPECT_EQ(metric_sum(metrics, "spindle_wal_corrupt_records_total"), 0u) << metrics;
  EXPECT_EQ(metric_sum(metrics, "spindle_wal_torn_tail_bytes_total"), 0u) << metrics;
  EXPECT_EQ(metric_sum(metrics, "spindle_storage_blocks_skipped_total"), 0u) << metrics;
  expect_all_acked_intact(query(), client_, "after restart");
  for (int i = 0; i < 2; ++i) ASSERT_EQ(client_.send(kBoth[i % 2]), Outcome::Acked) << "after restart " << i;
  expect_all_acked_intact(query(), client_, "after restart and more ingest");
  EXPECT_EQ(metric_sum(fetch_metrics(query()), "spindle_storage_block_read_errors_total"), 0u);
  std::printf("[ disk-full ] %zu acknowledged traces (%llu spans) verified after restart\n",
              client_.acked().size(), static_cast<unsigned long long>(client_.acked_spans()));
}

// A graceful stop while the disk is full (a block write failing, traces acknowledged only from the WAL and
// memory) must neither hang nor lose them: after the restart, with space back, they replay from the WAL.
TEST_F(DiskFullTest, StopWhileTheDiskIsFullKeepsEveryAcknowledgedSpan) {
  start_server();
  ASSERT_NO_FATAL_FAILURE(fill_disk(kRoomLeft));
  ASSERT_NO_FATAL_FAILURE(ingest_until_refused());
  ASSERT_NO_FATAL_FAILURE(fill_disk(0));
  ASSERT_FALSE(wait_for_full_disk_metrics().empty());
  expect_all_acked_intact(query(), client_, "while the disk is full");

  auto stop_started = Clock::now();
  server_.reset();
  EXPECT_LT(Clock::now() - stop_started, std::chrono::seconds(5)) << "stopping hung on the full disk";
  ASSERT_EQ(::unlink(filler().c_str()), 0) << errno_text(errno);

  start_server();
  std::string metrics = fetch_metrics(query());
  EXPECT_GT(metric_sum(metrics, "spindle_wal_replay_records_total"), 0u) << metrics;
  EXPECT_EQ(metric_sum(metrics, "spindle_wal_corrupt_records_total"), 0u) << metrics;
  EXPECT_EQ(metric_sum(metrics, "spindle_wal_torn_tail_bytes_total"), 0u) << metrics;
  EXPECT_EQ(metric_sum(metrics, "spindle_storage_blocks_skipped_total"), 0u) << metrics;
  expect_all_acked_intact(query(), client_, "after a stop during the full disk");
  // The requests refused before the stop are retried against the new server and acknowledged.
  for (int i = 0; i < 4; ++i) ASSERT_EQ(client_.send(kBoth[i % 2]), Outcome::Acked) << "after restart " << i;
  expect_all_acked_intact(query(), client_, "after restart and more ingest");
}

}  // namespace
}  // namespace spindle
