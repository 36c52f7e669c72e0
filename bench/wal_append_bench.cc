// Micro-benchmarks of one shard's WAL (storage/wal.h) on a real file system: a temporary directory under
// /tmp, removed afterwards. The payload is what the ingest path appends: the 100-span SpanBatch of the
// loadgen's default request (8 attributes a span, 25% with an event), encoded by encode_span_batch (~33 KB).
//   - Written: ack once the record is in the page cache (the background group-commit still runs);
//   - Synced: ack after the group-committed fdatasync (256 KiB / 100 ms defaults), with a window of appends
//     in flight the way ingest requests wait for their acks.
// Both run the append, the callbacks and the loop on the benchmark thread (the shard's loop), so CPU time is
// the shard's cost; the sync thread's fdatasync is not in it, wall time is.
// architecture.md 5.3 target: append >= 1 GB/s per core to the page cache.
//   build-micro/bench/wal_append_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <uv.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "bench/loadgen/request_template.h"
#include "proto/otlp_decoder.h"
#include "storage/span_batch_codec.h"
#include "storage/wal.h"
#include "tests/support/temp_dir.h"

namespace spindle {
namespace {

// The encoded SpanBatch of one default loadgen request (one owner shard: all 100 spans), or "" on error.
std::string default_payload() {
  auto tmpl = RequestTemplate::build(RequestShape{}, PayloadFormat::Protobuf, 1);
  if (!tmpl.ok()) return "";
  auto decoded = decode_export_request(tmpl.value().bytes(), 1);
  if (!decoded.ok() || decoded.value().batches.size() != 1) return "";
  return encode_span_batch(decoded.value().batches[0]);
}

// Counts callbacks and failures; the Wal's callbacks run on the loop thread, which is the benchmark thread.
struct Acks {
  uint64_t done = 0;
  uint64_t failed = 0;
};

void BM_WalAppend(benchmark::State& state, WalAckPolicy ack) {
  const std::string payload = default_payload();
  TempDir dir;
  if (payload.empty() || dir.path().empty()) {
    state.SkipWithError("payload or temporary directory");
    return;
  }
  const auto window = static_cast<uint64_t>(state.range(0));
  uv_loop_t loop;
  uv_loop_init(&loop);
  WalOptions options;
  options.dir = dir.path();
  options.ack = ack;
  auto wal = std::make_unique<Wal>(&loop, options);
  if (Status s = wal->open(); !s.is_ok()) {
    state.SkipWithError(s.to_string().c_str());
    return;
  }

  Acks acks;
  uint64_t appended = 0;
  auto on_ack = [&acks](Status s) {
    ++acks.done;
    acks.failed += !s.is_ok();
  };
  uint64_t last_segment = wal->current_segment();
  for (auto _ : state) {
    while (appended - acks.done >= window) uv_run(&loop, UV_RUN_ONCE);
    wal->append(payload, on_ack);
    ++appended;
    // What a shard does once a block is cut: drop the segments it covers. Keeps the disk footprint to a
    // couple of 64 MiB segments however long the benchmark runs.
    if (wal->current_segment() != last_segment) {
      last_segment = wal->current_segment();
      wal->remove_segments_before(last_segment).ignore();
    }
  }
  while (acks.done < appended) uv_run(&loop, UV_RUN_ONCE);

  const WalStats stats = wal->stats();
  bool closed = false;
  wal->close([&closed] { closed = true; });
  while (!closed) uv_run(&loop, UV_RUN_ONCE);
  wal.reset();
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_loop_close(&loop);

  if (acks.failed != 0) state.SkipWithError("an append failed");
  state.SetBytesProcessed(static_cast<int64_t>(appended * payload.size()));
  state.SetItemsProcessed(static_cast<int64_t>(appended));
  state.counters["payload_bytes"] = static_cast<double>(payload.size());
  state.counters["syncs"] = static_cast<double>(stats.syncs);
  state.counters["appends_per_sync"] =
      stats.syncs ? static_cast<double>(appended) / static_cast<double>(stats.syncs) : 0;
}

// Items are appends, bytes are payload bytes (the 13-byte record headers are not counted).
BENCHMARK_CAPTURE(BM_WalAppend, written, WalAckPolicy::Written)->ArgName("window")->Arg(64)->MinTime(2);
BENCHMARK_CAPTURE(BM_WalAppend, written_real_time, WalAckPolicy::Written)
    ->ArgName("window")
    ->Arg(64)
    ->MinTime(2)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_WalAppend, synced, WalAckPolicy::Synced)
    ->ArgName("window")
    ->Arg(32)
    ->Arg(256)
    ->MinTime(2)
    ->UseRealTime();

}  // namespace
}  // namespace spindle

BENCHMARK_MAIN();
