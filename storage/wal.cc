#include "storage/wal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/log.h"

namespace spindle {
namespace {

Status create_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return unavailable("cannot create WAL directory " + path + ": " + ec.message());
  if (::access(path.c_str(), W_OK | X_OK) != 0) {
    return unavailable("WAL directory " + path + " is not writable: " + std::strerror(errno));
  }
  return Status::ok();
}

size_t latency_bucket(uint64_t us) {
  for (size_t i = 0; i < kWalSyncLatencyBoundsUs.size(); ++i) {
    if (us <= kWalSyncLatencyBoundsUs[i]) return i;
  }
  return kWalSyncLatencyBoundsUs.size();
}

}  // namespace

Wal::Wal(uv_loop_t* loop, WalOptions options)
    : loop_(loop), options_(std::move(options)), shard_dir_(wal_shard_dir(options_.dir, options_.shard)) {}

Wal::~Wal() {
  assert((state_ == State::Idle || state_ == State::Closed) && "destroy a Wal only after close() finished");
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

Status Wal::open() {
  assert(state_ == State::Idle);
  if (options_.dir.empty()) return invalid_argument("WAL directory not set");
  if (options_.shard_count == 0 || options_.shard >= options_.shard_count) {
    return invalid_argument("WAL shard " + std::to_string(options_.shard) + " out of range for " +
                            std::to_string(options_.shard_count) + " shards");
  }
  SPINDLE_RETURN_IF_ERROR(create_dirs(shard_dir_));
  SPINDLE_ASSIGN_OR_RETURN(std::vector<uint64_t> seqs, list_segments(shard_dir_));
  SegmentHeader header;
  header.shard = options_.shard;
  header.shard_count = options_.shard_count;
  header.seq = seqs.empty() ? 1 : seqs.back() + 1;
  SPINDLE_ASSIGN_OR_RETURN(WalSegment segment, WalSegment::create(shard_dir_, header, &options_.file_ops));
  int dir_fd = ::open(shard_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    return unavailable("cannot open WAL directory " + shard_dir_ + ": " + std::strerror(errno));
  }
  dir_fd_ = dir_fd;
  segment_ = std::move(segment);
  ++loop_stats_.segments_created;
  loop_stats_.live_segments = seqs.size() + 1;
  {
    std::lock_guard lock(mu_);
    cur_fd_ = segment_->fd();
    dir_dirty_ = true;
  }
  uv_async_init(loop_, &async_, &Wal::on_async);
  async_.data = this;
  sync_thread_ = std::thread([this] { sync_main(); });
  state_ = State::Open;
  return Status::ok();
}

uint64_t Wal::current_segment() const { return segment_ ? segment_->seq() : 0; }

void Wal::append(std::string_view payload, Callback done) {
  if (state_ != State::Open) {
    assert(state_ == State::Closing && "append() before open() or after close() finished");
    if (state_ == State::Closing) defer(failed_precondition("WAL is closing"), std::move(done));
    return;
  }
  if (payload.size() > kMaxRecordPayload) {
    ++loop_stats_.append_errors;
    defer(invalid_argument("WAL record of " + std::to_string(payload.size()) +
                           " bytes exceeds the limit of " + std::to_string(kMaxRecordPayload)),
          std::move(done));
    return;
  }
  uint64_t record_bytes = kRecordHeaderSize + payload.size();
  Status s = ensure_room(record_bytes);
  if (s.is_ok()) s = segment_->append(payload);
  if (!s.is_ok()) {
    note_append_failure(s, s.code() == StatusCode::Unavailable);
    if (segment_->broken()) force_roll_ = true;
    defer(std::move(s), std::move(done));
    return;
  }
  if (disk_full_) {
    disk_full_ = false;
    log_fields(LogLevel::Info, "WAL writes succeed again", {{"path", segment_->path()}});
  }
  written_ += record_bytes;
  ++loop_stats_.records_written;
  loop_stats_.bytes_written += record_bytes;
  publish(written_);
  if (options_.ack == WalAckPolicy::Written) {
    defer(Status::ok(), std::move(done));
  } else {
    pending_.emplace_back(written_, std::move(done));
  }
}

Status Wal::start_new_segment() {
  if (state_ != State::Open || !segment_ || segment_->size() <= kSegmentHeaderSize) return Status::ok();
  return roll();
}

Status Wal::ensure_room(uint64_t record_bytes) {
  bool full =
      segment_->size() > kSegmentHeaderSize && segment_->size() + record_bytes > options_.segment_bytes;
  if (!full && !force_roll_) return Status::ok();
  return roll();
}

Status Wal::roll() {
  SegmentHeader header;
  header.shard = options_.shard;
  header.shard_count = options_.shard_count;
  header.seq = segment_->seq() + 1;
  SPINDLE_ASSIGN_OR_RETURN(WalSegment next, WalSegment::create(shard_dir_, header, &options_.file_ops));
  int old_fd = segment_->release_fd();
  {
    std::lock_guard lock(mu_);
    retired_fds_.push_back(old_fd);
    cur_fd_ = next.fd();
    dir_dirty_ = true;
  }
  segment_ = std::move(next);
  force_roll_ = false;
  ++loop_stats_.segments_created;
  ++loop_stats_.live_segments;
  return Status::ok();
}

// Wakes the sync thread only on the two transitions it waits for: the first unsynced write (which starts the
// interval clock) and crossing sync_bytes. Other appends cost one uncontended lock.
void Wal::publish(uint64_t written_end) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    uint64_t before = written_end_ - taken_end_;
    uint64_t after = written_end - taken_end_;
    if (before == 0) {
      first_unsynced_at_ = std::chrono::steady_clock::now();
      wake = true;
    }
    if (before < options_.sync_bytes && after >= options_.sync_bytes) wake = true;
    written_end_ = written_end;
  }
  if (wake) cv_.notify_one();
}

