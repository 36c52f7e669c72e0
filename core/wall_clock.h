#pragma once
// The wall clock (system_clock) in unix nanoseconds and seconds: what span timestamps, block creation and
// retention times and search windows are measured in. It can jump; durations use uv_now or steady_clock.
#include <chrono>
#include <cstdint>

namespace spindle {

inline uint64_t wall_now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

inline uint64_t wall_now_s() { return wall_now_ns() / 1000000000; }

}  // namespace spindle
