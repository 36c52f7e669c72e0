#include "shards/shard.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "shards/shard_impl.h"
#include "shards/shard_set.h"

namespace spindle {

namespace {

// Misuse of the runtime (wrong thread, out-of-range shard, dropped Reply) is a programming error that would
// otherwise corrupt the SPSC invariants or hang a caller forever: crash loudly.
[[noreturn]] void fatal(const char* what) {
  std::fprintf(stderr, "spindle shards: fatal: %s\n", what);
  std::abort();
}

void close_if_open(uv_handle_t* handle, void*) {
  if (!uv_is_closing(handle)) uv_close(handle, nullptr);
}

}  // namespace

thread_local Shard::Impl* Shard::Impl::current = nullptr;

void Shard::Impl::on_async(uv_async_t* handle) {
  Impl* impl = static_cast<Impl*>(handle->data);
  impl->run_alien();
  impl->pump();
}

void Shard::Impl::on_prepare(uv_prepare_t* handle) { static_cast<Impl*>(handle->data)->pump(); }
void Shard::Impl::on_check(uv_check_t* handle) { static_cast<Impl*>(handle->data)->pump(); }

Shard::Shard(ShardSet* set, uint32_t id, uint32_t count)
    : set_(set), id_(id), count_(count), impl_(std::make_unique<Impl>(*this, *set)) {}

Shard::~Shard() = default;

uint64_t Shard::in_flight() const { return impl_->in_flight.load(std::memory_order_relaxed); }

uint64_t Shard::inbound_depth() const {
  uint64_t depth = 0;
  for (const SmpQueue* q : impl_->inbound) depth += q->request_depth();
  for (const SmpQueue* q : impl_->outbound) depth += q->completion_depth();
  return depth;
}

void Shard::send(uint32_t target, WorkItem* item) {
  Impl& impl = *impl_;
  if (Impl::current != &impl) fatal("submit_to/submit_async called off the shard's own thread");
  if (target >= count_) fatal("submit_to/submit_async target shard out of range");
  if (impl.stopped) {
    delete item;  // after on_stop nobody would run it; see ShardSet
    return;
  }
  item->origin = id_;
  impl.in_flight.store(impl.in_flight.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  impl.outbound[target]->submit(item);
}

Status Shard::Impl::init_loop() {
  int rc = uv_loop_init(self.loop());
  if (rc != 0) return internal_error(std::string("uv_loop_init: ") + uv_strerror(rc));
  loop_inited = true;
  rc = wakeup.init(self.loop(), on_async, this);
  if (rc == 0) {
    prepare.data = this;
    rc = uv_prepare_init(self.loop(), &prepare);
  }
  if (rc == 0) {
    check.data = this;
    rc = uv_check_init(self.loop(), &check);
  }
  if (rc != 0) return internal_error(std::string("shard handle init: ") + uv_strerror(rc));
  uv_prepare_start(&prepare, on_prepare);
  uv_check_start(&check, on_check);
  uv_unref(reinterpret_cast<uv_handle_t*>(&prepare));
  uv_unref(reinterpret_cast<uv_handle_t*>(&check));
  std::lock_guard lock(alien_mu);
  alien_state = AlienState::Open;
  if (!alien.empty()) wakeup.notify();  // posted before start
  return Status::ok();
}

void Shard::Impl::teardown() {
  std::vector<std::function<void(Shard&)>> dropped;
  {
    std::lock_guard lock(alien_mu);
    alien_state = AlienState::Closed;
    dropped.swap(alien);
  }
  dropped.clear();
  if (!loop_inited) return;
  uv_loop_t* loop = self.loop();
  // A handle the services forgot would keep the loop alive forever; close it without a callback.
  for (int attempt = 0; attempt < 8; ++attempt) {
    uv_walk(loop, close_if_open, nullptr);
    uv_run(loop, UV_RUN_DEFAULT);
    if (uv_loop_close(loop) == 0) {
      loop_inited = false;
      return;
    }
  }
  fatal("uv_loop_close kept failing with UV_EBUSY");
}

void Shard::Impl::pump() {
  const bool more = drain_inbound();
  flush_outbound();
  // A full batch means the producer may have pushed more; come back before sleeping.
  if (more) wakeup.notify();
}

bool Shard::Impl::drain_inbound() {
  constexpr size_t kMax = SmpLane::kRingCapacity;
  WorkItem* batch[kMax];
  bool more = false;
  for (SmpQueue* q : inbound) {
    const size_t n = q->pop_requests(batch, kMax);
    more |= n == kMax;
    for (size_t i = 0; i < n; ++i) {
      batch[i]->sink = this;
      batch[i]->run(self);
    }
  }
  size_t completed = 0;
  for (SmpQueue* q : outbound) {
    const size_t n = q->pop_completions(batch, kMax);
    more |= n == kMax;
    for (size_t i = 0; i < n; ++i) {
      batch[i]->complete(self);
      delete batch[i];
      in_flight.store(in_flight.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    }
    completed += n;
  }
  if (completed > 0) maybe_report_drained();
  return more;
}

void Shard::Impl::flush_outbound() {
  for (SmpQueue* q : outbound) q->flush_requests();
  for (SmpQueue* q : inbound) q->flush_completions();
}

void Shard::Impl::run_alien() {
  std::vector<std::function<void(Shard&)>> batch;
  {
    std::lock_guard lock(alien_mu);
    batch.swap(alien);
  }
  for (auto& fn : batch) fn(self);
}

void Shard::Impl::begin_drain() {
  if (draining) return;
  draining = true;
  if (!set.options_.on_drain) {
    on_user_drained();
    return;
  }
  set.options_.on_drain(self, [this] { on_user_drained(); });
}

void Shard::Impl::on_user_drained() {
  if (current != this) fatal("drained() called off the shard's own thread");
  user_drained = true;
  maybe_report_drained();
}

void Shard::Impl::maybe_report_drained() {
  if (!user_drained || reported_drained) return;
  if (in_flight.load(std::memory_order_relaxed) != 0) return;
  reported_drained = true;
  set.on_shard_drained();
}

void Shard::Impl::begin_stop() {
  stopping = true;
  uv_stop(self.loop());
}

void Shard::Impl::on_work_done(WorkItem* item) {
  if (current != this) fatal("Reply::reply called off the target shard's thread");
  inbound[item->origin]->push_completion(item);
}

void Shard::Impl::on_work_abandoned(WorkItem* item) {
  if (current != this) fatal("Reply destroyed off the target shard's thread");
  if (!stopping) fatal("Reply destroyed without reply(): the origin would wait forever");
  delete item;  // final stop: the origin will never look for it
}

}  // namespace spindle
