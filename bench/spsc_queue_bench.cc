// Micro-benchmarks of the cross-shard hand-off (architecture.md 5.3 target: >= 10 M msgs/s between two cores
// in batch mode):
//   - SpscQueue alone: one producer thread (the benchmark thread) and one consumer thread, each pinned to
//     its own CPU when there are two, moving 64-bit values through a 128-slot ring (SmpLane's size) one at
//     a time or in batches;
//   - ShardSet::submit_to round trips from shard 0 to shard 1 (request ring + completion ring, WorkItem
//     allocation, wakeups): one at a time (the next request is sent from the previous one's completion) or
//     with a window of requests in flight, which the runtime batches per loop turn.
//   build-micro/bench/spsc_queue_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "shards/shard_set.h"
#include "shards/spsc_queue.h"

namespace spindle {
namespace {

constexpr size_t kRingCapacity = 128;
using Ring = SpscQueue<uint64_t, kRingCapacity>;

// Pins the calling thread to the `index`-th CPU it may run on; returns the previous mask so the caller can
// restore it. With fewer than two CPUs nothing is pinned (both threads then share one core).
std::optional<cpu_set_t> pin_to(int index) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || CPU_COUNT(&allowed) < 2) return std::nullopt;
  int seen = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed) || seen++ != index) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (pthread_setaffinity_np(pthread_self(), sizeof(one), &one) != 0) return std::nullopt;
    return allowed;
  }
  return std::nullopt;
}

// Consumer thread: pops `batch` values at a time until it has seen `total`, checking they arrive in order
// (a reordering or lost value would make the figure meaningless).
void consume(Ring& ring, uint64_t total, size_t batch, std::atomic<bool>& ok) {
  pin_to(1);
  uint64_t buf[kRingCapacity];
  uint64_t expected = 0;
  bool in_order = true;
  while (expected < total) {
    const size_t n = batch == 1 ? (ring.try_pop(buf[0]) ? 1 : 0) : ring.pop_batch(buf, batch);
    for (size_t i = 0; i < n; ++i) in_order &= buf[i] == expected++;
  }
  ok.store(in_order, std::memory_order_relaxed);
}

// One benchmark iteration moves kChunk values; Arg(0) is the batch size of both sides.
constexpr uint64_t kChunk = 1 << 16;

void BM_SpscQueue(benchmark::State& state) {
  const auto batch = static_cast<size_t>(state.range(0));
  Ring ring;
  // The consumer must know the total in advance, and Google Benchmark picks the iteration count before
  // calling us, so it is fixed once the loop starts.
  const uint64_t total = state.max_iterations * kChunk;
  std::atomic<bool> ok{false};
  std::thread consumer(consume, std::ref(ring), total, batch, std::ref(ok));
  const std::optional<cpu_set_t> previous = pin_to(0);

  uint64_t next = 0;
  uint64_t buf[kRingCapacity];
  for (auto _ : state) {
    const uint64_t end = next + kChunk;
    if (batch == 1) {
      while (next < end) {
        if (ring.try_push(next)) ++next;
      }
    } else {
      while (next < end) {
        const size_t want = static_cast<size_t>(std::min<uint64_t>(batch, end - next));
        for (size_t i = 0; i < want; ++i) buf[i] = next + i;
        next += ring.try_push_batch(buf, want);
      }
    }
  }
  consumer.join();  // the last chunk is only done once it has been consumed
  if (previous) pthread_setaffinity_np(pthread_self(), sizeof(*previous), &*previous);
  if (!ok.load()) state.SkipWithError("consumer saw values out of order");
  state.SetItemsProcessed(static_cast<int64_t>(total));
}
BENCHMARK(BM_SpscQueue)->ArgName("batch")->Arg(1)->Arg(16)->Arg(64)->UseRealTime();

// Drives `target` round trips shard 0 -> shard 1 -> shard 0 with at most `window` in flight. Lives on the
// benchmark thread's stack; between post() and the finished signal only shard 0's thread touches the
// counters.
struct RoundTrips {
  uint64_t target = 0;
  uint32_t window = 1;
  uint64_t sent = 0;
  uint64_t completed = 0;
  uint64_t wrong = 0;  // replies that did not come from shard 1

  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;

  void send_one(Shard& origin) {
    ++sent;
    origin.submit_to(
        1, [](Shard& target) { return target.id(); },
        [this, &origin](uint32_t from) {
          wrong += from != 1;
          ++completed;
          if (sent < target) {
            send_one(origin);
          } else if (completed == target) {
            std::lock_guard lock(mu);
            finished = true;
            cv.notify_one();
          }
        });
  }

  // Benchmark thread: starts a round of `n` round trips on shard 0 and waits for the last completion.
  void run(ShardSet& set, uint64_t n) {
    target += n;
    finished = false;
    set.post(0, [this](Shard& origin) {
      while (sent < target && sent - completed < window) send_one(origin);
    });
    std::unique_lock lock(mu);
    cv.wait(lock, [this] { return finished; });
  }
};

constexpr uint64_t kRoundTripsPerIteration = 1 << 14;

void BM_ShardSetSubmitTo(benchmark::State& state) {
  RoundTrips trips;
  trips.window = static_cast<uint32_t>(state.range(0));
  ShardSetOptions options;
  options.shards = 2;
  ShardSet set(options);
  if (!set.start().is_ok()) {
    state.SkipWithError("ShardSet::start failed");
    return;
  }
  for (auto _ : state) trips.run(set, kRoundTripsPerIteration);
  set.request_stop();
  set.join();
  if (trips.wrong != 0) state.SkipWithError("a reply came from the wrong shard");
  // Items are round trips; each is two hand-offs (request ring, completion ring).
  state.SetItemsProcessed(static_cast<int64_t>(trips.completed));
  state.counters["hand_offs_per_s"] =
      benchmark::Counter(static_cast<double>(2 * trips.completed), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ShardSetSubmitTo)->ArgName("window")->Arg(1)->Arg(16)->Arg(128)->Arg(1024)->UseRealTime();

}  // namespace
}  // namespace spindle

BENCHMARK_MAIN();
