#include "storage/trace_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <numeric>

#include "core/log.h"
#include "core/wall_clock.h"
#include "storage/block_writer.h"
#include "storage/compactor.h"
#include "storage/span_batch_codec.h"
#include "storage/trace_merge.h"

namespace spindle {
namespace {

// How often the store looks at the head: the byte-pressure rule needs a quick reaction; the idle/age rules,
// compaction and retention run every flush_check_ms.
constexpr uint64_t kTickMs = 100;
constexpr uint64_t kRetryMs = 1000;
// A cut stops growing at this share of the shard's head budget, so blocks come out in steady steps and the
// memory of one cut is freed while the head keeps filling.
constexpr uint64_t kMaxCutShare = 4;

std::string join(const std::string& dir, std::string_view name) {
  std::string out = dir;
  if (!out.empty() && out.back() != '/') out += '/';
  out += name;
  return out;
}

// mkdir -p with an error that names the path and the reason.
Status make_dirs(const std::string& path, std::string_view key) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
      int err = errno;
      return failed_precondition("cannot create " + std::string(key) + " directory " + partial + ": " +
                                 std::strerror(err));
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return failed_precondition(std::string(key) + " " + path + " is not a directory");
  }
  if (::access(path.c_str(), W_OK | X_OK) != 0) {
    int err = errno;
    return failed_precondition(std::string(key) + " " + path + " is not writable: " + std::strerror(err));
  }
  return Status::ok();
}

uint32_t level_slot(uint32_t level) { return std::min(level, kMaxBlockLevels - 1); }

// When retention counts a block's age from: its newest span, but never earlier than when its spans were first
// written to a block, so traces with skewed client clocks are kept block_retention after arrival.
uint64_t retention_base_ns(const BlockMeta& m) { return std::max(m.max_end_ns, m.created_ns); }

}  // namespace

Status remove_block_dir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return errno_status("open directory", dir, errno);
  Status s;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string path = join(dir, name);
    if (::unlink(path.c_str()) != 0 && s.is_ok()) s = errno_status("remove", path, errno);
  }
  ::closedir(d);
  if (s.is_ok() && ::rmdir(dir.c_str()) != 0) s = errno_status("remove directory", dir, errno);
  return s;
}

// A job on libuv's thread pool: writing a cut as a level-0 block, or compacting blocks. The worker fills in
// `status` and `reader`; the loop reads them in finish_job.
struct TraceStore::Job {
  enum class Kind { Cut, Compaction };
  Kind kind = Kind::Cut;
  uv_work_t req{};
  TraceStore* store = nullptr;
  std::string root;
  BlockWriteOptions write;
  const HeadStore::HeadCut* cut = nullptr;  // Cut: read-only while the job runs
  std::vector<std::string> input_dirs;      // Compaction
  Status status;
  std::unique_ptr<BlockReader> reader;

  void run();
  void run_cut();
  void run_compaction();
  // Opens the block the job just wrote (fills `reader`), or records why there is none.
  void open_output(const Result<BlockMeta>& meta);
};

void TraceStore::Job::open_output(const Result<BlockMeta>& meta) {
  if (!meta.ok()) {
    status = meta.status();
    return;
  }
  auto opened = BlockReader::open(join(root, meta->block_id));
  if (!opened.ok()) {
    status = opened.status();
    return;
  }
  reader = std::move(opened).value();
}

void TraceStore::Job::run() {
  if (kind == Kind::Cut) {
    run_cut();
  } else {
    run_compaction();
  }
}

void TraceStore::Job::run_cut() {
  std::vector<uint32_t> order(cut->traces.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [this](uint32_t a, uint32_t b) { return cut->traces[a].id < cut->traces[b].id; });
  BlockWriter writer(root, write);
  for (uint32_t i : order) {
    const HeadStore::CutTrace& t = cut->traces[i];
    status = writer.add(t.id, HeadStore::assemble(t));
    if (!status.is_ok()) return;
  }
  open_output(writer.finish());
}

