#include "storage/bloom_filter.h"

#include "core/endian.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace spindle {
namespace {

static_assert(std::endian::native == std::endian::little, "on-disk formats assume a little-endian host");

constexpr char kMagic[4] = {'S', 'P', 'B', 'F'};
constexpr uint8_t kVersion = 1;
constexpr uint32_t kMaxProbes = 16;

// splitmix64 (Steele et al.): turns the hash into a stream of well-mixed words. Double hashing inside a
// 512-bit block correlates the probes and measurably raises the FP rate at low targets; independent 9-bit
// slices of mixed words do not.
uint64_t mix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

constexpr uint32_t kProbesPerWord = 64 / 9;  // 9 bits address one of 512

// Calls on_bit(word index in block, mask) for each of the k probes of `id`; stops early if it returns false.
template <class F>
bool probe(const TraceId& id, uint64_t blocks, uint32_t k, F&& on_bit) {
  XXH128_hash_t h = XXH3_128bits(id.bytes.data(), id.bytes.size());
  // Range reduction without a division: (high * blocks) >> 64.
  uint64_t block = static_cast<uint64_t>((static_cast<unsigned __int128>(h.high64) * blocks) >> 64);
  uint64_t state = h.low64;
  uint64_t word = 0;
  for (uint32_t i = 0; i < k; ++i) {
    if (i % kProbesPerWord == 0) word = mix(state);
    uint32_t bit = static_cast<uint32_t>(word & (BloomFilter::kBlockBits - 1));
    word >>= 9;
    if (!on_bit(block * BloomFilter::kWordsPerBlock + bit / 64, uint64_t{1} << (bit % 64))) return false;
  }
  return true;
}


}  // namespace

double BloomFilter::expected_fp_rate(uint64_t items, uint64_t blocks, uint32_t probes) {
  // Items per block are ~Poisson(lambda); a block holding j items has each bit set with probability
  // 1 - (1 - 1/512)^(j*k), and a query of an absent ID fails only if all k probed bits are set.
  double lambda = static_cast<double>(items) / static_cast<double>(blocks);
  double limit = lambda + 12 * std::sqrt(lambda) + 24;
  double p_j = std::exp(-lambda);  // Poisson(0)
  double fp = 0;
  double bit_clear = 1.0 - 1.0 / kBlockBits;
  for (uint64_t j = 0; static_cast<double>(j) <= limit; ++j) {
    if (j > 0) p_j *= lambda / static_cast<double>(j);
    double set = 1.0 - std::pow(bit_clear, static_cast<double>(j * probes));
    fp += p_j * std::pow(set, probes);
  }
  return fp;
}

BloomFilter::BloomFilter(uint64_t expected_items, double fp_rate) {
  fp_rate = std::clamp(fp_rate, 1e-6, 0.5);
  uint64_t n = std::max<uint64_t>(expected_items, 1);
  probes_ = std::clamp<uint32_t>(static_cast<uint32_t>(std::lround(-std::log2(fp_rate))), 1, kMaxProbes);
  // Start from the classic size and grow by 5% until the blocked layout meets the target.
  double bits_per_item = -std::log(fp_rate) / (std::log(2.0) * std::log(2.0));
  uint64_t blocks = 1;
  for (int step = 0; step < 100; ++step) {
    double bits = bits_per_item * static_cast<double>(n);
    blocks = std::clamp<uint64_t>(static_cast<uint64_t>(std::ceil(bits / kBlockBits)), 1, kMaxBlocks);
    if (blocks == kMaxBlocks || expected_fp_rate(n, blocks, probes_) <= fp_rate) break;
    bits_per_item *= 1.05;
  }
  words_.assign(blocks * kWordsPerBlock, 0);
}

void BloomFilter::add(const TraceId& id) {
  probe(id, block_count(), probes_, [&](uint64_t word, uint64_t mask) {
    words_[word] |= mask;
    return true;
  });
}

bool BloomFilter::may_contain(const TraceId& id) const {
  return probe(id, block_count(), probes_,
               [&](uint64_t word, uint64_t mask) { return (words_[word] & mask) != 0; });
}

std::string BloomFilter::serialize() const {
  std::string out;
  out.reserve(kHeaderSize + byte_size() + kTrailerSize);
  out.append(kMagic, sizeof kMagic);
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(probes_));
  append_le<uint16_t>(out, 0);
  append_le<uint32_t>(out, block_count());
  append_le<uint32_t>(out, 0);
  out.append(reinterpret_cast<const char*>(words_.data()), byte_size());
  append_le<uint64_t>(out, XXH3_64bits(out.data(), out.size()));
  return out;
}

Result<BloomFilter> BloomFilter::deserialize(std::string_view data) {
  if (data.size() < kHeaderSize + kTrailerSize) {
    return data_loss("bloom filter: " + std::to_string(data.size()) + " bytes is shorter than its header");
  }
  if (std::memcmp(data.data(), kMagic, sizeof kMagic) != 0) return data_loss("bloom filter: bad magic");
  uint8_t version = static_cast<uint8_t>(data[4]);
  if (version != kVersion) {
    return data_loss("bloom filter: unsupported format version " + std::to_string(version));
  }
  uint32_t probes = static_cast<uint8_t>(data[5]);
  uint32_t blocks = load_le<uint32_t>(data.data() + 8);
  if (probes < 1 || probes > kMaxProbes) {
    return data_loss("bloom filter: probe count " + std::to_string(probes) + " out of range");
  }
  if (blocks < 1 || blocks > kMaxBlocks) {
    return data_loss("bloom filter: block count " + std::to_string(blocks) + " out of range");
  }
  uint64_t body = uint64_t{blocks} * kWordsPerBlock * sizeof(uint64_t);
  if (data.size() != kHeaderSize + body + kTrailerSize) {
    return data_loss("bloom filter: size " + std::to_string(data.size()) + " does not match " +
                     std::to_string(blocks) + " blocks");
  }
  uint64_t stored = load_le<uint64_t>(data.data() + data.size() - kTrailerSize);
  if (stored != XXH3_64bits(data.data(), data.size() - kTrailerSize)) {
    return data_loss("bloom filter: checksum mismatch");
  }
  std::vector<uint64_t> words(body / sizeof(uint64_t));
  std::memcpy(words.data(), data.data() + kHeaderSize, body);
  return BloomFilter(probes, std::move(words));
}

}  // namespace spindle
