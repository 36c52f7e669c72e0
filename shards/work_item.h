#pragma once
// WorkItem: one cross-shard request. Only its pointer crosses cores (through shards/smp_queue.h).
//
// Life cycle, and which thread may touch the item when:
//   1. origin thread: created by make_work_item / make_async_work_item, handed to Shard::send;
//   2. target thread: the runtime calls run(target); run (or later, a Reply) calls finish() exactly once;
//   3. origin thread: the runtime calls complete(origin), then deletes the item. The allocation and the
//      lambdas' captures are therefore always freed on the origin's thread.
// Between those steps the item belongs to the ring it travels in; the ring's release/acquire pair is what
// makes one thread's writes visible to the next.
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

namespace spindle {

class Shard;
class WorkItem;

// Receives items whose run has finished. Implemented by the runtime on the target shard.
class CompletionSink {
 public:
  // Target thread: the item's result is ready; send it back to the origin.
  virtual void on_work_done(WorkItem* item) = 0;
  // Target thread: a Reply was destroyed without replying (see Reply below).
  virtual void on_work_abandoned(WorkItem* item) = 0;

 protected:
  ~CompletionSink() = default;
};

class WorkItem {
 public:
  WorkItem() = default;
  WorkItem(const WorkItem&) = delete;
  WorkItem& operator=(const WorkItem&) = delete;
  virtual ~WorkItem() = default;

  // Target thread. Must lead to exactly one finish() call, now or later from the target's loop.
  virtual void run(Shard& target) = 0;
  // Origin thread, after finish(). The runtime deletes the item right after.
  virtual void complete(Shard& origin) = 0;

  // Set by the runtime before the item is sent / run; user code never touches these.
  uint32_t origin = 0;
  CompletionSink* sink = nullptr;

 protected:
  void finish() { sink->on_work_done(this); }
  void abandon() { sink->on_work_abandoned(this); }
};

namespace detail {

// Holds the result between finish() on the target and complete() on the origin.
template <class R>
class ResultItem : public WorkItem {
 public:
  void set_value(R value) {
    value_.emplace(std::move(value));
    finish();
  }
  void drop() { abandon(); }

 protected:
  template <class Done>
  void deliver(Done& done) {
    done(std::move(*value_));
  }

 private:
  std::optional<R> value_;
};

template <>
class ResultItem<void> : public WorkItem {
 public:
  void set_value() { finish(); }
  void drop() { abandon(); }

 protected:
  template <class Done>
  void deliver(Done& done) {
    done();
  }
};

}  // namespace detail

// The target's handle for answering a submit_async request. Move-only; call reply() exactly once, on the
// target shard's thread (a second call is ignored). Destroying a Reply without replying is a bug (the origin
// would wait forever) and aborts the process, except during the final stop phase, when the request is
// silently dropped and its `done` never runs.
template <class R>
class ReplyBase {
 public:
  ReplyBase(const ReplyBase&) = delete;
  ReplyBase& operator=(const ReplyBase&) = delete;
  ReplyBase(ReplyBase&& other) noexcept : item_(std::exchange(other.item_, nullptr)) {}
  ReplyBase& operator=(ReplyBase&& other) noexcept {
    if (this != &other) {
      release();
      item_ = std::exchange(other.item_, nullptr);
    }
    return *this;
  }
  ~ReplyBase() { release(); }

  // False once reply() was called (or after a move).
  bool pending() const { return item_ != nullptr; }

 protected:
  explicit ReplyBase(detail::ResultItem<R>* item) : item_(item) {}
  detail::ResultItem<R>* take() { return std::exchange(item_, nullptr); }

 private:
  void release() {
    if (auto* item = std::exchange(item_, nullptr)) item->drop();
  }
  detail::ResultItem<R>* item_;
};

template <class R>
class Reply : public ReplyBase<R> {
 public:
  explicit Reply(detail::ResultItem<R>* item) : ReplyBase<R>(item) {}
  void reply(R value) {
    if (auto* item = this->take()) item->set_value(std::move(value));
  }
};

template <>
class Reply<void> : public ReplyBase<void> {
 public:
  explicit Reply(detail::ResultItem<void>* item) : ReplyBase<void>(item) {}
  void reply() {
    if (auto* item = this->take()) item->set_value();
  }
};

namespace detail {

// fn: R(Shard&), done: void(R) / void().
template <class R, class Fn, class Done>
class SyncWorkItem final : public ResultItem<R> {
 public:
  SyncWorkItem(Fn fn, Done done) : fn_(std::move(fn)), done_(std::move(done)) {}
  void run(Shard& target) override {
    if constexpr (std::is_void_v<R>) {
      fn_(target);
      this->set_value();
    } else {
      this->set_value(fn_(target));
    }
  }
  void complete(Shard&) override { this->deliver(done_); }

 private:
  Fn fn_;
  Done done_;
};

// fn: void(Shard&, Reply<R>), done: void(R) / void().
template <class R, class Fn, class Done>
class AsyncWorkItem final : public ResultItem<R> {
 public:
  AsyncWorkItem(Fn fn, Done done) : fn_(std::move(fn)), done_(std::move(done)) {}
  void run(Shard& target) override { fn_(target, Reply<R>(this)); }
  void complete(Shard&) override { this->deliver(done_); }

 private:
  Fn fn_;
  Done done_;
};

template <class R, class Done>
constexpr bool done_accepts() {
  if constexpr (std::is_void_v<R>) {
    return std::is_invocable_v<Done&>;
  } else {
    return std::is_invocable_v<Done&, R&&>;
  }
}

}  // namespace detail

// Returns an owning raw pointer; ownership passes to the runtime with Shard::send. Lambdas are stored by
// value (move-only captures work) and destroyed with the item, on the origin thread.
template <class R, class Fn, class Done>
WorkItem* make_work_item(Fn&& fn, Done&& done) {
  using V = std::conditional_t<std::is_void_v<R>, void, std::remove_cvref_t<R>>;
  using F = std::decay_t<Fn>;
  using D = std::decay_t<Done>;
  static_assert(detail::done_accepts<V, D>(),
                "done must be callable as done(R), or done() when fn returns void");
  return new detail::SyncWorkItem<V, F, D>(std::forward<Fn>(fn), std::forward<Done>(done));
}

template <class R, class Fn, class Done>
WorkItem* make_async_work_item(Fn&& fn, Done&& done) {
  using V = std::conditional_t<std::is_void_v<R>, void, std::remove_cvref_t<R>>;
  using F = std::decay_t<Fn>;
  using D = std::decay_t<Done>;
  static_assert(std::is_invocable_v<F&, Shard&, Reply<V>>, "fn must be callable as fn(Shard&, Reply<R>)");
  static_assert(detail::done_accepts<V, D>(), "done must be callable as done(R), or done() when R is void");
  return new detail::AsyncWorkItem<V, F, D>(std::forward<Fn>(fn), std::forward<Done>(done));
}

}  // namespace spindle
