#include "shards/shard_set.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace spindle {
namespace {

constexpr auto kDeadline = std::chrono::seconds(30);

template <class T>
bool ready(std::future<T>& f) {
  return f.wait_for(kDeadline) == std::future_status::ready;
}

// Polls a condition that becomes true asynchronously, with a deadline instead of a fixed sleep.
template <class Pred>
bool eventually(Pred pred) {
  const auto until = std::chrono::steady_clock::now() + kDeadline;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::yield();
  }
  return pred();
}

// Each shard's thread id and name, recorded by on_start.
struct ThreadIds {
  std::mutex mu;
  std::vector<std::thread::id> ids;
  std::vector<std::string> names;

  std::thread::id of(uint32_t shard) {
    std::lock_guard lock(mu);
    return ids[shard];
  }
};

ShardSetOptions options_with_ids(uint32_t n, ThreadIds& ids) {
  ids.ids.resize(n);
  ids.names.resize(n);
  ShardSetOptions options;
  options.shards = n;
  options.on_start = [&ids](Shard& shard) {
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof(name));
    std::lock_guard lock(ids.mu);
    ids.ids[shard.id()] = std::this_thread::get_id();
    ids.names[shard.id()] = name;
  };
  return options;
}

class ShardSetTest : public ::testing::TestWithParam<uint32_t> {};

INSTANTIATE_TEST_SUITE_P(Shards, ShardSetTest, ::testing::Values(2u, 4u));

TEST_P(ShardSetTest, SubmitToRunsOnTargetAndCompletesOnOrigin) {
  const uint32_t n = GetParam();
  struct Seen {
    uint32_t from, to, ran_on;
    std::thread::id run_thread, done_thread;
  };
  ThreadIds ids;
  std::mutex mu;
  std::vector<Seen> seen;
  std::atomic<uint32_t> left{n * n};
  std::promise<void> all_done;
  auto fut = all_done.get_future();

  ShardSet set(options_with_ids(n, ids));
  ASSERT_TRUE(set.start().is_ok());
  EXPECT_EQ(set.size(), n);
  for (uint32_t from = 0; from < n; ++from) {
    for (uint32_t to = 0; to < n; ++to) {
      ASSERT_TRUE(set.post(from, [&, to](Shard& origin) {
        const uint32_t from_id = origin.id();
        origin.submit_to(
            to, [](Shard& target) { return std::make_pair(target.id(), std::this_thread::get_id()); },
            [&, from_id, to](std::pair<uint32_t, std::thread::id> r) {
              {
                std::lock_guard lock(mu);
                seen.push_back({from_id, to, r.first, r.second, std::this_thread::get_id()});
              }
              if (left.fetch_sub(1) == 1) all_done.set_value();
            });
      }));
    }
  }
  ASSERT_TRUE(ready(fut));
  set.request_stop();
  set.join();

  ASSERT_EQ(seen.size(), size_t{n} * n);
  for (const Seen& s : seen) {
    EXPECT_EQ(s.ran_on, s.to);
    EXPECT_EQ(s.run_thread, ids.of(s.to)) << s.from << "->" << s.to;
    EXPECT_EQ(s.done_thread, ids.of(s.from)) << s.from << "->" << s.to;
  }
  for (uint32_t i = 0; i < n; ++i) {
    EXPECT_EQ(ids.names[i], "shard-" + std::to_string(i));
    for (uint32_t j = i + 1; j < n; ++j) EXPECT_NE(ids.of(i), ids.of(j));
  }
}

