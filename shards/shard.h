#pragma once
// Shard: one thread, one libuv loop, one slice of the trace-ID space. Shards never share mutable state; they talk
// only through the SPSC mesh (shards/smp_queue.h) with callback-style submit_to (Seastar's smp::submit_to
// without futures).
//
// Threading: every member except the ones marked "any thread" may be called only on this shard's own thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include <uv.h>

#include "shards/work_item.h"

namespace spindle {

class ShardSet;

class Shard {
 public:
  uint32_t id() const { return id_; }
  uint32_t count() const { return count_; }
  uv_loop_t* loop() { return &loop_; }

  // Runs `fn(Shard& target)` on shard `target`, then `done(result)` back on this shard. Both always run later from
  // the loop, never inline, even when target == id() (so callers see no re-entrancy). `fn` may return void, in
  // which case `done()` takes no argument.
  template <class Fn, class Done>
  void submit_to(uint32_t target, Fn&& fn, Done&& done) {
    using R = std::invoke_result_t<Fn&, Shard&>;
    send(target, make_work_item<R>(std::forward<Fn>(fn), std::forward<Done>(done)));
  }

  // Like submit_to, but the target answers later: `fn(Shard& target, Reply<R> reply)` must call reply(value)
  // exactly once, on the target's thread (for example after its own I/O completes).
  template <class R, class Fn, class Done>
  void submit_async(uint32_t target, Fn&& fn, Done&& done) {
    send(target, make_async_work_item<R>(std::forward<Fn>(fn), std::forward<Done>(done)));
  }

  // Per-shard service object owned by the server (the runtime never looks inside). Set in on_start.
  void* services = nullptr;

  // Cross-shard traffic figures for /metrics: items sent and not yet completed by this shard, and items waiting
  // in this shard's inbound rings. Any thread may read them (relaxed).
  uint64_t in_flight() const;
  uint64_t inbound_depth() const;

 private:
  friend class ShardSet;
  Shard(ShardSet* set, uint32_t id, uint32_t count);
  ~Shard();
  void send(uint32_t target, WorkItem* item);

  ShardSet* set_;
  uint32_t id_;
  uint32_t count_;
  uv_loop_t loop_{};
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spindle