void TraceStore::Job::run_compaction() {
  std::vector<std::unique_ptr<BlockReader>> inputs;
  std::vector<BlockReader*> raw;
  for (const std::string& dir : input_dirs) {
    auto r = BlockReader::open(dir);
    if (!r.ok()) {
      status = r.status();
      return;
    }
    raw.push_back(r->get());
    inputs.push_back(std::move(r).value());
  }
  BlockWriter writer(root, write);
  open_output(compact_blocks(raw, writer));
}

TraceStore::TraceStore(uv_loop_t* loop, TraceStoreOptions options)
    : loop_(loop), options_(std::move(options)), head_(options_.head) {}

TraceStore::~TraceStore() = default;

std::string TraceStore::shard_blocks_dir() const {
  return join(options_.blocks_dir, "shard-" + std::to_string(options_.shard));
}

Status TraceStore::open() {
  SPINDLE_RETURN_IF_ERROR(make_dirs(options_.wal_dir, "storage.trace.wal.path"));
  SPINDLE_RETURN_IF_ERROR(make_dirs(options_.blocks_dir, "storage.trace.local.path"));
  SPINDLE_RETURN_IF_ERROR(make_dirs(shard_blocks_dir(), "storage.trace.local.path"));
  SPINDLE_RETURN_IF_ERROR(open_blocks());
  SPINDLE_RETURN_IF_ERROR(replay());
  // Handles start last: a store whose open() failed holds none, so it may simply be destroyed.
  if (options_.wal_enabled) SPINDLE_RETURN_IF_ERROR(open_wal());
  start_timers();
  return Status::ok();
}

Status TraceStore::open_wal() {
  WalOptions wal;
  wal.dir = options_.wal_dir;
  wal.shard = options_.shard;
  wal.shard_count = options_.shard_count;
  wal.segment_bytes = options_.wal_segment_bytes;
  wal.sync_bytes = options_.wal_sync_bytes;
  wal.sync_interval_ms = options_.wal_sync_interval_ms;
  wal.ack = options_.ack;
  wal.file_ops = options_.wal_file_ops;
  wal_ = std::make_unique<Wal>(loop_, wal);
  Status s = wal_->open();
  if (!s.is_ok()) wal_.reset();  // a Wal whose open() failed holds no handle
  return s;
}

void TraceStore::start_timers() {
  uv_timer_init(loop_, &tick_timer_);
  uv_idle_init(loop_, &slice_idle_);
  tick_timer_.data = slice_idle_.data = this;
  timers_open_ = true;
  next_rules_ms_ = uv_now(loop_) + options_.flush_check_ms;
  next_tick_ms_ = uv_now(loop_) + kTickMs;
  uv_timer_start(&tick_timer_, on_tick, kTickMs, kTickMs);
}

Status TraceStore::open_blocks() {
  std::string dir = shard_blocks_dir();
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return errno_status("open directory", dir, errno);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    std::string path = join(dir, name);
    if (name.starts_with(kBlockTmpPrefix)) {
      // A block write that never finished (a crash): its traces are still in the WAL.
      Status s = remove_block_dir(path);
      log_info("removed unfinished block %s%s", path.c_str(), s.is_ok() ? "" : (": " + s.message()).c_str());
      continue;
    }
    if (!is_valid_block_id(name)) continue;  // not ours (lost+found, editor files): leave it alone
    auto reader = BlockReader::open(path);
    if (!reader.ok()) {
      ++stats_.blocks_skipped_at_open;
      log_error("skipping unreadable block %s: %s (left on disk for inspection)", path.c_str(),
                reader.status().message().c_str());
      continue;
    }
    const BlockMeta& m = (*reader)->meta();
    if (m.shard_count != options_.shard_count || m.shard != options_.shard) {
      return failed_precondition(
          "block " + path + " was written by shard " + std::to_string(m.shard) + " of " +
          std::to_string(m.shard_count) + ", but this server runs " + std::to_string(options_.shard_count) +
          " shards: start with spindle.shards: " + std::to_string(m.shard_count) + " (flag -shards=" +
          std::to_string(m.shard_count) + ") to read this data, or move " + options_.blocks_dir + " and " +
          options_.wal_dir + " away to start empty");
    }
    blocks_.push_back(Block{std::move(reader).value()});
  }
  return Status::ok();
}

