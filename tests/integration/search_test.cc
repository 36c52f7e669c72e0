// Tempo's search API end to end (tempo-api.md 2.4-2.6): a small deterministic corpus is ingested over OTLP/HTTP
// into a 2-shard server, then /api/search, the tag-name and the tag-value endpoints are checked — response
// shape against the keys Grafana's strict decoder knows, trace IDs without leading zeros, ordering, limit,
// spss/matched, pipelines, legacy tags, errors. Every check runs twice: with the traces in the head, and after
// the server has cut them all into blocks, so both scan paths give the same answers.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/query_params.h"
#include "core/trace_id.h"
#include "core/wall_clock.h"
#include "proto/json_reader.h"
#include "tests/integration/otlp_export.h"
#include "tests/integration/otlp_fixtures.h"
#include "tests/support/http_client.h"
#include "tests/support/server_metrics.h"
#include "tests/support/test_server.h"

namespace spindle {
namespace {

using Clock = std::chrono::steady_clock;
namespace otlp = opentelemetry::proto;

constexpr uint64_t kSecondNs = 1000000000;
constexpr uint64_t kMsNs = 1000000;
constexpr int kCorpusSpans = 10;

// ---- The corpus ------------------------------------------------------------------------------------------------
// Times are relative to `base` (five minutes ago), so "recent" requests without start/end see them too.
//   A  id ...0abc          root "GET /cart" (frontend, 480 ms, http.method=GET) at base+3s,
//                          child "charge-card" (payments, error, http.status_code=500, an event and a link)
//   B  id 1b...            root "GET /home" (frontend, 100 ms) at base+2s, five "db-query" children (db)
//   C  id 2c...            one span "orphan-op" whose parent never arrives (orphan) at base+1s
//   D  id 3d...            root "POST /pay" (backend, 50 ms, scope attribute lib.lang=cpp) at base+4s
// Sorted by start time, newest first: D, A, B, C.

std::string id_a() { return std::string(14, '\0') + "\x0a\xbc"; }
std::string id_b() { return trace_id_bytes(0x1b); }
std::string id_c() { return trace_id_bytes(0x2c); }
std::string id_d() { return trace_id_bytes(0x3d); }
const std::string kChargeSpanId = std::string("\x00\x00\x00\x00\x0a\x1b\x2c\x3d", 8);

std::string span_id(int n) {
  std::string id(8, '\0');
  id[0] = static_cast<char>(0x40 + n);
  id[7] = static_cast<char>(n);
  return id;
}

void set_attr(otlp::common::v1::KeyValue* kv, const std::string& key, const std::string& value) {
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}

otlp::trace::v1::ScopeSpans* scope_of(ExportRequest& req, const std::string& service) {
  auto* rs = req.add_resource_spans();
  set_attr(rs->mutable_resource()->add_attributes(), "service.name", service);
  set_attr(rs->mutable_resource()->add_attributes(), "k8s.pod.name", service + "-pod");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("fixture");
  return ss;
}

otlp::trace::v1::Span* add_span(otlp::trace::v1::ScopeSpans* ss, const std::string& trace, const std::string& id,
                                const std::string& parent, const std::string& name, uint64_t start_ns,
                                uint64_t duration_ns) {
  auto* s = ss->add_spans();
  s->set_trace_id(trace);
  s->set_span_id(id);
  if (!parent.empty()) s->set_parent_span_id(parent);
  s->set_name(name);
  s->set_kind(otlp::trace::v1::Span::SPAN_KIND_SERVER);
  s->set_start_time_unix_nano(start_ns);
  s->set_end_time_unix_nano(start_ns + duration_ns);
  return s;
}

ExportRequest corpus(uint64_t base_ns) {
  ExportRequest req;
  auto* frontend = scope_of(req, "frontend");
  auto* cart = add_span(frontend, id_a(), span_id(1), "", "GET /cart", base_ns + 3 * kSecondNs, 480 * kMsNs);
  set_attr(cart->add_attributes(), "http.method", "GET");
  add_span(frontend, id_b(), span_id(10), "", "GET /home", base_ns + 2 * kSecondNs, 100 * kMsNs);

  auto* payments = scope_of(req, "payments");
  auto* charge = add_span(payments, id_a(), kChargeSpanId, span_id(1), "charge-card",
                          base_ns + 3 * kSecondNs + 100 * kMsNs, 312 * kMsNs);
  charge->set_kind(otlp::trace::v1::Span::SPAN_KIND_CLIENT);
  charge->mutable_status()->set_code(otlp::trace::v1::Status::STATUS_CODE_ERROR);
  auto* code = charge->add_attributes();
  code->set_key("http.status_code");
  code->mutable_value()->set_int_value(500);
  auto* event = charge->add_events();
  event->set_name("exception");
  event->set_time_unix_nano(base_ns + 3 * kSecondNs + 200 * kMsNs);
  set_attr(event->add_attributes(), "exception.message", "card declined");
  auto* link = charge->add_links();
  link->set_trace_id(id_d());
  link->set_span_id(span_id(30));
  set_attr(link->add_attributes(), "link.kind", "follows");

  auto* db = scope_of(req, "db");
  for (int i = 0; i < 5; ++i) {
    add_span(db, id_b(), span_id(11 + i), span_id(10), "db-query", base_ns + 2 * kSecondNs + (10 + 10 * i) * kMsNs,
             10 * kMsNs);
  }

  auto* orphan = scope_of(req, "orphan");
  add_span(orphan, id_c(), span_id(20), span_id(99), "orphan-op", base_ns + 1 * kSecondNs, 20 * kMsNs);

  auto* backend = scope_of(req, "backend");
  set_attr(req.mutable_resource_spans(req.resource_spans_size() - 1)->mutable_scope_spans(0)->mutable_scope()
               ->add_attributes(),
           "lib.lang", "cpp");
  add_span(backend, id_d(), span_id(30), "", "POST /pay", base_ns + 4 * kSecondNs, 50 * kMsNs);
  return req;
}

// ---- Grafana's strict decoder: the keys of its pinned tempopb ------------------------------------------------

using KeySet = std::set<std::string>;

void expect_keys(const JsonValue& v, const KeySet& allowed, const std::string& where) {
  ASSERT_TRUE(v.is_object()) << where;
  for (const auto& m : v.members()) EXPECT_TRUE(allowed.count(m.key)) << "unknown key " << where << "." << m.key;
}

void check_any_value(const JsonValue& v, const std::string& where) {
  expect_keys(v, {"stringValue", "intValue", "doubleValue", "boolValue", "arrayValue", "kvlistValue", "bytesValue"},
              where);
  EXPECT_EQ(v.members().size(), 1u) << where;
}

void check_key_values(const JsonValue& v, const std::string& where) {
  ASSERT_TRUE(v.is_array()) << where;
  for (const JsonValue& kv : v.items()) {
    expect_keys(kv, {"key", "value"}, where);
    if (const JsonValue* value = kv.find("value")) check_any_value(*value, where + ".value");
  }
}

void check_spanset(const JsonValue& ss, const std::string& where) {
  expect_keys(ss, {"spans", "matched", "attributes"}, where);
  if (const JsonValue* spans = ss.find("spans")) {
    ASSERT_TRUE(spans->is_array());
    for (const JsonValue& s : spans->items()) {
      expect_keys(s, {"spanID", "name", "startTimeUnixNano", "durationNanos", "attributes"}, where + ".spans");
      const JsonValue* id = s.find("spanID");
      ASSERT_NE(id, nullptr);
      EXPECT_EQ(id->text().size(), 16u);
      if (const JsonValue* start = s.find("startTimeUnixNano")) { EXPECT_TRUE(start->is_string()); }
      if (const JsonValue* d = s.find("durationNanos")) { EXPECT_TRUE(d->is_string()); }
      if (const JsonValue* a = s.find("attributes")) check_key_values(*a, where + ".spans.attributes");
    }
  }
  if (const JsonValue* m = ss.find("matched")) { EXPECT_TRUE(m->is_number()); }
  if (const JsonValue* a = ss.find("attributes")) check_key_values(*a, where + ".attributes");
}

void check_search_response(const JsonValue& root) {
  expect_keys(root, {"traces", "metrics"}, "response");
  const JsonValue* metrics = root.find("metrics");
  ASSERT_NE(metrics, nullptr);
  expect_keys(*metrics,
              {"inspectedTraces", "inspectedBytes", "totalBlocks", "completedJobs", "totalJobs", "totalBlockBytes",
               "inspectedSpans"},
              "metrics");
  const JsonValue* traces = root.find("traces");
  if (traces == nullptr) return;
  ASSERT_TRUE(traces->is_array());
  EXPECT_FALSE(traces->items().empty());  // an empty list is left out
  for (const JsonValue& t : traces->items()) {
    expect_keys(t,
                {"traceID", "rootServiceName", "rootTraceName", "startTimeUnixNano", "durationMs", "spanSet",
                 "spanSets", "serviceStats"},
                "trace");
    const JsonValue* id = t.find("traceID");
    ASSERT_NE(id, nullptr);
    EXPECT_NE(id->text()[0], '0') << "leading zeros must be stripped";
    if (const JsonValue* start = t.find("startTimeUnixNano")) { EXPECT_TRUE(start->is_string()); }
    if (const JsonValue* d = t.find("durationMs")) { EXPECT_TRUE(d->is_number()); }
    if (const JsonValue* ss = t.find("spanSet")) check_spanset(*ss, "spanSet");
    if (const JsonValue* sets = t.find("spanSets")) {
      ASSERT_TRUE(sets->is_array());
      for (const JsonValue& ss : sets->items()) check_spanset(ss, "spanSets");
    }
    if (const JsonValue* stats = t.find("serviceStats")) {
      ASSERT_TRUE(stats->is_object());
      for (const auto& m : stats->members()) expect_keys(m.value, {"spanCount", "errorCount"}, "serviceStats");
    }
  }
}

// ---- Helpers ---------------------------------------------------------------------------------------------------

struct Answer {
  int status = 0;
  std::string body;
  std::string content_type;
  std::unique_ptr<JsonValue> json;  // borrows `body`: kept together
};

enum class Where { Head, Blocks };

class SearchTest : public ::testing::TestWithParam<Where> {
 protected:
  static Config config() {
    Config c = test_config();
    if (GetParam() == Where::Blocks) {
      // Every trace leaves the head as soon as the cut rules run.
      c.trace_idle_period_ms = 1;
      c.flush_check_period_ms = 50;
    } else {
      c.trace_idle_period_ms = 3600 * 1000;
      c.max_trace_live_ms = 3600 * 1000;
      c.flush_check_period_ms = 3600 * 1000;
    }
    return c;
  }

