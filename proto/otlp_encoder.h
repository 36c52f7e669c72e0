#pragma once
// Hand-written encoders for the small OTLP/gRPC reply messages.
//
// ExportTraceServiceResponse (opentelemetry/proto/collector/trace/v1/trace_service.proto):
//   1 partial_success ExportTracePartialSuccess { 1 rejected_spans int64, 2 error_message string }
//   The message is empty (zero bytes) on full success: rejected_spans == 0 and no message.
//   JSON (OTLP/HTTP): `{}` or `{"partialSuccess":{"rejectedSpans":"N","errorMessage":"..."}}`.
// google.rpc.Status (google/rpc/status.proto), the body of OTLP/HTTP errors and the grpc-status-details-bin
// trailer: 1 code int32, 2 message string (3 details: never written). JSON: `{"code":3,"message":"..."}`.
#include <cstdint>
#include <string>
#include <string_view>

namespace spindle {

std::string encode_export_response(uint64_t rejected_spans, std::string_view error_message);
std::string export_response_json(uint64_t rejected_spans, std::string_view error_message);
std::string encode_rpc_status(int code, std::string_view message);
std::string rpc_status_json(int code, std::string_view message);

}  // namespace spindle
