#pragma once
// xorshift64*: fast and good enough that random trace IDs never collide within a run. Not cryptographic.
//
// Threading: one instance per thread; no internal locking.
#include <cstdint>

namespace spindle {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed ? seed : 0x9E3779B97F4A7C15ull) {}
  uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  // Never zero: an all-zero trace or span ID is invalid in OTLP.
  uint64_t next_nonzero() {
    uint64_t v = next();
    return v ? v : 1;
  }

 private:
  uint64_t state_;
};

}  // namespace spindle
