// Micro-benchmarks of the block format (storage/block_writer.h, block_reader.h, bloom_filter.h), on traces
// built the way the head store builds them: the loadgen's default request (100 spans, 10 traces of 10 spans
// across 10 services, 8 attributes a span) with fresh IDs, decoded by the ingest decoder and assembled per
// trace by TraceAssembler into serialized tempopb.Trace rows.
//   - BM_BlockBuild: BlockWriter add() of every trace in ID order + finish() (fsyncs and rename included),
//     zstd level 1 (fresh blocks) and 3 (compaction). Bytes are serialized trace bytes in; CPU time is the
//     writer's thread (fsync waits are in the wall time only). `ratio` = trace bytes / block bytes on disk.
//   - BM_BlockFind: BlockReader::find() on a warm block (page cache and bloom resident) for IDs it holds and
//     for random IDs it does not; p50/p99 per call in microseconds.
//   - BM_BloomLookup: BloomFilter::may_contain over 1 M resident IDs (a 1.2 MiB filter, larger than L2).
// architecture.md 5.3 targets: block build >= 150 MB/s per core including zstd-1; trace-by-ID p99 < 10 ms on
// warm blooms.
//   build-micro/bench/block_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench/loadgen/request_template.h"
#include "proto/otlp_decoder.h"
#include "storage/block_reader.h"
#include "storage/block_writer.h"
#include "storage/bloom_filter.h"
#include "storage/trace_merge.h"
#include "tests/support/temp_dir.h"

