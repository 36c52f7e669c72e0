#pragma once
// Server: a whole Spindle node. Binds every listening socket on the calling thread (so a port clash or bad
// address is an error from start(), not a log line from a shard), starts one shard per core with its own
// SO_REUSEPORT socket per port, and stops gracefully in two phases (see ShardSet).
//
// Threading: start(), request_stop() and join() are for the owning thread (main, or a test); request_stop() may
// also be called from any other thread. The port accessors are valid after start() succeeded.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/status.h"
#include "storage/dir_lock.h"

namespace spindle {

class ShardSet;
class Shard;

class Server {
 public:
  explicit Server(Config config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Status start();
  void request_stop();
  void join();

  uint16_t otlp_grpc_port() const { return ports_[0]; }
  uint16_t otlp_http_port() const { return ports_[1]; }
  uint16_t query_port() const { return ports_[2]; }
  uint32_t shard_count() const { return shard_count_; }
  const Config& config() const { return config_; }

 private:
  void start_shard(Shard& shard);
  void drain_shard(Shard& shard, std::function<void()> drained);

  Config config_;
  uint32_t shard_count_ = 1;
  std::atomic<bool> ready_{false};
  std::unique_ptr<ShardSet> shards_;
  std::vector<int> fds_[3];  // [port][shard], handed to each shard's Listener
  uint16_t ports_[3] = {0, 0, 0};
  std::vector<DirLock> dir_locks_;  // the WAL and blocks directories, held while the server runs
  std::mutex start_error_mutex_;  // startup only
  std::string start_error_;
};

// Shards to run when the config says 0: the CPUs this process may run on.
uint32_t default_shard_count();

}  // namespace spindle
