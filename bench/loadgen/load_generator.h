#pragma once
// LoadGenerator: the engine of spindle-loadgen. One thread, one poll() loop over C connections with up to S
// requests in flight on each (gRPC: HTTP/2 streams; HTTP/1.1: pipelined keep-alive requests). Requests are
// copies of one RequestTemplate with fresh IDs and timestamps patched in, so building one costs a memcpy and
// a few hundred stores (plus a gzip pass with --gzip); with --rate, a token bucket paces whole requests
// (rate / spans-per-request per second, bursts of at most 10 ms worth or 2 requests).
//
// With --verify it keeps the trace IDs and span counts of acknowledged requests (all, or a reservoir sample
// of --verify-sample traces), reads them back after the run with TraceVerifier and adds the result to the
// report. Requests the server refused are errors, never "missing": only acknowledged traces are expected.
//
// With --ack-log it keeps the (uncompressed, protobuf) payload of every request in flight and appends those
// the server acknowledged in full to the ack log (bench/loadgen/ack_log.h), flushed after every turn of the
// poll loop and before the report, so the file is complete whenever the process ends by itself or by
// SIGINT/SIGTERM.
//
// When the receiver goes away (every connection lost) the run stops sending, fails what was in flight and
// reports: no reconnecting, so a dead target ends the run within one poll turn.
//
// Threading: single-threaded; run() blocks until the run, the drain and the verification are over. SIGINT or
// SIGTERM ends the sending phase early (install_interrupt_handler()); a second one also abandons the drain.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "bench/loadgen/ack_log.h"
#include "bench/loadgen/client_connection.h"
#include "bench/loadgen/loadgen_options.h"
#include "bench/loadgen/request_template.h"
#include "bench/loadgen/rng.h"
#include "bench/loadgen/run_report.h"

namespace spindle {

class LoadGenerator {
 public:
  explicit LoadGenerator(LoadgenOptions options);

  // Runs everything and prints the report (JSON or text) to `out`. Returns the exit status documented in
  // loadgen_usage(): 0, 2 (no connection or no response), 3 (failed requests, with --fail-on-error or
  // --verify), 4 (--verify found losses); 1 if the request template cannot be built or written.
  int run(FILE* out);
  const RunReport& report() const { return report_; }

  // SIGINT and SIGTERM stop sending (the run then drains, verifies and reports as usual); a second signal
  // fails whatever is still in flight instead of waiting for it.
  static void install_interrupt_handler();

 private:
  struct InFlight {
    int spans = 0;
    size_t payload_bytes = 0;
    size_t wire_bytes = 0;
    std::vector<TraceId> traces;  // only with --verify
    std::string ack_body;         // only with --ack-log: the payload as sent, before gzip
  };

  ClientRequest next_request();
  void on_reply(ClientReply&& reply);
  // "" when the request was acknowledged in full, else the error reason.
  std::string classify(const ClientReply& reply) const;
  void remember(const std::vector<TraceId>& traces);
  int connect_all();
  void send_loop();
  void print_progress(double elapsed, bool final);
  void log_ack(std::string&& body);
  void flush_ack_log();

  LoadgenOptions options_;
  Rng rng_;
  RequestTemplate template_;
  std::vector<std::unique_ptr<ClientConnection>> connections_;
  std::unordered_map<uint64_t, InFlight> in_flight_;
  uint64_t next_tag_ = 0;
  uint64_t responses_ = 0;  // replies that carried any response (success or not)
  std::vector<TraceId> trace_ids_;  // scratch
  std::vector<ExpectedTrace> expected_;
  uint64_t acknowledged_traces_ = 0;  // for reservoir sampling
  RunReport report_;
  std::unique_ptr<AckLogWriter> ack_log_;
  bool ack_log_failed_ = false;
  // Progress (terminal only): figures at the last progress line.
  bool progress_ = false;
  uint64_t progress_spans_ = 0;
  double progress_at_ = 0;
  LatencyHistogram progress_latency_;
};

}  // namespace spindle
