// Crash safety of the real `spindle` binary: no acknowledged span is ever lost to kill -9.
//
// Each round starts the server (if none is running), points the real spindle-loadgen at it at full speed with
// --ack-log (every request the server acknowledged, as sent), kills the server with SIGKILL at a seeded random
// moment 150-900 ms after the load started, stops the loadgen, restarts the server on the same WAL and block
// directories, waits for /ready, and reads back every acknowledged trace of every round so far through
// GET /api/v2/traces/<id> (protobuf). Every acknowledged span must come back field for field (resource, scope
// and span, canonically serialized; an absent span status may come back empty) and no span may come back twice.
// Earlier rounds are re-read after every restart: by then their traces may have moved from the WAL to blocks.
//
// CrashTest.SyncedAckLosesNothing: 10 rounds with `spindle.wal.ack: synced` in one shared data directory.
// CrashTest.WrittenAckLosesNothingOnProcessCrash: one round with `written`: a process crash (not a power loss)
// leaves the page cache intact, so nothing may be lost there either.
//
// Ports are all 0: the test reads the OTLP gRPC and query ports from the server's "spindle ready: ..." log line.
// SPINDLE_CRASH_SEED=N changes the kill moments and the loadgen seeds (the seed is printed).
#include <signal.h>

#include <google/protobuf/arena.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "bench/loadgen/ack_log.h"
#include "bench/loadgen/http1_connection.h"
#include "core/trace_id.h"
#include "tempopb/tempo.pb.h"
#include "tests/integration/trace_compare.h"
#include "tests/support/child_process.h"
#include "tests/support/command.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