TEST_P(ShardSetTest, KeepsFifoOrderPerPairOfShards) {
  const uint32_t n = GetParam();
  constexpr int64_t kPerPair = 3000;
  // last_run[target][origin] is touched only by the target's thread, last_done[origin][target] only by the
  // origin's thread.
  std::vector<std::vector<int64_t>> last_run(n, std::vector<int64_t>(n, -1));
  std::vector<std::vector<int64_t>> last_done(n, std::vector<int64_t>(n, -1));
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> left{uint64_t{n} * n * kPerPair};
  std::promise<void> all_done;
  auto fut = all_done.get_future();

  ShardSetOptions options;
  options.shards = n;
  ShardSet set(std::move(options));
  ASSERT_TRUE(set.start().is_ok());
  for (uint32_t from = 0; from < n; ++from) {
    set.post(from, [&](Shard& origin) {
      const uint32_t from_id = origin.id();
      for (int64_t seq = 0; seq < kPerPair; ++seq) {
        for (uint32_t to = 0; to < n; ++to) {
          origin.submit_to(
              to,
              [&, seq, from_id](Shard& target) {
                int64_t& last = last_run[target.id()][from_id];
                if (seq != last + 1) errors.fetch_add(1);
                last = seq;
                return seq;
              },
              [&, from_id, to](int64_t done_seq) {
                int64_t& last = last_done[from_id][to];
                if (done_seq != last + 1) errors.fetch_add(1);
                last = done_seq;
                if (left.fetch_sub(1) == 1) all_done.set_value();
              });
        }
      }
    });
  }
  ASSERT_TRUE(ready(fut));
  set.request_stop();
  set.join();
  EXPECT_EQ(errors.load(), 0u);
  for (uint32_t a = 0; a < n; ++a) {
    for (uint32_t b = 0; b < n; ++b) {
      EXPECT_EQ(last_run[a][b], kPerPair - 1);
      EXPECT_EQ(last_done[a][b], kPerPair - 1);
    }
  }
}

// The target parks the Reply on a uv timer; the answer travels back only when the timer fires.
struct TimedReply {
  uv_timer_t timer;
  Reply<int> reply;
  int value;
};

TEST_P(ShardSetTest, SubmitAsyncRepliesLaterFromATimer) {
  const uint32_t n = GetParam();
  const uint32_t target_id = n - 1;
  ThreadIds ids;
  std::thread::id fn_thread, timer_thread, done_thread, void_done_thread;
  bool fn_returned_before_reply = false;
  bool fn_returned = false;
  std::promise<int> got;
  std::promise<void> void_done;
  auto got_fut = got.get_future();
  auto void_fut = void_done.get_future();

  ShardSet set(options_with_ids(n, ids));
  ASSERT_TRUE(set.start().is_ok());
  set.post(0, [&](Shard& origin) {
    // Move-only captures on both sides.
    auto factor = std::make_unique<int>(6);
    auto tag = std::make_unique<int>(1);
    origin.submit_async<int>(
        target_id,
        [&, factor = std::move(factor)](Shard& target, Reply<int> reply) {
          fn_thread = std::this_thread::get_id();
          auto* pending = new TimedReply{{}, std::move(reply), 7 * *factor};
          uv_timer_init(target.loop(), &pending->timer);
          pending->timer.data = pending;
          uv_timer_start(
              &pending->timer,
              [](uv_timer_t* timer) {
                auto* p = static_cast<TimedReply*>(timer->data);
                p->reply.reply(p->value);
                uv_close(reinterpret_cast<uv_handle_t*>(timer),
                         [](uv_handle_t* h) { delete static_cast<TimedReply*>(h->data); });
              },
              1, 0);
          fn_returned = true;
        },
        [&, tag = std::move(tag)](int value) {
          done_thread = std::this_thread::get_id();
          got.set_value(value * *tag);
        });
    origin.submit_async<void>(
        target_id,
        [&](Shard&, Reply<void> reply) {
          timer_thread = std::this_thread::get_id();
          fn_returned_before_reply = fn_returned;  // FIFO per pair: the first item ran already
          reply.reply();
        },
        [&] {
          void_done_thread = std::this_thread::get_id();
          void_done.set_value();
        });
  });
  ASSERT_TRUE(ready(got_fut));
  ASSERT_TRUE(ready(void_fut));
  EXPECT_EQ(got_fut.get(), 42);
  set.request_stop();
  set.join();
  EXPECT_EQ(fn_thread, ids.of(target_id));
  EXPECT_EQ(timer_thread, ids.of(target_id));
  EXPECT_EQ(done_thread, ids.of(0));
  EXPECT_EQ(void_done_thread, ids.of(0));
  EXPECT_TRUE(fn_returned_before_reply);
}

