#include "proto/otlp_json_decoder.h"

#include <google/protobuf/util/field_comparator.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <set>

#include "core/trace_id.h"
#include "proto/base64.h"
#include "proto/json_reader.h"
#include "proto/json_writer.h"
#include "tests/proto/otlp_random.h"

namespace spindle {
namespace {

using testing::OtlpRandom;
using testing::RandomOptions;
namespace otlp_trace = testing::otlp_trace;
namespace otlp_collector = testing::otlp_collector;

bool proto_equal(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  google::protobuf::util::DefaultFieldComparator cmp;
  cmp.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer d;
  d.set_field_comparator(&cmp);
  return d.Compare(a, b);
}

// Turns libprotobuf's proto3 JSON into OTLP/JSON: span/link ids base64 -> hex (random case), and randomly
// 64-bit strings -> bare numbers and extra unknown fields.
class OtlpJsonRewriter {
 public:
  explicit OtlpJsonRewriter(uint64_t seed) : rng_(seed) {}

  void value(const JsonValue& v, std::string_view key, JsonWriter& w) {
    static const std::set<std::string_view> kIds = {"traceId",  "spanId",  "parentSpanId",
                                                    "trace_id", "span_id", "parent_span_id"};
    static const std::set<std::string_view> kInt64 = {
        "startTimeUnixNano",    "endTimeUnixNano",    "timeUnixNano",   "intValue",
        "start_time_unix_nano", "end_time_unix_nano", "time_unix_nano", "int_value"};
    switch (v.type()) {
      case JsonType::Object:
        w.begin_object();
        if (rng_() % 8 == 0) {
          w.key(rng_() % 2 ? "someFutureField" : "entity_refs");
          w.raw(R"({"nested":[1,"two",{"three":null}],"traceId":"not hex"})");
        }
        for (const auto& m : v.members()) {
          w.key(m.key);
          value(m.value, m.key, w);
        }
        w.end_object();
        return;
      case JsonType::Array:
        w.begin_array();
        for (const auto& item : v.items()) value(item, "", w);
        w.end_array();
        return;
      case JsonType::String:
        if (kIds.count(key)) {
          std::string bytes;
          EXPECT_TRUE(append_base64_decoded(v.text(), bytes).is_ok());
          std::string hex = to_hex(bytes);
          if (rng_() % 2) {
            for (auto& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          }
          w.string(hex);
        } else if (kInt64.count(key) && rng_() % 2) {
          w.raw(v.text());
        } else {
          w.string(v.text());
        }
        return;
      case JsonType::Number:
        w.raw(v.text());
        return;
      case JsonType::Bool:
        w.bool_value(v.bool_value());
        return;
      case JsonType::Null:
        w.null_value();
        return;
    }
  }

 private:
  std::mt19937_64 rng_;
};

TEST(OtlpJsonDecoderTest, RandomRequestsRoundTrip) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    RandomOptions opts;
    opts.invalid_ids = true;
    OtlpRandom rnd(seed, opts);
    otlp_collector::ExportTraceServiceRequest req = rnd.request();
    google::protobuf::util::JsonPrintOptions print;
    print.always_print_enums_as_ints = seed % 2 == 0;
    print.preserve_proto_field_names = seed % 3 == 0;
    std::string pb_json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(req, &pb_json, print).ok());
    auto tree = JsonReader::parse(pb_json);
    ASSERT_TRUE(tree.ok()) << tree.status().to_string();
    std::string otlp_json;
    JsonWriter w(otlp_json);
    OtlpJsonRewriter(seed).value(*tree, "", w);

    auto bytes = otlp_json_to_protobuf(otlp_json);
    ASSERT_TRUE(bytes.ok()) << bytes.status().to_string() << "\n" << otlp_json;
    otlp_collector::ExportTraceServiceRequest back;
    ASSERT_TRUE(back.ParseFromString(*bytes));
    EXPECT_TRUE(proto_equal(back, req)) << otlp_json << "\n" << back.DebugString();
    // Canonical field order and zero omission: libprotobuf would serialise it the same way.
    EXPECT_EQ(back.SerializeAsString().size(), bytes->size());
  }
}

