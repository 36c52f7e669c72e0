#pragma once
// SpscQueue: a bounded single-producer/single-consumer ring, the building block of the cross-shard mesh.
//
// Threading: exactly one producer thread may call try_push / try_push_batch, and exactly one consumer thread
// may call try_pop / pop_batch (the two may be the same thread). size_approx() / empty_approx() may be called
// from any thread and return a value that was true at some recent moment.
//
// Layout: the producer's index and the consumer's index live on separate cache lines, each next to a cached
// copy of the other side's index, so in steady state each side reads the remote line only when its cached
// view says the ring is full (producer) or empty (consumer). The two lines are kPad bytes apart rather than
// adjacent so the adjacent-line prefetcher does not drag the other core's line in (same trick as Seastar's
// smp_message_queue).
//
// Indices are free-running 64-bit counters (slot = index & (kCapacity - 1)); they never wrap in practice.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace spindle {

template <class T, size_t kCapacity>
class SpscQueue {
  static_assert(kCapacity >= 2 && (kCapacity & (kCapacity - 1)) == 0, "capacity must be a power of two");
  // Slots are plain copies: no construction/destruction bookkeeping on the hot path. Used with pointers.
  static_assert(std::is_trivially_copyable_v<T> && std::is_default_constructible_v<T>,
                "SpscQueue holds trivially copyable values (typically pointers)");

 public:
  static constexpr size_t capacity() { return kCapacity; }

  SpscQueue() = default;
  SpscQueue(const SpscQueue&) = delete;
  SpscQueue& operator=(const SpscQueue&) = delete;

  // Producer only. False when the ring is full.
  bool try_push(T value) {
    const uint64_t tail = producer_.tail.load(std::memory_order_relaxed);
    if (tail - producer_.cached_head >= kCapacity) {
      producer_.cached_head = consumer_.head.load(std::memory_order_acquire);
      if (tail - producer_.cached_head >= kCapacity) return false;
    }
    slots_[tail & kMask] = value;
    producer_.tail.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Producer only. Pushes the longest prefix of [first, first + n) that fits and publishes it with a single
  // release store. Returns how many were pushed (0 when full).
  template <class It>
  size_t try_push_batch(It first, size_t n) {
    const uint64_t tail = producer_.tail.load(std::memory_order_relaxed);
    size_t space = kCapacity - static_cast<size_t>(tail - producer_.cached_head);
    if (space < n) {
      producer_.cached_head = consumer_.head.load(std::memory_order_acquire);
      space = kCapacity - static_cast<size_t>(tail - producer_.cached_head);
    }
    const size_t count = n < space ? n : space;
    for (size_t i = 0; i < count; ++i, ++first) slots_[(tail + i) & kMask] = *first;
    if (count > 0) producer_.tail.store(tail + count, std::memory_order_release);
    return count;
  }

  // Consumer only. False when the ring is empty.
  bool try_pop(T& out) { return pop_batch(&out, 1) == 1; }

  // Consumer only. Copies up to `max` values into `out` (oldest first) and releases their slots with a single
  // store. Copying out first keeps the time spent on the producer's cache lines short.
  size_t pop_batch(T* out, size_t max) {
    const uint64_t head = consumer_.head.load(std::memory_order_relaxed);
    size_t avail = static_cast<size_t>(consumer_.cached_tail - head);
    if (avail < max) {
      consumer_.cached_tail = producer_.tail.load(std::memory_order_acquire);
      avail = static_cast<size_t>(consumer_.cached_tail - head);
    }
    const size_t count = max < avail ? max : avail;
    for (size_t i = 0; i < count; ++i) out[i] = slots_[(head + i) & kMask];
    if (count > 0) consumer_.head.store(head + count, std::memory_order_release);
    return count;
  }

  // Any thread. The head is read first so the result never exceeds kCapacity.
  size_t size_approx() const {
    const uint64_t head = consumer_.head.load(std::memory_order_acquire);
    const uint64_t tail = producer_.tail.load(std::memory_order_acquire);
    return tail > head ? static_cast<size_t>(tail - head) : 0;
  }
  bool empty_approx() const { return size_approx() == 0; }

 private:
  static constexpr uint64_t kMask = kCapacity - 1;
  static constexpr size_t kPad = 128;  // two cache lines: defeats the adjacent-line prefetcher

  struct alignas(kPad) ProducerSide {
    std::atomic<uint64_t> tail{0};
    uint64_t cached_head = 0;  // producer's last view of consumer_.head
  };
  struct alignas(kPad) ConsumerSide {
    std::atomic<uint64_t> head{0};
    uint64_t cached_tail = 0;  // consumer's last view of producer_.tail
  };

  ProducerSide producer_;
  ConsumerSide consumer_;
  alignas(kPad) T slots_[kCapacity]{};
};

}  // namespace spindle
