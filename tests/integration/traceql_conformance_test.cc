// TraceQL conformance end to end: the hand-computed query table of tests/api/traceql/conformance_cases.h (the
// same one the evaluator unit test checks on the trace model) run through /api/search of a 2-shard server, with
// the corpus trace (trace_corpus.h) stored in one of three placements:
//   Head: only in the head (cut rules never fire).
//   Blocks: only in blocks (everything cut before the first query).
//   Split: spans {01,03,05,07} cut into a block by a first server run, spans {02,04,06,08} ingested into the
//   head of a restarted server over the same directories, so the trace and each resource in it is split
//   across a block and the head.
// Search evaluates each stored piece of a trace on its own (as Tempo does per block), so in Split only the
// queries whose answer is a per-span property have a whole-trace answer per piece: a single `{ ... }` filter
// that reads no trace-level or structural intrinsic (see span_local()). Even then the response is not the
// union: the pieces' spansets share an identity and SearchCombiner keeps the one with more matched spans (as
// Tempo's combiner does), so Split expects the hand-computed set restricted to the larger piece. Structural
// operators, pipelines and trace-level intrinsics are covered across placements by the two-trace table
// instead, whose Split keeps each trace whole: corpus_trace() in a block, incomplete_trace() in the head.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/query_params.h"
#include "core/trace_id.h"
#include "core/wall_clock.h"
#include "proto/json_reader.h"
#include "tempopb/tempo.pb.h"
#include "tests/api/traceql/conformance_cases.h"
#include "tests/api/traceql/trace_corpus.h"
#include "tests/integration/otlp_export.h"
#include "tests/integration/otlp_fixtures.h"
#include "tests/support/http_client.h"
#include "tests/support/server_metrics.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