Status TraceStore::replay() {
  WalReplayOptions ro;
  ro.dir = options_.wal_dir;
  ro.shard = options_.shard;
  ro.shard_count = options_.shard_count;
  const uint64_t now = uv_now(loop_);
  auto result = replay_wal(ro, [&](uint64_t seq, std::string_view payload) {
    auto batch = decode_span_batch(payload);
    if (!batch.ok()) {
      // The record's CRC held, so this is a bug or a format from the future: say so, keep going.
      if (stats_.replay_bad_records++ == 0) {
        log_error("shard %u: WAL record in segment %llu does not decode: %s", options_.shard,
                  static_cast<unsigned long long>(seq), batch.status().message().c_str());
      }
      return;
    }
    AppendResult r = head_.append(*batch, {seq, now, /*check_limit=*/false});
    if (!r.status.is_ok()) ++stats_.replay_batches_rejected;
  });
  if (!result.ok()) return result.status();  // its message says what to do
  stats_.replay = *result;
  if (result->records != 0 || result->corrupt_records != 0) {
    log_info("shard %u: replayed %llu WAL records (%llu bytes) from %llu segments in %llu ms, %llu corrupt",
             options_.shard, static_cast<unsigned long long>(result->records),
             static_cast<unsigned long long>(result->payload_bytes),
             static_cast<unsigned long long>(result->segments),
             static_cast<unsigned long long>(result->duration_us / 1000),
             static_cast<unsigned long long>(result->corrupt_records));
  }
  return Status::ok();
}

void TraceStore::append(std::unique_ptr<SpanBatch> batch, std::function<void(AppendResult)> done) {
  if (!options_.wal_enabled && !closing_) {
    done(head_.append(*batch, {0, uv_now(loop_), /*check_limit=*/true}));
    if (!building_ && !written_ && head_under_pressure()) start_cut(CutRules{});
    return;
  }
  if (closing_ || !wal_) {
    AppendResult r;
    r.status = unavailable("shutting down; retry against another instance or later");
    done(std::move(r));
    return;
  }
  auto reserved = head_.reserve(*batch);
  if (!reserved.ok()) {
    AppendResult r;
    r.status = reserved.status();
    done(std::move(r));
    return;
  }
  struct Pending {
    std::unique_ptr<SpanBatch> batch;
    uint64_t reserved;
    uint64_t seq = 0;
    std::function<void(AppendResult)> done;
  };
  auto* p = new Pending{std::move(batch), *reserved, 0, std::move(done)};
  wal_->append(encode_span_batch(*p->batch), [this, p](Status s) {
    std::unique_ptr<Pending> owned(p);
    head_.unreserve(p->reserved);
    AppendResult r;
    if (s.is_ok()) {
      r = head_.append(*p->batch, {p->seq, uv_now(loop_), /*check_limit=*/false});
    } else {
      r.status = s.code() == StatusCode::InvalidArgument ? s : unavailable("storage: " + s.message());
      r.storage_error = true;
      ++stats_.storage_refusals;
    }
    head_.unpin_seq(p->seq);
    auto done = std::move(p->done);
    owned.reset();
    done(std::move(r));
    if (!building_ && !written_ && head_under_pressure()) start_cut(CutRules{});
  });
  // The callback never runs inside append(), so the segment is known before it does.
  p->seq = wal_->current_segment();
  head_.pin_seq(p->seq);
}

