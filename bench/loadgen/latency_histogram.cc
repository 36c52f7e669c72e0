#include "bench/loadgen/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace spindle {
namespace {

constexpr int kSubBits = 9;                    // 512 buckets per power of two
constexpr uint64_t kLinear = 2ull << kSubBits;  // exact below 1024

size_t bucket_of(uint64_t v) {
  if (v < kLinear) return static_cast<size_t>(v);
  const int exponent = std::bit_width(v) - kSubBits - 1;  // >= 1
  const uint64_t sub = v >> exponent;                   // in [512, 1024)
  return static_cast<size_t>(kLinear + (exponent - 1) * (kLinear / 2) + (sub - kLinear / 2));
}

// The largest value that maps to bucket b.
uint64_t upper_of(size_t b) {
  if (b < kLinear) return b;
  const size_t rest = b - kLinear;
  const int exponent = static_cast<int>(rest / (kLinear / 2)) + 1;
  const uint64_t sub = rest % (kLinear / 2) + kLinear / 2;
  return ((sub + 1) << exponent) - 1;
}

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(bucket_of(~0ull) + 1, 0) {}

void LatencyHistogram::record(uint64_t micros) {
  ++buckets_[bucket_of(micros)];
  ++count_;
  max_ = std::max(max_, micros);
}

void LatencyHistogram::clear() {
  std::fill(buckets_.begin(), buckets_.end(), 0);
  count_ = 0;
  max_ = 0;
}

uint64_t LatencyHistogram::percentile(double q) const {
  if (count_ == 0) return 0;
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen >= rank) return std::min(upper_of(b), max_);
  }
  return max_;
}

}  // namespace spindle