TEST_P(ShardSetTest, SelfSubmissionIsDeferredToTheLoop) {
  const uint32_t n = GetParam();
  bool fn_ran_inline = true, done_ran_inline = true, async_done_inline = true;
  bool fn_ran = false, done_ran = false, async_done = false;
  std::promise<void> finished;
  auto fut = finished.get_future();
  std::atomic<int> left{2};

  ShardSetOptions options;
  options.shards = n;
  ShardSet set(std::move(options));
  ASSERT_TRUE(set.start().is_ok());
  set.post(1, [&](Shard& shard) {
    shard.submit_to(
        1,
        [&](Shard&) {
          fn_ran = true;
          return 5;
        },
        [&](int v) {
          done_ran = v == 5;
          if (left.fetch_sub(1) == 1) finished.set_value();
        });
    // Replying synchronously from fn must still not complete inline.
    shard.submit_async<int>(
        1, [](Shard&, Reply<int> reply) { reply.reply(1); },
        [&](int) {
          async_done = true;
          if (left.fetch_sub(1) == 1) finished.set_value();
        });
    fn_ran_inline = fn_ran;
    done_ran_inline = done_ran;
    async_done_inline = async_done;
  });
  ASSERT_TRUE(ready(fut));
  set.request_stop();
  set.join();
  EXPECT_FALSE(fn_ran_inline);
  EXPECT_FALSE(done_ran_inline);
  EXPECT_FALSE(async_done_inline);
  EXPECT_TRUE(fn_ran);
  EXPECT_TRUE(done_ran);
  EXPECT_TRUE(async_done);
}

TEST_P(ShardSetTest, MoveOnlyResultsTravelBack) {
  const uint32_t n = GetParam();
  std::promise<int> got;
  auto fut = got.get_future();
  ShardSetOptions options;
  options.shards = n;
  ShardSet set(std::move(options));
  ASSERT_TRUE(set.start().is_ok());
  set.post(0, [&](Shard& origin) {
    origin.submit_to(
        n - 1, [](Shard& target) { return std::make_unique<int>(100 + static_cast<int>(target.id())); },
        [&](std::unique_ptr<int> value) { got.set_value(*value); });
  });
  ASSERT_TRUE(ready(fut));
  EXPECT_EQ(fut.get(), 100 + static_cast<int>(n - 1));
  set.request_stop();
  set.join();
}

// Every shard sends a burst far larger than the 128-slot ring to its neighbour in one callback, so most items
// sit in the overflow FIFOs and both directions are backlogged at once (shard i and i+1 each wait on the
// other's ring). Everything must arrive, in order, and in_flight must return to zero.
TEST_P(ShardSetTest, BurstBeyondRingCapacityIsFullyDelivered) {
  const uint32_t n = GetParam();
  constexpr uint64_t kBurst = 100'000;
  std::vector<uint64_t> next_run(n, 0);   // [target], target thread only
  std::vector<uint64_t> next_done(n, 0);  // [origin], origin thread only
  std::atomic<uint64_t> errors{0};
  std::atomic<uint32_t> shards_left{n};
  std::promise<void> all_done;
  auto fut = all_done.get_future();

  ShardSetOptions options;
  options.shards = n;
  ShardSet set(std::move(options));
  ASSERT_TRUE(set.start().is_ok());
  for (uint32_t from = 0; from < n; ++from) {
    set.post(from, [&](Shard& origin) {
      const uint32_t to = (origin.id() + 1) % n;
      for (uint64_t seq = 0; seq < kBurst; ++seq) {
        origin.submit_to(
            to,
            [&, seq](Shard& target) {
              if (next_run[target.id()]++ != seq) errors.fetch_add(1);
              return seq;
            },
            [&, id = origin.id()](uint64_t s) {
              if (next_done[id]++ != s) errors.fetch_add(1);
              if (next_done[id] == kBurst && shards_left.fetch_sub(1) == 1) all_done.set_value();
            });
      }
      if (origin.in_flight() != kBurst) errors.fetch_add(1);  // nothing completed inline
    });
  }
  ASSERT_TRUE(ready(fut));
  for (uint32_t i = 0; i < n; ++i) {
    EXPECT_TRUE(eventually([&] { return set.stats(i).in_flight == 0; })) << i;
    EXPECT_TRUE(eventually([&] { return set.stats(i).inbound_depth == 0; })) << i;
  }
  set.request_stop();
  set.join();
  EXPECT_EQ(errors.load(), 0u);
  for (uint32_t i = 0; i < n; ++i) {
    EXPECT_EQ(next_run[i], kBurst);
    EXPECT_EQ(next_done[i], kBurst);
  }
}

