#include "shards/spsc_queue.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace spindle {
namespace {

TEST(SpscQueueTest, PopsInPushOrder) {
  SpscQueue<uint64_t, 8> q;
  EXPECT_TRUE(q.empty_approx());
  for (uint64_t v = 1; v <= 5; ++v) ASSERT_TRUE(q.try_push(v));
  EXPECT_EQ(q.size_approx(), 5u);
  for (uint64_t v = 1; v <= 5; ++v) {
    uint64_t out = 0;
    ASSERT_TRUE(q.try_pop(out));
    EXPECT_EQ(out, v);
  }
  uint64_t out = 0;
  EXPECT_FALSE(q.try_pop(out));
}

TEST(SpscQueueTest, RejectsPushWhenFullAndAcceptsAfterPop) {
  SpscQueue<uint64_t, 4> q;
  for (uint64_t v = 0; v < 4; ++v) ASSERT_TRUE(q.try_push(v));
  EXPECT_FALSE(q.try_push(99));
  EXPECT_EQ(q.size_approx(), 4u);
  uint64_t out = 0;
  ASSERT_TRUE(q.try_pop(out));
  EXPECT_EQ(out, 0u);
  EXPECT_TRUE(q.try_push(4));
  EXPECT_FALSE(q.try_push(5));
  for (uint64_t v = 1; v <= 4; ++v) {
    ASSERT_TRUE(q.try_pop(out));
    EXPECT_EQ(out, v);
  }
}

TEST(SpscQueueTest, WrapsAroundManyTimes) {
  SpscQueue<uint64_t, 4> q;
  uint64_t next_in = 0, next_out = 0;
  for (int round = 0; round < 1000; ++round) {
    ASSERT_TRUE(q.try_push(next_in++));
    ASSERT_TRUE(q.try_push(next_in++));
    ASSERT_TRUE(q.try_push(next_in++));
    uint64_t out[3];
    ASSERT_EQ(q.pop_batch(out, 3), 3u);
    for (uint64_t v : out) EXPECT_EQ(v, next_out++);
  }
}

TEST(SpscQueueTest, PushBatchPushesOnlyThePrefixThatFits) {
  SpscQueue<uint64_t, 8> q;
  std::vector<uint64_t> in = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(q.try_push_batch(in.begin(), in.size()), 6u);
  std::vector<uint64_t> more = {7, 8, 9, 10};
  EXPECT_EQ(q.try_push_batch(more.begin(), more.size()), 2u);  // only 7 and 8 fit
  EXPECT_EQ(q.try_push_batch(more.begin(), more.size()), 0u);
  EXPECT_EQ(q.size_approx(), 8u);

  uint64_t out[16];
  EXPECT_EQ(q.pop_batch(out, 3), 3u);
  EXPECT_EQ(out[0], 1u);
  EXPECT_EQ(out[2], 3u);
  EXPECT_EQ(q.pop_batch(out, 16), 5u);  // asks for more than present
  EXPECT_EQ(out[0], 4u);
  EXPECT_EQ(out[4], 8u);
  EXPECT_EQ(q.pop_batch(out, 16), 0u);
  EXPECT_TRUE(q.empty_approx());
}

TEST(SpscQueueTest, EmptyBatchIsANoOp) {
  SpscQueue<uint64_t, 4> q;
  std::vector<uint64_t> none;
  EXPECT_EQ(q.try_push_batch(none.begin(), 0), 0u);
  uint64_t out[1];
  EXPECT_EQ(q.pop_batch(out, 0), 0u);
  EXPECT_TRUE(q.empty_approx());
}

// Two threads, a few million items, mixed single and batch operations on both sides. Items are pointers to
// records the producer fills right before pushing, so the consumer's reads check the release/acquire pairing
// (this is the test TSan is for), and the values check that every item arrives exactly once and in order.
TEST(SpscQueueTest, TwoThreadStressDeliversEveryItemOnceInOrder) {
  constexpr uint64_t kItems = 2'000'000;
  constexpr size_t kPool = 4096;  // records are reused; the ring (256) is far smaller than the pool
  struct Record {
    uint64_t seq;
    uint64_t check;
  };
  std::vector<Record> pool(kPool);
  // The consumer hands records back through a second ring so the producer never overwrites one in use.
  SpscQueue<Record*, 256> q;
  SpscQueue<Record*, kPool> free_list;
  // This (consumer) thread is the free list's only producer, before and during the run.
  for (Record& r : pool) ASSERT_TRUE(free_list.try_push(&r));

  std::thread producer([&] {
    uint64_t seq = 0;
    Record* batch[32];
    while (seq < kItems) {
      // Alternate between single pushes and batch pushes of varying size.
      const size_t want = (seq % 3 == 0) ? 1 : 1 + (seq % 32);
      size_t got = 0;
      while (got < want && seq + got < kItems) {
        Record* r = nullptr;
        if (!free_list.try_pop(r)) break;
        r->seq = seq + got;
        r->check = (seq + got) * 2654435761u;
        batch[got++] = r;
      }
      size_t pushed = 0;
      while (pushed < got) {
        const size_t n = got - pushed == 1 ? (q.try_push(batch[pushed]) ? 1 : 0)
                                           : q.try_push_batch(batch + pushed, got - pushed);
        if (n == 0) std::this_thread::yield();
        pushed += n;
      }
      seq += got;
      if (got == 0) std::this_thread::yield();
    }
  });

  uint64_t expected = 0;
  uint64_t errors = 0;
  Record* out[64];
  while (expected < kItems) {
    const size_t max = (expected % 5 == 0) ? 1 : 64;
    const size_t n = q.pop_batch(out, max);
    if (n == 0) {
      std::this_thread::yield();
      continue;
    }
    for (size_t i = 0; i < n; ++i) {
      if (out[i]->seq != expected || out[i]->check != expected * 2654435761u) ++errors;
      ++expected;
    }
    size_t back = 0;
    while (back < n) back += free_list.try_push_batch(out + back, n - back);
  }
  producer.join();
  EXPECT_EQ(errors, 0u);
  EXPECT_EQ(expected, kItems);
  EXPECT_TRUE(q.empty_approx());
}

}  // namespace
}  // namespace spindle