Result<std::optional<std::string>> TraceStore::find_trace(const TraceId& id, uint64_t start_ns, uint64_t end_ns) {
  std::vector<std::string> pieces;
  if (auto t = head_.find_trace(id)) pieces.push_back(std::move(*t));
  for (const auto* cut : {building_.get(), written_.get()}) {
    if (cut == nullptr) continue;
    if (auto t = cut->find(id)) pieces.push_back(std::move(*t));
  }
  for (Block& b : blocks_) {
    if (!b.reader->overlaps(start_ns, end_ns) || !b.reader->may_contain(id)) continue;
    auto t = b.reader->find(id);
    if (!t.ok()) {
      // One damaged block must not hide what the others hold: answer with the rest, and say so in the log.
      ++stats_.block_read_errors;
      log_error("trace %s: %s", id.to_hex().c_str(), t.status().message().c_str());
      continue;
    }
    if (*t) pieces.push_back(std::move(**t));
  }
  if (pieces.empty()) return std::optional<std::string>();
  if (pieces.size() == 1) return std::optional<std::string>(std::move(pieces[0]));
  std::vector<std::string_view> views(pieces.begin(), pieces.end());
  SPINDLE_ASSIGN_OR_RETURN(std::string merged, merge_traces(views));
  return std::optional<std::string>(std::move(merged));
}

void TraceStore::on_tick(uv_timer_t* timer) { static_cast<TraceStore*>(timer->data)->tick(); }

void TraceStore::on_slice(uv_idle_t* idle) {
  uv_idle_stop(idle);
  static_cast<TraceStore*>(idle->data)->cut_slice();
}

bool TraceStore::head_under_pressure() const {
  return head_.stats().bytes > options_.head.max_bytes / 4 * 3 || wal_seq_floor() != 0;
}

uint64_t TraceStore::wal_seq_floor() const {
  // The WAL may keep about as many bytes as the head holds (plus the segment being written): beyond that, the
  // traces pinning the oldest segments are cut even if they are still receiving spans. This bounds the disk
  // the WAL takes and the memory and time a replay needs.
  if (!wal_) return 0;
  uint64_t keep = std::max<uint64_t>(1, options_.head.max_bytes / options_.wal_segment_bytes);
  uint64_t current = wal_->current_segment();
  uint64_t oldest = head_.oldest_needed_seq();
  if (oldest == UINT64_MAX || current <= keep || oldest >= current - keep) return 0;
  return current - keep;
}

void TraceStore::tick() {
  if (closing_) return;
  const uint64_t now = uv_now(loop_);
  const uint64_t lag = now > next_tick_ms_ ? now - next_tick_ms_ : 0;
  size_t bucket = 0;
  while (bucket < kLoopLagBoundsMs.size() && lag > kLoopLagBoundsMs[bucket]) ++bucket;
  ++stats_.loop_lag_buckets[bucket];
  stats_.loop_lag_max_ms = std::max(stats_.loop_lag_max_ms, lag);
  stats_.loop_lag_sum_ms += lag;
  next_tick_ms_ = now + kTickMs;
  bool rules_due = now >= next_rules_ms_;
  if (rules_due) {
    next_rules_ms_ = now + options_.flush_check_ms;
    maintenance_due_ = true;
  }
  if (!building_ && !written_ && (rules_due || head_under_pressure())) {
    CutRules rules;
    if (rules_due) {
      rules.idle_ms = options_.idle_ms;
      rules.max_live_ms = options_.max_live_ms;
    }
    start_cut(rules);
  }
  pump();
}

void TraceStore::pump() {
  if (closing_) return;
  if (written_ && cut_job_ == nullptr && (!write_failing_ || uv_now(loop_) >= retry_at_ms_)) submit_cut();
  if (maintenance_due_ && compaction_job_ == nullptr) {
    maintenance_due_ = false;
    maintain(wall_now_ns());
  }
}

