#include "core/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace spindle {
namespace {

std::string bytes_of(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

// Vectors from RFC 3720 (iSCSI) appendix B.4 and the classic "123456789" check value.
struct Vector {
  std::string data;
  uint32_t crc;
};

std::vector<Vector> known_vectors() {
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  for (int i = 31; i >= 0; --i) descending.push_back(static_cast<char>(i));
  return {
      {"", 0},
      {"123456789", 0xe3069283u},
      {std::string(32, '\0'), 0x8a9136aau},
      {std::string(32, '\xff'), 0x62a8ab43u},
      {ascending, 0x46dd794eu},
      {descending, 0x113fdb5cu},
      // An iSCSI SCSI Read (10) command PDU, RFC 3720 B.4.
      {bytes_of({0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
                 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),
       0xd9963a56u},
  };
}

TEST(Crc32cTest, KnownVectors) {
  for (const auto& v : known_vectors()) {
    EXPECT_EQ(crc32c(v.data), v.crc) << "size " << v.data.size();
    EXPECT_EQ(crc32c_extend_portable(0, v.data.data(), v.data.size()), v.crc);
    if (crc32c_sse42_available()) {
      EXPECT_EQ(crc32c_extend_sse42(0, v.data.data(), v.data.size()), v.crc);
    }
  }
}

TEST(Crc32cTest, ExtendEqualsWholeAtEverySplit) {
  std::string s = "The quick brown fox jumps over the lazy dog, twice: the quick brown fox.";
  uint32_t whole = crc32c(s);
  for (size_t split = 0; split <= s.size(); ++split) {
    uint32_t c = crc32c(s.data(), split);
    EXPECT_EQ(crc32c_extend(c, s.data() + split, s.size() - split), whole) << split;
  }
}

// Both implementations agree on every length and alignment (the hardware path handles 8-byte words and a
// byte tail; the table path slices by 8).
TEST(Crc32cTest, PortableMatchesHardwareOnRandomData) {
  if (!crc32c_sse42_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  std::mt19937_64 rng(42);
  std::string buf(4096 + 16, '\0');
  for (auto& c : buf) c = static_cast<char>(rng());
  for (size_t offset = 0; offset < 16; ++offset) {
    for (size_t len : {0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4096}) {
      uint32_t seed = static_cast<uint32_t>(rng());
      EXPECT_EQ(crc32c_extend_portable(seed, buf.data() + offset, len),
                crc32c_extend_sse42(seed, buf.data() + offset, len))
          << offset << " " << len;
    }
  }
}

TEST(Crc32cTest, MaskRoundTripsAndChangesValue) {
  for (uint32_t crc : {0u, 1u, 0xe3069283u, 0xffffffffu, 0x80000000u}) {
    EXPECT_EQ(crc32c_unmask(crc32c_mask(crc)), crc);
    EXPECT_NE(crc32c_mask(crc), crc);
    EXPECT_NE(crc32c_mask(crc32c_mask(crc)), crc);
  }
}

TEST(Crc32cTest, DetectsEverySingleBitFlip) {
  std::string s = "span batch payload bytes";
  uint32_t good = crc32c(s);
  for (size_t bit = 0; bit < s.size() * 8; ++bit) {
    std::string t = s;
    t[bit / 8] = static_cast<char>(t[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_NE(crc32c(t), good) << bit;
  }
}

}  // namespace
}  // namespace spindle
