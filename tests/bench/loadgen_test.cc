// spindle-loadgen end to end: the real binary against an in-process 2-shard server, in verify mode, for every
// protocol: no request fails and every acknowledged trace reads back whole. And the other way round: against
// a server whose head is too small, refused requests show up as errors and a non-zero exit, not as a clean run.
// --ack-log holds exactly the acknowledged requests, field for field as the server stored them, also when the
// server goes away during the run.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "bench/loadgen/ack_log.h"
#include "core/trace_id.h"
#include "tempopb/tempo.pb.h"
#include "tests/integration/trace_compare.h"
#include "tests/support/command.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

namespace spindle {
namespace {

constexpr char kLoadgen[] = SPINDLE_LOADGEN_BINARY;

struct LoadgenRun {
  int exit_code = -1;
  std::string json;
};

LoadgenRun run_loadgen(std::vector<std::string> args) {
  args.insert(args.begin(), kLoadgen);
  args.push_back("--json");
  LoadgenRun run;
  auto out = run_command(args, 120, &run.exit_code);
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  if (out.ok()) run.json = *out;
  return run;
}

// The number after "key": in the loadgen's one-object JSON; -1 if absent.
double json_number(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return -1;
  return std::strtod(json.c_str() + at + key.size() + 3, nullptr);
}

std::string endpoint(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

struct Case {
  const char* name;
  std::vector<std::string> args;
};

class LoadgenVerifyTest : public ::testing::TestWithParam<Case> {};

TEST_P(LoadgenVerifyTest, EveryAcknowledgedTraceReadsBack) {
  TestServer server;
  Server& s = server.start();
  const bool grpc = GetParam().args[1] == "grpc";
  std::vector<std::string> args = GetParam().args;
  args.insert(args.end(), {"--target", endpoint(grpc ? s.otlp_grpc_port() : s.otlp_http_port()), "--query",
                           endpoint(s.query_port()), "--duration", "2s", "--rate", "20000", "--connections",
                           "2", "--verify", "--seed", "1234"});
  LoadgenRun run = run_loadgen(args);
  SCOPED_TRACE(run.json);
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_GT(json_number(run.json, "spans"), 0);
  EXPECT_EQ(json_number(run.json, "errors"), 0);
  EXPECT_GT(json_number(run.json, "verified_traces"), 0);
  EXPECT_EQ(json_number(run.json, "verified_traces") * 10, json_number(run.json, "spans"));
  EXPECT_EQ(json_number(run.json, "missing_traces"), 0);
  EXPECT_EQ(json_number(run.json, "missing_spans"), 0);
  EXPECT_EQ(json_number(run.json, "differing_spans"), 0);
  EXPECT_GT(json_number(run.json, "p99_9"), 0);
  EXPECT_GT(json_number(run.json, "spans_per_second"), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Protocols, LoadgenVerifyTest,
    ::testing::Values(Case{"grpc", {"--protocol", "grpc"}},
                      Case{"http_protobuf", {"--protocol", "http-protobuf"}},
                      Case{"http_json", {"--protocol", "http-json", "--in-flight", "2"}},
                      Case{"grpc_gzip", {"--protocol", "grpc", "--gzip"}},
                      Case{"http_json_gzip", {"--protocol", "http-json", "--gzip"}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(LoadgenTest, CountSendsExactlyThatManySpans) {
  TestServer server;
  Server& s = server.start();
  LoadgenRun run = run_loadgen({"--target", endpoint(s.otlp_grpc_port()), "--query", endpoint(s.query_port()),
                                "--count", "950", "--spans-per-request", "100", "--spans-per-trace", "25",
                                "--verify"});
  SCOPED_TRACE(run.json);
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(json_number(run.json, "requests"), 10);  // rounded up to whole requests
  EXPECT_EQ(json_number(run.json, "spans"), 1000);
  EXPECT_EQ(json_number(run.json, "verified_traces"), 40);
  EXPECT_EQ(json_number(run.json, "missing_traces"), 0);
}

// A head of 1 MiB fills within the first requests: the rest are refused (UNAVAILABLE / 503). Those are errors,
// never hidden and never counted as lost, and the exit status says the run was not clean.
TEST(LoadgenTest, RefusedRequestsAreErrorsAndFailTheRun) {
  Config config = test_config();
  config.head_max_bytes = 1 << 20;
  TestServer server(config);
  Server& s = server.start();
  for (const char* protocol : {"grpc", "http-protobuf"}) {
    SCOPED_TRACE(protocol);
    const bool grpc = std::string(protocol) == "grpc";
    LoadgenRun run = run_loadgen({"--protocol", protocol, "--target",
                                  endpoint(grpc ? s.otlp_grpc_port() : s.otlp_http_port()), "--query",
                                  endpoint(s.query_port()), "--count", "100000", "--verify"});
    SCOPED_TRACE(run.json);
    EXPECT_NE(run.exit_code, 0);
    EXPECT_GT(json_number(run.json, "errors"), 0);
    EXPECT_NE(run.json.find(grpc ? "\"grpc_14\":" : "\"http_503\":"), std::string::npos);
    EXPECT_EQ(json_number(run.json, "missing_traces"), 0);
  }
}

TEST(LoadgenTest, NothingListeningExitsTwo) {
  int port = 0;
  {
    TestServer server;
    port = server.start().otlp_grpc_port();
  }  // stopped: nothing listens there any more
  LoadgenRun run = run_loadgen({"--target", endpoint(static_cast<uint16_t>(port)), "--count", "100"});
  EXPECT_EQ(run.exit_code, 2);
}

std::vector<otlp::collector::trace::v1::ExportTraceServiceRequest> read_ack_log(const std::string& path) {
  std::vector<otlp::collector::trace::v1::ExportTraceServiceRequest> out;
  Status s = for_each_ack_record(read_file(path), [&](std::string_view record) {
    out.emplace_back();
    if (!out.back().ParseFromArray(record.data(), static_cast<int>(record.size()))) {
      return invalid_argument("record " + std::to_string(out.size() - 1) + " is no ExportTraceServiceRequest");
    }
    return Status::ok();
  });
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  return out;
}

size_t count_spans(const otlp::collector::trace::v1::ExportTraceServiceRequest& r) {
  size_t n = 0;
  for (const auto& rs : r.resource_spans())
    for (const auto& ss : rs.scope_spans()) n += static_cast<size_t>(ss.spans_size());
  return n;
}

struct AckCase {
  const char* name;
  std::vector<std::string> args;
};

void PrintTo(const AckCase& c, std::ostream* os) { *os << c.name; }

class LoadgenAckLogTest : public ::testing::TestWithParam<AckCase> {};

// One record per acknowledged request, and each record is what the server stored, field for field.
TEST_P(LoadgenAckLogTest, HoldsEveryAcknowledgedRequestAsStored) {
  TestServer server;
  Server& s = server.start();
  TempDir dir("acklog");
  const std::string acks = dir.path() + "/acks";
  const bool grpc = GetParam().args[1] == "grpc";
  std::vector<std::string> args = GetParam().args;
  args.insert(args.end(), {"--target", endpoint(grpc ? s.otlp_grpc_port() : s.otlp_http_port()), "--count",
                           "2000", "--spans-per-request", "20", "--spans-per-trace", "5", "--ack-log", acks,
                           "--fail-on-error"});
  LoadgenRun run = run_loadgen(args);
  SCOPED_TRACE(run.json);
  ASSERT_EQ(run.exit_code, 0);
  auto requests = read_ack_log(acks);
  ASSERT_EQ(static_cast<double>(requests.size()), json_number(run.json, "requests"));
  ASSERT_EQ(requests.size(), 100u);
  size_t spans = 0;
  for (const auto& r : requests) spans += count_spans(r);
  EXPECT_EQ(spans, 2000u);
  for (size_t i = 0; i < requests.size(); i += 9) {
    for (const auto& [raw_id, expected] : flatten_request(requests[i])) {
      auto got = http1_request(s.query_port(), "GET", "/api/v2/traces/" + to_hex(raw_id),
                               {{"Accept", "application/protobuf"}});
      ASSERT_TRUE(got.ok()) << got.status().to_string();
      tempopb::TraceByIDResponse resp;
      ASSERT_TRUE(resp.ParseFromString(got->body));
      FlatTraces stored;
      flatten_into(resp.trace().resourcespans(), stored);
      ASSERT_EQ(stored.size(), 1u);
      EXPECT_EQ(stored.begin()->second, expected) << "record " << i << " trace " << to_hex(raw_id);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Protocols, LoadgenAckLogTest,
    ::testing::Values(AckCase{"grpc_gzip", {"--protocol", "grpc", "--gzip"}},
                      AckCase{"http_protobuf", {"--protocol", "http-protobuf"}},
                      AckCase{"http_json_gzip", {"--protocol", "http-json", "--gzip"}}),
    [](const ::testing::TestParamInfo<AckCase>& info) { return info.param.name; });

TEST(LoadgenTest, RefusedRequestsStayOutOfTheAckLog) {
  Config config = test_config();
  config.head_max_bytes = 1 << 20;
  TestServer server(config);
  Server& s = server.start();
  TempDir dir("acklog");
  const std::string acks = dir.path() + "/acks";
  LoadgenRun run = run_loadgen({"--target", endpoint(s.otlp_grpc_port()), "--count", "100000", "--ack-log", acks});
  SCOPED_TRACE(run.json);
  EXPECT_GT(json_number(run.json, "errors"), 0);
  auto requests = read_ack_log(acks);
  EXPECT_EQ(static_cast<double>(requests.size()), json_number(run.json, "requests"));
  EXPECT_LT(requests.size(), 1000u);
}

// The server stops in the middle of a long run: the loadgen notices, ends the run by itself well before its
// --duration, and its ack log holds exactly the requests the report counts as acknowledged.
TEST(LoadgenTest, ServerGoingAwayEndsTheRunWithACompleteAckLog) {
  auto server = std::make_unique<TestServer>();
  Server& s = server->start();
  TempDir dir("acklog");
  const std::string acks = dir.path() + "/acks";
  auto loadgen = std::async(std::launch::async, [&, port = s.otlp_grpc_port()] {
    return run_loadgen({"--target", endpoint(port), "--duration", "60s", "--spans-per-request", "20",
                        "--connections", "3", "--ack-log", acks});
  });
  // Until the first acknowledged requests are in the log (polling a file the loadgen writes).
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       read_file(acks).size() < 100000 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto stopped_at = std::chrono::steady_clock::now();
  server.reset();  // graceful stop: in-flight requests are answered, then every connection closes
  ASSERT_EQ(loadgen.wait_for(std::chrono::seconds(30)), std::future_status::ready) << "the loadgen kept running";
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, std::chrono::seconds(15));
  LoadgenRun run = loadgen.get();
  SCOPED_TRACE(run.json);
  EXPECT_EQ(run.exit_code, 0);
  auto requests = read_ack_log(acks);
  EXPECT_GT(requests.size(), 0u);
  EXPECT_EQ(static_cast<double>(requests.size()), json_number(run.json, "requests"));
  EXPECT_LT(json_number(run.json, "seconds"), 45);
}

}  // namespace
}  // namespace spindle