namespace spindle {
namespace {

using namespace corpus;

constexpr uint64_t kSecondNs = 1000000000;
constexpr size_t kCorpusSpans = 8;
constexpr size_t kIncompleteSpans = 4;

enum class Placement { Head, Blocks, Split };

std::string placement_name(Placement p) {
  switch (p) {
    case Placement::Head:
      return "Head";
    case Placement::Blocks:
      return "Blocks";
    case Placement::Split:
      return "Split";
  }
  return "?";
}

// Trace IDs as /api/search prints them: lowercase hex without leading zeros.
std::string search_hex(const std::string& raw) {
  std::string hex = to_hex(raw);
  size_t nz = hex.find_first_not_of('0');
  return nz == std::string::npos ? "0" : hex.substr(nz);
}

// The corpus trace (a serialized tempopb::Trace) as an OTLP export request keeping only the spans `keep`
// accepts, moved from kBaseNs to `base_ns`: every query in the tables depends on relative times only, and
// recent timestamps keep the data clear of any age rule.
ExportRequest to_request(const std::string& trace_pb, uint64_t base_ns,
                         const std::function<bool(const std::string& span_id)>& keep) {
  tempopb::Trace trace;
  EXPECT_TRUE(trace.ParseFromString(trace_pb));
  auto shift = [&](uint64_t t) { return t - kBaseNs + base_ns; };
  ExportRequest req;
  for (const auto& rs : trace.resourcespans()) {
    auto* out_rs = req.add_resource_spans();
    *out_rs->mutable_resource() = rs.resource();
    for (const auto& ss : rs.scope_spans()) {
      auto* out_ss = out_rs->add_scope_spans();
      *out_ss->mutable_scope() = ss.scope();
      for (const auto& span : ss.spans()) {
        if (!keep(span.span_id())) continue;
        auto* s = out_ss->add_spans();
        *s = span;
        s->set_start_time_unix_nano(shift(span.start_time_unix_nano()));
        s->set_end_time_unix_nano(shift(span.end_time_unix_nano()));
        for (auto& e : *s->mutable_events()) e.set_time_unix_nano(shift(e.time_unix_nano()));
      }
    }
  }
  return req;
}

size_t span_count(const ExportRequest& req) {
  size_t n = 0;
  for (const auto& rs : req.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) n += static_cast<size_t>(ss.spans_size());
  }
  return n;
}

// True when the whole-trace answer of `q` is the union of its answers on any split of the trace's spans: one
// span filter, nothing after it, and no intrinsic that looks beyond the span (its trace, parent or children).
bool span_local(std::string_view q) {
  std::string bare;  // q without string literals, whose contents could look like syntax
  bool in_string = false;
  for (size_t i = 0; i < q.size(); ++i) {
    char c = q[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    bare.push_back(c);
  }
  size_t open = bare.find('{');
  size_t close = bare.find('}');
  if (open != 0 || close != bare.size() - 1 || bare.find('{', open + 1) != std::string::npos) return false;
  for (const char* non_local :
       {"trace:", "traceDuration", "rootName", "rootServiceName", "parent.", "childCount", "nestedSet"}) {
    if (bare.find(non_local) != std::string::npos) return false;
  }
  return true;
}

// Span names per trace ID (search_hex form) over every spanset of every returned trace.
using Found = std::map<std::string, std::set<std::string>>;

class TraceqlConformanceTest : public ::testing::TestWithParam<Placement> {
 protected:
  void SetUp() override { base_ns_ = (wall_now_s() - 300) * kSecondNs; }

  void TearDown() override {
    if (server_ == nullptr) return;
    // Each placement must really have answered from where it claims.
    const int64_t cut = scrape_metric(query(), "spindle_storage_cut_spans_total");
    const int64_t head = scrape_metric(query(), "spindle_head_spans");
    if (GetParam() == Placement::Blocks) {
      EXPECT_EQ(head, 0);
    } else {
      EXPECT_EQ(cut, 0);  // the (restarted, for Split) server cut nothing: its spans are in the head
      EXPECT_EQ(head, static_cast<int64_t>(head_spans_));
    }
  }

  Config keeping_head() const { return test_config_keeping_head(dir_.path()); }
  Config cutting_fast() const { return test_config_cutting_fast(dir_.path()); }
  void start(Config c) {
    server_ = std::make_unique<TestServer>(std::move(c));
    server_->start();
  }
  uint16_t query() { return (*server_)->query_port(); }

  // Alternates the receivers: OTLP/HTTP protobuf, then OTLP/gRPC.
  void ingest(const ExportRequest& req) {
    if (sent_++ % 2 == 0) {
      export_http((*server_)->otlp_http_port(), req);
    } else {
      export_grpc((*server_)->otlp_grpc_port(), req);
    }
  }
  void wait_for_cut(size_t spans) {
    uint16_t port = query();
    bool cut = eventually([&] {
      return scrape_metric(port, "spindle_storage_cut_spans_total") == static_cast<int64_t>(spans) &&
             scrape_metric(port, "spindle_head_spans") == 0;
    });
    ASSERT_TRUE(cut) << "cut_spans_total=" << scrape_metric(port, "spindle_storage_cut_spans_total")
                     << " head_spans=" << scrape_metric(port, "spindle_head_spans") << " (wanted " << spans
                     << ")";
  }
  void wait_for_head(size_t spans) {
    uint16_t port = query();
    ASSERT_TRUE(eventually([&] {
      return scrape_metric(port, "spindle_head_spans") == static_cast<int64_t>(spans);
    })) << "head_spans="
        << scrape_metric(port, "spindle_head_spans") << " (wanted " << spans << ")";
  }

  // Stores `whole` (each request a whole trace or trace piece) per the placement; in Split, `to_blocks` goes
  // through a first server run that cuts it, and `to_head` is ingested after a restart that never cuts.
  void place(const std::vector<ExportRequest>& whole, const std::vector<ExportRequest>& to_blocks,
             const std::vector<ExportRequest>& to_head) {
    size_t total = 0;
    for (const auto& r : whole) total += span_count(r);
    switch (GetParam()) {
      case Placement::Head:
        start(keeping_head());
        for (const auto& r : whole) ASSERT_NO_FATAL_FAILURE(ingest(r));
        head_spans_ = total;
        ASSERT_NO_FATAL_FAILURE(wait_for_head(total));
        break;
      case Placement::Blocks:
        start(cutting_fast());
        for (const auto& r : whole) ASSERT_NO_FATAL_FAILURE(ingest(r));
        ASSERT_NO_FATAL_FAILURE(wait_for_cut(total));
        break;
      case Placement::Split: {
        size_t in_blocks = 0, in_head = 0;
        for (const auto& r : to_blocks) in_blocks += span_count(r);
        for (const auto& r : to_head) in_head += span_count(r);
        ASSERT_EQ(in_blocks + in_head, total);
        start(cutting_fast());
        for (const auto& r : to_blocks) ASSERT_NO_FATAL_FAILURE(ingest(r));
        ASSERT_NO_FATAL_FAILURE(wait_for_cut(in_blocks));
        server_.reset();  // graceful stop; the blocks stay in dir_
        start(keeping_head());
        ASSERT_TRUE(eventually([&] { return scrape_metric(query(), "spindle_storage_blocks") >= 1; }))
            << "the restarted server does not see the block";
        for (const auto& r : to_head) ASSERT_NO_FATAL_FAILURE(ingest(r));
        head_spans_ = in_head;
        ASSERT_NO_FATAL_FAILURE(wait_for_head(in_head));
        break;
      }
    }
  }

  // GET /api/search for `q` over the corpus window; the names of the matched spans per trace.
  Found search(const std::string& q) {
    Found found;
    const std::string window = "&start=" + std::to_string(base_ns_ / kSecondNs - 60) +
                               "&end=" + std::to_string(base_ns_ / kSecondNs + 60);
    auto r = http1_request(query(), "GET", "/api/search?q=" + percent_encode(q) + "&spss=100&limit=100" + window,
                           {{"Accept", "application/json"}});
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (!r.ok()) return {{"<transport error>", {}}};
    EXPECT_EQ(r->status, 200) << r->body;
    if (r->status != 200) return {{"<status " + std::to_string(r->status) + ">", {}}};
    auto parsed = JsonReader::parse(r->body);
    EXPECT_TRUE(parsed.ok()) << r->body;
    if (!parsed.ok()) return {{"<bad json>", {}}};
    const JsonValue* traces = parsed->find("traces");
    if (traces == nullptr) return found;
    for (const JsonValue& t : traces->items()) {
      std::set<std::string>& names = found[std::string(t.find("traceID")->text())];
      std::set<std::string> ids;
      if (const JsonValue* sets = t.find("spanSets")) {
        for (const JsonValue& ss : sets->items()) {
          const JsonValue* list = ss.find("spans");
          if (list == nullptr) continue;
          for (const JsonValue& s : list->items()) {
            names.insert(std::string(s.find("name")->text()));
            ids.insert(std::string(s.find("spanID")->text()));
          }
        }
      }
      // Corpus span names are unique per trace: one name per span ID, whichever spansets repeat it.
      EXPECT_EQ(ids.size(), names.size()) << q << " trace " << t.find("traceID")->text();
    }
    return found;
  }

  // One query's result against the expected names per trace; a trace expected to match nothing may be absent.
  static void expect_result(const std::string& q, const Found& got,
                            const std::map<std::string, std::set<std::string>>& want) {
    for (const auto& entry : got) {
      EXPECT_TRUE(want.count(entry.first)) << q << ": unexpected trace " << entry.first;
    }
    for (const auto& [trace, names] : want) {
      auto it = got.find(trace);
      std::set<std::string> have = it == got.end() ? std::set<std::string>{} : it->second;
      EXPECT_EQ(have, names) << q << " on trace " << trace;
    }
  }

  TempDir dir_{"spindle-traceql-conformance"};
  std::unique_ptr<TestServer> server_;  // after dir_: stopped before the directory goes
  uint64_t base_ns_ = 0;
  size_t head_spans_ = 0;
  int sent_ = 0;
};

const std::set<std::string> kFirstPieceNames = {kRoot, "charge", "cache.get", "db.commit"};

bool in_first_piece(const std::string& span_id) {
  // Spans 01, 03, 05, 07: the root, charge, cache.get, db.commit — every resource has spans in both pieces.
  return static_cast<uint8_t>(span_id.back()) % 2 == 1;
}

TEST_P(TraceqlConformanceTest, HandComputedTableOnTheCorpusTrace) {
  const std::string trace = corpus_trace();
  auto all = [](const std::string&) { return true; };
  ExportRequest whole = to_request(trace, base_ns_, all);
  ExportRequest first = to_request(trace, base_ns_, in_first_piece);
  ExportRequest rest = to_request(trace, base_ns_, [](const std::string& id) { return !in_first_piece(id); });
  ASSERT_EQ(span_count(whole), kCorpusSpans);
  ASSERT_EQ(span_count(first), 4u);
  ASSERT_NO_FATAL_FAILURE(place({whole}, {first}, {rest}));

  const std::string hex = search_hex(corpus_trace_id());
  size_t ran = 0, total = 0;
  for (const Case& c : kCases) {
    ++total;
    if (GetParam() == Placement::Split && !span_local(c.query)) continue;
    ++ran;
    Found got = search(c.query);
    if (GetParam() != Placement::Split) {
      expect_result(c.query, got, {{hex, c.want}});
      continue;
    }
    // Each piece answers with one spanset of identity "" (a plain filter has no by() key); the combiner keeps
    // the one with more matched spans, as Tempo does, not their union. Ties may keep either piece.
    std::set<std::string> in_block, in_head;
    for (const std::string& name : c.want) (kFirstPieceNames.count(name) ? in_block : in_head).insert(name);
    std::vector<std::set<std::string>> acceptable;
    if (in_block.size() >= in_head.size()) acceptable.push_back(in_block);
    if (in_head.size() >= in_block.size()) acceptable.push_back(in_head);
    auto it = got.find(hex);
    std::set<std::string> have = it == got.end() ? std::set<std::string>{} : it->second;
    EXPECT_LE(got.size(), it == got.end() ? 0u : 1u) << c.query << ": a trace other than the corpus trace";
    bool ok = false;
    for (const auto& a : acceptable) ok = ok || a == have;
    EXPECT_TRUE(ok) << c.query << ": got " << ::testing::PrintToString(have) << ", block piece "
                    << ::testing::PrintToString(in_block) << ", head piece "
                    << ::testing::PrintToString(in_head);
  }
  std::cout << "[conformance] " << placement_name(GetParam()) << ": " << ran << " of " << total
            << " table queries run end to end\n";
  if (GetParam() == Placement::Split) {
    EXPECT_GE(ran, 95u);  // the span-local part of the table is most of it
  } else {
    EXPECT_EQ(ran, total);
    EXPECT_GE(ran, 150u);
  }
}

TEST_P(TraceqlConformanceTest, TwoTracesOneWithoutItsRoot) {
  auto all = [](const std::string&) { return true; };
  ExportRequest corpus_req = to_request(corpus_trace(), base_ns_, all);
  ExportRequest incomplete_req = to_request(incomplete_trace(), base_ns_, all);
  ASSERT_EQ(span_count(incomplete_req), kIncompleteSpans);
  // Split keeps each trace whole: the corpus trace in a block, the incomplete one in the head.
  ASSERT_NO_FATAL_FAILURE(place({corpus_req, incomplete_req}, {corpus_req}, {incomplete_req}));

  const std::string corpus_hex = search_hex(corpus_trace_id());
  const std::string incomplete_hex =
      search_hex(raw_id({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}));
  size_t ran = 0;
  for (const TwoTraceCase& c : kIncompleteCases) {
    ++ran;
    expect_result(c.query, search(c.query),
                  {{corpus_hex, c.want_corpus}, {incomplete_hex, c.want_incomplete}});
  }
  std::cout << "[conformance] " << placement_name(GetParam()) << ": " << ran << " two-trace queries run\n";
}

INSTANTIATE_TEST_SUITE_P(Placements, TraceqlConformanceTest,
                         ::testing::Values(Placement::Head, Placement::Blocks, Placement::Split),
                         [](const ::testing::TestParamInfo<Placement>& info) {
                           return placement_name(info.param);
                         });

}  // namespace
}  // namespace spindle
