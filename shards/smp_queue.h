#pragma once
// SmpQueue: the traffic of one ordered pair of shards (from -> to), modelled on Seastar's smp_message_queue.
// The ShardSet owns an N x N matrix of them (including from == to, which is how self-submission is deferred).
//
// Two lanes, each an SPSC ring of WorkItem pointers plus a producer-private overflow FIFO:
//   requests:    producer = `from` thread, consumer = `to` thread;
//   completions: producer = `to` thread,   consumer = `from` thread (which runs complete() and deletes).
//
// Sending never blocks and never loses an item: push() appends to the overflow FIFO and moves items into the
// ring once kBatch of them accumulated or when the shard flushes at the end of a loop iteration. What does
// not fit stays in the FIFO, in order, so per-pair FIFO order holds. Every flush that published something
// rings the consumer's Wakeup once.
//
// Back-pressure wakeup: when a flush leaves items in the FIFO (ring full), the producer raises
// `producer_waiting` and re-checks the ring after a seq_cst fence; the consumer, after freeing slots, fences
// and checks the flag and if set rings the producer's Wakeup. This Dekker-style pair guarantees a sleeping
// producer with a backlog is woken once there is room; no mutex anywhere on this path.
#include <atomic>
#include <cstddef>
#include <deque>

#include "shards/spsc_queue.h"
#include "shards/wakeup.h"
#include "shards/work_item.h"

namespace spindle {

class SmpLane {
 public:
  static constexpr size_t kRingCapacity = 128;
  static constexpr size_t kBatch = 16;

  // Producer thread only.
  void push(WorkItem* item, Wakeup& consumer);
  void flush(Wakeup& consumer);
  size_t backlog() const { return overflow_.size(); }

  // Consumer thread only. Pops up to `max` items into `out`, oldest first.
  size_t pop(WorkItem** out, size_t max, Wakeup& producer);

  // Any thread: items published in the ring and not yet popped.
  size_t depth() const { return ring_.size_approx(); }

  // Only when no thread uses the lane any more (after every shard thread exited): deletes what is left.
  void delete_all();

 private:
  SpscQueue<WorkItem*, kRingCapacity> ring_;
  alignas(128) std::deque<WorkItem*> overflow_;  // producer-private
  alignas(128) std::atomic<bool> producer_waiting_{false};
};

class SmpQueue {
 public:
  SmpQueue(Wakeup* from, Wakeup* to) : from_(from), to_(to) {}
  SmpQueue(const SmpQueue&) = delete;
  SmpQueue& operator=(const SmpQueue&) = delete;

  // `from` (origin) thread.
  void submit(WorkItem* item) { requests_.push(item, *to_); }
  void flush_requests() { requests_.flush(*to_); }
  size_t pop_completions(WorkItem** out, size_t max) { return completions_.pop(out, max, *to_); }

  // `to` (target) thread.
  size_t pop_requests(WorkItem** out, size_t max) { return requests_.pop(out, max, *from_); }
  void push_completion(WorkItem* item) { completions_.push(item, *from_); }
  void flush_completions() { completions_.flush(*from_); }

  // Any thread.
  size_t request_depth() const { return requests_.depth(); }
  size_t completion_depth() const { return completions_.depth(); }

  // Only after every shard thread exited.
  void delete_all() {
    requests_.delete_all();
    completions_.delete_all();
  }

 private:
  Wakeup* from_;
  Wakeup* to_;
  SmpLane requests_;
  SmpLane completions_;
};

}  // namespace spindle