void TraceStore::start_cut(const CutRules& rules) {
  cut_rules_ = rules;
  cut_rules_.now_ms = rules.now_ms != 0 ? rules.now_ms : uv_now(loop_);
  cut_rules_.max_spans = kCutSliceSpans;
  building_ = std::make_unique<HeadStore::HeadCut>();
  cut_slice();
}

void TraceStore::cut_slice() {
  if (!building_) return;
  // The pressure rule brings the accounted bytes back to half the budget; bytes already cut but not yet
  // released count too, so the target is on live traces only.
  HeadStats hs = head_.stats();
  const uint64_t half = options_.head.max_bytes / 2;
  cut_rules_.min_seq_floor = std::max(cut_rules_.min_seq_floor, wal_seq_floor());
  if (hs.bytes > options_.head.max_bytes / 4 * 3 || cut_rules_.target_live_bytes != UINT64_MAX) {
    uint64_t excess = hs.bytes > half ? hs.bytes - half : 0;
    uint64_t live = head_.live_bytes();
    cut_rules_.target_live_bytes = std::min(cut_rules_.target_live_bytes, live > excess ? live - excess : 0);
  }
  bool more = head_.cut(cut_rules_, *building_);
  if (more && building_->span_bytes < std::max<uint64_t>(options_.head.max_bytes / kMaxCutShare, 1 << 20)) {
    uv_idle_start(&slice_idle_, on_slice);
    return;
  }
  if (building_->traces.empty()) {
    building_.reset();
    notify_idle();
    return;
  }
  written_ = std::move(building_);
  pump();
}

void TraceStore::submit_cut() {
  auto job = std::make_unique<Job>();
  job->kind = Job::Kind::Cut;
  job->root = shard_blocks_dir();
  job->write.shard = options_.shard;
  job->write.shard_count = options_.shard_count;
  job->write.level = 0;
  job->write.zstd_level = 1;
  job->write.page_bytes = options_.block_page_bytes;
  job->cut = written_.get();
  start_job(std::move(job));
}

void TraceStore::start_job(std::unique_ptr<Job> job) {
  job->store = this;
  job->req.data = job.get();
  Job* j = job.release();
  (j->kind == Job::Kind::Cut ? cut_job_ : compaction_job_) = j;
  uv_queue_work(
      loop_, &j->req, [](uv_work_t* req) { static_cast<Job*>(req->data)->run(); },
      [](uv_work_t* req, int) {
        auto* j = static_cast<Job*>(req->data);
        j->store->finish_job(j);
      });
}

void TraceStore::finish_job(Job* raw) {
  std::unique_ptr<Job> job(raw);
  if (job->kind == Job::Kind::Cut) {
    cut_job_ = nullptr;
    finish_cut_job(*job);
  } else {
    compaction_job_ = nullptr;
    finish_compaction_job(*job);
  }
  if (closing_) {
    maybe_finish_close();
    return;
  }
  pump();
  if (!busy()) notify_idle();
}

void TraceStore::finish_cut_job(Job& job) {
  if (!job.status.is_ok()) {
    ++stats_.block_write_errors;
    if (!write_failing_) {
      write_failing_ = true;
      log_error("shard %u: writing a block failed: %s; its %llu traces stay in memory and in the WAL, retrying "
                "every %llu ms",
                options_.shard, job.status.message().c_str(),
                static_cast<unsigned long long>(written_->traces.size()),
                static_cast<unsigned long long>(kRetryMs));
    }
    retry_at_ms_ = uv_now(loop_) + kRetryMs;
    return;
  }
  const BlockMeta& m = job.reader->meta();
  ++stats_.cuts;
  stats_.cut_traces += m.traces;
  stats_.cut_spans += m.spans;
  if (write_failing_) {
    write_failing_ = false;
    log_info("shard %u: block writes work again", options_.shard);
  }
  blocks_.push_back(Block{std::move(job.reader)});
  head_.release_cut(*written_);
  written_.reset();
  trim_wal();
}

