#pragma once
// LatencyHistogram: request latencies in microseconds with bounded memory and ~0.2% relative error, so a long
// run at millions of requests keeps a fixed footprint (unlike storing every sample).
//
// Buckets: values below 1024 us are exact; above, each power of two is split into 512 linear buckets, and a
// value reports as its bucket's upper bound (never under-reports). max() is exact.
//
// Threading: single-threaded (the load generator's loop).
#include <cstdint>
#include <vector>

namespace spindle {

class LatencyHistogram {
 public:
  LatencyHistogram();
  void record(uint64_t micros);
  void clear();
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  // The smallest recorded bucket value v with at least q * count() samples <= v; 0 when empty. q in [0, 1].
  uint64_t percentile(double q) const;

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

}  // namespace spindle
