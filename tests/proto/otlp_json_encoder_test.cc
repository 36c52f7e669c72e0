#include "proto/otlp_json_encoder.h"

#include <google/protobuf/util/field_comparator.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "proto/json_reader.h"
#include "tempopb/tempo.pb.h"
#include "tests/proto/otlp_random.h"

namespace spindle {
namespace {

using testing::OtlpRandom;
using testing::RandomOptions;
namespace otlp_trace = testing::otlp_trace;

bool proto_equal(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  google::protobuf::util::DefaultFieldComparator cmp;
  cmp.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer d;
  d.set_field_comparator(&cmp);
  return d.Compare(a, b);
}

tempopb::Trace random_trace(uint64_t seed) {
  RandomOptions opts;
  opts.invalid_ids = true;  // any bytes are fine here
  OtlpRandom rnd(seed, opts);
  auto req = rnd.request();
  tempopb::Trace t;
  t.mutable_resourcespans()->Swap(req.mutable_resource_spans());
  return t;
}

TEST(OtlpJsonEncoderTest, LibprotobufParsesOurJsonBackToTheSameTrace) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    tempopb::Trace t = random_trace(seed);
    std::string json = "prefix";
    ASSERT_TRUE(append_trace_json(t.SerializeAsString(), "batches", json).is_ok());
    ASSERT_EQ(json.rfind("prefix", 0), 0u);
    json.erase(0, 6);
    ASSERT_TRUE(JsonReader::parse(json).ok()) << json;
    ASSERT_EQ(json.rfind("{\"batches\":", 0), 0u) << json;
    json.replace(0, 11, "{\"resourceSpans\":");
    tempopb::Trace back;
    auto st = google::protobuf::util::JsonStringToMessage(json, &back);
    ASSERT_TRUE(st.ok()) << st.ToString() << "\n" << json;
    EXPECT_TRUE(proto_equal(back, t)) << json;
  }
}

TEST(OtlpJsonEncoderTest, ExactTextForASmallTrace) {
  tempopb::Trace t;
  auto* rs = t.add_resourcespans();
  auto* kv = rs->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("shop");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("otel-go");
  auto* s = ss->add_spans();
  s->set_trace_id(std::string("\x00\x00\x00\x00\x00\x00\x00\x00\x1b\x1b\xa4\x62\xb4\x09\x20\x0d", 16));
  s->set_span_id(std::string("\x00\x00\x00\x00\x00\x00\x00\x01", 8));
  s->set_name("GET /cart");
  s->set_kind(otlp_trace::Span::SPAN_KIND_SERVER);
  s->set_start_time_unix_nano(1700000000000000000ull);
  s->set_end_time_unix_nano(1700000000250000000ull);
  auto* a = s->add_attributes();
  a->set_key("http.status_code");
  a->mutable_value()->set_int_value(200);
  auto* z = s->add_attributes();
  z->set_key("zero");
  z->mutable_value()->set_int_value(0);
  s->mutable_status();
  std::string json;
  ASSERT_TRUE(append_trace_json(t.SerializeAsString(), "batches", json).is_ok());
  EXPECT_EQ(
      json,
      R"({"batches":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},)"
      R"("scopeSpans":[{"scope":{"name":"otel-go"},"spans":[{"traceId":"AAAAAAAAAAAbG6RitAkgDQ==",)"
      R"("spanId":"AAAAAAAAAAE=","name":"GET /cart","kind":"SPAN_KIND_SERVER",)"
      R"("startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000250000000",)"
      R"("attributes":[{"key":"http.status_code","value":{"intValue":"200"}},)"
      R"({"key":"zero","value":{"intValue":"0"}}],"status":{}}]}]}]})");

  s->mutable_status()->set_code(otlp_trace::Status::STATUS_CODE_ERROR);
  s->mutable_status()->set_message("boom");
  s->set_kind(static_cast<otlp_trace::Span_SpanKind>(42));
  s->set_flags(257);
  s->set_dropped_links_count(3);
  auto* d = s->add_attributes();
  d->set_key("d");
  d->mutable_value()->set_double_value(std::numeric_limits<double>::quiet_NaN());
  auto* e = s->add_events();
  e->set_time_unix_nano(5);
  e->set_name("ev");
  std::string json2;
  ASSERT_TRUE(append_trace_json(t.SerializeAsString(), "resourceSpans", json2).is_ok());
  EXPECT_EQ(json2.rfind("{\"resourceSpans\":[", 0), 0u);
  EXPECT_NE(json2.find(R"("flags":257,"name":"GET /cart","kind":42,)"), std::string::npos) << json2;
  EXPECT_NE(json2.find(R"({"key":"d","value":{"doubleValue":"NaN"}})"), std::string::npos) << json2;
  EXPECT_NE(json2.find(R"("events":[{"timeUnixNano":"5","name":"ev"}],"droppedLinksCount":3,)"
                       R"("status":{"message":"boom","code":"STATUS_CODE_ERROR"}})"),
            std::string::npos)
      << json2;
}

TEST(OtlpJsonEncoderTest, EmptyTraceAndMalformedInput) {
  std::string json;
  ASSERT_TRUE(append_trace_json("", "batches", json).is_ok());
  EXPECT_EQ(json, "{}");
  json = "keep";
  Status st = append_trace_json(std::string("\x0A\x05\x01", 3), "batches", json);
  EXPECT_EQ(st.code(), StatusCode::InvalidArgument);
  EXPECT_EQ(st.message(), "malformed Trace protobuf: length 5 exceeds the 1 remaining bytes at offset 1");
  EXPECT_EQ(json, "keep");
}

TEST(OtlpJsonEncoderTest, MergesRepeatedSingularMessagesAndSkipsUnknownFields) {
  // Status present twice: protobuf merges them.
  otlp_trace::Span a;
  a.mutable_status()->set_message("m");
  otlp_trace::Span b;
  b.mutable_status()->set_code(otlp_trace::Status::STATUS_CODE_OK);
  otlp_trace::Span merged = a;
  merged.MergeFrom(b);
  std::string span_bytes = a.SerializeAsString() + b.SerializeAsString() + std::string("\xF8\x07\x01", 3);
  tempopb::Trace t;
  *t.add_resourcespans()->add_scope_spans()->add_spans() = merged;
  std::string want;
  ASSERT_TRUE(append_trace_json(t.SerializeAsString(), "batches", want).is_ok());
  // Same trace built by hand with the split status and an unknown field.
  std::string ss = std::string("\x12") + static_cast<char>(span_bytes.size()) + span_bytes;
  std::string rs = std::string("\x12") + static_cast<char>(ss.size()) + ss;
  std::string trace = std::string("\x0A") + static_cast<char>(rs.size()) + rs;
  std::string got;
  ASSERT_TRUE(append_trace_json(trace, "batches", got).is_ok());
  EXPECT_EQ(got, want);
}

TEST(OtlpJsonEncoderTest, RandomBytesNeverCrash) {
  std::mt19937_64 rng(9);
  std::string valid = random_trace(3).SerializeAsString();
  for (int i = 0; i < 3000; ++i) {
    std::string m = valid;
    if (i % 2 == 0) {
      m.resize(rng() % (m.size() + 1));
    } else {
      m[rng() % m.size()] ^= static_cast<char>(1 << (rng() % 8));
    }
    std::string out;
    Status st = append_trace_json(m, "batches", out);
    if (st.is_ok()) {
      EXPECT_TRUE(JsonReader::parse(out).ok()) << out;
    } else {
      EXPECT_TRUE(out.empty());
    }
  }
}

}  // namespace
}  // namespace spindle
