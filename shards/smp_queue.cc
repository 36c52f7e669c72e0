#include "shards/smp_queue.h"

namespace spindle {

void SmpLane::push(WorkItem* item, Wakeup& consumer) {
  overflow_.push_back(item);
  if (overflow_.size() >= kBatch) flush(consumer);
}

void SmpLane::flush(Wakeup& consumer) {
  if (overflow_.empty()) return;
  size_t pushed = 0;
  bool flagged = false;
  while (true) {
    const size_t n = ring_.try_push_batch(overflow_.begin(), overflow_.size());
    overflow_.erase(overflow_.begin(), overflow_.begin() + static_cast<std::ptrdiff_t>(n));
    pushed += n;
    if (overflow_.empty() || (n == 0 && flagged)) break;
    // Ring full with items left over: ask the consumer to wake us when it frees slots, then look once more in
    // case it freed them before it could see the flag (pairs with the fence in pop()).
    producer_waiting_.store(true, std::memory_order_relaxed);
    full_fence();
    flagged = true;
  }
  if (pushed > 0) consumer.notify();
}

size_t SmpLane::pop(WorkItem** out, size_t max, Wakeup& producer) {
  const size_t n = ring_.pop_batch(out, max);
  if (n == 0) return 0;
  full_fence();
  if (producer_waiting_.load(std::memory_order_relaxed) &&
      producer_waiting_.exchange(false, std::memory_order_relaxed)) {
    producer.notify();
  }
  return n;
}

void SmpLane::delete_all() {
  WorkItem* item = nullptr;
  while (ring_.try_pop(item)) delete item;
  for (WorkItem* leftover : overflow_) delete leftover;
  overflow_.clear();
}

}  // namespace spindle
