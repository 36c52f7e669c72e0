#pragma once
// Sending OTLP export requests to a test server and requiring them accepted: a fatal test failure otherwise
// (wrap a call in ASSERT_NO_FATAL_FAILURE where the test must stop there).
#include <gtest/gtest.h>

#include <cstdint>

#include "tests/integration/otlp_fixtures.h"
#include "tests/support/http_client.h"

namespace spindle {

inline constexpr const char* kOtlpExportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

// OTLP/HTTP protobuf to POST /v1/traces on `port`: 200 required.
inline void export_http(uint16_t port, const ExportRequest& req) {
  auto r = http1_request(port, "POST", "/v1/traces", {{"Content-Type", "application/x-protobuf"}},
                         req.SerializeAsString());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->status, 200) << r->body;
}

// OTLP/gRPC TraceService/Export on `port`: grpc-status 0 required.
inline void export_grpc(uint16_t port, const ExportRequest& req) {
  auto r = grpc_unary(port, kOtlpExportMethod, req.SerializeAsString());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->grpc_status, 0) << r->grpc_message;
}

}  // namespace spindle