void TraceStore::finish_compaction_job(Job& job) {
  const std::vector<std::string>& inputs = job.input_dirs;
  auto is_input = [&](const Block& b) {
    return std::find(inputs.begin(), inputs.end(), b.reader->dir()) != inputs.end();
  };
  if (!job.status.is_ok()) {
    ++stats_.compaction_errors;
    log_error("shard %u: compaction failed: %s; those blocks stay as they are", options_.shard,
              job.status.message().c_str());
    for (Block& b : blocks_) {
      if (!is_input(b)) continue;
      b.compacting = false;
      b.no_compact = true;  // do not try the same merge again and again
    }
    return;
  }
  ++stats_.compactions;
  stats_.compacted_blocks += inputs.size();
  // The new block is durable: only now may its inputs go (a crash in between leaves duplicates, which lookups
  // and the next compaction merge away).
  blocks_.push_back(Block{std::move(job.reader)});
  for (size_t i = blocks_.size(); i-- > 0;) {
    if (is_input(blocks_[i])) remove_block(i);
  }
}

void TraceStore::trim_wal() {
  if (!wal_) return;
  if (head_.oldest_needed_seq() == UINT64_MAX) {
    // Every span written so far is in a block: close the current segment too, or a restart would replay it
    // and write its spans into blocks a second time.
    Status s = wal_->start_new_segment();
    if (!s.is_ok()) log_warn("shard %u: starting a new WAL segment: %s", options_.shard, s.message().c_str());
  }
  uint64_t keep_from = std::min(head_.oldest_needed_seq(), wal_->current_segment());
  Status s = wal_->remove_segments_before(keep_from);
  if (!s.is_ok()) log_warn("shard %u: deleting old WAL segments: %s", options_.shard, s.message().c_str());
}

void TraceStore::remove_block(size_t index) {
  std::string dir = blocks_[index].reader->dir();
  blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(index));
  Status s = remove_block_dir(dir);
  if (!s.is_ok()) log_warn("shard %u: %s", options_.shard, s.message().c_str());
}

void TraceStore::maintain(uint64_t wall_now_ns) {
  apply_retention(wall_now_ns);
  start_compaction(wall_now_ns);
}

void TraceStore::apply_retention(uint64_t wall_now_ns) {
  const uint64_t retention_ns = options_.retention_ms * 1000000;
  for (size_t i = blocks_.size(); i-- > 0;) {
    const Block& b = blocks_[i];
    if (b.compacting) continue;
    if (retention_base_ns(b.reader->meta()) + retention_ns < wall_now_ns) {
      ++stats_.retention_deleted_blocks;
      log_info("shard %u: block %s is past compactor.compaction.block_retention; deleting it", options_.shard,
               b.reader->meta().block_id.c_str());
      remove_block(i);
    }
  }
}