  void SetUp() override {
    server_.start();
    base_s_ = wall_now_s() - 300;
    ASSERT_NO_FATAL_FAILURE(export_http(server_->otlp_http_port(), corpus(base_s_ * kSecondNs)));
    if (GetParam() == Where::Blocks) {
      ASSERT_TRUE(eventually([&] { return scrape_metric(query(), "spindle_storage_cut_spans_total") == kCorpusSpans; }))
          << "the corpus was not cut into blocks";
    }
  }

  void TearDown() override {
    // The head variant must really have answered from the head.
    if (GetParam() == Where::Head) { EXPECT_EQ(scrape_metric(query(), "spindle_storage_cut_spans_total"), 0); }
  }

  uint16_t query() { return server_->query_port(); }
  std::string window() const {
    return "start=" + std::to_string(base_s_ - 60) + "&end=" + std::to_string(base_s_ + 60);
  }

  // GET `target` on the query port; a JSON body is parsed (a parse failure is a test failure).
  Answer get(const std::string& target) {
    Answer a;
    auto r = http1_request(query(), "GET", target, {{"Accept", "application/json"}});
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (!r.ok()) return a;
    a.status = r->status;
    a.body = r->body;
    a.content_type = r->header("content-type");
    if (a.status == 200) {
      auto parsed = JsonReader::parse(a.body);
      EXPECT_TRUE(parsed.ok()) << parsed.status().to_string() << "\n" << a.body;
      if (parsed.ok()) a.json = std::make_unique<JsonValue>(std::move(parsed).value());
    }
    return a;
  }
  // A search with the corpus window; checks the strict shape.
  Answer search(const std::string& q, const std::string& extra = "") {
    Answer a = get("/api/search?q=" + percent_encode(q) + "&" + window() + extra);
    EXPECT_EQ(a.status, 200) << q << ": " << a.body;
    if (a.json) check_search_response(*a.json);
    return a;
  }
  static std::vector<std::string> trace_ids(const Answer& a) {
    std::vector<std::string> ids;
    if (!a.json) return ids;
    const JsonValue* traces = a.json->find("traces");
    if (traces == nullptr) return ids;
    for (const JsonValue& t : traces->items()) ids.emplace_back(t.find("traceID")->text());
    return ids;
  }
  static const JsonValue& trace_at(const Answer& a, size_t i) { return a.json->find("traces")->items().at(i); }
  static std::vector<std::string> strings(const JsonValue* array) {
    std::vector<std::string> out;
    if (array == nullptr) return out;
    for (const JsonValue& v : array->items()) out.emplace_back(v.text());
    return out;
  }
  // v2 tag values as "type:value", sorted.
  static std::vector<std::string> typed_values(const Answer& a) {
    std::vector<std::string> out;
    if (!a.json) return out;
    const JsonValue* values = a.json->find("tagValues");
    if (values == nullptr) return out;
    for (const JsonValue& v : values->items()) {
      out.push_back(std::string(v.find("type")->text()) + ":" + std::string(v.find("value")->text()));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::vector<std::string> scope_tags(const Answer& a, const std::string& scope) {
    for (const JsonValue& s : a.json->find("scopes")->items()) {
      if (s.find("name")->text() == scope) return strings(s.find("tags"));
    }
    return {};
  }
  static bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  }

  std::string hex_b() const { return to_hex(id_b()); }
  std::string hex_c() const { return to_hex(id_c()); }
  std::string hex_d() const { return to_hex(id_d()); }

  TestServer server_{config()};
  uint64_t base_s_ = 0;
};

TEST_P(SearchTest, AllTracesNewestFirstInTemposShape) {
  Answer a = search("{}");
  ASSERT_TRUE(a.json);
  EXPECT_EQ(a.content_type, "application/json");
  EXPECT_EQ(trace_ids(a), (std::vector<std::string>{hex_d(), "abc", hex_b(), hex_c()}));

  const JsonValue& cart = trace_at(a, 1);
  EXPECT_EQ(cart.find("rootServiceName")->text(), "frontend");
  EXPECT_EQ(cart.find("rootTraceName")->text(), "GET /cart");
  EXPECT_EQ(cart.find("startTimeUnixNano")->text(), std::to_string((base_s_ + 3) * kSecondNs));
  EXPECT_EQ(cart.find("durationMs")->text(), "480");
  // spanSet is a copy of spanSets[0]; `{}` matches both spans, spss 3 keeps both.
  const JsonValue* spanset = cart.find("spanSet");
  ASSERT_NE(spanset, nullptr);
  EXPECT_EQ(spanset->find("matched")->text(), "2");
  EXPECT_EQ(spanset->find("spans")->items().size(), 2u);
  ASSERT_EQ(cart.find("spanSets")->items().size(), 1u);
  EXPECT_EQ(cart.find("spanSets")->items()[0].find("matched")->text(), "2");
  const JsonValue* stats = cart.find("serviceStats");
  ASSERT_NE(stats, nullptr);
  EXPECT_EQ(stats->find("payments")->find("spanCount")->text(), "1");
  EXPECT_EQ(stats->find("payments")->find("errorCount")->text(), "1");
  EXPECT_EQ(stats->find("frontend")->find("errorCount"), nullptr);

  const JsonValue& orphan = trace_at(a, 3);
  EXPECT_EQ(orphan.find("rootServiceName")->text(), "<root span not yet received>");
  EXPECT_EQ(orphan.find("rootTraceName"), nullptr);

  const JsonValue* metrics = a.json->find("metrics");
  EXPECT_EQ(metrics->find("totalJobs")->text(), "2");
  EXPECT_EQ(metrics->find("completedJobs")->text(), "2");
  ASSERT_NE(metrics->find("inspectedTraces"), nullptr);
  EXPECT_GE(*metrics->find("inspectedTraces")->as_uint64(), 4u);
  EXPECT_EQ(*metrics->find("inspectedSpans")->as_uint64(), static_cast<uint64_t>(kCorpusSpans));
  if (GetParam() == Where::Blocks) {
    ASSERT_NE(metrics->find("totalBlocks"), nullptr);
    EXPECT_GE(*metrics->find("totalBlocks")->as_uint64(), 1u);
    EXPECT_NE(metrics->find("totalBlockBytes"), nullptr);
  } else {
    EXPECT_EQ(metrics->find("totalBlocks"), nullptr);
  }
  // Without start/end: recent data only, which these traces are.
  Answer recent = get("/api/search?q=%7B%7D");
  ASSERT_EQ(recent.status, 200);
  EXPECT_EQ(trace_ids(recent).size(), 4u);
}

TEST_P(SearchTest, MatchedSpansCarryTheQueriedAttributes) {
  Answer a = search("{ span.http.status_code = 500 }");
  ASSERT_EQ(trace_ids(a), (std::vector<std::string>{"abc"}));
  const JsonValue& ss = *trace_at(a, 0).find("spanSet");
  EXPECT_EQ(ss.find("matched")->text(), "1");
  ASSERT_EQ(ss.find("spans")->items().size(), 1u);
  const JsonValue& span = ss.find("spans")->items()[0];
  EXPECT_EQ(span.find("spanID")->text(), "000000000a1b2c3d");
  EXPECT_EQ(span.find("name")->text(), "charge-card");
  EXPECT_EQ(span.find("startTimeUnixNano")->text(), std::to_string((base_s_ + 3) * kSecondNs + 100 * kMsNs));
  EXPECT_EQ(span.find("durationNanos")->text(), std::to_string(312 * kMsNs));
  const JsonValue* attrs = span.find("attributes");
  ASSERT_NE(attrs, nullptr);
  ASSERT_EQ(attrs->items().size(), 1u);
  EXPECT_EQ(attrs->items()[0].find("key")->text(), "http.status_code");
  EXPECT_EQ(attrs->items()[0].find("value")->find("intValue")->text(), "500");

  Answer status = search("{ status = error && kind = client }");
  ASSERT_EQ(trace_ids(status), (std::vector<std::string>{"abc"}));
  std::set<std::string> keys;
  for (const JsonValue& kv : trace_at(status, 0).find("spanSet")->find("spans")->items()[0].find("attributes")->items()) {
    keys.insert(std::string(kv.find("key")->text()));
    if (kv.find("key")->text() == "status") { EXPECT_EQ(kv.find("value")->find("stringValue")->text(), "error"); }
    if (kv.find("key")->text() == "kind") { EXPECT_EQ(kv.find("value")->find("stringValue")->text(), "client"); }
  }
  EXPECT_EQ(keys, (std::set<std::string>{"status", "kind"}));

  // Unscoped attributes look at the resource too; structural operators return the right side.
  Answer pod = search("{ .k8s.pod.name = \"db-pod\" }");
  EXPECT_EQ(trace_ids(pod), (std::vector<std::string>{hex_b()}));
  Answer child = search("{ name = \"GET /cart\" } > { }");
  ASSERT_EQ(trace_ids(child), (std::vector<std::string>{"abc"}));
  EXPECT_EQ(trace_at(child, 0).find("spanSet")->find("spans")->items()[0].find("name")->text(), "charge-card");
}

TEST_P(SearchTest, LimitSpssAndPipelines) {
  Answer two = search("{}", "&limit=2");
  EXPECT_EQ(trace_ids(two).size(), 2u);
  Answer one = search("{ resource.service.name = \"frontend\" }", "&limit=1");
  ASSERT_EQ(trace_ids(one).size(), 1u);

  Answer spss = search("{ name = \"db-query\" }", "&spss=2");
  ASSERT_EQ(trace_ids(spss), (std::vector<std::string>{hex_b()}));
  const JsonValue& ss = *trace_at(spss, 0).find("spanSet");
  EXPECT_EQ(ss.find("matched")->text(), "5");  // before truncation
  EXPECT_EQ(ss.find("spans")->items().size(), 2u);
  Answer default_spss = search("{ name = \"db-query\" }");
  EXPECT_EQ(trace_at(default_spss, 0).find("spanSet")->find("spans")->items().size(), 3u);

  Answer counted = search("{ resource.service.name = \"db\" } | count() > 4");
  ASSERT_EQ(trace_ids(counted), (std::vector<std::string>{hex_b()}));
  const JsonValue* attrs = trace_at(counted, 0).find("spanSet")->find("attributes");
  ASSERT_NE(attrs, nullptr);
  bool found = false;
  for (const JsonValue& kv : attrs->items()) {
    if (kv.find("key")->text() != "count()") continue;
    found = true;
    EXPECT_EQ(kv.find("value")->find("intValue")->text(), "5");
  }
  EXPECT_TRUE(found) << counted.body;
  EXPECT_TRUE(trace_ids(search("{ resource.service.name = \"db\" } | count() > 5")).empty());

  Answer grouped = search("{ name = \"GET /cart\" || name = \"charge-card\" } | by(resource.service.name)");
  ASSERT_EQ(trace_ids(grouped), (std::vector<std::string>{"abc"}));
  EXPECT_EQ(trace_at(grouped, 0).find("spanSets")->items().size(), 2u);
}

TEST_P(SearchTest, NothingFoundIsOnlyMetrics) {
  Answer a = search("{ name = \"no such span\" }");
  ASSERT_TRUE(a.json);
  EXPECT_EQ(a.json->find("traces"), nullptr);
  EXPECT_NE(a.json->find("metrics"), nullptr);
  // A window before the corpus finds nothing either.
  Answer old = get("/api/search?q=%7B%7D&start=1000000&end=1000100");
  ASSERT_EQ(old.status, 200);
  EXPECT_TRUE(trace_ids(old).empty());
}

TEST_P(SearchTest, LegacyTagSearch) {
  Answer front = get("/api/search?tags=" + percent_encode("service.name=front") + "&" + window());
  ASSERT_EQ(front.status, 200) << front.body;
  check_search_response(*front.json);
  EXPECT_EQ(trace_ids(front), (std::vector<std::string>{"abc", hex_b()}));
  EXPECT_EQ(trace_at(front, 0).find("spanSet"), nullptr);
  Answer code = get("/api/search?tags=" + percent_encode("http.status_code=500 status.code=error") + "&" + window());
  EXPECT_EQ(trace_ids(code), (std::vector<std::string>{"abc"}));
  Answer slow = get("/api/search?minDuration=400ms&" + window());
  EXPECT_EQ(trace_ids(slow), (std::vector<std::string>{"abc"}));
  Answer everything = get("/api/search?" + window());
  EXPECT_EQ(trace_ids(everything).size(), 4u);
}

TEST_P(SearchTest, BadRequestsGetTemposMessages) {
  auto expect_400 = [&](const std::string& target, const std::string& prefix) {
    Answer a = get(target);
    EXPECT_EQ(a.status, 400) << target << ": " << a.body;
    EXPECT_TRUE(a.body.starts_with(prefix)) << target << ": " << a.body;
  };
  expect_400("/api/search?q=" + percent_encode("{ .a = }"), "invalid TraceQL query: parse error at line 1, col ");
  expect_400("/api/search?q=" + percent_encode("{ status = 1 }"), "invalid TraceQL query: ");
  expect_400("/api/search?q=" + percent_encode("{} | rate()"), "invalid TraceQL query: ");
  expect_400("/api/search?q=%7B%7D&tags=a%3Db", "invalid request: can't specify tags and q in the same query");
  expect_400("/api/search?q=%7B%7D&limit=0", "invalid limit: must be a positive number");
  expect_400("/api/search?q=%7B%7D&limit=262145", "limit 262145 exceeds max limit 262144");
  expect_400("/api/search?q=%7B%7D&spss=101", "spans per span set exceeds 100. received 101");
  expect_400("/api/search?q=%7B%7D&start=1000&end=900000",
             "range specified by start and end exceeds 168h0m0s. received start=1000 end=900000");
  expect_400("/api/search?q=%7B%7D&start=20&end=10", "http parameter start must be before end. received start=20 end=10");
  expect_400("/api/v2/search/tags?scope=bogus", "invalid scope: bogus");
  expect_400("/api/v2/search/tag/%7B/values", "please provide a valid tagName: ");
  expect_400("/api/v2/search/tag//values", "please provide a non-empty tagName");
}

TEST_P(SearchTest, TagNames) {
  Answer v1 = get("/api/search/tags?" + window());
  ASSERT_EQ(v1.status, 200) << v1.body;
  std::vector<std::string> names = strings(v1.json->find("tagNames"));
  for (const char* n : {"service.name", "k8s.pod.name", "http.method", "http.status_code"}) {
    EXPECT_TRUE(contains(names, n)) << n;
  }
  EXPECT_FALSE(contains(names, "duration"));
  EXPECT_FALSE(contains(names, "exception.message"));  // event scope: not a v1 default
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  Answer intrinsic = get("/api/search/tags?scope=intrinsic");
  EXPECT_TRUE(contains(strings(intrinsic.json->find("tagNames")), "span:status"));

  Answer v2 = get("/api/v2/search/tags?limit=5000&" + window());
  ASSERT_EQ(v2.status, 200) << v2.body;
  const JsonValue* scopes = v2.json->find("scopes");
  ASSERT_NE(scopes, nullptr);
  EXPECT_EQ(scopes->items()[0].find("name")->text(), "intrinsic");
  EXPECT_EQ(strings(scopes->items()[0].find("tags")),
            (std::vector<std::string>{"duration", "event:name", "event:timeSinceStart", "instrumentation:name",
                                      "instrumentation:version", "kind", "link:spanID", "link:traceID", "name",
                                      "rootName", "rootServiceName", "span:duration", "span:id", "span:kind",
                                      "span:name", "span:parentID", "span:status", "span:statusMessage", "status",
                                      "statusMessage", "trace:duration", "trace:id", "trace:rootName",
                                      "trace:rootService", "traceDuration"}));
  EXPECT_EQ(scope_tags(v2, "resource"), (std::vector<std::string>{"k8s.pod.name", "service.name"}));
  EXPECT_EQ(scope_tags(v2, "span"), (std::vector<std::string>{"http.method", "http.status_code"}));
  EXPECT_EQ(scope_tags(v2, "event"), (std::vector<std::string>{"exception.message"}));
  EXPECT_EQ(scope_tags(v2, "link"), (std::vector<std::string>{"link.kind"}));
  EXPECT_EQ(scope_tags(v2, "instrumentation"), (std::vector<std::string>{"lib.lang"}));
  const JsonValue* metrics = v2.json->find("metrics");
  ASSERT_NE(metrics, nullptr);
  EXPECT_EQ(metrics->find("totalJobs")->text(), "2");
  EXPECT_NE(metrics->find("inspectedBytes"), nullptr);

  // scope narrows; q keeps names of matching spans (and their resources) only.
  Answer span_only = get("/api/v2/search/tags?scope=span&" + window());
  ASSERT_EQ(span_only.json->find("scopes")->items().size(), 1u);
  EXPECT_EQ(scope_tags(span_only, "span"), (std::vector<std::string>{"http.method", "http.status_code"}));
  Answer filtered = get("/api/v2/search/tags?q=" + percent_encode("{ name = \"charge-card\" }") + "&" + window());
  EXPECT_EQ(scope_tags(filtered, "span"), (std::vector<std::string>{"http.status_code"}));
  EXPECT_EQ(scope_tags(filtered, "instrumentation"), (std::vector<std::string>{}));
  // Recent data without a window.
  Answer recent = get("/api/v2/search/tags");
  EXPECT_EQ(scope_tags(recent, "resource"), (std::vector<std::string>{"k8s.pod.name", "service.name"}));
}

TEST_P(SearchTest, TagValues) {
  Answer v1 = get("/api/search/tag/service.name/values?" + window());
  ASSERT_EQ(v1.status, 200) << v1.body;
  EXPECT_EQ(strings(v1.json->find("tagValues")),
            (std::vector<std::string>{"backend", "db", "frontend", "orphan", "payments"}));
  Answer status_code = get("/api/search/tag/status.code/values");
  EXPECT_EQ(strings(status_code.json->find("tagValues")), (std::vector<std::string>{"unset", "ok", "error"}));

  Answer v2 = get("/api/v2/search/tag/resource.service.name/values?q=%7B%7D&" + window());
  ASSERT_EQ(v2.status, 200) << v2.body;
  EXPECT_EQ(typed_values(v2), (std::vector<std::string>{"string:backend", "string:db", "string:frontend",
                                                         "string:orphan", "string:payments"}));
  // q: values on matching spans only (resource tags: resources with a matching span).
  Answer charge =
      get("/api/v2/search/tag/resource.service.name/values?q=" + percent_encode("{ name = \"charge-card\" }") + "&" +
          window());
  EXPECT_EQ(typed_values(charge), (std::vector<std::string>{"string:payments"}));
  // Incomplete text from the editor: the broken condition is dropped, the rest applies.
  Answer typing = get("/api/v2/search/tag/name/values?q=" +
                      percent_encode("{ resource.service.name = \"frontend\" && span.http.method = ") + "&" + window());
  EXPECT_EQ(typed_values(typing), (std::vector<std::string>{"string:GET /cart", "string:GET /home"}));
  // Unusable q: unfiltered.
  Answer garbage = get("/api/v2/search/tag/name/values?q=" + percent_encode("}}} nonsense") + "&" + window());
  EXPECT_EQ(typed_values(garbage).size(), 6u);
  Answer typed = get("/api/v2/search/tag/span.http.status_code/values?" + window());
  EXPECT_EQ(typed_values(typed), (std::vector<std::string>{"int:500"}));
  Answer unscoped = get("/api/v2/search/tag/.k8s.pod.name/values?" + window() + "&q=" +
                        percent_encode("{ .http.status_code = 500 }"));
  EXPECT_EQ(typed_values(unscoped), (std::vector<std::string>{"string:payments-pod"}));
  Answer event = get("/api/v2/search/tag/event.exception.message/values?" + window());
  EXPECT_EQ(typed_values(event), (std::vector<std::string>{"string:card declined"}));
  // Virtual answers.
  Answer status = get("/api/v2/search/tag/status/values");
  EXPECT_EQ(typed_values(status), (std::vector<std::string>{"keyword:error", "keyword:ok", "keyword:unset"}));
  Answer kind = get("/api/v2/search/tag/span:kind/values");
  EXPECT_EQ(typed_values(kind).size(), 6u);
  Answer duration = get("/api/v2/search/tag/duration/values");
  ASSERT_EQ(duration.status, 200);
  EXPECT_TRUE(typed_values(duration).empty());
  // limit bounds the answer.
  Answer limited = get("/api/v2/search/tag/name/values?limit=2&" + window());
  EXPECT_EQ(typed_values(limited).size(), 2u);
}

// q's `||` expands into at most 100 condition groups (Tempo's limit): 100 pass, 101 or a product of 128 are 400.
TEST_P(SearchTest, TagValueFiltersAreLimitedTo100ConditionGroups) {
  auto ors = [](int n) {
    std::string q = "{ ";
    for (int i = 0; i < n; ++i) q += (i ? " || " : "") + std::string("name = \"n") + std::to_string(i) + "\"";
    return q + " }";
  };
  std::string product = "{ ";
  for (int i = 0; i < 7; ++i) product += (i ? " && " : "") + std::string("(.a = 1 || .b = 2)");
  product += " }";
  Answer hundred = get("/api/v2/search/tag/name/values?q=" + percent_encode(ors(100)) + "&" + window());
  EXPECT_EQ(hundred.status, 200) << hundred.body;
  for (const std::string& q : {ors(101), product}) {
    Answer too_many = get("/api/v2/search/tag/name/values?q=" + percent_encode(q) + "&" + window());
    EXPECT_EQ(too_many.status, 400);
    EXPECT_EQ(too_many.body, "maximum condition groups reached\n");
    Answer names = get("/api/v2/search/tags?q=" + percent_encode(q) + "&" + window());
    EXPECT_EQ(names.status, 400);
  }
}

INSTANTIATE_TEST_SUITE_P(HeadAndBlocks, SearchTest, ::testing::Values(Where::Head, Where::Blocks),
                         [](const ::testing::TestParamInfo<Where>& info) {
                           return info.param == Where::Head ? "Head" : "Blocks";
                         });

}  // namespace
}  // namespace spindle
