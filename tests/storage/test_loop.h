#pragma once
// A libuv loop for one storage test (Wal, TraceStore), with a repeating timer so run_until() wakes up to
// check its deadline even when nothing else happens.
#include <gtest/gtest.h>
#include <uv.h>

#include <chrono>

namespace spindle {

class TestLoop {
 public:
  TestLoop() {
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &tick_);
    uv_timer_start(
        &tick_, [](uv_timer_t*) {}, 5, 5);
  }
  // Bounded: a test that failed before closing what it opened reports a busy loop instead of hanging.
  ~TestLoop() {
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    for (int i = 0; i < 10; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  uv_loop_t* get() { return &loop_; }

  // Runs the loop until pred() holds; false after 10 s.
  template <class Pred>
  bool run_until(Pred pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      uv_run(&loop_, UV_RUN_ONCE);
    }
    return true;
  }
  // A few iterations without waiting for anything in particular.
  void spin(int iterations) {
    for (int i = 0; i < iterations; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
  }

 private:
  uv_loop_t loop_;
  uv_timer_t tick_;
};

}  // namespace spindle
