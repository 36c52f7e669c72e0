#include "storage/bloom_filter.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstring>
#include <random>

namespace spindle {
namespace {

TraceId random_id(std::mt19937_64& rng) {
  TraceId id;
  uint64_t a = rng(), b = rng();
  std::memcpy(id.bytes.data(), &a, 8);
  std::memcpy(id.bytes.data() + 8, &b, 8);
  return id;
}

double measured_fp(const BloomFilter& f, std::mt19937_64& rng, int queries) {
  int hits = 0;
  for (int i = 0; i < queries; ++i) hits += f.may_contain(random_id(rng)) ? 1 : 0;
  return static_cast<double>(hits) / queries;
}

TEST(BloomFilterTest, NoFalseNegativesAndFpRateNearTarget) {
  for (double target : {0.01, 0.001}) {
    std::mt19937_64 rng(7);
    constexpr int kItems = 100000;
    BloomFilter f(kItems, target);
    std::vector<TraceId> ids;
    for (int i = 0; i < kItems; ++i) ids.push_back(random_id(rng));
    for (const auto& id : ids) f.add(id);
    for (const auto& id : ids) ASSERT_TRUE(f.may_contain(id));
    double fp = measured_fp(f, rng, 400000);
    EXPECT_LE(fp, target * 1.5) << "target " << target;
    EXPECT_GT(fp, target * 0.3) << "filter far larger than it needs to be";
    // Comparable to a classic filter's size: ~9.6 bits per item at 1%, ~14.4 at 0.1%.
    double bits_per_item = 8.0 * static_cast<double>(f.byte_size()) / kItems;
    EXPECT_LT(bits_per_item, -std::log(target) / (std::log(2.0) * std::log(2.0)) * 1.4);
  }
}

TEST(BloomFilterTest, LowEntropyIdsStillSpread) {
  // 64-bit IDs left-padded with zeros: the hash must cover all 16 bytes.
  BloomFilter f(20000);
  for (uint64_t i = 1; i <= 20000; ++i) {
    TraceId id;
    std::memcpy(id.bytes.data() + 8, &i, 8);
    f.add(id);
  }
  int hits = 0;
  for (uint64_t i = 1000000; i < 1100000; ++i) {
    TraceId id;
    std::memcpy(id.bytes.data() + 8, &i, 8);
    hits += f.may_contain(id) ? 1 : 0;
  }
  EXPECT_LE(hits, 1500);
}

TEST(BloomFilterTest, TinyAndEmptyFiltersWork) {
  BloomFilter empty(0);
  EXPECT_EQ(empty.block_count(), 1u);
  std::mt19937_64 rng(1);
  EXPECT_FALSE(empty.may_contain(random_id(rng)));
  TraceId one = random_id(rng);
  empty.add(one);
  EXPECT_TRUE(empty.may_contain(one));
}

TEST(BloomFilterTest, RoundTripsThroughItsSerializedForm) {
  std::mt19937_64 rng(3);
  BloomFilter f(5000);
  std::vector<TraceId> ids;
  for (int i = 0; i < 5000; ++i) {
    ids.push_back(random_id(rng));
    f.add(ids.back());
  }
  std::string bytes = f.serialize();
  EXPECT_EQ(bytes.size(), BloomFilter::kHeaderSize + f.byte_size() + BloomFilter::kTrailerSize);
  auto back = BloomFilter::deserialize(bytes);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->serialize(), bytes);
  EXPECT_EQ(back->probes(), f.probes());
  for (const auto& id : ids) ASSERT_TRUE(back->may_contain(id));
  for (int i = 0; i < 10000; ++i) {
    TraceId other = random_id(rng);
    ASSERT_EQ(back->may_contain(other), f.may_contain(other));
  }
}

// Rewrites the checksum so a test reaches the checks behind it.
void reseal(std::string& bytes) {
  uint64_t sum = XXH3_64bits(bytes.data(), bytes.size() - 8);
  std::memcpy(bytes.data() + bytes.size() - 8, &sum, 8);
}

TEST(BloomFilterTest, CorruptInputIsDataLossNotACrash) {
  std::mt19937_64 rng(5);
  BloomFilter f(300);
  for (int i = 0; i < 300; ++i) f.add(random_id(rng));
  const std::string good = f.serialize();

  for (size_t n = 0; n < good.size(); ++n) {
    auto r = BloomFilter::deserialize(std::string_view(good).substr(0, n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.status().code(), StatusCode::DataLoss);
  }
  EXPECT_FALSE(BloomFilter::deserialize(good + "x").ok());
  for (size_t bit = 0; bit < good.size() * 8; ++bit) {
    std::string bad = good;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    auto r = BloomFilter::deserialize(bad);
    ASSERT_FALSE(r.ok()) << bit;
    EXPECT_EQ(r.status().code(), StatusCode::DataLoss);
  }

  auto expect_loss = [](std::string bad, const char* what) {
    reseal(bad);
    auto r = BloomFilter::deserialize(bad);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().code(), StatusCode::DataLoss) << what;
  };
  std::string bad = good;
  bad[0] = 'X';
  expect_loss(bad, "magic");
  bad = good;
  bad[4] = 9;
  expect_loss(bad, "version");
  bad = good;
  bad[5] = 0;
  expect_loss(bad, "zero probes");
  bad = good;
  bad[5] = 17;
  expect_loss(bad, "too many probes");
  bad = good;
  uint32_t huge = 0xffffffffu;
  std::memcpy(bad.data() + 8, &huge, 4);
  expect_loss(bad, "huge block count");
  bad = good;
  uint32_t zero = 0;
  std::memcpy(bad.data() + 8, &zero, 4);
  expect_loss(bad, "zero blocks");
  bad = good;
  uint32_t more = f.block_count() + 1;
  std::memcpy(bad.data() + 8, &more, 4);
  expect_loss(bad, "count disagrees with size");
}

}  // namespace
}  // namespace spindle
