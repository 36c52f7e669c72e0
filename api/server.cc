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

ShardServices::ShardServices(const Config& cfg, uint32_t shard_count, const std::atomic<bool>& ready_flag)
    : config(cfg),
      ready(ready_flag),
      head(HeadLimits{cfg.head_max_bytes / shard_count, cfg.max_bytes_per_trace}) {}

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
    delete static_cast<ShardServices*>(shard.services);
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
  auto* svc = new ShardServices(config_, shard_count_, ready_);
  shard.services = svc;
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