TEST(OtlpJsonDecoderTest, SpecExample) {
  const std::string json = R"({
    "resourceSpans": [{
      "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
      "scopeSpans": [{
        "scope": {"name": "my.library", "version": "1.0.0",
                  "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]},
        "spans": [{
          "traceId": "5B8EFFF798038103D269B633813FC60C",
          "spanId": "EEE19B7EC3C1B174",
          "parentSpanId": "",
          "name": "I'm a server span",
          "startTimeUnixNano": "1544712660000000000",
          "endTimeUnixNano": 1544712661000000000,
          "kind": 2,
          "flags": 257,
          "attributes": [
            {"key": "my.span.attr", "value": {"stringValue": "some value"}},
            {"key": "n", "value": {"intValue": 42}},
            {"key": "d", "value": {"doubleValue": "Infinity"}},
            {"key": "b", "value": {"bytesValue": "AQID"}},
            {"key": "l", "value": {"arrayValue": {"values": [{"boolValue": true}, {"intValue": "-7"}]}}},
            {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "x", "value": {"stringValue": ""}}]}}}
          ],
          "status": {"code": "STATUS_CODE_ERROR", "message": "oops"},
          "events": [{"timeUnixNano": "5", "name": "ev", "droppedAttributesCount": "2"}],
          "links": [{"traceId": "00000000000000000000000000000001", "spanId": "0000000000000002",
                     "flags": "1"}]
        }]
      }]
    }]
  })";
  auto bytes = otlp_json_to_protobuf(json);
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  otlp_collector::ExportTraceServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(*bytes));
  const auto& s = req.resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(to_hex(s.trace_id()), "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(to_hex(s.span_id()), "eee19b7ec3c1b174");
  EXPECT_TRUE(s.parent_span_id().empty());
  EXPECT_EQ(s.start_time_unix_nano(), 1544712660000000000ull);
  EXPECT_EQ(s.end_time_unix_nano(), 1544712661000000000ull);
  EXPECT_EQ(s.kind(), otlp_trace::Span::SPAN_KIND_SERVER);
  EXPECT_EQ(s.flags(), 257u);
  EXPECT_EQ(s.attributes(1).value().int_value(), 42);
  EXPECT_EQ(s.attributes(2).value().double_value(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(s.attributes(3).value().bytes_value(), "\x01\x02\x03");
  EXPECT_EQ(s.attributes(4).value().array_value().values(1).int_value(), -7);
  EXPECT_TRUE(s.attributes(5).value().kvlist_value().values(0).value().has_string_value());
  EXPECT_EQ(s.status().code(), otlp_trace::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(s.status().message(), "oops");
  EXPECT_EQ(s.events(0).dropped_attributes_count(), 2u);
  EXPECT_EQ(s.links(0).flags(), 1u);
  EXPECT_EQ(req.resource_spans(0).scope_spans(0).scope().version(), "1.0.0");
}

TEST(OtlpJsonDecoderTest, SnakeCaseNullsAndUnknownFields) {
  auto bytes = otlp_json_to_protobuf(
      R"({"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"01","span_id":null,"name":"n",)"
      R"("start_time_unix_nano":"1","kind":"SPAN_KIND_CLIENT","whatever":{"a":[1]},"status":{}}]}],)"
      R"("unknown":true}],"extra":1})");
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  otlp_collector::ExportTraceServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(*bytes));
  const auto& s = req.resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(s.trace_id(), "\x01");
  EXPECT_TRUE(s.span_id().empty());
  EXPECT_EQ(s.start_time_unix_nano(), 1u);
  EXPECT_EQ(s.kind(), otlp_trace::Span::SPAN_KIND_CLIENT);
  EXPECT_TRUE(s.has_status());
  EXPECT_FALSE(req.resource_spans(0).has_resource());
  auto empty = otlp_json_to_protobuf("{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(OtlpJsonDecoderTest, ErrorsCarryWhatAndOffset) {
  struct Case {
    std::string json;
    std::string message;
  };
  std::vector<Case> cases = {
      {"[]", "invalid OTLP JSON: ExportTraceServiceRequest must be an object at offset 0"},
      {"{\"resourceSpans\":[1,}", "invalid OTLP JSON: unexpected character '}' at offset 20"},
      {R"({"resourceSpans":{}})", "invalid OTLP JSON: resourceSpans must be an array at offset 17"},
      {R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz0"}]}]}]})",
       "invalid OTLP JSON: span.traceId must be a hex string at offset 54"},
      {R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"abc"}]}]}]})",
       "invalid OTLP JSON: span.spanId must have an even number of hex digits at offset 53"},
      {R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SERVER"}]}]}]})",
       "invalid OTLP JSON: span.kind must be an enum number or name at offset 51"},
      {R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"-1"}]}]}]})",
       "invalid OTLP JSON: span.startTimeUnixNano must be an unsigned 64-bit integer at offset 64"},
      {R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"droppedAttributesCount":4294967296}]}]}]})",
       "invalid OTLP JSON: span.droppedAttributesCount must be an unsigned 32-bit integer at offset 69"},
      {R"({"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"intValue":"1.5"}}]}}]})",
       "invalid OTLP JSON: intValue must be a 64-bit integer at offset 76"},
      {R"({"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":{"bytesValue":"@@"}}]}}]})",
       "invalid OTLP JSON: bytesValue must be base64 at offset 78"},
      {R"({"resourceSpans":[{"resource":{"attributes":[{"key":5}]}}]})",
       "invalid OTLP JSON: attribute key must be a string at offset 52"},
  };
  for (const auto& c : cases) {
    auto r = otlp_json_to_protobuf(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), StatusCode::InvalidArgument);
    EXPECT_EQ(r.status().message(), c.message) << c.json;
  }
}

}  // namespace
}  // namespace spindle
