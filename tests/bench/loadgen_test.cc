// spindle-loadgen end to end: the real binary against an in-process 2-shard server, in verify mode, for every
// protocol: no request fails and every acknowledged trace reads back whole. And the other way round: against
// a server whose head is too small, refused requests show up as errors and a non-zero exit, not as a clean run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/command.h"
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

}  // namespace
}  // namespace spindle
