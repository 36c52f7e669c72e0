#include "shards/shard_set.h"

#include <pthread.h>
#include <sched.h>

#include <cstdio>
#include <string>
#include <system_error>
#include <utility>

#include "shards/shard_impl.h"
#include "shards/smp_queue.h"

namespace spindle {

ShardSet::ShardSet(ShardSetOptions options) : options_(std::move(options)) {
  const uint32_t n = options_.shards;
  if (n == 0 || n > kMaxShards) return;  // start() reports it
  shards_.reserve(n);
  for (uint32_t i = 0; i < n; ++i) shards_.push_back(new Shard(this, i, n));
  queues_.reserve(size_t{n} * n);
  for (uint32_t from = 0; from < n; ++from) {
    for (uint32_t to = 0; to < n; ++to) {
      queues_.push_back(
          std::make_unique<SmpQueue>(&shards_[from]->impl_->wakeup, &shards_[to]->impl_->wakeup));
    }
  }
  for (uint32_t i = 0; i < n; ++i) {
    Shard::Impl& impl = *shards_[i]->impl_;
    for (uint32_t j = 0; j < n; ++j) {
      impl.outbound.push_back(queues_[size_t{i} * n + j].get());
      impl.inbound.push_back(queues_[size_t{j} * n + i].get());
    }
  }
}

ShardSet::~ShardSet() {
  request_stop();
  join();
  // Every thread is gone: whatever is still in the mesh (sent during on_stop) can be freed from here.
  for (auto& q : queues_) q->delete_all();
  queues_.clear();
  for (Shard* shard : shards_) delete shard;
}

Status ShardSet::start() {
  const uint32_t n = options_.shards;
  if (shards_.empty()) {
    return invalid_argument("shard count must be in [1, " + std::to_string(kMaxShards) + "], got " +
                            std::to_string(n));
  }
  {
    std::lock_guard lock(mu_);
    if (start_called_) return failed_precondition("ShardSet::start called twice");
    start_called_ = true;
  }
  if (stop_requested()) return failed_precondition("ShardSet::start after request_stop");

  Status spawn_status;
  for (uint32_t i = 0; i < n; ++i) {
    try {
      threads_.emplace_back([this, i] { thread_main(i); });
    } catch (const std::system_error& e) {
      spawn_status = internal_error(std::string("cannot spawn shard thread: ") + e.what());
      break;
    }
  }

  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return inited_ == threads_.size(); });
  Status failure = spawn_status.is_ok() ? init_status_ : spawn_status;
  if (!failure.is_ok()) {
    gate_ = Gate::Abort;
    cv_.notify_all();
    lock.unlock();
    join();
    return failure;
  }
  gate_ = Gate::Go;
  cv_.notify_all();
  cv_.wait(lock, [&] { return started_ == n; });
  return Status::ok();
}

bool ShardSet::post(uint32_t shard, std::function<void(Shard&)> fn) {
  if (shard >= shards_.size()) return false;
  Shard::Impl& impl = *shards_[shard]->impl_;
  std::lock_guard lock(impl.alien_mu);
  if (impl.alien_state == Shard::Impl::AlienState::Closed) return false;
  impl.alien.push_back(std::move(fn));
  // Under the lock: teardown flips the state under the same lock before closing the async handle.
  if (impl.alien_state == Shard::Impl::AlienState::Open) impl.wakeup.notify();
  return true;
}

void ShardSet::request_stop() {
  if (stop_requested_.exchange(true, std::memory_order_acq_rel)) return;
  for (uint32_t i = 0; i < shards_.size(); ++i) {
    post(i, [](Shard& shard) { shard.impl_->begin_drain(); });
  }
}

void ShardSet::join() {
  std::lock_guard lock(join_mu_);
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

ShardStats ShardSet::stats(uint32_t shard) const {
  if (shard >= shards_.size()) return {};
  return {shards_[shard]->in_flight(), shards_[shard]->inbound_depth()};
}

void ShardSet::pin_and_name(uint32_t index) {
  const std::string name = "shard-" + std::to_string(index);
  pthread_setname_np(pthread_self(), name.c_str());
  if (!options_.pin_threads) return;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return;
  if (options_.shards > static_cast<uint32_t>(CPU_COUNT(&allowed)))
    return;  // oversubscribed: let the OS move us
  uint32_t seen = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    if (seen++ != index) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pthread_setaffinity_np(pthread_self(), sizeof(one), &one);  // best effort (containers may refuse)
    return;
  }
}

void ShardSet::thread_main(uint32_t index) {
  Shard& shard = *shards_[index];
  Shard::Impl& impl = *shard.impl_;
  Shard::Impl::current = &impl;
  pin_and_name(index);

  const Status init = impl.init_loop();
  bool go = false;
  {
    std::unique_lock lock(mu_);
    ++inited_;
    if (!init.is_ok() && init_status_.is_ok()) init_status_ = init;
    cv_.notify_all();
    cv_.wait(lock, [&] { return gate_ != Gate::Wait; });
    go = gate_ == Gate::Go;
  }
  if (!go) {
    impl.teardown();
    return;
  }

  if (options_.on_start) options_.on_start(shard);
  {
    std::lock_guard lock(mu_);
    ++started_;
    cv_.notify_all();
  }
  // uv_run also returns if a service calls uv_stop itself; only phase 2 ends the shard.
  while (!impl.stopping) uv_run(shard.loop(), UV_RUN_DEFAULT);

  if (options_.on_stop) options_.on_stop(shard);
  impl.flush_outbound();
  impl.stopped = true;
  wait_all_stopped();
  impl.teardown();
}

void ShardSet::on_shard_drained() {
  const uint32_t drained = drained_count_.fetch_add(1, std::memory_order_acq_rel) + 1;
  if (drained != shards_.size()) return;
  for (uint32_t i = 0; i < shards_.size(); ++i) {
    post(i, [](Shard& shard) { shard.impl_->begin_stop(); });
  }
}

void ShardSet::wait_all_stopped() {
  std::unique_lock lock(mu_);
  ++stop_arrived_;
  cv_.notify_all();
  cv_.wait(lock, [&] { return stop_arrived_ == shards_.size(); });
}

}  // namespace spindle
