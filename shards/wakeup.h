#pragma once
// Wakeup: a shard's doorbell, one uv_async_t per shard.
//
// Producers publish into a ring with a release store, then call notify(): a seq_cst fence followed by
// uv_async_send. The fence orders "ring published" before libuv's read of its `pending` flag; libuv 1.44 only
// documents that ordering from 1.53 on, so we pay for it explicitly. uv_async_send coalesces (the eventfd is
// written only on the 0 -> 1 transition of `pending`), so a redundant notify costs one atomic.
//
// Threading: init() and uv_close(handle()) on the owner shard's thread. notify() from any thread, but only
// between init() and the close; the runtime guarantees that (startup gate before, stop barrier / alien lock
// after).
#include <uv.h>

#include <atomic>

namespace spindle {

// A full (store-load) fence. TSan does not model fences and GCC rejects them under -fsanitize=thread
// (-Wtsan); the fences here only order flag/index accesses for wakeup decisions, while every data hand-off
// uses release/acquire pairs that TSan does check, so we keep the real fence and silence the warning.
#if defined(__SANITIZE_THREAD__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
inline void full_fence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
#if defined(__SANITIZE_THREAD__)
#pragma GCC diagnostic pop
#endif

class Wakeup {
 public:
  // Owner thread. `cb` runs on the owner's loop; `data` is stored in the handle.
  int init(uv_loop_t* loop, uv_async_cb cb, void* data) {
    async_.data = data;
    return uv_async_init(loop, &async_, cb);
  }

  // Any thread (see above).
  void notify() {
    full_fence();
    uv_async_send(&async_);
  }

  uv_handle_t* handle() { return reinterpret_cast<uv_handle_t*>(&async_); }

 private:
  uv_async_t async_{};
};

}  // namespace spindle