bool TraceStore::start_compaction(uint64_t wall_now_ns) {
  if (compaction_job_ != nullptr || options_.compaction_inputs < 2) return false;
  const uint64_t window_ns = options_.compaction_window_ms * 1000000;
  // Candidates by (window of the newest span, level). Within an open window, merge `inputs` blocks of one level
  // at a time (each level holds blocks ~inputs times larger than the one below, so a window keeps a few blocks
  // per level); once a window has closed, merge whatever it holds, whatever the level, until one block is left.
  std::map<std::pair<uint64_t, uint32_t>, std::vector<size_t>> by_level;
  std::map<uint64_t, std::vector<size_t>> by_window;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const Block& b = blocks_[i];
    if (b.compacting || b.no_compact) continue;
    uint64_t window = b.reader->meta().max_end_ns / window_ns;
    by_level[{window, b.reader->meta().level}].push_back(i);
    by_window[window].push_back(i);
  }
  std::vector<size_t> chosen;
  for (auto& [key, list] : by_level) {
    if (list.size() >= options_.compaction_inputs) {
      chosen.assign(list.begin(), list.begin() + options_.compaction_inputs);
      break;
    }
  }
  if (chosen.empty()) {
    for (auto& [window, list] : by_window) {
      bool closed = (window + 2) * window_ns <= wall_now_ns;
      if (!closed || list.size() < 2) continue;
      std::sort(list.begin(), list.end(), [this](size_t a, size_t b) {
        return blocks_[a].reader->meta().level < blocks_[b].reader->meta().level;
      });
      list.resize(std::min<size_t>(list.size(), options_.compaction_inputs));
      chosen = list;
      break;
    }
  }
  if (chosen.empty()) return false;
  auto job = std::make_unique<Job>();
  job->kind = Job::Kind::Compaction;
  job->root = shard_blocks_dir();
  job->write.shard = options_.shard;
  job->write.shard_count = options_.shard_count;
  job->write.zstd_level = 3;
  job->write.page_bytes = options_.block_page_bytes;
  uint32_t level = 0;
  for (size_t i : chosen) {
    Block& b = blocks_[i];
    b.compacting = true;
    level = std::max(level, b.reader->meta().level);
    job->write.created_ns = std::max(job->write.created_ns, b.reader->meta().created_ns);
    job->input_dirs.push_back(b.reader->dir());
  }
  job->write.level = level + 1;
  start_job(std::move(job));
  return true;
}

void TraceStore::close(std::function<void()> done) {
  closing_ = true;
  close_done_ = std::move(done);
  if (timers_open_) {
    timers_open_ = false;
    uv_timer_stop(&tick_timer_);
    uv_idle_stop(&slice_idle_);
    for (uv_handle_t* t : {reinterpret_cast<uv_handle_t*>(&tick_timer_), reinterpret_cast<uv_handle_t*>(&slice_idle_)}) {
      ++handles_closing_;
      uv_close(t, [](uv_handle_t* h) {
        auto* self = static_cast<TraceStore*>(h->data);
        --self->handles_closing_;
        self->maybe_finish_close();
      });
    }
  }
  // Traces being cut go back to nowhere: they are still in the WAL, which the next start replays.
  building_.reset();
  maybe_finish_close();
}

void TraceStore::maybe_finish_close() {
  if (!closing_ || cut_job_ != nullptr || compaction_job_ != nullptr || handles_closing_ != 0) return;
  if (wal_ && !wal_closed_) {
    wal_closed_ = true;
    wal_->close([this] {
      wal_.reset();
      maybe_finish_close();
    });
    return;
  }
  if (wal_) return;  // closing
  if (close_done_) {
    auto done = std::move(close_done_);
    close_done_ = nullptr;
    done();
  }
}

void TraceStore::notify_idle() {
  auto waiters = std::move(idle_waiters_);
  idle_waiters_.clear();
  for (auto& w : waiters) w();
}

void TraceStore::cut_now(uint64_t now_ms, bool everything, std::function<void()> done) {
  idle_waiters_.push_back(std::move(done));
  if (busy()) return;  // done() runs once the current work is done
  CutRules rules;
  rules.now_ms = now_ms;
  if (everything) {
    rules.target_live_bytes = 0;
  } else {
    rules.idle_ms = options_.idle_ms;
    rules.max_live_ms = options_.max_live_ms;
  }
  start_cut(rules);
}

void TraceStore::maintain_now(uint64_t wall_now_ns, std::function<void()> done) {
  idle_waiters_.push_back(std::move(done));
  if (busy()) return;
  apply_retention(wall_now_ns);
  if (!start_compaction(wall_now_ns)) notify_idle();
}

TraceStoreStats TraceStore::stats() const {
  TraceStoreStats s = stats_;
  s.head = head_.stats();
  if (wal_) s.wal = wal_->stats();
  for (const Block& b : blocks_) {
    uint32_t slot = level_slot(b.reader->meta().level);
    ++s.blocks[slot];
    s.block_bytes[slot] += b.reader->meta().data_bytes;
  }
  return s;
}

}  // namespace spindle