namespace spindle {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using ExportRequest = otlp::collector::trace::v1::ExportTraceServiceRequest;

constexpr char kSpindle[] = SPINDLE_BINARY;
constexpr char kLoadgen[] = SPINDLE_LOADGEN_BINARY;
constexpr int kSyncedRounds = 10;
constexpr int kMinKillMs = 150;
constexpr int kMaxKillMs = 900;
constexpr auto kStartLimit = std::chrono::seconds(60);  // log line + WAL replay until /ready
constexpr size_t kVerifyConnections = 4;
constexpr size_t kPipelineDepth = 16;
constexpr int kMaxShownFailures = 3;

uint64_t crash_seed() {
  const char* env = std::getenv("SPINDLE_CRASH_SEED");
  return env && *env ? std::strtoull(env, nullptr, 10) : 20261122;
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::string tail(const std::string& text, size_t bytes = 3000) {
  return text.size() <= bytes ? text : "..." + text.substr(text.size() - bytes);
}

// ---- expected spans --------------------------------------------------------------------------------------

// A span as Spindle must give it back: its resource, scope (with schema URLs) and itself, each serialized by
// libprotobuf (canonical field order), an absent status made empty. Compared as 64-bit hashes so ten rounds of
// full-speed load fit in memory and verify quickly; the ack log is re-read for readable diffs when something
// does not match.
uint64_t hash_bytes(std::string_view a) { return std::hash<std::string_view>{}(a); }

// Calls `visit(span, digest)` for every span of a list of ResourceSpans, normalizing each span in place.
template <class ResourceSpansList, class Visit>
void digest_spans(ResourceSpansList& list, Visit&& visit) {
  std::string buf;
  for (auto& rs : list) {
    buf.clear();
    rs.resource().AppendToString(&buf);
    const uint64_t rs_hash = hash_bytes(buf) ^ (hash_bytes(rs.schema_url()) * 0x9E3779B97F4A7C15ull);
    for (auto& ss : *rs.mutable_scope_spans()) {
      buf.clear();
      ss.scope().AppendToString(&buf);
      const uint64_t ss_hash = hash_bytes(buf) ^ (hash_bytes(ss.schema_url()) * 0x9E3779B97F4A7C15ull);
      for (auto& span : *ss.mutable_spans()) {
        if (!span.has_status()) span.mutable_status();
        buf.assign(reinterpret_cast<const char*>(&rs_hash), sizeof rs_hash);
        buf.append(reinterpret_cast<const char*>(&ss_hash), sizeof ss_hash);
        span.AppendToString(&buf);
        visit(span, hash_bytes(buf));
      }
    }
  }
}

struct ExpectedTrace {
  TraceId id;
  uint32_t record = 0;  // in the round's ack log, for diagnostics
  size_t first = 0;     // into Round::digests, sorted within the trace
  uint32_t count = 0;
};

struct RoundStats {
  uint64_t found_spans = 0;
  uint64_t missing_traces = 0;  // not a single span came back
  uint64_t extra_spans = 0;     // came back but were never acknowledged in this trace (changed or duplicated)
  uint64_t query_errors = 0;
  uint64_t lost_spans(uint64_t acked) const { return acked - found_spans; }
};

struct Round {
  std::string label;
  std::string ack_log;
  double kill_after_ms = 0;
  int loadgen_exit = -1;
  uint64_t requests = 0;
  uint64_t spans = 0;
  std::vector<ExpectedTrace> traces;
  std::vector<uint64_t> digests;
  RoundStats last;  // of the latest verification
};

// Reads a round's ack log into its expected traces. A trace split over several requests is merged.
Status load_round(Round& round) {
  std::map<std::string, std::pair<uint32_t, std::vector<uint64_t>>> traces;  // raw id -> (first record, digests)
  uint32_t record = 0;
  Status s = for_each_ack_record(read_file(round.ack_log), [&](std::string_view bytes) {
    ExportRequest req;
    if (!req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return data_loss("ack log record " + std::to_string(record) + " is no ExportTraceServiceRequest");
    }
    std::map<std::string, std::vector<uint64_t>> digests;
    digest_spans(*req.mutable_resource_spans(),
                 [&](const otlp::trace::v1::Span& span, uint64_t d) { digests[span.trace_id()].push_back(d); });
    for (auto& [id, d] : digests) {
      auto [it, fresh] = traces.try_emplace(id, record, std::vector<uint64_t>{});
      it->second.second.insert(it->second.second.end(), d.begin(), d.end());
      round.spans += d.size();
    }
    ++round.requests;
    ++record;
    return Status::ok();
  });
  SPINDLE_RETURN_IF_ERROR(s);
  for (auto& [raw, entry] : traces) {
    auto id = TraceId::from_bytes(raw);
    if (!id) return data_loss("ack log holds a span with trace ID '" + to_hex(raw) + "'");
    ExpectedTrace t{*id, entry.first, round.digests.size(), static_cast<uint32_t>(entry.second.size())};
    std::sort(entry.second.begin(), entry.second.end());
    round.digests.insert(round.digests.end(), entry.second.begin(), entry.second.end());
    round.traces.push_back(t);
  }
  return Status::ok();
}

// The acknowledged spans of one trace, flattened for a readable diff (re-read from the ack log).
std::vector<std::string> expected_flat(const Round& round, const ExpectedTrace& t) {
  std::vector<std::string> out;
  auto records = parse_ack_records(read_file(round.ack_log));
  if (!records.ok() || t.record >= records->size()) return {"(ack log unreadable)"};
  ExportRequest req;
  req.ParseFromString((*records)[t.record]);
  FlatTraces flat = flatten_request(req);
  return flat[std::string(t.id.as_view())];
}

// ---- reading traces back ---------------------------------------------------------------------------------

// GETs `paths` over a few pipelined keep-alive connections; `on_reply(i, reply)` once per path. Paths that
// could not be asked because every connection was lost get a reply with failure "connection_lost".
void fetch_all(uint16_t port, const std::vector<std::string>& paths,
               const std::function<void(size_t, const ClientReply&)>& on_reply) {
  auto ai = resolve("127.0.0.1", std::to_string(port));
  if (!ai.ok()) {
    ADD_FAILURE() << ai.status().to_string();
    return;
  }
  const std::string authority = "127.0.0.1:" + std::to_string(port);
  size_t answered = 0;
  auto handler = [&](ClientReply&& r) {
    on_reply(static_cast<size_t>(r.tag), r);
    ++answered;
  };
  std::vector<std::unique_ptr<ClientConnection>> conns;
  for (size_t i = 0; i < kVerifyConnections; ++i) {
    auto c = std::make_unique<Http1Connection>(authority, handler);
    if (Status s = c->connect(ai->get(), LoadClock::now() + std::chrono::seconds(5)); !s.is_ok()) {
      ADD_FAILURE() << "query port " << port << ": " << s.to_string();
    }
    conns.push_back(std::move(c));
  }
  size_t next = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (answered < paths.size()) {
    bool any_alive = false;
    for (auto& c : conns) {
      if (!c->alive()) continue;
      any_alive = true;
      while (next < paths.size() && c->in_flight() < kPipelineDepth) {
        ClientRequest q;
        q.tag = next;
        q.method = "GET";
        q.path = paths[next];
        q.headers = {{"accept", "application/protobuf"}};
        if (!c->submit(std::move(q)).is_ok()) break;
        ++next;
      }
    }
    if (!any_alive || Clock::now() > deadline) {
      for (auto& c : conns) c->abandon("timeout");
      for (; next < paths.size(); ++next) {
        ClientReply r;
        r.tag = next;
        r.failure = any_alive ? "timeout" : "connection_lost";
        handler(std::move(r));
      }
      break;
    }
    pump_connections(conns, 100);
  }
}

// ---- the harness -----------------------------------------------------------------------------------------

class CrashHarness {
 public:
  CrashHarness(const std::string& ack_policy, uint64_t seed) : seed_(seed), rng_(seed) {
    EXPECT_FALSE(dir_.path().empty());
    std::filesystem::create_directories(dir_.path() + "/wal");
    std::filesystem::create_directories(dir_.path() + "/blocks");
    std::filesystem::create_directories(dir_.path() + "/out");
    config_ = dir_.path() + "/spindle.yaml";
    // Short cut rules, so that traces of earlier rounds move to blocks while later rounds run.
    std::ofstream(config_) << "server:\n"
                              "  http_listen_address: 127.0.0.1\n"
                              "  http_listen_port: 0\n"
                              "distributor:\n"
                              "  receivers:\n"
                              "    otlp:\n"
                              "      protocols:\n"
                              "        grpc:\n"
                              "          endpoint: 127.0.0.1:0\n"
                              "        http:\n"
                              "          endpoint: 127.0.0.1:0\n"
                              "storage:\n"
                              "  trace:\n"
                              "    wal:\n"
                              "      path: " << dir_.path() << "/wal\n"
                              "    local:\n"
                              "      path: " << dir_.path() << "/blocks\n"
                              "ingester:\n"
                              "  trace_idle_period: 1s\n"
                              "  flush_check_period: 1s\n"
                              "spindle:\n"
                              "  shards: 2\n"
                              "  wal:\n"
                              "    ack: " << ack_policy << "\n";
  }

  const std::vector<Round>& rounds() const { return rounds_; }

  // Starts the server, learns its ports from the log and waits for /ready. Fatal failures carry the log.
  void start_server(const std::string& label) {
    server_log_ = dir_.path() + "/out/spindle-" + label + ".log";
    const auto started = Clock::now();
    ASSERT_TRUE(server_.start({kSpindle, "-config.file=" + config_}, server_log_).is_ok());
    const std::regex ready_line(R"(spindle ready: .*otlp_grpc=\S+:([0-9]+) otlp_http=\S+:([0-9]+) query=\S+:([0-9]+))");
    grpc_port_ = query_port_ = 0;
    const auto deadline = started + kStartLimit;
    // Polling the log file the server writes, then /ready (503 until every shard has replayed its WAL).
    while (query_port_ == 0) {
      std::smatch m;
      const std::string log = read_file(server_log_);
      if (std::regex_search(log, m, ready_line)) {
        grpc_port_ = static_cast<uint16_t>(std::stoi(m[1]));
        query_port_ = static_cast<uint16_t>(std::stoi(m[3]));
        break;
      }
      ASSERT_TRUE(server_.running()) << label << ": spindle exited with " << server_.exit_code() << "\n"
                                     << tail(log);
      ASSERT_LT(Clock::now(), deadline) << label << ": no 'spindle ready' line\n" << tail(log);
      std::this_thread::sleep_for(milliseconds(10));
    }
    for (;;) {
      auto r = http1_request(query_port_, "GET", "/ready");
      if (r.ok() && r->status == 200) break;
      ASSERT_TRUE(server_.running()) << label << ": spindle exited with " << server_.exit_code() << "\n"
                                     << tail(read_file(server_log_));
      ASSERT_LT(Clock::now(), deadline) << label << ": /ready never answered 200 ("
                                        << (r.ok() ? std::to_string(r->status) : r.status().to_string()) << ")\n"
                                        << tail(read_file(server_log_));
      std::this_thread::sleep_for(milliseconds(20));
    }
    last_start_ms_ = ms_since(started);
  }

  // Load, kill -9 at a random moment, stop the loadgen, read its ack log, restart, wait for /ready.
  void crash_round(const std::string& label) {
    if (!server_.running()) {
      ASSERT_NO_FATAL_FAILURE(start_server(label + "-start"));
    }
    Round round;
    round.label = label;
    round.ack_log = dir_.path() + "/out/" + label + ".acks";
    const std::string loadgen_log = dir_.path() + "/out/loadgen-" + label + ".log";
    const int kill_ms = std::uniform_int_distribution<int>(kMinKillMs, kMaxKillMs)(rng_);
    ChildProcess loadgen;
    const auto load_started = Clock::now();
    ASSERT_TRUE(loadgen
                    .start({kLoadgen, "--target", "127.0.0.1:" + std::to_string(grpc_port_), "--protocol", "grpc",
                            "--connections", "3", "--in-flight", "4", "--spans-per-request", "20",
                            "--spans-per-trace", "5", "--duration", "60s", "--drain-timeout", "5s", "--seed",
                            std::to_string(seed_ * 1000 + rounds_.size() + 1), "--ack-log", round.ack_log,
                            "--json"},
                           loadgen_log)
                    .is_ok());
    std::this_thread::sleep_for(milliseconds(kill_ms) - (Clock::now() - load_started));  // the kill moment
    const bool loadgen_alive = loadgen.running();
    round.kill_after_ms = ms_since(load_started);
    server_.kill_now();  // kill -9
    EXPECT_TRUE(loadgen_alive) << label << ": the loadgen ended before the kill\n" << read_file(loadgen_log);
    // Without a server every connection fails and the loadgen ends by itself; SIGINT in case it has not yet.
    loadgen.signal(SIGINT);
    if (!loadgen.wait_for_exit(std::chrono::seconds(20))) {
      loadgen.kill_now();
      ADD_FAILURE() << label << ": the loadgen did not exit within 20 s of SIGINT\n" << read_file(loadgen_log);
    }
    round.loadgen_exit = loadgen.exit_code();
    // 0: ran and reported (the lost connections are errors, not a failure without --fail-on-error);
    // 2: the server died before it answered anything.
    EXPECT_TRUE(round.loadgen_exit == 0 || round.loadgen_exit == 2)
        << label << ": loadgen exit " << round.loadgen_exit << "\n" << read_file(loadgen_log);
    Status loaded = load_round(round);
    ASSERT_TRUE(loaded.is_ok()) << label << ": " << loaded.to_string();
    for (const ExpectedTrace& t : round.traces) {
      EXPECT_TRUE(seen_ids_.insert(std::string(t.id.as_view())).second) << "trace ID reused: " << t.id.to_hex();
    }
    rounds_.push_back(std::move(round));
    ASSERT_NO_FATAL_FAILURE(start_server(label + "-restart"));
  }

  // Reads back every acknowledged trace of every round; fills Round::last.
  void verify_all() {
    struct Ref {
      size_t round, trace;
    };
    std::vector<Ref> refs;
    std::vector<std::string> paths;
    for (size_t r = 0; r < rounds_.size(); ++r) {
      rounds_[r].last = RoundStats{};
      for (size_t t = 0; t < rounds_[r].traces.size(); ++t) {
        refs.push_back({r, t});
        paths.push_back("/api/v2/traces/" + rounds_[r].traces[t].id.to_hex());
      }
    }
    struct Shown {
      Ref ref;
      std::string why;
      std::vector<std::string> got;
    };
    std::vector<Shown> shown;
    // Responses are parsed into an arena that starts in this buffer: no malloc churn per span.
    std::vector<char> arena_block(1 << 20);
    std::vector<uint64_t> got;
    fetch_all(query_port_, paths, [&](size_t i, const ClientReply& reply) {
      Round& round = rounds_[refs[i].round];
      const ExpectedTrace& t = round.traces[refs[i].trace];
      RoundStats& st = round.last;
      std::string error;
      got.clear();
      google::protobuf::ArenaOptions arena_options;
      arena_options.initial_block = arena_block.data();
      arena_options.initial_block_size = arena_block.size();
      google::protobuf::Arena arena(arena_options);
      auto& resp = *google::protobuf::Arena::Create<tempopb::TraceByIDResponse>(&arena);
      if (!reply.failure.empty()) {
        error = reply.failure;
      } else if (reply.http_status != 200 && reply.http_status != 404) {
        error = "http_" + std::to_string(reply.http_status);
      } else if (reply.http_status == 200 && !resp.ParseFromString(reply.body)) {
        error = "unparsable TraceByIDResponse";
      } else {
        digest_spans(*resp.mutable_trace()->mutable_resourcespans(),
                     [&](const otlp::trace::v1::Span& span, uint64_t d) {
                       got.push_back(d);
                       if (span.trace_id() != t.id.as_view() && error.empty()) {
                         error = "a span of trace " + to_hex(span.trace_id()) + " came back";
                       }
                     });
      }
      if (!error.empty()) {
        ++st.query_errors;
        if (shown.size() < kMaxShownFailures) shown.push_back({refs[i], error, {}});
        return;
      }
      std::sort(got.begin(), got.end());
      const auto first = round.digests.begin() + static_cast<std::ptrdiff_t>(t.first);
      std::vector<uint64_t> common;
      std::set_intersection(first, first + t.count, got.begin(), got.end(), std::back_inserter(common));
      st.found_spans += common.size();
      st.extra_spans += got.size() - common.size();
      if (got.empty()) ++st.missing_traces;
      if ((common.size() < t.count || got.size() > common.size()) && shown.size() < kMaxShownFailures) {
        Shown s{refs[i], std::to_string(common.size()) + " of " + std::to_string(t.count) + " spans found, " +
                             std::to_string(got.size() - common.size()) + " unexpected",
                {}};
        if (!got.empty()) {
          FlatTraces flat;
          flatten_into(resp.trace().resourcespans(), flat);
          for (auto& [id, spans] : flat) s.got.insert(s.got.end(), spans.begin(), spans.end());
        }
        shown.push_back(std::move(s));
      }
    });
    for (const Shown& s : shown) {
      const Round& round = rounds_[s.ref.round];
      const ExpectedTrace& t = round.traces[s.ref.trace];
      std::string msg = "round " + round.label + " trace " + t.id.to_hex() + ": " + s.why;
      if (!s.got.empty()) {
        msg += "\n  acknowledged:";
        for (const auto& line : expected_flat(round, t)) msg += "\n    " + line;
        msg += "\n  read back:";
        for (const auto& line : s.got) msg += "\n    " + line;
      }
      std::printf("[ crash    ] %s\n", msg.c_str());
    }
  }

  double last_start_ms() const { return last_start_ms_; }
  std::string server_log_tail() const { return tail(read_file(server_log_)); }

 private:
  uint64_t seed_;
  std::mt19937_64 rng_;
  TempDir dir_{"spindle-crash"};
  std::string config_;
  ChildProcess server_;
  std::string server_log_;
  uint16_t grpc_port_ = 0;
  uint16_t query_port_ = 0;
  double last_start_ms_ = 0;
  std::vector<Round> rounds_;
  std::unordered_set<std::string> seen_ids_;
};

// One line per round after each verification, and the same as test properties (in the XML report).
uint64_t report(const CrashHarness& h, const std::string& after, double verify_ms) {
  uint64_t lost_total = 0;
  for (const Round& r : h.rounds()) {
    const RoundStats& s = r.last;
    lost_total += s.lost_spans(r.spans) + s.extra_spans + s.query_errors;
    std::printf("[ crash    ] after %-10s round %-9s killed at %4.0f ms: acked %6" PRIu64 " spans in %5" PRIu64
                " requests, found %6" PRIu64 ", lost %" PRIu64 " (%" PRIu64 " whole traces), extra %" PRIu64
                ", query errors %" PRIu64 "\n",
                after.c_str(), r.label.c_str(), r.kill_after_ms, r.spans, r.requests, s.found_spans,
                s.lost_spans(r.spans), s.missing_traces, s.extra_spans, s.query_errors);
  }
  const Round& latest = h.rounds().back();
  ::testing::Test::RecordProperty(latest.label,
                                  "acked=" + std::to_string(latest.spans) +
                                      " found=" + std::to_string(latest.last.found_spans) +
                                      " killed_at_ms=" + std::to_string(static_cast<int>(latest.kill_after_ms)));
  std::printf("[ crash    ] restart to ready %.0f ms, verification of all rounds %.0f ms\n", h.last_start_ms(),
              verify_ms);
  std::fflush(stdout);
  return lost_total;
}

TEST(CrashTest, SyncedAckLosesNothing) {
  const uint64_t seed = crash_seed();
  std::printf("[ crash    ] seed %" PRIu64 " (SPINDLE_CRASH_SEED)\n", seed);
  CrashHarness h("synced", seed);
  uint64_t acked = 0;
  for (int i = 1; i <= kSyncedRounds; ++i) {
    const std::string label = "synced-" + std::to_string(i);
    ASSERT_NO_FATAL_FAILURE(h.crash_round(label));
    const auto verify_started = Clock::now();
    h.verify_all();
    const uint64_t bad = report(h, label, ms_since(verify_started));
    acked += h.rounds().back().spans;
    for (const Round& r : h.rounds()) {
      EXPECT_EQ(r.last.found_spans, r.spans) << "after " << label << ": acknowledged spans of " << r.label
                                             << " missing";
      EXPECT_EQ(r.last.extra_spans, 0u) << "after " << label << ": " << r.label
                                        << " read back spans it never acknowledged (changed or duplicated)";
      EXPECT_EQ(r.last.query_errors, 0u) << "after " << label << ": " << r.label;
    }
    // Once the data is gone it stays gone: the later rounds would only repeat the same failures.
    ASSERT_EQ(bad, 0u) << "stopping after " << label << "; server log:\n" << h.server_log_tail();
  }
  EXPECT_GT(acked, 0u) << "no round acknowledged anything: the test proved nothing";
}

TEST(CrashTest, WrittenAckLosesNothingOnProcessCrash) {
  const uint64_t seed = crash_seed() + 1;
  CrashHarness h("written", seed);
  ASSERT_NO_FATAL_FAILURE(h.crash_round("written-1"));
  const auto verify_started = Clock::now();
  h.verify_all();
  report(h, "written-1", ms_since(verify_started));
  const Round& r = h.rounds().back();
  const uint64_t lost = r.last.lost_spans(r.spans);
  std::printf("[ crash    ] ack=written, kill -9 (process crash): %" PRIu64 " of %" PRIu64
              " acknowledged spans lost\n",
              lost, r.spans);
  ::testing::Test::RecordProperty("written_lost_spans", std::to_string(lost));
  EXPECT_GT(r.spans, 0u) << "nothing was acknowledged: the test proved nothing";
  EXPECT_EQ(lost, 0u) << "ack=written must survive a process crash (the page cache outlives the process)";
  EXPECT_EQ(r.last.extra_spans, 0u);
  EXPECT_EQ(r.last.query_errors, 0u);
}

}  // namespace
}  // namespace spindle
