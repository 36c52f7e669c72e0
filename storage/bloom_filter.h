#pragma once
// BloomFilter: a blocked bloom filter over trace IDs, one per block, kept resident so a trace-by-ID lookup
// skips a block without touching its files (Tempo's per-block bloom at 1% FP, section 2.4 of
// architecture.md).
//
// Layout: an array of 512-bit blocks (one cache line each). An ID is hashed once with XXH3-128 over its 16
// bytes; the high 64 bits pick the block (multiply-shift range reduction), the low 64 bits seed a splitmix64
// stream whose 9-bit slices are the k probed bits inside it. One cache miss per lookup instead of k. A
// blocked filter needs a few more bits per key than a classic one for the same FP rate, so the size is chosen
// by evaluating the blocked filter's expected FP rate (Poisson load per block) rather than the classic
// formula.
//
// Serialized form (all integers little endian):
//   offset  size  field
//   0       4     magic "SPBF"
//   4       1     format version (1)
//   5       1     k, probes per ID (1..16)
//   6       2     reserved, 0
//   8       4     block count B (>= 1)
//   12      4     reserved, 0
//   16      64*B  blocks, each eight u64 words, bit i of the block = bit (i % 64) of word (i / 64)
//   16+64B  8     XXH3-64 of bytes [0, 16+64B)
// deserialize() treats its input as untrusted: wrong size, magic, version, k or checksum is DataLoss.
//
// Thread safety: add() on one thread; may_contain() from any thread once no add() can run.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/trace_id.h"

namespace spindle {

class BloomFilter {
 public:
  static constexpr double kDefaultFpRate = 0.01;
  static constexpr size_t kBlockBits = 512;
  static constexpr size_t kWordsPerBlock = kBlockBits / 64;
  static constexpr size_t kHeaderSize = 16;
  static constexpr size_t kTrailerSize = 8;
  // 2^26 blocks = 4 GiB of bits: far beyond any block, and a bound on what deserialize() will allocate.
  static constexpr uint32_t kMaxBlocks = 1u << 26;

  // Sized for `expected_items` at `fp_rate` (clamped to [1e-6, 0.5]).
  explicit BloomFilter(uint64_t expected_items, double fp_rate = kDefaultFpRate);

  void add(const TraceId& id);
  // False means certainly absent.
  bool may_contain(const TraceId& id) const;

  std::string serialize() const;
  static Result<BloomFilter> deserialize(std::string_view data);

  uint32_t block_count() const { return static_cast<uint32_t>(words_.size() / kWordsPerBlock); }
  uint32_t probes() const { return probes_; }
  size_t byte_size() const { return words_.size() * sizeof(uint64_t); }
  // The FP rate a blocked filter of `blocks` blocks and `probes` probes has when holding `items` IDs.
  static double expected_fp_rate(uint64_t items, uint64_t blocks, uint32_t probes);

 private:
  BloomFilter(uint32_t probes, std::vector<uint64_t> words) : probes_(probes), words_(std::move(words)) {}

  uint32_t probes_ = 1;
  std::vector<uint64_t> words_;
};

}  // namespace spindle