void Wal::defer(Status status, Callback done) {
  ready_.emplace_back(std::move(status), std::move(done));
  uv_async_send(&async_);
}

void Wal::note_append_failure(const Status& status, bool disk_full) {
  ++loop_stats_.append_errors;
  if (!disk_full) {
    log_fields(LogLevel::Error, "WAL append failed", {{"error", status.message()}});
    return;
  }
  ++loop_stats_.disk_full_errors;
  if (!disk_full_) {
    disk_full_ = true;
    log_fields(LogLevel::Warn, "WAL disk full: refusing appends until space returns",
               {{"error", status.message()}});
  }
}

Status Wal::remove_segments_before(uint64_t seq) {
  SPINDLE_ASSIGN_OR_RETURN(std::vector<uint64_t> seqs, list_segments(shard_dir_));
  for (uint64_t s : seqs) {
    if (s >= seq || s == current_segment()) break;
    std::string path = segment_path(shard_dir_, s);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return unavailable("cannot delete WAL segment " + path + ": " + std::strerror(errno));
    }
    ++loop_stats_.segments_removed;
    if (loop_stats_.live_segments > 0) --loop_stats_.live_segments;
  }
  return Status::ok();
}

void Wal::close(std::function<void()> done) {
  assert(state_ == State::Open && "close() once, after a successful open()");
  state_ = State::Closing;
  close_done_ = std::move(done);
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
}

WalStats Wal::stats() const {
  WalStats s = loop_stats_;
  s.current_segment = current_segment();
  s.pending_acks = pending_.size();
  std::lock_guard lock(mu_);
  s.syncs = sync_stats_.syncs;
  s.sync_errors = sync_stats_.sync_errors;
  s.sync_latency_buckets = sync_stats_.sync_latency_buckets;
  s.sync_latency_sum_us = sync_stats_.sync_latency_sum_us;
  return s;
}

void Wal::on_async(uv_async_t* handle) { static_cast<Wal*>(handle->data)->deliver(); }

void Wal::deliver() {
  std::vector<SyncResult> results;
  bool exited;
  {
    std::lock_guard lock(mu_);
    results.swap(results_);
    exited = thread_exited_;
  }
  for (auto& r : results) {
    if (!r.status.is_ok()) force_roll_ = true;
    // A callback may append (pushing to the back); the front is re-checked after every call.
    while (!pending_.empty() && pending_.front().first <= r.end) {
      Callback cb = std::move(pending_.front().second);
      pending_.pop_front();
      cb(r.status);
    }
  }
  std::vector<std::pair<Status, Callback>> ready;
  ready.swap(ready_);
  for (auto& [status, cb] : ready) cb(std::move(status));
  if (state_ == State::Closing && exited) finish_close();
}

