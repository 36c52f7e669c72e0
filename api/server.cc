#include "api/server.h"

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "api/api_handler.h"
#include "api/shard_services.h"
#include "core/log.h"
#include "net/listener.h"
#include "shards/shard_set.h"

namespace spindle {
namespace {

constexpr const char* kListenerNames[3] = {"otlp_grpc", "otlp_http", "query"};
constexpr Port kPorts[3] = {Port::OtlpGrpc, Port::OtlpHttp, Port::Query};
constexpr uint64_t kDrainPollMs = 10;

ConnectionLimits limits_from(const Config& c, Port port) {
  ConnectionLimits l;
  l.max_body_bytes = c.http_max_body_bytes;
  // The OTLP receiver has its own gRPC limit (the collector's max_recv_msg_size_mib); the query port's gRPC
  // (streaming search) uses Tempo's server.grpc_server_max_recv_msg_size.
  l.max_grpc_message_bytes = port == Port::OtlpGrpc ? c.otlp_grpc_max_recv_msg_bytes : c.grpc_max_recv_msg_bytes;
  l.read_timeout_ms = c.read_timeout_ms;
  l.write_timeout_ms = c.write_timeout_ms;
  l.idle_timeout_ms = c.idle_timeout_ms;
  return l;
}

// Polls a shard's drain until its listeners are empty and no ingest awaits other shards; past the deadline it
// cuts the remaining connections. A poll (not callbacks from every source) keeps the shutdown logic in one place.
struct DrainWatch {
  uv_timer_t timer;
  Shard* shard;
  std::function<void()> drained;
  uint64_t deadline;
  uint32_t listeners_left;
  bool forced = false;
};

void drain_poll(uv_timer_t* timer) {
  auto* w = static_cast<DrainWatch*>(timer->data);
  ShardServices& svc = services_of(*w->shard);
  if (!w->forced && uv_now(timer->loop) >= w->deadline) {
    w->forced = true;
    log_warn("shutdown timeout reached on shard %u: closing remaining connections", w->shard->id());
    for (auto& l : svc.listeners) l->close_all();
  }
  if (w->listeners_left != 0 || svc.ingests_in_flight != 0) return;
  uv_timer_stop(timer);
  auto drained = std::move(w->drained);
  uv_close(reinterpret_cast<uv_handle_t*>(timer), [](uv_handle_t* h) { delete static_cast<DrainWatch*>(h->data); });
  drained();
}

}  // namespace

uint32_t default_shard_count() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<uint32_t>(n);
  }
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

TraceStoreOptions trace_store_options(const Config& c, uint32_t shard, uint32_t shard_count) {
  TraceStoreOptions o;
  o.shard = shard;
  o.shard_count = shard_count;
  o.wal_dir = c.wal_path;
  o.blocks_dir = c.blocks_path;
  o.ack = c.wal_ack == "written" ? WalAckPolicy::Written : WalAckPolicy::Synced;
  o.wal_enabled = c.wal_ack != "none";
  o.wal_segment_bytes = c.wal_segment_bytes;
  o.wal_sync_bytes = c.wal_sync_bytes;
  o.wal_sync_interval_ms = static_cast<uint32_t>(std::min<uint64_t>(c.wal_sync_interval_ms, UINT32_MAX));
  o.head = HeadLimits{c.head_max_bytes / shard_count, c.max_bytes_per_trace};
  o.idle_ms = c.trace_idle_period_ms;
  o.max_live_ms = c.max_trace_live_ms;
  o.flush_check_ms = c.flush_check_period_ms;
  o.retention_ms = c.block_retention_ms;
  o.compaction_window_ms = c.compaction_window_ms;
  o.compaction_inputs = c.compaction_inputs;
  return o;
}

ShardServices::ShardServices(const Config& cfg, Shard& shard, const std::atomic<bool>& ready_flag)
    : config(cfg), ready(ready_flag), store(shard.loop(), trace_store_options(cfg, shard.id(), shard.count())) {}

ShardServices::~ShardServices() = default;

Server::Server(Config config) : config_(std::move(config)) {
  shard_count_ = config_.shards != 0 ? config_.shards : default_shard_count();
}

