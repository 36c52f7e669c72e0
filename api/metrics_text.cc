#include "api/metrics_text.h"

#include <map>

#include "api/build_info.h"
#include "api/shard_services.h"

namespace spindle {
namespace {

class Exposition {
 public:
  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // labels: already formatted `a="x",b="y"` (values are our own identifiers: nothing to escape).
  void sample(const char* name, const std::string& labels, uint64_t value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += std::to_string(value);
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string label(const char* k, const std::string& v) { return std::string(k) + "=\"" + v + "\""; }

}  // namespace

ShardSnapshot take_snapshot(Shard& shard) {
  ShardServices& svc = services_of(shard);
  ShardSnapshot snap;
  snap.metrics = svc.metrics;
  snap.head = svc.head.stats();
  snap.head_max_bytes = svc.head.limits().max_bytes;
  snap.queue_depth = shard.inbound_depth();
  snap.in_flight = shard.in_flight();
  for (const auto& l : svc.listeners) {
    snap.listeners.push_back({l->name(), l->stats(), l->connection_count()});
  }
  return snap;
}

std::string render_metrics(const std::vector<ShardSnapshot>& shards) {
  ShardMetrics total;
  std::map<std::string, ListenerSnapshot> listeners;
  for (const auto& s : shards) {
    total.merge(s.metrics);
    for (const auto& l : s.listeners) {
      ListenerSnapshot& t = listeners[l.name];
      t.stats.accepted += l.stats.accepted;
      t.stats.closed += l.stats.closed;
      t.stats.timed_out += l.stats.timed_out;
      t.stats.protocol_errors += l.stats.protocol_errors;
      t.connections += l.connections;
    }
  }
  Exposition e;
  e.family("spindle_build_info", "gauge", "Build version and revision.");
  e.sample("spindle_build_info", label("version", kVersion) + "," + label("revision", kRevision), 1);

  e.family("spindle_receiver_spans_total", "counter", "Spans accepted, by receiver protocol.");
  for (int p = 0; p < kIngestProtocols; ++p) {
    e.sample("spindle_receiver_spans_total", label("protocol", ingest_protocol_name(IngestProtocol(p))),
             total.spans_received[p]);
  }
  e.family("spindle_receiver_bytes_total", "counter",
           "OTLP protobuf payload bytes received (after decompression and JSON conversion), by protocol.");
  for (int p = 0; p < kIngestProtocols; ++p) {
    e.sample("spindle_receiver_bytes_total", label("protocol", ingest_protocol_name(IngestProtocol(p))),
             total.bytes_received[p]);
  }
  e.family("spindle_receiver_refused_spans_total", "counter",
           "Spans not stored, by protocol and reason (head_full is retryable; the client is told to retry).");
  for (int p = 0; p < kIngestProtocols; ++p) {
    for (int r = 0; r < kRefusalReasons; ++r) {
      e.sample("spindle_receiver_refused_spans_total",
               label("protocol", ingest_protocol_name(IngestProtocol(p))) + "," +
                   label("reason", refusal_reason_name(RefusalReason(r))),
               total.spans_refused[p][r]);
    }
  }
  e.family("spindle_requests_total", "counter", "Requests answered, by route and status (HTTP code or gRPC name).");
  for (const auto& [key, n] : total.requests) {
    e.sample("spindle_requests_total", label("route", key.first) + "," + label("status_code", key.second), n);
  }
  auto per_shard = [&](const char* name, const char* help, auto value) {
    e.family(name, "gauge", help);
    for (size_t i = 0; i < shards.size(); ++i) e.sample(name, label("shard", std::to_string(i)), value(shards[i]));
  };
  per_shard("spindle_head_live_traces", "Traces held in memory, by shard.",
            [](const ShardSnapshot& s) { return s.head.live_traces; });
  per_shard("spindle_head_spans", "Spans held in memory, by shard.",
            [](const ShardSnapshot& s) { return s.head.spans; });
  per_shard("spindle_head_bytes", "Bytes of live traces in memory (accounted), by shard.",
            [](const ShardSnapshot& s) { return s.head.bytes; });
  per_shard("spindle_head_max_bytes", "The head byte limit of each shard.",
            [](const ShardSnapshot& s) { return s.head_max_bytes; });
  per_shard("spindle_shard_queue_depth", "Cross-shard messages waiting to be processed, by shard.",
            [](const ShardSnapshot& s) { return s.queue_depth; });
  per_shard("spindle_shard_in_flight", "Cross-shard messages sent and not yet completed, by shard.",
            [](const ShardSnapshot& s) { return s.in_flight; });

  auto per_listener = [&](const char* name, const char* type, const char* help, auto value) {
    e.family(name, type, help);
    for (const auto& [listener, l] : listeners) e.sample(name, label("listener", listener), value(l));
  };
  per_listener("spindle_connections", "gauge", "Open connections, by listener.",
               [](const ListenerSnapshot& l) { return l.connections; });
  per_listener("spindle_connections_accepted_total", "counter", "Connections accepted, by listener.",
               [](const ListenerSnapshot& l) { return l.stats.accepted; });
  per_listener("spindle_connections_timed_out_total", "counter", "Connections cut by a read or write timeout.",
               [](const ListenerSnapshot& l) { return l.stats.timed_out; });
  per_listener("spindle_connections_protocol_errors_total", "counter", "Connections closed for protocol errors.",
               [](const ListenerSnapshot& l) { return l.stats.protocol_errors; });
  return e.take();
}

}  // namespace spindle