TEST_P(ShardSetTest, PostRunsOnTheShardThreadFromAnyThread) {
  const uint32_t n = GetParam();
  ThreadIds ids;
  std::promise<std::thread::id> early;
  auto early_fut = early.get_future();
  ShardSet set(options_with_ids(n, ids));
  // Posted before start: runs once the shard serves.
  ASSERT_TRUE(set.post(n - 1, [&](Shard&) { early.set_value(std::this_thread::get_id()); }));
  ASSERT_TRUE(set.start().is_ok());
  ASSERT_TRUE(ready(early_fut));
  EXPECT_EQ(early_fut.get(), ids.of(n - 1));

  std::vector<std::promise<std::pair<uint32_t, std::thread::id>>> where(n);
  for (uint32_t i = 0; i < n; ++i) {
    ASSERT_TRUE(set.post(i, [&, i](Shard& shard) {
      where[i].set_value({shard.id(), std::this_thread::get_id()});
    }));
  }
  for (uint32_t i = 0; i < n; ++i) {
    auto f = where[i].get_future();
    ASSERT_TRUE(ready(f));
    auto [id, thread] = f.get();
    EXPECT_EQ(id, i);
    EXPECT_EQ(thread, ids.of(i));
  }
  EXPECT_FALSE(set.post(n, [](Shard&) {}));
  set.request_stop();
  set.join();
  EXPECT_FALSE(set.post(0, [](Shard&) {}));  // shard gone
}

// Phase 1 on every shard sends a request to its neighbour and calls drained() only when the answer is back.
// The neighbour holds its answer until it is itself draining, so the reply comes from a draining shard: the
// mesh must keep flowing until every shard has drained, and phase 2 must not start before that.
TEST_P(ShardSetTest, TwoPhaseStopKeepsTheMeshUpUntilEveryShardDrained) {
  const uint32_t n = GetParam();
  struct PerShard {  // each entry touched only by its own shard's thread
    bool draining = false;
    std::vector<Reply<uint32_t>> parked;
    uint32_t reply_from = UINT32_MAX;
    uint32_t drained_at_stop = 0;
    bool stopped = false;
  };
  std::vector<PerShard> state(n);
  std::atomic<uint32_t> drains_done{0};

  ShardSetOptions options;
  options.shards = n;
  options.on_drain = [&](Shard& shard, std::function<void()> drained) {
    PerShard& me = state[shard.id()];
    me.draining = true;
    for (auto& reply : me.parked) reply.reply(shard.id());
    me.parked.clear();
    shard.submit_async<uint32_t>((shard.id() + 1) % n,
                                 [&](Shard& target, Reply<uint32_t> reply) {
                                   PerShard& t = state[target.id()];
                                   if (t.draining) {
                                     reply.reply(target.id());
                                   } else {
                                     t.parked.push_back(std::move(reply));
                                   }
                                 },
                                 [&, id = shard.id(), drained](uint32_t from) {
                                   state[id].reply_from = from;
                                   drains_done.fetch_add(1);
                                   drained();
                                 });
  };
  options.on_stop = [&](Shard& shard) {
    state[shard.id()].drained_at_stop = drains_done.load();
    state[shard.id()].stopped = true;
  };
  ShardSet set(std::move(options));
  ASSERT_TRUE(set.start().is_ok());
  set.request_stop();
  set.request_stop();  // idempotent
  set.join();
  for (uint32_t i = 0; i < n; ++i) {
    EXPECT_EQ(state[i].reply_from, (i + 1) % n) << i;
    EXPECT_EQ(state[i].drained_at_stop, n) << i;
    EXPECT_TRUE(state[i].stopped) << i;
    EXPECT_TRUE(state[i].parked.empty());
  }
}

struct DrainTimer {
  uv_timer_t timer;
  std::function<void()> drained;
  std::atomic<uint32_t>* counter;
};

// drained() is called from a timer well after on_drain returned; a handle nobody closed (the "leaked" timer)
// is force-closed so the loop still closes and join() returns.
TEST_P(ShardSetTest, StopWaitsForDrainedCalledLaterAndClosesLeftoverHandles) {
  const uint32_t n = GetParam();
  std::vector<uv_timer_t> leaked(n);
  std::atomic<uint32_t> drained_calls{0};
  std::vector<uint32_t> drained_at_stop(n, 0);

  ShardSetOptions options;
  options.shards = n;
  options.on_start = [&](Shard& shard) {
    uv_timer_t* t = &leaked[shard.id()];
    uv_timer_init(shard.loop(), t);
    uv_timer_start(
        t, [](uv_timer_t*) {}, 3'600'000, 0);
  };
  options.on_drain = [&](Shard& shard, std::function<void()> drained) {
    auto* dt = new DrainTimer{{}, std::move(drained), &drained_calls};
    uv_timer_init(shard.loop(), &dt->timer);
    dt->timer.data = dt;
    uv_timer_start(
        &dt->timer,
        [](uv_timer_t* timer) {
          auto* d = static_cast<DrainTimer*>(timer->data);
          d->counter->fetch_add(1);
          d->drained();
          uv_close(reinterpret_cast<uv_handle_t*>(timer),
                   [](uv_handle_t* h) { delete static_cast<DrainTimer*>(h->data); });
        },
        2, 0);
  };
  options.on_stop = [&](Shard& shard) { drained_at_stop[shard.id()] = drained_calls.load(); };
  ShardSet set(std::move(options));
  ASSERT_TRUE(set.start().is_ok());
  set.request_stop();
  set.join();
  for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(drained_at_stop[i], n) << i;
}

