// Search columns: what ColumnPageBuilder extracts from a trace (including the encodings it must call unknown),
// the page and footer round trip, and damaged bytes giving DataLoss instead of a crash. The block files
// themselves are exercised through BlockWriter/BlockReader.
#include "storage/search_columns.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "storage/block_reader.h"
#include "storage/block_writer.h"
#include "tests/storage/block_test_util.h"

namespace spindle {
namespace {

namespace otlp = opentelemetry::proto;

std::string_view string_of(const ColumnPage& page, StringColumn col, uint32_t v) {
  return page.dicts[static_cast<size_t>(col)][v - kFirstDictString];
}

otlp::trace::v1::Span span(const std::string& name, uint64_t start, uint64_t end) {
  otlp::trace::v1::Span s;
  s.set_trace_id(std::string(16, '\x01'));
  s.set_span_id(std::string(8, '\x02'));
  s.set_name(name);
  s.set_start_time_unix_nano(start);
  s.set_end_time_unix_nano(end);
  return s;
}

void add_string(google::protobuf::RepeatedPtrField<otlp::common::v1::KeyValue>* kvs, const std::string& k,
                const std::string& v) {
  auto* kv = kvs->Add();
  kv->set_key(k);
  kv->mutable_value()->set_string_value(v);
}

// One ResourceSpans per entry: (resource, spans).
std::string trace_of(const std::vector<std::pair<otlp::resource::v1::Resource,
                                                 std::vector<otlp::trace::v1::Span>>>& parts) {
  tempopb::Trace t;
  for (const auto& [res, spans] : parts) {
    auto* rs = t.add_resourcespans();
    *rs->mutable_resource() = res;
    auto* ss = rs->add_scope_spans();
    for (const auto& s : spans) *ss->add_spans() = s;
  }
  return t.SerializeAsString();
}

ColumnPage build_page(const std::vector<std::string>& traces, ColumnPageEntry& entry, std::string& raw,
                      ColumnBlockSummary* summary = nullptr) {
  ColumnPageBuilder b;
  for (const std::string& t : traces) EXPECT_TRUE(b.add_row(t).ok());
  raw = b.take_page(entry);
  if (summary != nullptr) *summary = b.summary();
  ColumnPage page;
  EXPECT_TRUE(page.decode(raw, static_cast<uint32_t>(traces.size())).is_ok());
  return page;
}

TEST(SearchColumnsTest, ExtractsServiceNameMethodStatusKindAndDuration) {
  otlp::resource::v1::Resource res;
  add_string(res.mutable_attributes(), "host", "h1");
  add_string(res.mutable_attributes(), "service.name", "cart");
  auto a = span("GET /cart", 1000, 4000);
  add_string(a.mutable_attributes(), "http.method", "GET");
  a.mutable_status()->set_code(otlp::trace::v1::Status::STATUS_CODE_ERROR);
  a.set_kind(otlp::trace::v1::Span::SPAN_KIND_SERVER);
  auto b = span("", 5000, 4000);  // end before start: duration 0, as TraceQL reads it
  b.mutable_status()->set_code(static_cast<otlp::trace::v1::Status::StatusCode>(7));  // unknown: unset
  b.set_kind(static_cast<otlp::trace::v1::Span::SpanKind>(9));                        // unknown: unspecified
  ColumnPageEntry entry;
  std::string raw;
  ColumnBlockSummary summary;
  ColumnPage page = build_page({trace_of({{res, {a, b}}})}, entry, raw, &summary);
  ASSERT_EQ(page.rows.size(), 1u);
  EXPECT_EQ(page.rows[0].start_ns, 1000u);
  EXPECT_EQ(page.rows[0].end_ns, 5000u);
  ASSERT_EQ(page.rows[0].span_count, 2u);
  const SpanColumns& sa = page.spans[0];
  const SpanColumns& sb = page.spans[1];
  EXPECT_EQ(string_of(page, StringColumn::Service, sa.str[0]), "cart");
  EXPECT_EQ(string_of(page, StringColumn::Name, sa.str[1]), "GET /cart");
  EXPECT_EQ(string_of(page, StringColumn::HttpMethod, sa.str[2]), "GET");
  EXPECT_EQ(sa.status, 2);
  EXPECT_EQ(sa.kind, 2);
  EXPECT_EQ(sa.duration_ns, 3000u);
  EXPECT_EQ(sb.str[0], sa.str[0]);  // one dictionary entry per distinct value
  EXPECT_EQ(string_of(page, StringColumn::Name, sb.str[1]), "");
  EXPECT_EQ(sb.str[2], kAbsentString);
  EXPECT_EQ(sb.status, 0);
  EXPECT_EQ(sb.kind, 0);
  EXPECT_EQ(sb.duration_ns, 0u);
  EXPECT_EQ(entry.rows, 1u);
  EXPECT_EQ(entry.spans, 2u);
  EXPECT_EQ(entry.min_duration_ns, 0u);
  EXPECT_EQ(entry.max_duration_ns, 3000u);
  EXPECT_EQ(entry.status_mask, 0b101);
  EXPECT_EQ(entry.kind_mask, 0b101);
  EXPECT_EQ(summary.dicts[0], std::vector<std::string>{"cart"});
  EXPECT_EQ(summary.dicts[1], (std::vector<std::string>{"GET /cart", ""}));
  EXPECT_EQ(entry.values[1].ids, (std::vector<uint16_t>{0, 1}));
  EXPECT_FALSE(summary.values[0].absent);
  EXPECT_TRUE(summary.values[2].absent);
  EXPECT_FALSE(summary.values[2].unknown);
  EXPECT_TRUE(entry.values[2].absent);
}

TEST(SearchColumnsTest, SummaryCountsSpansAndTimeRange) {
  otlp::resource::v1::Resource res;
  auto summary_of = [](const std::string& trace) {
    ColumnPageBuilder b;
    auto s = b.add_row(trace);
    EXPECT_TRUE(s.ok());
    return s.ok() ? *s : TraceSummary{};
  };
  TraceSummary s = summary_of(trace_of({{res, {span("x", 500, 900), span("y", 300, 700)}},
                                        {res, {span("z", 0, 1200)}}}));  // unset start ignored
  EXPECT_EQ(s.spans, 3u);
  EXPECT_EQ(s.start_ns, 300u);
  EXPECT_EQ(s.end_ns, 1200u);
  TraceSummary empty = summary_of("");
  EXPECT_EQ(empty.spans, 0u);
  EXPECT_EQ(empty.start_ns, 0u);
  EXPECT_EQ(empty.end_ns, 0u);
  TraceSummary only_end = summary_of(trace_of({{res, {span("x", 0, 800)}}}));
  EXPECT_EQ(only_end.start_ns, 800u);
  EXPECT_EQ(only_end.end_ns, 800u);
  TraceSummary inverted = summary_of(trace_of({{res, {span("x", 900, 100)}}}));  // the range covers the start
  EXPECT_EQ(inverted.start_ns, 900u);
  EXPECT_EQ(inverted.end_ns, 900u);
}

TEST(SearchColumnsTest, OddEncodingsAreUnknownNotGuessed) {
  // The first service.name is an int: TraceQL sees the int, so the later string must not be taken.
  otlp::resource::v1::Resource int_first;
  auto* kv = int_first.add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_int_value(3);
  add_string(int_first.mutable_attributes(), "service.name", "late");
  // A bytes value, and a KeyValue without a value.
  otlp::resource::v1::Resource bytes_value;
  kv = bytes_value.add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_bytes_value("raw");
  auto s = span("x", 1, 2);
  s.add_attributes()->set_key("http.method");
  otlp::resource::v1::Resource none;
  ColumnPageEntry entry;
  std::string raw;
  ColumnBlockSummary summary;
  ColumnPage page =
      build_page({trace_of({{int_first, {s}}, {bytes_value, {s}}, {none, {span("y", 1, 2)}}})}, entry, raw, &summary);
  ASSERT_EQ(page.spans.size(), 3u);
  EXPECT_EQ(page.spans[0].str[0], kUnknownString);
  EXPECT_EQ(page.spans[1].str[0], kUnknownString);
  EXPECT_EQ(page.spans[2].str[0], kAbsentString);
  EXPECT_EQ(page.spans[0].str[2], kUnknownString);
  EXPECT_EQ(page.spans[2].str[2], kAbsentString);
  EXPECT_TRUE(summary.values[0].unknown);
  EXPECT_TRUE(summary.values[0].absent);
  EXPECT_TRUE(summary.dicts[0].empty());
}

TEST(SearchColumnsTest, MalformedTraceLeavesThePageUntouched) {
  ColumnPageBuilder b;
  otlp::resource::v1::Resource res;
  add_string(res.mutable_attributes(), "service.name", "a");
  ASSERT_TRUE(b.add_row(trace_of({{res, {span("one", 1, 2)}}})).ok());
  const std::string good = trace_of({{res, {span("two", 1, 2)}}});
  for (size_t cut = 1; cut < good.size(); ++cut) {  // every prefix is malformed
    auto r = b.add_row(good.substr(0, cut));
    ASSERT_FALSE(r.ok()) << cut;
    EXPECT_EQ(r.status().code(), StatusCode::InvalidArgument);
  }
  ColumnPageEntry entry;
  std::string raw = b.take_page(entry);
  ColumnPage page;
  ASSERT_TRUE(page.decode(raw, 1).is_ok());
  EXPECT_EQ(entry.rows, 1u);
  EXPECT_EQ(page.dicts[1].size(), 1u);
}

TEST(SearchColumnsTest, DamagedPagesAndFootersAreDataLoss) {
  otlp::resource::v1::Resource res;
  add_string(res.mutable_attributes(), "service.name", "a");
  ColumnPageEntry entry;
  std::string raw;
  ColumnBlockSummary summary;
  build_page({trace_of({{res, {span("one", 1, 2), span("two", 3, 9)}}}), trace_of({{res, {span("x", 1, 2)}}})},
             entry, raw, &summary);
  ColumnPage page;
  for (size_t cut = 0; cut < raw.size(); ++cut) {
    EXPECT_EQ(page.decode(std::string_view(raw).substr(0, cut), 2).code(), StatusCode::DataLoss) << cut;
  }
  EXPECT_EQ(page.decode(raw, 1).code(), StatusCode::DataLoss);  // trailing row
  EXPECT_EQ(page.decode(raw, 3).code(), StatusCode::DataLoss);  // missing row

  entry.offset = 0;
  entry.size = 10;
  std::string footer = encode_column_footer(summary, {entry});
  std::string trailer = encode_column_trailer(footer);
  ColumnBlockSummary s2;
  std::vector<ColumnPageEntry> entries;
  ASSERT_TRUE(decode_column_trailer(trailer).ok());
  EXPECT_EQ(*decode_column_trailer(trailer), footer.size());
  ASSERT_TRUE(check_column_footer(footer, trailer).is_ok());
  ASSERT_TRUE(decode_column_footer(footer, 10, s2, entries).is_ok());
  EXPECT_EQ(s2.dicts[1], summary.dicts[1]);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].values[1].ids, entry.values[1].ids);
  EXPECT_EQ(entries[0].spans, 3u);
  EXPECT_EQ(entries[0].max_duration_ns, 6u);
  EXPECT_EQ(decode_column_footer(footer, 9, s2, entries).code(), StatusCode::DataLoss);  // page past the file
  for (size_t cut = 0; cut < footer.size(); ++cut) {
    EXPECT_EQ(decode_column_footer(footer.substr(0, cut), 10, s2, entries).code(), StatusCode::DataLoss) << cut;
  }
  std::string flipped = footer;
  flipped[flipped.size() / 2] ^= 0x40;
  EXPECT_EQ(check_column_footer(flipped, trailer).code(), StatusCode::DataLoss);
  std::string bad_magic = trailer;
  bad_magic.back() = 'X';
  EXPECT_FALSE(decode_column_trailer(bad_magic).ok());
}