namespace spindle {
namespace {

struct Corpus {
  std::vector<std::pair<TraceId, std::string>> traces;  // ascending ID
  uint64_t bytes = 0;
};

// 500 requests: 5,000 traces, 50,000 spans (~20 MB of traces, ~150 pages of 128 KiB). Built once.
constexpr int kRequests = 500;

Corpus build_corpus() {
  Corpus corpus;
  auto tmpl = RequestTemplate::build(RequestShape{}, PayloadFormat::Protobuf, 7);
  if (!tmpl.ok()) return corpus;
  Rng rng(42);
  std::string msg;
  std::vector<TraceId> ids;
  const uint64_t base_ns = 1'700'000'000'000'000'000ull;
  for (int r = 0; r < kRequests; ++r) {
    msg = tmpl.value().bytes();
    tmpl.value().patch(rng, base_ns + static_cast<uint64_t>(r) * 1'000'000, msg.data(), ids);
    auto decoded = decode_export_request(msg, 1);
    if (!decoded.ok() || decoded.value().batches.size() != 1) return {};
    const SpanBatch& batch = decoded.value().batches[0];
    // The assembler keeps views into `batch`, so each request's traces are finished before the next.
    std::map<TraceId, TraceAssembler> per_trace;
    for (const SpanBatch::Span& span : batch.spans) {
      const SpanBatch::Context& c = batch.contexts[span.context];
      per_trace[span.trace_id].add_span(c.resource, c.resource_schema_url, c.scope, c.scope_schema_url,
                                        std::string_view(batch.data).substr(span.offset, span.size));
    }
    for (auto& [id, assembler] : per_trace) corpus.traces.emplace_back(id, assembler.finish());
  }
  std::sort(corpus.traces.begin(), corpus.traces.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& t : corpus.traces) corpus.bytes += t.second.size();
  return corpus;
}

const Corpus& corpus() {
  static const Corpus c = build_corpus();
  return c;
}

uint64_t dir_bytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

Result<BlockMeta> write_block(const std::string& root, int zstd_level) {
  BlockWriteOptions options;
  options.zstd_level = zstd_level;
  BlockWriter writer(root, options);
  for (const auto& [id, trace] : corpus().traces) SPINDLE_RETURN_IF_ERROR(writer.add(id, trace));
  return writer.finish();
}

void BM_BlockBuild(benchmark::State& state) {
  const Corpus& c = corpus();
  TempDir root;
  if (c.traces.empty() || root.path().empty()) {
    state.SkipWithError("corpus or temporary directory");
    return;
  }
  const int level = static_cast<int>(state.range(0));
  uint64_t on_disk = 0;
  for (auto _ : state) {
    auto meta = write_block(root.path(), level);
    state.PauseTiming();
    if (!meta.ok()) {
      state.SkipWithError(meta.status().to_string().c_str());
      break;
    }
    const std::string dir = root.path() + "/" + meta.value().block_id;
    on_disk = dir_bytes(dir);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.traces.size()));
  state.counters["trace_bytes"] = static_cast<double>(c.bytes);
  state.counters["ratio"] = on_disk ? static_cast<double>(c.bytes) / static_cast<double>(on_disk) : 0;
}
BENCHMARK(BM_BlockBuild)->ArgName("zstd")->Arg(1)->Arg(3)->MinTime(2);

// One warm block shared by the lookup benchmarks (written on first use, removed at exit).
struct WarmBlock {
  TempDir root;
  std::unique_ptr<BlockReader> reader;
};

WarmBlock& warm_block() {
  static WarmBlock block;  // built in place: a TempDir is not copyable (a copy would remove the directory twice)
  static const bool written = [] {
    auto meta = write_block(block.root.path(), 1);
    if (!meta.ok()) return false;
    auto reader = BlockReader::open(block.root.path() + "/" + meta.value().block_id);
    if (reader.ok()) block.reader = std::move(reader).value();
    return reader.ok();
  }();
  (void)written;
  return block;
}

TraceId random_id(Rng& rng) {
  TraceId id;
  const uint64_t a = rng.next_nonzero(), b = rng.next();
  for (int i = 0; i < 8; ++i) {
    id.bytes[i] = static_cast<uint8_t>(a >> (8 * i));
    id.bytes[8 + i] = static_cast<uint8_t>(b >> (8 * i));
  }
  return id;
}

double percentile_us(std::vector<uint64_t>& ns, double q) {
  if (ns.empty()) return 0;
  const size_t k = std::min(ns.size() - 1, static_cast<size_t>(q * static_cast<double>(ns.size())));
  std::nth_element(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(k), ns.end());
  return static_cast<double>(ns[k]) / 1000.0;
}

// Arg(0): 1 = IDs the block holds (random order), 0 = random IDs it does not hold.
void BM_BlockFind(benchmark::State& state) {
  const Corpus& c = corpus();
  BlockReader* reader = warm_block().reader.get();
  if (reader == nullptr) {
    state.SkipWithError("could not write or open the block");
    return;
  }
  const bool present = state.range(0) == 1;
  Rng rng(present ? 1 : 2);
  std::vector<TraceId> ids;
  for (int i = 0; i < 4096; ++i) {
    ids.push_back(present ? c.traces[rng.next() % c.traces.size()].first : random_id(rng));
  }
  std::vector<uint64_t> latencies;
  latencies.reserve(1 << 20);
  size_t i = 0, found = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    auto trace = reader->find(ids[i++ & 4095]);
    const auto t1 = std::chrono::steady_clock::now();
    if (!trace.ok()) {
      state.SkipWithError(trace.status().to_string().c_str());
      break;
    }
    found += trace.value().has_value();
    if (latencies.size() < latencies.capacity()) {
      latencies.push_back(static_cast<uint64_t>((t1 - t0).count()));
    }
  }
  if (found != (present ? i : 0)) state.SkipWithError("find() disagrees with the corpus");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["p50_us"] = percentile_us(latencies, 0.50);
  state.counters["p99_us"] = percentile_us(latencies, 0.99);
}
BENCHMARK(BM_BlockFind)->ArgName("present")->Arg(1)->Arg(0);

constexpr size_t kBloomIds = 1 << 20;

void BM_BloomLookup(benchmark::State& state) {
  const bool present = state.range(0) == 1;
  Rng rng(3);
  std::vector<TraceId> stored(kBloomIds);
  for (TraceId& id : stored) id = random_id(rng);
  BloomFilter bloom(kBloomIds);
  for (const TraceId& id : stored) bloom.add(id);
  std::vector<TraceId> probes = stored;
  if (!present) {
    for (TraceId& id : probes) id = random_id(rng);
  }
  // Random order so consecutive probes hit unrelated cache lines, as real lookups do.
  for (size_t i = probes.size() - 1; i > 0; --i) std::swap(probes[i], probes[rng.next() % (i + 1)]);
  size_t i = 0, hits = 0;
  for (auto _ : state) {
    hits += bloom.may_contain(probes[i++ & (kBloomIds - 1)]);
  }
  if (present && hits != i) state.SkipWithError("bloom filter lost an ID");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["positive_rate"] = i ? static_cast<double>(hits) / static_cast<double>(i) : 0;
  state.counters["filter_bytes"] = static_cast<double>(bloom.byte_size());
}
BENCHMARK(BM_BloomLookup)->ArgName("present")->Arg(1)->Arg(0);

}  // namespace
}  // namespace spindle

BENCHMARK_MAIN();
