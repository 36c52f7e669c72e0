// Real OTLP clients against a 2-shard server on loopback: the OpenTelemetry JS exporters (OTLP/gRPC plain and
// gzip, OTLP/HTTP protobuf and JSON, plain and gzip) and the OpenTelemetry C++ SDK (gRPC, HTTP protobuf, HTTP
// JSON). Every span each client says it sent must come back, field for field, through /api/v2/traces and
// /api/traces in protobuf and JSON.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "api/query_params.h"
#include "core/trace_id.h"
#include "tempopb/tempo.pb.h"
#include "tests/integration/trace_compare.h"
#include "tests/support/command.h"
#include "tests/support/http_client.h"
#include "tests/support/paths.h"
#include "tests/support/test_server.h"

namespace spindle {
namespace {

struct ClientCase {
  std::string name;
  std::vector<std::string> argv_prefix;  // program + kind
  bool grpc;
  bool gzip;
};

void PrintTo(const ClientCase& c, std::ostream* os) { *os << c.name; }

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

class RealClientsTest : public ::testing::TestWithParam<ClientCase> {};

// Fetches one trace through all four read paths and returns each as flattened spans (keyed by path name).
std::map<std::string, FlatTraces> read_back(uint16_t port, const std::string& hex) {
  std::map<std::string, FlatTraces> views;
  namespace pb = google::protobuf::util;
  {
    auto r = http1_request(port, "GET", "/api/v2/traces/" + hex, {{"Accept", "application/protobuf"}});
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (r.ok()) {
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->header("content-type"), "application/protobuf");
      tempopb::TraceByIDResponse resp;
      EXPECT_TRUE(resp.ParseFromString(r->body));
      EXPECT_TRUE(resp.has_trace());
      EXPECT_TRUE(has_grafana_required_fields(resp.trace().resourcespans()));
      EXPECT_GT(resp.metrics().inspectedbytes(), 0u);
      flatten_into(resp.trace().resourcespans(), views["v2-protobuf"]);
    }
  }
  {
    auto r = http1_request(port, "GET", "/api/traces/" + hex, {{"Accept", "application/protobuf"}});
    EXPECT_TRUE(r.ok());
    if (r.ok()) {
      EXPECT_EQ(r->status, 200);
      tempopb::Trace trace;
      EXPECT_TRUE(trace.ParseFromString(r->body));
      EXPECT_TRUE(has_grafana_required_fields(trace.resourcespans()));
      flatten_into(trace.resourcespans(), views["v1-protobuf"]);
    }
  }
  {
    auto r = http1_request(port, "GET", "/api/traces/" + hex);
    EXPECT_TRUE(r.ok());
    if (r.ok()) {
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->header("content-type"), "application/json");
      std::string json = r->body;
      EXPECT_EQ(json.rfind("{\"batches\":", 0), 0u) << json.substr(0, 80);
      if (json.rfind("{\"batches\":", 0) == 0) json.replace(2, 7, "resourceSpans");  // v1 renames the top-level key; put it back for libprotobuf
      tempopb::Trace trace;
      auto st = pb::JsonStringToMessage(json, &trace);
      EXPECT_TRUE(st.ok()) << st.ToString();
      flatten_into(trace.resourcespans(), views["v1-json"]);
    }
  }
  {
    auto r = h2c_request(port, "GET", "/api/v2/traces/" + hex, {{"accept", "application/json"}});
    EXPECT_TRUE(r.ok());
    if (r.ok()) {
      EXPECT_EQ(r->status, 200);
      tempopb::TraceByIDResponse resp;
      auto st = pb::JsonStringToMessage(r->body, &resp);
      EXPECT_TRUE(st.ok()) << st.ToString() << "\n" << r->body.substr(0, 200);
      flatten_into(resp.trace().resourcespans(), views["v2-json-h2c"]);
    }
  }
  return views;
}

