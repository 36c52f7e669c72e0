// The loadgen's ack log (bench/loadgen/ack_log.h): the record format (u32 little-endian length + bytes), the
// reader's handling of a cut-short tail, the writer's flush and truncate behaviour, the OTLP/JSON -> protobuf
// conversion used for http-json, and the --ack-log flag.
#include "bench/loadgen/ack_log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bench/loadgen/loadgen_options.h"
#include "bench/loadgen/request_template.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "tests/support/command.h"
#include "tests/support/temp_dir.h"

namespace spindle {
namespace {

using std::string_literals::operator""s;

TEST(AckLogTest, RecordIsLittleEndianLengthThenTheBytes) {
  std::string out;
  append_ack_record("abc", out);
  EXPECT_EQ(out, "\x03\x00\x00\x00"s + "abc");
  out.clear();
  append_ack_record(std::string(0x010203, 'x'), out);
  ASSERT_EQ(out.size(), 4u + 0x010203);
  EXPECT_EQ(out.substr(0, 4), "\x03\x02\x01\x00"s);
  out.clear();
  append_ack_record("", out);
  EXPECT_EQ(out, "\x00\x00\x00\x00"s);
}

TEST(AckLogTest, RecordsReadBackInOrder) {
  const std::vector<std::string> records = {"first", "", std::string(300, '\0'), "\xff\xfe"s, "last"};
  std::string log;
  for (const auto& r : records) append_ack_record(r, log);
  auto parsed = parse_ack_records(log);
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(*parsed, records);

  auto empty = parse_ack_records("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(AckLogTest, CutShortTailIsDataLossNamingTheOffset) {
  std::string log;
  append_ack_record("complete", log);
  const size_t second = log.size();
  append_ack_record("cut short", log);
  for (size_t cut = second + 1; cut < log.size(); ++cut) {
    SCOPED_TRACE(cut);
    std::vector<std::string> seen;
    Status s = for_each_ack_record(std::string_view(log).substr(0, cut), [&](std::string_view r) {
      seen.emplace_back(r);
      return Status::ok();
    });
    EXPECT_EQ(s.code(), StatusCode::DataLoss);
    EXPECT_NE(s.message().find("offset " + std::to_string(second)), std::string::npos) << s.message();
    EXPECT_EQ(seen, std::vector<std::string>{"complete"});  // whole records before the tail still count
  }
}

TEST(AckLogTest, VisitorErrorStopsTheWalk) {
  std::string log;
  append_ack_record("a", log);
  append_ack_record("b", log);
  int calls = 0;
  Status s = for_each_ack_record(log, [&](std::string_view) {
    ++calls;
    return invalid_argument("stop");
  });
  EXPECT_EQ(s.code(), StatusCode::InvalidArgument);
  EXPECT_EQ(calls, 1);
}

TEST(AckLogTest, WriterAppendsOnFlushAndTruncatesOnCreate) {
  TempDir dir("acklog");
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.path() + "/acks";
  {
    auto w = AckLogWriter::create(path);
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    (*w)->add("one");
    EXPECT_EQ(read_file(path), "");  // buffered until flush
    ASSERT_TRUE((*w)->flush().is_ok());
    (*w)->add("two");
    (*w)->add("three");
    ASSERT_TRUE((*w)->flush().is_ok());
    (*w)->add("four");
    EXPECT_EQ((*w)->records(), 4u);
  }  // the destructor flushes "four"
  auto parsed = parse_ack_records(read_file(path));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, (std::vector<std::string>{"one", "two", "three", "four"}));

  auto again = AckLogWriter::create(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(read_file(path), "");
}

TEST(AckLogTest, CreateFailsOnAnUnwritablePath) {
  auto w = AckLogWriter::create("/nonexistent-dir/acks");
  EXPECT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("/nonexistent-dir/acks"), std::string::npos);
}

// The http-json ack record is the protobuf equivalent of the JSON that was sent: the same template shape and
// seed in protobuf, patched with the same IDs and times, serializes to the same message.
TEST(AckLogTest, JsonRequestConvertsToItsProtobufEquivalent) {
  RequestShape shape;
  shape.spans_per_request = 20;
  shape.spans_per_trace = 5;
  shape.events = 0.5;
  auto json_t = RequestTemplate::build(shape, PayloadFormat::Json, 42);
  auto pb_t = RequestTemplate::build(shape, PayloadFormat::Protobuf, 42);
  ASSERT_TRUE(json_t.ok() && pb_t.ok());
  Rng rng_json(7), rng_pb(7);
  std::string json = json_t->bytes(), pb = pb_t->bytes();
  std::vector<TraceId> json_ids, pb_ids;
  json_t->patch(rng_json, 1'750'000'000'000'000'000ull, json.data(), json_ids);
  pb_t->patch(rng_pb, 1'750'000'000'000'000'000ull, pb.data(), pb_ids);
  ASSERT_EQ(json_ids, pb_ids);

  auto converted = otlp_json_to_protobuf(json);
  ASSERT_TRUE(converted.ok()) << converted.status().to_string();
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest got, want;
  ASSERT_TRUE(got.ParseFromString(*converted));
  ASSERT_TRUE(want.ParseFromString(pb));
  EXPECT_EQ(got.SerializeAsString(), want.SerializeAsString());
  ASSERT_GT(got.resource_spans_size(), 0);
  const auto& span = got.resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(span.trace_id(), std::string(json_ids[0].as_view()));
  EXPECT_EQ(span.span_id().size(), 8u);
}

TEST(AckLogTest, BadJsonIsInvalidArgument) {
  EXPECT_EQ(otlp_json_to_protobuf("{\"resourceSpans\":[").status().code(), StatusCode::InvalidArgument);
  EXPECT_EQ(otlp_json_to_protobuf("{\"traceId\":\"abz\"}").status().code(), StatusCode::InvalidArgument);
}

TEST(AckLogTest, FlagTakesAFileName) {
  auto o = parse_loadgen_options({"--ack-log", "/tmp/x.acks"});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->ack_log, "/tmp/x.acks");
  auto eq = parse_loadgen_options({"--ack-log=/tmp/y.acks"});
  ASSERT_TRUE(eq.ok());
  EXPECT_EQ(eq->ack_log, "/tmp/y.acks");
  EXPECT_FALSE(parse_loadgen_options({"--ack-log="}).ok());
  EXPECT_FALSE(parse_loadgen_options({"--ack-log"}).ok());
  EXPECT_TRUE(parse_loadgen_options({})->ack_log.empty());
}

}  // namespace
}  // namespace spindle
