#pragma once
// Shard::Impl: the runtime side of a shard. Private to shards/ (included by shard.cc and shard_set.cc only).
//
// Loop hooks: the uv_async callback, a uv_prepare hook (right before the loop may block in epoll) and a
// uv_check hook (right after I/O callbacks) all "pump": run every inbound request and completion, then flush
// every outbound batch. The prepare flush is what guarantees a shard never sleeps on unflushed messages.
// prepare and check are unref'd so they never keep the loop alive; the async handle does until the final
// stop.
//
// Threading: everything is owner-thread only except in_flight (atomic, read anywhere), the alien_* members
// (under alien_mu), wakeup.notify() and the ring depths read by Shard::inbound_depth().
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "core/status.h"
#include "shards/shard.h"
#include "shards/smp_queue.h"
#include "shards/wakeup.h"
#include "shards/work_item.h"

namespace spindle {

struct Shard::Impl final : CompletionSink {
  Impl(Shard& self_shard, ShardSet& owner) : self(self_shard), set(owner) {}

  // The Impl whose thread is the current one (null on non-shard threads).
  static thread_local Impl* current;

  // Owner thread. Initialises the loop and the runtime's handles and opens the alien queue.
  Status init_loop();
  // Owner thread. Force-closes every handle still open, runs the loop until they are closed, closes the loop.
  void teardown();

  static void on_async(uv_async_t* handle);
  static void on_prepare(uv_prepare_t* handle);
  static void on_check(uv_check_t* handle);
  void pump();
  bool drain_inbound();  // true if some ring may still hold items
  void flush_outbound();
  void run_alien();
  void begin_drain();
  void on_user_drained();
  void maybe_report_drained();
  void begin_stop();

  void on_work_done(WorkItem* item) override;
  void on_work_abandoned(WorkItem* item) override;

  Shard& self;
  ShardSet& set;
  std::vector<SmpQueue*> outbound;  // [target]: queue(self -> target)
  std::vector<SmpQueue*> inbound;   // [origin]: queue(origin -> self)
  Wakeup wakeup;
  uv_prepare_t prepare{};
  uv_check_t check{};
  std::atomic<uint64_t> in_flight{0};  // written by the owner only

  bool loop_inited = false;
  bool draining = false;      // on_drain was called
  bool user_drained = false;  // the drained() callback ran
  bool reported_drained = false;
  bool stopping = false;  // phase 2 began: the loop is leaving uv_run
  bool stopped = false;   // past on_stop: sends are dropped

  enum class AlienState { NotYet, Open, Closed };
  std::mutex alien_mu;
  std::vector<std::function<void(Shard&)>> alien;
  AlienState alien_state = AlienState::NotYet;
};

}  // namespace spindle