// The trace is found by TraceQL through /api/search (the JSON decoded as strictly as Grafana does: any unknown key
// fails) and through the gRPC stream Grafana uses when streaming is on, with every span matched.
void expect_found_by_search(uint16_t query_port, const std::string& hex, size_t spans) {
  const std::string q = "{ trace:id = \"" + hex + "\" }";
  std::string stripped = hex.substr(std::min(hex.find_first_not_of('0'), hex.size() - 1));
  auto http = http1_request(query_port, "GET", "/api/search?spss=100&q=" + percent_encode(q));
  ASSERT_TRUE(http.ok()) << http.status().to_string();
  ASSERT_EQ(http->status, 200) << http->body;
  tempopb::SearchResponse found;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(http->body, &found).ok()) << http->body;
  ASSERT_EQ(found.traces_size(), 1) << http->body;
  EXPECT_EQ(found.traces(0).traceid(), stripped);
  ASSERT_EQ(found.traces(0).spansets_size(), 1) << http->body;
  EXPECT_EQ(found.traces(0).spansets(0).matched(), spans) << http->body;

  tempopb::SearchRequest request;
  request.set_query(q);
  request.set_spansperspanset(100);
  auto grpc = grpc_unary(query_port, "/tempopb.StreamingQuerier/Search", request.SerializeAsString());
  ASSERT_TRUE(grpc.ok()) << grpc.status().to_string();
  ASSERT_EQ(grpc->grpc_status, 0) << grpc->grpc_message;
  ASSERT_FALSE(grpc->messages.empty());
  tempopb::SearchResponse last;
  ASSERT_TRUE(last.ParseFromString(grpc->messages.back()));
  ASSERT_EQ(last.traces_size(), 1);
  EXPECT_EQ(last.traces(0).traceid(), stripped);
  ASSERT_EQ(last.traces(0).spansets_size(), 1);
  EXPECT_EQ(last.traces(0).spansets(0).matched(), spans);
}

TEST_P(RealClientsTest, EverySpanComesBackFieldForField) {
  const ClientCase& c = GetParam();
  TestServer server;
  Server& s = server.start();
  std::string out_file = ::testing::TempDir() + "expected-" + c.name + ".pb";
  std::vector<std::string> argv = c.argv_prefix;
  std::string url = c.grpc ? "http://127.0.0.1:" + std::to_string(s.otlp_grpc_port())
                           : "http://127.0.0.1:" + std::to_string(s.otlp_http_port()) + "/v1/traces";
  if (c.argv_prefix[0] != kNodeBinary && c.grpc) url = "127.0.0.1:" + std::to_string(s.otlp_grpc_port());
  argv.push_back(url);
  argv.push_back(out_file);
  if (c.gzip) argv.push_back("--gzip");
  int exit_code = -1;
  auto out = run_command(argv, 60, &exit_code);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ(exit_code, 0) << "client failed: " << *out;

  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest sent;
  ASSERT_TRUE(sent.ParseFromString(read_file(out_file))) << "client wrote no expected request";
  FlatTraces expected = flatten_request(sent);
  std::vector<std::string> printed = split_lines(*out);
  ASSERT_FALSE(expected.empty());
  ASSERT_EQ(printed.size(), expected.size()) << *out;
  size_t spans = 0;
  for (const auto& [raw_id, spans_expected] : expected) {
    std::string hex = to_hex(raw_id);
    EXPECT_NE(std::find(printed.begin(), printed.end(), hex), printed.end()) << hex;
    spans += spans_expected.size();
    for (const auto& [view, got] : read_back(s.query_port(), hex)) {
      ASSERT_EQ(got.size(), 1u) << view << ": spans of other traces came back";
      EXPECT_EQ(got.begin()->first, raw_id) << view;
      EXPECT_EQ(got.begin()->second, spans_expected) << view << " differs for trace " << hex;
    }
    expect_found_by_search(s.query_port(), hex, spans_expected.size());
  }
  EXPECT_GE(spans, 5u);
}

std::vector<ClientCase> client_cases() {
  std::string emit = kEmitJs;
  return {
      {"js_grpc", {kNodeBinary, emit, "grpc"}, true, false},
      {"js_grpc_gzip", {kNodeBinary, emit, "grpc"}, true, true},
      {"js_http_protobuf", {kNodeBinary, emit, "proto"}, false, false},
      {"js_http_protobuf_gzip", {kNodeBinary, emit, "proto"}, false, true},
      {"js_http_json", {kNodeBinary, emit, "json"}, false, false},
      {"js_http_json_gzip", {kNodeBinary, emit, "json"}, false, true},
      {"cpp_grpc", {kOtelCppEmit, "grpc"}, true, false},
      {"cpp_http_protobuf", {kOtelCppEmit, "http-proto"}, false, false},
      {"cpp_http_json", {kOtelCppEmit, "http-json"}, false, false},
  };
}

INSTANTIATE_TEST_SUITE_P(Clients, RealClientsTest, ::testing::ValuesIn(client_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace spindle
