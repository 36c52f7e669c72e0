#include "bench/loadgen/trace_verifier.h"

#include <chrono>
#include <memory>
#include <thread>
#include <unordered_set>

#include "bench/loadgen/http1_connection.h"
#include "tempopb/tempo.pb.h"

namespace spindle {
namespace {

constexpr size_t kPipelineDepth = 8;
constexpr auto kRetryPause = std::chrono::seconds(1);

}  // namespace

TraceVerifier::Outcome TraceVerifier::judge(const ExpectedTrace& expected, const ClientReply& reply) const {
  Outcome o;
  if (!reply.failure.empty()) {
    o.error = reply.failure;
    return o;
  }
  if (reply.http_status == 404) return o;  // Tempo's v1 answer for "not found"; v2 answers 200 and no spans
  if (reply.http_status != 200) {
    o.error = "http_" + std::to_string(reply.http_status);
    return o;
  }
  tempopb::TraceByIDResponse response;
  if (!response.ParseFromString(reply.body)) {
    o.error = "bad_response";
    return o;
  }
  std::unordered_set<std::string> seen;
  for (const auto& rs : response.trace().resourcespans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        const bool ok = span.trace_id() == expected.id.as_view() && seen.insert(span.span_id()).second &&
                        span.attributes_size() == attrs_per_span_;
        ++(ok ? o.found : o.differing);
      }
    }
  }
  if (o.found > expected.spans) {
    o.differing += o.found - expected.spans;
    o.found = expected.spans;
  }
  return o;
}

Result<VerifyResult> TraceVerifier::run(const std::vector<ExpectedTrace>& traces) {
  const auto start = LoadClock::now();
  const auto deadline =
      start + std::chrono::duration_cast<LoadClock::duration>(std::chrono::duration<double>(timeout_s_));
  SPINDLE_ASSIGN_OR_RETURN(std::shared_ptr<addrinfo> ai, resolve(host_, port_));
  const std::string authority = host_ + ":" + port_;

  std::vector<Outcome> outcomes(traces.size());
  size_t answered = 0;
  auto on_reply = [&](ClientReply&& r) {
    outcomes[r.tag] = judge(traces[r.tag], r);
    ++answered;
  };
  std::vector<std::unique_ptr<ClientConnection>> conns;
  for (int i = 0; i < connections_; ++i) conns.push_back(std::make_unique<Http1Connection>(authority, on_reply));

  std::vector<size_t> todo(traces.size());
  for (size_t i = 0; i < todo.size(); ++i) todo[i] = i;
  for (bool first_pass = true; !todo.empty(); first_pass = false) {
    for (auto& c : conns) {
      if (c->alive()) continue;
      c = std::make_unique<Http1Connection>(authority, on_reply);
      const auto connect_deadline = LoadClock::now() + std::chrono::seconds(5);
      if (Status s = c->connect(ai.get(), connect_deadline); !s.is_ok()) {
        if (first_pass) return unavailable("cannot reach the query endpoint " + authority + ": " + s.message());
      }
    }
    answered = 0;
    size_t next = 0;
    for (;;) {
      bool any_alive = false;
      for (auto& c : conns) {
        if (!c->alive()) continue;
        any_alive = true;
        while (next < todo.size() && c->in_flight() < kPipelineDepth) {
          ClientRequest q;
          q.tag = todo[next];
          q.method = "GET";
          q.path = "/api/v2/traces/" + traces[q.tag].id.to_hex();
          q.headers = {{"accept", "application/protobuf"}};
          if (!c->submit(std::move(q)).is_ok()) break;
          ++next;
        }
      }
      if (answered == todo.size()) break;
      if (!any_alive) {  // whatever was never asked fails; answered ones keep their outcome
        for (size_t i = next; i < todo.size(); ++i) outcomes[todo[i]].error = "connection_lost";
        break;
      }
      pump_connections(conns, 100);
    }
    std::vector<size_t> again;
    for (size_t i : todo) {
      const Outcome& o = outcomes[i];
      if (!o.error.empty() || o.found + o.differing < traces[i].spans) again.push_back(i);
    }
    if (again.empty() || LoadClock::now() + kRetryPause > deadline) break;
    std::this_thread::sleep_for(kRetryPause);
    todo = std::move(again);
  }

  VerifyResult v;
  v.traces = traces.size();
  for (size_t i = 0; i < traces.size(); ++i) {
    const Outcome& o = outcomes[i];
    v.spans += traces[i].spans;
    if (!o.error.empty()) {
      ++v.query_errors;
      ++v.query_errors_by_status[o.error];
      continue;
    }
    v.found_spans += o.found;
    v.differing_spans += o.differing;
    v.missing_spans += traces[i].spans - o.found;
    if (o.found == 0 && o.differing == 0) ++v.missing_traces;
  }
  v.seconds = std::chrono::duration<double>(LoadClock::now() - start).count();
  return v;
}

}  // namespace spindle