void Wal::finish_close() {
  sync_thread_.join();
  // The final round covered everything written before stop_ was set, so nothing should be left; anything
  // that is (an append made inside a callback during close) is refused rather than dropped silently.
  while (!pending_.empty()) {
    Callback cb = std::move(pending_.front().second);
    pending_.pop_front();
    cb(failed_precondition("WAL closed"));
  }
  while (!ready_.empty()) {
    std::vector<std::pair<Status, Callback>> ready;
    ready.swap(ready_);
    for (auto& [status, cb] : ready) cb(std::move(status));
  }
  segment_.reset();
  if (dir_fd_ >= 0) ::close(dir_fd_);
  dir_fd_ = -1;
  state_ = State::Closed;
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), [](uv_handle_t* h) {
    auto* wal = static_cast<Wal*>(h->data);
    auto done = std::move(wal->close_done_);
    if (done) done();
  });
}

// ---- sync thread ----

void Wal::sync_main() {
  std::unique_lock lock(mu_);
  for (;;) {
    wait_for_work(lock);
    bool work = written_end_ > taken_end_ || !retired_fds_.empty() || dir_dirty_;
    if (!work) {
      if (stop_) break;
      continue;
    }
    uint64_t target = written_end_;
    taken_end_ = target;
    std::vector<int> retired;
    retired.swap(retired_fds_);
    int fd = cur_fd_;
    bool sync_dir = dir_dirty_;
    dir_dirty_ = false;
    lock.unlock();

    auto started = std::chrono::steady_clock::now();
    Status status = sync_round(retired, fd, sync_dir);
    auto us = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started)
            .count());

    lock.lock();
    ++sync_stats_.syncs;
    ++sync_stats_.sync_latency_buckets[latency_bucket(us)];
    sync_stats_.sync_latency_sum_us += us;
    if (!status.is_ok()) ++sync_stats_.sync_errors;
    results_.push_back({target, std::move(status)});
    uv_async_send(&async_);
  }
  thread_exited_ = true;
  lock.unlock();
  // The loop joins this thread before closing the handle, so the handle is still open here.
  uv_async_send(&async_);
}

// Returns with the lock held when a round is due: stop requested, sync_bytes unsynced, or the interval since
// the first unsynced write elapsed. Rolled segments and the directory ride along with the next data sync.
void Wal::wait_for_work(std::unique_lock<std::mutex>& lock) {
  const auto interval = std::chrono::milliseconds(options_.sync_interval_ms);
  while (!stop_) {
    if (written_end_ > taken_end_) {
      // Synced acks wait for the disk, so waiting longer than the sync in progress only adds latency: the
      // next round starts at once and covers everything written meanwhile (the batch forms by itself, larger
      // under load). The byte and time triggers pace the background syncs of the Written policy.
      if (options_.ack == WalAckPolicy::Synced && options_.sync_at_once) return;
      if (written_end_ - taken_end_ >= options_.sync_bytes) return;
      auto deadline = first_unsynced_at_ + interval;
      if (std::chrono::steady_clock::now() >= deadline) return;
      cv_.wait_until(lock, deadline);
    } else {
      cv_.wait(lock);
    }
  }
}

Status Wal::sync_round(std::vector<int>& retired, int fd, bool sync_dir) {
  Status status;
  auto fail = [&](const char* what, int err) {
    if (status.is_ok()) status = unavailable(std::string("WAL ") + what + " failed: " + std::strerror(err));
  };
  for (int old_fd : retired) {
    if (options_.file_ops.do_fdatasync(old_fd) != 0) fail("fdatasync", errno);
    ::close(old_fd);
  }
  if (options_.file_ops.do_fdatasync(fd) != 0) fail("fdatasync", errno);
  if (sync_dir && ::fsync(dir_fd_) != 0) fail("directory fsync", errno);
  if (!status.is_ok()) {
    log_fields(LogLevel::Error, "WAL sync failed; unacknowledged appends are refused",
               {{"error", status.message()}});
  }
  return status;
}

}  // namespace spindle