// A block's `search` file read back through BlockReader: one column page per data page, rows aligned; a
// damaged file leaves the block readable without columns.
TEST(SearchColumnsTest, BlockReaderOpensColumnsAndSurvivesDamagedOnes) {
  TempDir dir;
  BlockWriteOptions options;
  options.page_bytes = 600;  // several pages
  BlockWriter w(dir.path(), options);
  std::mt19937_64 rng(7);
  std::vector<TraceId> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(testing::random_id(rng));
  std::sort(ids.begin(), ids.end());
  for (const TraceId& id : ids) {
    ASSERT_TRUE(w.add(id, testing::random_trace(rng, id, 1'000'000'000).SerializeAsString()).is_ok());
  }
  auto meta = w.finish();
  ASSERT_TRUE(meta.ok());
  const std::string block_dir = dir.path() + "/" + meta->block_id;
  {
    auto r = BlockReader::open(block_dir);
    ASSERT_TRUE(r.ok());
    BlockReader& reader = **r;
    ASSERT_TRUE(reader.has_columns());
    ASSERT_GT(reader.pages(), 2u);
    ASSERT_EQ(reader.column_index().size(), reader.pages());
    uint64_t spans = 0;
    for (size_t p = 0; p < reader.pages(); ++p) {
      std::string raw, column_raw;
      std::vector<BlockRow> rows;
      ColumnPage columns;
      ASSERT_TRUE(reader.load_page(p, raw, rows).is_ok());
      ASSERT_TRUE(reader.load_columns(p, column_raw, columns).is_ok());
      ASSERT_EQ(columns.rows.size(), rows.size());
      for (size_t i = 0; i < rows.size(); ++i) {
        EXPECT_EQ(columns.rows[i].start_ns, rows[i].start_ns);
        EXPECT_EQ(columns.rows[i].end_ns, rows[i].end_ns);
        spans += columns.rows[i].span_count;
      }
    }
    EXPECT_EQ(spans, meta->spans);
  }
  // Damage the footer: the block still opens, without columns.
  const std::string search_path = block_dir + "/search";
  std::string bytes = testing::read_file(search_path);
  bytes[bytes.size() - 20] ^= 0x01;
  testing::write_file(search_path, bytes);
  auto r = BlockReader::open(block_dir);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE((*r)->has_columns());
  EXPECT_TRUE((*r)->find(ids[3]).ok());
}

}  // namespace
}  // namespace spindle