Server::~Server() {
  if (shards_) {
    request_stop();
    join();
  }
  for (auto& fds : fds_) {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
}

Status Server::start() {
  // libuv writes sockets with write(2): a peer that hung up would otherwise kill the process with SIGPIPE.
  // Linux has no per-socket opt-out, so the process that runs a Server ignores it.
  signal(SIGPIPE, SIG_IGN);
  for (auto [dir, key] : {std::pair{config_.wal_path, "storage.trace.wal.path"},
                          std::pair{config_.blocks_path, "storage.trace.local.path"}}) {
    auto lock = DirLock::acquire(dir, key);
    if (!lock.ok()) return lock.status();
    dir_locks_.push_back(std::move(lock).value());
  }
  const Endpoint endpoints[3] = {config_.otlp_grpc, config_.otlp_http,
                                 Endpoint{config_.http_listen_address, config_.http_listen_port}};
  for (int p = 0; p < 3; ++p) {
    auto fds = open_listen_sockets(endpoints[p].host, endpoints[p].port, shard_count_);
    if (!fds.ok()) return fds.status();
    fds_[p] = std::move(fds).value();
    ports_[p] = local_port(fds_[p][0]);
  }
  ShardSetOptions options;
  options.shards = shard_count_;
  options.on_start = [this](Shard& shard) { start_shard(shard); };
  options.on_drain = [this](Shard& shard, std::function<void()> drained) { drain_shard(shard, std::move(drained)); };
  options.on_stop = [](Shard& shard) {
    // Every shard has drained, so no append can reach this store any more. ShardSet does not run the loop after
    // on_stop returns, so run it here until the store has finished its block job and synced and closed its WAL.
    auto* svc = static_cast<ShardServices*>(shard.services);
    if (svc->store_open) {
      bool closed = false;
      svc->store.close([&closed] { closed = true; });
      while (!closed) uv_run(shard.loop(), UV_RUN_ONCE);
    }
    delete svc;
    shard.services = nullptr;
  };
  shards_ = std::make_unique<ShardSet>(std::move(options));
  Status s = shards_->start();
  {
    std::lock_guard<std::mutex> lock(start_error_mutex_);
    if (s.is_ok() && !start_error_.empty()) s = internal_error(start_error_);
  }
  if (!s.is_ok()) {
    shards_->request_stop();
    shards_->join();
    shards_.reset();
    return s;
  }
  ready_.store(true, std::memory_order_release);
  return Status::ok();
}

void Server::start_shard(Shard& shard) {
  set_log_shard(shard.id());
  auto* svc = new ShardServices(config_, shard, ready_);
  shard.services = svc;
  // Replays the WAL before this shard serves: /ready stays 503 until every shard is through.
  Status opened = svc->store.open();
  if (!opened.is_ok()) {
    std::lock_guard<std::mutex> lock(start_error_mutex_);
    if (start_error_.empty()) start_error_ = "shard " + std::to_string(shard.id()) + ": " + opened.message();
  } else {
    svc->store_open = true;
  }
  for (int p = 0; p < 3; ++p) {
    auto handler = std::make_unique<ApiHandler>(shard, kPorts[p]);
    int fd = fds_[p][shard.id()];
    fds_[p][shard.id()] = -1;  // the listener owns it now
    auto listener =
        std::make_unique<Listener>(shard.loop(), fd, *handler, limits_from(config_, kPorts[p]), kListenerNames[p]);
    Status s = listener->start();
    if (!s.is_ok()) {
      std::lock_guard<std::mutex> lock(start_error_mutex_);
      start_error_ = "shard " + std::to_string(shard.id()) + ": " + s.message();
    }
    svc->handlers.push_back(std::move(handler));
    svc->listeners.push_back(std::move(listener));
  }
}

void Server::drain_shard(Shard& shard, std::function<void()> drained) {
  ready_.store(false, std::memory_order_release);
  ShardServices& svc = services_of(shard);
  auto* watch = new DrainWatch{};
  watch->shard = &shard;
  watch->drained = std::move(drained);
  watch->deadline = uv_now(shard.loop()) + config_.shutdown_timeout_ms;
  watch->listeners_left = static_cast<uint32_t>(svc.listeners.size());
  uv_timer_init(shard.loop(), &watch->timer);
  watch->timer.data = watch;
  for (auto& l : svc.listeners) {
    l->drain([watch] { --watch->listeners_left; });
  }
  uv_timer_start(&watch->timer, drain_poll, 0, kDrainPollMs);
}

void Server::request_stop() {
  if (shards_) shards_->request_stop();
}

void Server::join() {
  if (shards_) {
    shards_->join();
    shards_.reset();
  }
}

}  // namespace spindle
