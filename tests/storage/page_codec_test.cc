#include "storage/page_codec.h"

#include <gtest/gtest.h>
#include <xxhash.h>
#include <zstd.h>

#include <cstring>
#include <random>

namespace spindle {
namespace {

std::string compressible(size_t n) {
  std::string s;
  while (s.size() < n)
    s += "span name=GET /api/traces/{id} service.name=frontend " + std::to_string(s.size() % 97);
  s.resize(n);
  return s;
}

std::string random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

uint8_t method_of(const std::string& page) { return static_cast<uint8_t>(page[8]); }

void reseal(std::string& page) {
  uint64_t sum = XXH3_64bits(page.data() + 8, page.size() - 8);
  std::memcpy(page.data(), &sum, 8);
}

TEST(PageCodecTest, RoundTripsAcrossLevelsAndSizes) {
  for (int level : {0, 1, 3}) {
    PageCodec codec(level);
    for (const std::string& raw : {std::string(), std::string("x"), compressible(1000), compressible(200000),
                                   random_bytes(70000, 1)}) {
      std::string page;
      ASSERT_TRUE(codec.encode(raw, page).is_ok());
      auto back = codec.decode(page);
      ASSERT_TRUE(back.ok()) << back.status().to_string();
      EXPECT_EQ(*back, raw);
      if (level == 0 || raw.size() < 2) {
        EXPECT_EQ(method_of(page), 0x02);
      }
    }
  }
}

TEST(PageCodecTest, CompressesWhenItPaysAndStoresRawOtherwise) {
  PageCodec codec(1);
  std::string page;
  std::string text = compressible(128 << 10);
  ASSERT_TRUE(codec.encode(text, page).is_ok());
  EXPECT_EQ(method_of(page), 0x90);
  EXPECT_LT(page.size(), text.size() / 4);

  std::string noise = random_bytes(64 << 10, 2);
  std::string raw_page;
  ASSERT_TRUE(codec.encode(noise, raw_page).is_ok());
  EXPECT_EQ(method_of(raw_page), 0x02);
  EXPECT_EQ(raw_page.size(), noise.size() + PageCodec::kHeaderSize);
}

TEST(PageCodecTest, EncodeAppendsSoPagesCanBeConcatenated) {
  PageCodec codec(3);
  std::string out = "prefix";
  std::vector<size_t> offsets;
  std::vector<std::string> raws;
  for (int i = 0; i < 20; ++i) {
    raws.push_back(compressible(1000 + i * 3000));
    offsets.push_back(out.size());
    ASSERT_TRUE(codec.encode(raws.back(), out).is_ok());
  }
  offsets.push_back(out.size());
  for (int i = 0; i < 20; ++i) {
    auto back = codec.decode(std::string_view(out).substr(offsets[i], offsets[i + 1] - offsets[i]));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, raws[i]);
  }
}

TEST(PageCodecTest, EveryTruncationAndEveryFlippedBitIsDataLoss) {
  PageCodec codec(1);
  for (const std::string& raw : {compressible(3000), random_bytes(300, 4)}) {
    std::string page;
    ASSERT_TRUE(codec.encode(raw, page).is_ok());
    for (size_t n = 0; n < page.size(); ++n) {
      auto r = codec.decode(std::string_view(page).substr(0, n));
      ASSERT_FALSE(r.ok()) << n;
      EXPECT_EQ(r.status().code(), StatusCode::DataLoss);
    }
    EXPECT_FALSE(codec.decode(page + "x").ok());
    for (size_t bit = 0; bit < page.size() * 8; ++bit) {
      std::string bad = page;
      bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
      auto r = codec.decode(bad);
      ASSERT_FALSE(r.ok()) << bit;
      EXPECT_EQ(r.status().code(), StatusCode::DataLoss);
    }
    // The codec is still healthy after all those failures.
    auto again = codec.decode(page);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, raw);
  }
}

TEST(PageCodecTest, LyingHeadersWithValidChecksumsAreDataLoss) {
  PageCodec codec(1);
  std::string page;
  ASSERT_TRUE(codec.encode(compressible(5000), page).is_ok());
  ASSERT_EQ(method_of(page), 0x90);
  auto expect_loss = [&](std::string bad, const char* what) {
    reseal(bad);
    auto r = codec.decode(bad);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().code(), StatusCode::DataLoss) << what;
    EXPECT_FALSE(r.status().message().empty());
  };
  auto with_u32 = [&](size_t offset, uint32_t v) {
    std::string bad = page;
    std::memcpy(bad.data() + offset, &v, 4);
    return bad;
  };
  expect_loss(with_u32(13, PageCodec::kMaxRawSize + 1), "raw size over the cap");
  expect_loss(with_u32(13, 4999), "raw size one short");
  expect_loss(with_u32(13, 5001), "raw size one long");
  expect_loss(with_u32(9, 3), "compressed size disagrees");
  std::string bad = page;
  bad[8] = 0x82;  // LZ4 in ClickHouse, unknown here
  expect_loss(bad, "unknown method");
  bad = page;
  bad[8] = 0x02;  // claims raw, sizes disagree
  expect_loss(bad, "none with mismatched sizes");
  // A valid zstd frame of a different length.
  std::string other(ZSTD_compressBound(100), '\0');
  size_t n = ZSTD_compress(other.data(), other.size(), std::string(100, 'a').data(), 100, 1);
  other.resize(n);
  std::string forged(PageCodec::kHeaderSize, '\0');
  forged[8] = static_cast<char>(0x90);
  uint32_t c = static_cast<uint32_t>(n), r = 200;
  std::memcpy(forged.data() + 9, &c, 4);
  std::memcpy(forged.data() + 13, &r, 4);
  forged += other;
  expect_loss(forged, "zstd frame shorter than claimed");
}

TEST(PageCodecTest, OversizedPagesAreRefused) {
  PageCodec codec(1);
  std::string huge(PageCodec::kMaxRawSize + 1, 'a');
  std::string out;
  Status s = codec.encode(huge, out);
  EXPECT_EQ(s.code(), StatusCode::InvalidArgument);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace spindle
