#include "proto/otlp_encoder.h"

#include <google/protobuf/unknown_field_set.h>
#include <gtest/gtest.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "proto/json_reader.h"

namespace spindle {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;

TEST(OtlpEncoderTest, ExportResponseProtobuf) {
  EXPECT_EQ(encode_export_response(0, ""), "");
  ExportTraceServiceResponse r;
  ASSERT_TRUE(r.ParseFromString(encode_export_response(3, "span 'x': trace_id must be 16 bytes, got 5")));
  EXPECT_TRUE(r.has_partial_success());
  EXPECT_EQ(r.partial_success().rejected_spans(), 3);
  EXPECT_EQ(r.partial_success().error_message(), "span 'x': trace_id must be 16 bytes, got 5");
  // A warning without rejections is still a partial_success.
  ASSERT_TRUE(r.ParseFromString(encode_export_response(0, "w")));
  EXPECT_EQ(r.partial_success().rejected_spans(), 0);
  EXPECT_EQ(r.partial_success().error_message(), "w");
  // Long messages need a multi-byte length.
  std::string long_message(300, 'm');
  ASSERT_TRUE(r.ParseFromString(encode_export_response(1ull << 40, long_message)));
  EXPECT_EQ(r.partial_success().rejected_spans(), 1ll << 40);
  EXPECT_EQ(r.partial_success().error_message(), long_message);
  // Byte-identical to libprotobuf's serialisation.
  ExportTraceServiceResponse e;
  e.mutable_partial_success()->set_rejected_spans(1);
  e.mutable_partial_success()->set_error_message("x");
  EXPECT_EQ(encode_export_response(1, "x"), e.SerializeAsString());
}

TEST(OtlpEncoderTest, ExportResponseJson) {
  EXPECT_EQ(export_response_json(0, ""), "{}");
  EXPECT_EQ(export_response_json(2, "bad \"id\""),
            R"({"partialSuccess":{"rejectedSpans":"2","errorMessage":"bad \"id\""}})");
  EXPECT_EQ(export_response_json(2, ""), R"({"partialSuccess":{"rejectedSpans":"2"}})");
}

TEST(OtlpEncoderTest, RpcStatus) {
  google::protobuf::UnknownFieldSet fields;
  ASSERT_TRUE(fields.ParseFromString(encode_rpc_status(3, "invalid OTLP JSON: x at offset 1")));
  ASSERT_EQ(fields.field_count(), 2);
  EXPECT_EQ(fields.field(0).number(), 1);
  EXPECT_EQ(fields.field(0).varint(), 3u);
  EXPECT_EQ(fields.field(1).number(), 2);
  EXPECT_EQ(fields.field(1).length_delimited(), "invalid OTLP JSON: x at offset 1");
  EXPECT_EQ(encode_rpc_status(0, ""), "");
  ASSERT_TRUE(fields.ParseFromString(encode_rpc_status(-1, "")));
  EXPECT_EQ(static_cast<int32_t>(fields.field(0).varint()), -1);
  EXPECT_EQ(rpc_status_json(3, "bad <input>"), R"({"code":3,"message":"bad \u003cinput\u003e"})");
  EXPECT_EQ(rpc_status_json(14, ""), R"({"code":14})");
  EXPECT_TRUE(JsonReader::parse(rpc_status_json(8, "a\nb")).ok());
}

}  // namespace
}  // namespace spindle