// A target keeps K async requests parked; another thread sees them as in_flight on the origin, then they
// drain.
TEST_P(ShardSetTest, StatsAreReadableFromAnotherThread) {
  const uint32_t n = GetParam();
  constexpr uint32_t kParked = 10;
  std::vector<Reply<int>> parked;  // shard 1's thread only
  std::atomic<uint32_t> parked_count{0};
  std::atomic<uint32_t> done{0};

  ShardSetOptions options;
  options.shards = n;
  ShardSet set(std::move(options));
  ASSERT_TRUE(set.start().is_ok());
  set.post(0, [&](Shard& origin) {
    for (uint32_t i = 0; i < kParked; ++i) {
      origin.submit_async<int>(
          1,
          [&](Shard&, Reply<int> reply) {
            parked.push_back(std::move(reply));
            parked_count.fetch_add(1);
          },
          [&](int) { done.fetch_add(1); });
    }
  });
  ASSERT_TRUE(eventually([&] { return parked_count.load() == kParked; }));
  EXPECT_EQ(set.stats(0).in_flight, kParked);
  EXPECT_EQ(set.stats(1).in_flight, 0u);
  EXPECT_EQ(set.stats(n).in_flight, 0u);  // out of range: zeros
  set.post(1, [&](Shard&) {
    for (auto& reply : parked) reply.reply(0);
    parked.clear();
  });
  EXPECT_TRUE(eventually([&] { return set.stats(0).in_flight == 0; }));
  EXPECT_TRUE(eventually([&] { return done.load() == kParked; }));
  set.request_stop();
  set.join();
}

TEST_P(ShardSetTest, StopRequestedFromAShardAndDestructorJoins) {
  const uint32_t n = GetParam();
  std::atomic<uint32_t> stops{0};
  {
    ShardSetOptions options;
    options.shards = n;
    options.on_stop = [&](Shard&) { stops.fetch_add(1); };
    ShardSet set(std::move(options));
    ASSERT_TRUE(set.start().is_ok());
    set.post(n - 1, [&](Shard&) { set.request_stop(); });
    set.join();
    EXPECT_TRUE(set.stop_requested());
  }
  EXPECT_EQ(stops.load(), n);
  {
    ShardSetOptions options;
    options.shards = n;
    options.on_stop = [&](Shard&) { stops.fetch_add(1); };
    ShardSet set(std::move(options));
    ASSERT_TRUE(set.start().is_ok());
  }  // destructor: request_stop + join
  EXPECT_EQ(stops.load(), 2 * n);
}

TEST(ShardSetStartTest, RejectsInvalidShardCounts) {
  ShardSetOptions zero;
  zero.shards = 0;
  EXPECT_EQ(ShardSet(zero).start().code(), StatusCode::InvalidArgument);
  ShardSetOptions huge;
  huge.shards = ShardSet::kMaxShards + 1;
  EXPECT_EQ(ShardSet(huge).start().code(), StatusCode::InvalidArgument);
}

TEST(ShardSetStartTest, StartTwiceOrAfterStopFails) {
  ShardSetOptions options;
  options.shards = 2;
  ShardSet set(options);
  ASSERT_TRUE(set.start().is_ok());
  EXPECT_EQ(set.start().code(), StatusCode::FailedPrecondition);
  set.request_stop();
  set.join();

  ShardSet stopped(options);
  stopped.request_stop();
  EXPECT_EQ(stopped.start().code(), StatusCode::FailedPrecondition);
}

TEST(ShardSetDeathTest, DroppingAReplyWithoutAnsweringAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        ShardSetOptions options;
        options.shards = 2;
        ShardSet set(options);
        if (!set.start().is_ok()) return;
        set.post(0, [](Shard& origin) {
          origin.submit_async<int>(
              1, [](Shard&, Reply<int>) {}, [](int) {});
        });
        set.join();  // the process dies before any stop is requested
      },
      "without reply");
}

}  // namespace
}  // namespace spindle
