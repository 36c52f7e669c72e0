#pragma once
// ShardSet: starts N shard threads, wires the N x N SmpQueue mesh between them, and runs the two-phase stop.
//
// Life cycle:
//   start()         spawn threads; each initialises its loop, then (once every loop is ready, so cross-shard
//                   sends from on_start are safe) runs on_start and starts serving.
//   request_stop()  phase 1 on every shard: on_drain(shard, drained). The mesh keeps flowing. A shard
//                   counts as drained once it called drained() and has no cross-shard request of its own
//                   outstanding. When every shard has drained: phase 2 on every shard, on_stop(shard); then
//                   all shards meet at a barrier and force-close whatever handles are left on their loops
//                   (without close callbacks), so uv_loop_close succeeds. Cross-shard messages sent during
//                   on_stop are dropped.
//   join()          wait for the threads.
// Rules for services: a Reply should be answered during phase 1 (its origin counts the request as in flight
// and cannot drain until then); one destroyed unanswered during on_stop is dropped (its `done` never runs),
// one destroyed unanswered earlier aborts the process. After on_stop returns, the shard's handles are
// force-closed; services must not touch the loop afterwards.
//
// Threading: the ShardSet object itself must be created, started, joined and destroyed from one non-shard
// thread (main or a test). post(), request_stop(), size() and stats() may be called from any thread,
// including shard threads, at any time during the object's life.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/status.h"
#include "shards/shard.h"

namespace spindle {

class SmpQueue;

struct ShardSetOptions {
  uint32_t shards = 1;
  // Runs on each shard's thread before it serves (create per-shard services, open listeners).
  std::function<void(Shard&)> on_start;
  // Graceful stop, phase 1, on each shard thread: stop accepting, finish in-flight work, then call drained()
  // (on that shard's thread). Cross-shard messages keep flowing until EVERY shard has drained.
  std::function<void(Shard&, std::function<void()> drained)> on_drain;
  // Phase 2, after all shards drained, on each shard thread: close remaining handles/services.
  std::function<void(Shard&)> on_stop;
  // Pin shard i to the i-th CPU of the process's affinity mask when shards <= that many CPUs. Failure is
  // ignored.
  bool pin_threads = true;
};

// Cross-shard traffic figures of one shard (see Shard::in_flight / inbound_depth).
struct ShardStats {
  uint64_t in_flight = 0;
  uint64_t inbound_depth = 0;
};

class ShardSet {
 public:
  // Upper bound on the shard count: the mesh has shards^2 queues of about 3 KiB each.
  static constexpr uint32_t kMaxShards = 128;

  explicit ShardSet(ShardSetOptions options);
  ~ShardSet();  // request_stop() + join() if still running
  ShardSet(const ShardSet&) = delete;
  ShardSet& operator=(const ShardSet&) = delete;

  // Spawns the threads; returns once every shard ran on_start, or an error (invalid shard count, thread or
  // loop creation failure, start() called twice or after request_stop()). On error no thread is left running.
  Status start();
  uint32_t size() const { return options_.shards; }

  // Any thread: runs fn on that shard's thread, from its loop (Seastar's "alien" path: a mutex-protected
  // queue plus the shard's uv_async; never use it on the data path). Callable before start() (runs once the
  // shard serves). Returns false, dropping fn, if `shard` is out of range or that shard has already shut
  // down.
  bool post(uint32_t shard, std::function<void(Shard&)> fn);

  // Any thread, idempotent, non-blocking: begins the two-phase stop.
  void request_stop();
  bool stop_requested() const { return stop_requested_.load(std::memory_order_acquire); }

  // Blocks until every shard thread has exited (that is, after stop completes). Never call it from a shard.
  void join();

  // Any thread. Zeros for an out-of-range shard.
  ShardStats stats(uint32_t shard) const;

 private:
  friend struct Shard::Impl;

  void thread_main(uint32_t index);
  void pin_and_name(uint32_t index);
  // Shard threads: called once per shard when it has drained; the last one starts phase 2 everywhere.
  void on_shard_drained();
  // Shard threads: the barrier between on_stop and force-closing handles.
  void wait_all_stopped();

  ShardSetOptions options_;
  // Fixed at construction (empty if options_.shards is invalid), so any thread may read them.
  std::vector<Shard*> shards_;
  std::vector<std::unique_ptr<SmpQueue>> queues_;  // [from * n + to]

  std::vector<std::thread> threads_;  // start()/join() thread only
  std::mutex join_mu_;

  enum class Gate { Wait, Go, Abort };
  std::mutex mu_;  // guards everything below, plus the condition variable
  std::condition_variable cv_;
  bool start_called_ = false;
  uint32_t inited_ = 0;
  Status init_status_;
  Gate gate_ = Gate::Wait;
  uint32_t started_ = 0;
  uint32_t stop_arrived_ = 0;

  std::atomic<bool> stop_requested_{false};
  std::atomic<uint32_t> drained_count_{0};
};

}  // namespace spindle
