#include "net/content_coding.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <string>

// Records the largest single operator-new request while armed, to prove that decompressing a bomb never
// allocates anything close to its decompressed size.
namespace {
std::atomic<bool> g_track{false};
std::atomic<size_t> g_largest{0};
}  // namespace

// These replace the global allocator for this test binary. At -O2, GCC 12 inlines the replacement new into
// callers and then flags free() of its result as mismatched, which is the point of the replacement.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t size) {
  if (g_track.load(std::memory_order_relaxed)) {
    size_t prev = g_largest.load(std::memory_order_relaxed);
    while (size > prev && !g_largest.compare_exchange_weak(prev, size)) {
    }
  }
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace spindle {
namespace {

std::string random_text(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(size, '\0');
  for (char& c : s) c = static_cast<char>('a' + rng() % 8);  // compressible but not trivial
  return s;
}

std::string zlib_compress(std::string_view in) {
  uLongf size = compressBound(in.size());
  std::string out(size, '\0');
  EXPECT_EQ(compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(in.data()),
                      in.size(), 6),
            Z_OK);
  out.resize(size);
  return out;
}

TEST(ContentCodingTest, GzipRoundTrip) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{1000}, size_t{300000}}) {
    const std::string plain = random_text(size, static_cast<uint32_t>(size));
    const std::string packed = gzip_compress(plain);
    ASSERT_GE(packed.size(), 18u);  // gzip header + trailer
    EXPECT_EQ(static_cast<uint8_t>(packed[0]), 0x1f);
    Result<std::string> out = gzip_decompress(packed, size);
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    EXPECT_EQ(*out, plain);
  }
}

TEST(ContentCodingTest, ConcatenatedGzipMembersDecodeAsConcatenation) {
  const std::string packed = gzip_compress("hello ") + gzip_compress("world");
  Result<std::string> out = gzip_decompress(packed, 100);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(*out, "hello world");
}

TEST(ContentCodingTest, DeflateIsTheZlibFormat) {
  const std::string plain = random_text(50000, 7);
  Result<std::string> out = deflate_decompress(zlib_compress(plain), plain.size());
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(*out, plain);
  // gzip data is not zlib data.
  EXPECT_EQ(deflate_decompress(gzip_compress(plain), plain.size()).status().code(),
            StatusCode::InvalidArgument);
}

TEST(ContentCodingTest, CorruptInputIsInvalidArgument) {
  std::string packed = gzip_compress(random_text(10000, 3));
  packed[packed.size() / 2] ^= 0x55;
  packed[packed.size() / 2 + 1] ^= 0x55;
  EXPECT_EQ(gzip_decompress(packed, 1 << 20).status().code(), StatusCode::InvalidArgument);
  EXPECT_EQ(gzip_decompress("not gzip at all", 1 << 20).status().code(), StatusCode::InvalidArgument);
  EXPECT_EQ(gzip_decompress("", 1 << 20).status().code(), StatusCode::InvalidArgument);
}

TEST(ContentCodingTest, TruncatedInputIsInvalidArgument) {
  const std::string packed = gzip_compress(random_text(10000, 4));
  const Status status = gzip_decompress(packed.substr(0, packed.size() - 10), 1 << 20).status();
  EXPECT_EQ(status.code(), StatusCode::InvalidArgument);
  EXPECT_NE(status.message().find("truncated"), std::string::npos) << status.message();
}

TEST(ContentCodingTest, TrailingGarbageIsInvalidArgument) {
  EXPECT_EQ(gzip_decompress(gzip_compress("abc") + "xyz", 100).status().code(), StatusCode::InvalidArgument);
}

TEST(ContentCodingTest, ExactLimitIsAcceptedOneMoreIsNot) {
  const std::string plain(4096, 'z');
  const std::string packed = gzip_compress(plain);
  EXPECT_TRUE(gzip_decompress(packed, 4096).ok());
  const Status status = gzip_decompress(packed, 4095).status();
  EXPECT_EQ(status.code(), StatusCode::ResourceExhausted);
  EXPECT_EQ(status.message(), "decompressed body exceeds 4095 bytes");
}

TEST(ContentCodingTest, BombIsRefusedWithoutAllocatingIt) {
  const std::string packed = gzip_compress(std::string(1 << 20, '\0'), 9);
  ASSERT_LT(packed.size(), 4096u);
  g_largest = 0;
  g_track = true;
  const Result<std::string> out = gzip_decompress(packed, 8192);
  g_track = false;
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::ResourceExhausted);
  EXPECT_LE(g_largest.load(), 8192u + 64) << "largest allocation while inflating";
}

}  // namespace
}  // namespace spindle
