#include "storage/wal.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>

#include "storage/span_batch_codec.h"
#include "storage/wal_reader.h"
#include "tests/storage/test_loop.h"
#include "tests/support/temp_dir.h"

namespace spindle {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void close_wal(TestLoop& loop, Wal& wal) {
  bool closed = false;
  wal.close([&] { closed = true; });
  ASSERT_TRUE(loop.run_until([&] { return closed; }));
}

// Blocks fdatasync on the sync thread until released, counting calls.
class SyncGate {
 public:
  int fdatasync(int fd) {
    std::unique_lock lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    return ::fdatasync(fd);
  }
  void release() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int entered() {
    std::lock_guard lock(mu_);
    return entered_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int entered_ = 0;
};

struct Replayed {
  std::vector<std::pair<uint64_t, std::string>> records;
  WalReplayStats stats;
};

Replayed replay(const std::string& dir, uint32_t shard = 0, uint32_t shard_count = 1) {
  Replayed out;
  auto stats = replay_wal({dir, shard, shard_count, true},
                          [&](uint64_t seq, std::string_view p) { out.records.emplace_back(seq, p); });
  EXPECT_TRUE(stats.ok()) << stats.status().to_string();
  if (stats.ok()) out.stats = *stats;
  return out;
}

std::vector<std::string> payloads_of(const Replayed& r) {
  std::vector<std::string> v;
  for (const auto& [seq, p] : r.records) v.push_back(p);
  return v;
}

WalOptions options_for(const std::string& dir) {
  WalOptions o;
  o.dir = dir;
  o.sync_interval_ms = 1;
  return o;
}

// Appends and waits for every callback; returns their statuses.
std::vector<Status> append_all(TestLoop& loop, Wal& wal, const std::vector<std::string>& payloads) {
  std::vector<Status> results;
  size_t done = 0;
  for (const auto& p : payloads) {
    wal.append(p, [&](Status s) {
      results.push_back(std::move(s));
      ++done;
    });
  }
  EXPECT_TRUE(loop.run_until([&] { return done == payloads.size(); }));
  return results;
}

std::string payload(std::mt19937_64& rng, size_t max) {
  std::string s(1 + rng() % max, '\0');
  for (auto& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

TEST(WalTest, OpenCreatesDirectoriesAndFirstSegment) {
  TempDir tmp;
  TestLoop loop;
  WalOptions o = options_for(tmp.path() + "/a/b/wal");
  o.shard = 2;
  o.shard_count = 3;
  Wal wal(loop.get(), o);
  ASSERT_TRUE(wal.open().is_ok());
  EXPECT_EQ(wal.current_segment(), 1u);
  std::string seg = tmp.path() + "/a/b/wal/shard-2/00000000000000000001.wal";
  ASSERT_TRUE(fs::exists(seg));
  auto header = decode_segment_header(read_bytes(seg));
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->shard, 2u);
  EXPECT_EQ(header->shard_count, 3u);
  EXPECT_EQ(header->seq, 1u);
  close_wal(loop, wal);
}

TEST(WalTest, OpenFailsClearlyWhenTheDirectoryCannotBeCreated) {
  TempDir tmp;
  TestLoop loop;
  write_bytes(tmp.path() + "/file", "not a directory");
  Wal wal(loop.get(), options_for(tmp.path() + "/file/wal"));
  Status s = wal.open();
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find(tmp.path() + "/file/wal"), std::string::npos) << s.message();

  if (::geteuid() != 0) {  // root ignores permission bits
    std::string ro = tmp.path() + "/ro";
    fs::create_directory(ro);
    ::chmod(ro.c_str(), 0500);
    Wal wal2(loop.get(), options_for(ro));
    Status s2 = wal2.open();
    EXPECT_FALSE(s2.is_ok());
    EXPECT_NE(s2.message().find(ro), std::string::npos) << s2.message();
    ::chmod(ro.c_str(), 0700);
  }
  Wal bad(loop.get(), options_for(""));
  EXPECT_EQ(bad.open().code(), StatusCode::InvalidArgument);
}

TEST(WalTest, AppendReplayRoundTripAcrossSegmentRollsAndRestarts) {
  TempDir tmp;
  std::mt19937_64 rng(1);
  std::vector<std::string> all;
  for (int run = 0; run < 2; ++run) {
    TestLoop loop;
    WalOptions o = options_for(tmp.path());
    o.segment_bytes = 4096;
    Wal wal(loop.get(), o);
    ASSERT_TRUE(wal.open().is_ok());
    std::vector<std::string> batch;
    for (int i = 0; i < 150; ++i) batch.push_back(payload(rng, 400));
    batch.push_back(std::string(10000, 'x'));  // larger than a segment: gets one of its own
    batch.push_back("after the big one");
    for (const auto& s : append_all(loop, wal, batch)) EXPECT_TRUE(s.is_ok()) << s.to_string();
    all.insert(all.end(), batch.begin(), batch.end());
    close_wal(loop, wal);
  }
  Replayed r = replay(tmp.path());
  EXPECT_EQ(payloads_of(r), all);
  EXPECT_GT(r.stats.segments, 10u);
  EXPECT_EQ(r.stats.corrupt_records, 0u);
  EXPECT_EQ(r.stats.torn_tail_bytes, 0u);
  for (size_t i = 1; i < r.records.size(); ++i) EXPECT_LE(r.records[i - 1].first, r.records[i].first);
  for (uint64_t seq = r.stats.first_seq; seq <= r.stats.last_seq; ++seq) {
    std::string bytes = read_bytes(segment_path(wal_shard_dir(tmp.path(), 0), seq));
    bool holds_big = bytes.find(std::string(10000, 'x')) != std::string::npos;
    if (!holds_big) {
      EXPECT_LE(bytes.size(), 4096u) << seq;
    }
  }
}

TEST(WalTest, SpanBatchesSurviveTheWal) {
  TempDir tmp;
  TestLoop loop;
  Wal wal(loop.get(), options_for(tmp.path()));
  ASSERT_TRUE(wal.open().is_ok());
  SpanBatch b;
  b.contexts.push_back({"resource", "", "scope", "https://schema"});
  b.data = "span-one-bytesspan-two";
  SpanBatch::Span s;
  s.trace_id.bytes[15] = 7;
  s.size = 14;
  s.start_ns = 100;
  s.end_ns = 250;
  b.spans.push_back(s);
  s.offset = 14;
  s.size = 8;
  b.spans.push_back(s);
  for (const auto& st : append_all(loop, wal, {encode_span_batch(b)})) EXPECT_TRUE(st.is_ok());
  close_wal(loop, wal);
  Replayed r = replay(tmp.path());
  ASSERT_EQ(r.records.size(), 1u);
  auto decoded = decode_span_batch(r.records[0].second);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->data, b.data);
  ASSERT_EQ(decoded->spans.size(), 2u);
  EXPECT_EQ(decoded->spans[1].offset, 14u);
  EXPECT_EQ(decoded->spans[1].end_ns, 250u);
}

TEST(WalTest, SyncedCallbackFiresOnlyAfterTheSync) {
  TempDir tmp;
  TestLoop loop;
  SyncGate gate;
  WalOptions o = options_for(tmp.path());
  o.sync_interval_ms = 0;
  o.file_ops.fdatasync = [&](int fd) { return gate.fdatasync(fd); };
  Wal wal(loop.get(), o);
  ASSERT_TRUE(wal.open().is_ok());
  bool fired = false;
  wal.append("record", [&](Status s) {
    EXPECT_TRUE(s.is_ok());
    fired = true;
  });
  // The sync thread is now inside fdatasync and cannot finish: the loop must not run the callback.
  ASSERT_TRUE(loop.run_until([&] { return gate.entered() > 0; }));
  loop.spin(20);
  EXPECT_FALSE(fired);
  EXPECT_EQ(wal.stats().pending_acks, 1u);
  EXPECT_EQ(wal.stats().syncs, 0u);
  gate.release();
  ASSERT_TRUE(loop.run_until([&] { return fired; }));
  EXPECT_GE(wal.stats().syncs, 1u);
  close_wal(loop, wal);
}

TEST(WalTest, WrittenCallbackFiresWithoutWaitingForTheSync) {
  TempDir tmp;
  TestLoop loop;
  SyncGate gate;
  WalOptions o = options_for(tmp.path());
  o.sync_interval_ms = 0;
  o.ack = WalAckPolicy::Written;
  o.file_ops.fdatasync = [&](int fd) { return gate.fdatasync(fd); };
  Wal wal(loop.get(), o);
  ASSERT_TRUE(wal.open().is_ok());
  bool fired = false;
  wal.append("record", [&](Status s) {
    EXPECT_TRUE(s.is_ok());
    fired = true;
  });
  EXPECT_FALSE(fired);  // never inline
  ASSERT_TRUE(loop.run_until([&] { return fired && gate.entered() > 0; }));
  EXPECT_EQ(wal.stats().syncs, 0u);  // the sync that was running is still blocked
  gate.release();
  close_wal(loop, wal);
  EXPECT_GE(wal.stats().syncs, 1u);
}

TEST(WalTest, CallbacksNeverRunInsideAppend) {
  TempDir tmp;
  TestLoop loop;
  for (WalAckPolicy policy : {WalAckPolicy::Synced, WalAckPolicy::Written}) {
    WalOptions o = options_for(tmp.path());
    o.ack = policy;
    std::atomic<bool> fail{false};
    o.file_ops.pwritev = [&](int fd, const iovec* iov, int n, off_t off) -> ssize_t {
      if (fail) {
        errno = ENOSPC;
        return -1;
      }
      return ::pwritev(fd, iov, n, off);
    };
    Wal wal(loop.get(), o);
    ASSERT_TRUE(wal.open().is_ok());
    bool inside = false;
    int done = 0;
    auto cb = [&](Status) {
      EXPECT_FALSE(inside);
      ++done;
    };
    inside = true;
    wal.append("ok", cb);
    fail = true;
    wal.append("fails", cb);
    wal.append(std::string(kMaxRecordPayload + 1, 'x'), cb);
    inside = false;
    fail = false;
    ASSERT_TRUE(loop.run_until([&] { return done == 3; }));
    close_wal(loop, wal);
  }
}

TEST(WalTest, GroupCommitBatchesManyAppendsIntoFewSyncs) {
  TempDir tmp;
  TestLoop loop;
  std::atomic<int> fdatasyncs{0};
  WalOptions o = options_for(tmp.path());
  o.sync_interval_ms = 200;
  o.sync_bytes = 1u << 30;
  o.sync_at_once = false;
  o.file_ops.fdatasync = [&](int fd) {
    ++fdatasyncs;
    return ::fdatasync(fd);
  };
  Wal wal(loop.get(), o);
  ASSERT_TRUE(wal.open().is_ok());
  std::vector<std::string> batch(1000, std::string(100, 'r'));
  for (const auto& s : append_all(loop, wal, batch)) EXPECT_TRUE(s.is_ok());
  // All 1000 appends happen within one loop iteration, normally long before the 200 ms interval ends; a
  // second round is tolerated for a very slow (sanitizer) run.
  EXPECT_LE(wal.stats().syncs, 2u);
  EXPECT_EQ(fdatasyncs.load(), static_cast<int>(wal.stats().syncs));
  close_wal(loop, wal);
}

TEST(WalTest, SyncBytesTriggerASyncBeforeTheInterval) {
  TempDir tmp;
  TestLoop loop;
  WalOptions o = options_for(tmp.path());
  o.sync_interval_ms = 3600 * 1000;
  o.sync_bytes = 64 << 10;
  o.sync_at_once = false;
  Wal wal(loop.get(), o);
  ASSERT_TRUE(wal.open().is_ok());
  auto results = append_all(loop, wal, {"small", std::string(64 << 10, 'b')});
  for (const auto& s : results) EXPECT_TRUE(s.is_ok());
  EXPECT_EQ(wal.stats().syncs, 1u);
  close_wal(loop, wal);
}

TEST(WalTest, CloseSyncsAndRunsPendingCallbacks) {
  TempDir tmp;
  TestLoop loop;
  WalOptions o = options_for(tmp.path());
  o.sync_interval_ms = 3600 * 1000;
  o.sync_bytes = 1u << 30;
  o.sync_at_once = false;
  Wal wal(loop.get(), o);
  ASSERT_TRUE(wal.open().is_ok());
  int acked = 0;
  for (int i = 0; i < 10; ++i) {
    wal.append("r" + std::to_string(i), [&](Status s) {
      EXPECT_TRUE(s.is_ok());
      ++acked;
    });
  }
  loop.spin(5);
  EXPECT_EQ(acked, 0);  // nothing asks for a sync for an hour
  bool closed = false;
  int acked_at_close = -1;
  wal.close([&] {
    acked_at_close = acked;
    closed = true;
  });
  ASSERT_TRUE(loop.run_until([&] { return closed; }));
  EXPECT_EQ(acked_at_close, 10);
  EXPECT_EQ(wal.stats().syncs, 1u);
  EXPECT_EQ(replay(tmp.path()).records.size(), 10u);
}

// Builds a segment file in memory: header + records.
std::string build_segment(uint64_t seq, const std::vector<std::string>& payloads,
                          std::vector<size_t>* starts) {
  SegmentHeader h;
  h.shard = 0;
  h.shard_count = 1;
  h.seq = seq;
  std::string out = encode_segment_header(h);
  for (const auto& p : payloads) {
    if (starts) starts->push_back(out.size());
    char header[kRecordHeaderSize];
    encode_record_header(p, header);
    out.append(header, sizeof header);
    out += p;
  }
  return out;
}

TEST(WalTest, TornTailAtEveryOffsetOfTheLastRecordIsTruncated) {
  std::vector<std::string> payloads = {"first record", "second record", "third", "the last record, torn"};
  std::vector<size_t> starts;
  std::string full = build_segment(1, payloads, &starts);
  size_t last = starts.back();
  for (size_t cut = last; cut < full.size(); ++cut) {
    TempDir tmp;
    std::string shard_dir = wal_shard_dir(tmp.path(), 0);
    fs::create_directories(shard_dir);
    std::string path = segment_path(shard_dir, 1);
    write_bytes(path, full.substr(0, cut));
    Replayed r = replay(tmp.path());
    EXPECT_EQ(payloads_of(r), std::vector<std::string>(payloads.begin(), payloads.end() - 1)) << cut;
    EXPECT_EQ(r.stats.torn_tail_bytes, cut - last);
    EXPECT_EQ(r.stats.corrupt_records, 0u);
    EXPECT_EQ(fs::file_size(path), last);

    // Appends continue cleanly and the next replay is clean.
    TestLoop loop;
    Wal wal(loop.get(), options_for(tmp.path()));
    ASSERT_TRUE(wal.open().is_ok());
    for (const auto& s : append_all(loop, wal, {"after restart"})) EXPECT_TRUE(s.is_ok());
    close_wal(loop, wal);
    Replayed again = replay(tmp.path());
    EXPECT_EQ(again.records.size(), payloads.size());
    EXPECT_EQ(again.records.back().second, "after restart");
    EXPECT_EQ(again.stats.torn_tail_bytes, 0u);
  }
}

TEST(WalTest, SegmentShorterThanItsHeaderIsATornTail) {
  TempDir tmp;
  std::string shard_dir = wal_shard_dir(tmp.path(), 0);
  fs::create_directories(shard_dir);
  write_bytes(segment_path(shard_dir, 1), build_segment(1, {"kept"}, nullptr));
  write_bytes(segment_path(shard_dir, 2), build_segment(2, {}, nullptr).substr(0, 10));
  Replayed r = replay(tmp.path());
  EXPECT_EQ(payloads_of(r), std::vector<std::string>{"kept"});
  EXPECT_EQ(r.stats.torn_tail_bytes, 10u);
  EXPECT_EQ(r.stats.bad_headers, 0u);
}

// Every single-bit flip of a small segment: replay never fails or crashes, and recovers every record except
// the damaged one. Header damage loses nothing (records carry their own CRCs; the seq comes from the name).
// Damage in the last record makes it a torn tail (truncated) rather than a corrupt record.
TEST(WalTest, FlippedBitAtEveryPositionLosesOnlyTheDamagedRecord) {
  std::vector<std::string> payloads = {"alpha record", "bravo", "charlie charlie", "delta"};
  std::vector<size_t> starts;
  std::string full = build_segment(1, payloads, &starts);
  TempDir tmp;
  std::string shard_dir = wal_shard_dir(tmp.path(), 0);
  fs::create_directories(shard_dir);
  std::string path = segment_path(shard_dir, 1);
  for (size_t bit = 0; bit < full.size() * 8; ++bit) {
    std::string damaged = full;
    size_t byte = bit / 8;
    damaged[byte] = static_cast<char>(damaged[byte] ^ (1 << (bit % 8)));
    write_bytes(path, damaged);
    Replayed r = replay(tmp.path());
    std::vector<std::string> expected = payloads;
    if (byte < kSegmentHeaderSize) {
      EXPECT_EQ(r.stats.bad_headers, 1u) << bit;
      EXPECT_EQ(r.stats.corrupt_records, 0u) << bit;
    } else {
      size_t hit =
          static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), byte) - starts.begin()) - 1;
      expected.erase(expected.begin() + static_cast<long>(hit));
      bool last = hit == payloads.size() - 1;
      EXPECT_EQ(r.stats.bad_headers, 0u) << bit;
      EXPECT_EQ(r.stats.corrupt_records, last ? 0u : 1u) << bit;
      EXPECT_EQ(r.stats.torn_tail_bytes, last ? full.size() - starts.back() : 0u) << bit;
    }
    ASSERT_EQ(payloads_of(r), expected) << "bit " << bit;
  }
}

TEST(WalTest, ReplayRefusesAnotherFormatVersionWithoutTouchingIt) {
  TempDir tmp;
  std::string shard_dir = wal_shard_dir(tmp.path(), 0);
  fs::create_directories(shard_dir);
  SegmentHeader h;
  h.version = 2;
  h.shard_count = 1;
  h.seq = 1;
  std::string bytes = encode_segment_header(h) + "records of a future format";
  write_bytes(segment_path(shard_dir, 1), bytes);
  auto r = replay_wal({tmp.path(), 0, 1, true}, [](uint64_t, std::string_view) {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::FailedPrecondition);
  EXPECT_NE(r.status().message().find("version 2"), std::string::npos) << r.status().message();
  EXPECT_EQ(read_bytes(segment_path(shard_dir, 1)), bytes);
}

TEST(WalTest, ReplayRefusesAnotherShardCount) {
  TempDir tmp;
  {
    TestLoop loop;
    WalOptions o = options_for(tmp.path());
    o.shard = 1;
    o.shard_count = 2;
    Wal wal(loop.get(), o);
    ASSERT_TRUE(wal.open().is_ok());
    for (const auto& s : append_all(loop, wal, {"x"})) EXPECT_TRUE(s.is_ok());
    close_wal(loop, wal);
  }
  int calls = 0;
  auto r = replay_wal({tmp.path(), 1, 4, true}, [&](uint64_t, std::string_view) { ++calls; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::FailedPrecondition);
  EXPECT_NE(r.status().message().find("2 shards"), std::string::npos) << r.status().message();
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(replay(tmp.path(), 1, 2).records.size(), 1u);
  EXPECT_EQ(replay(tmp.path(), 0, 2).records.size(), 0u);  // shard 0 has no directory: empty WAL
}

// Disk full in the middle of a record: the partial bytes are cut off again, the append is refused with a
// retryable status, and the next append works.
TEST(WalTest, DiskFullRollsBackThePartialWriteAndRecovers) {
  TempDir tmp;
  TestLoop loop;
  std::atomic<int> fail_mode{0};  // 0 = normal, 1 = write 7 bytes then ENOSPC
  std::atomic<bool> wrote_part{false};
  WalOptions o = options_for(tmp.path());
  o.segment_bytes = 1024;
  o.file_ops.pwritev = [&](int fd, const iovec* iov, int n, off_t off) -> ssize_t {
    if (fail_mode == 1) {
      if (!wrote_part) {
        wrote_part = true;
        return ::pwrite(fd, iov[0].iov_base, std::min<size_t>(7, iov[0].iov_len), off);
      }
      errno = ENOSPC;
      return -1;
    }
    return ::pwritev(fd, iov, n, off);
  };
  Wal wal(loop.get(), o);
  ASSERT_TRUE(wal.open().is_ok());
  for (const auto& s : append_all(loop, wal, {"one", "two"})) EXPECT_TRUE(s.is_ok());
  std::string path = segment_path(wal_shard_dir(tmp.path(), 0), wal.current_segment());
  auto size_before = fs::file_size(path);

  fail_mode = 1;
  auto failed = append_all(loop, wal, {"lost to a full disk"});
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].code(), StatusCode::Unavailable) << failed[0].to_string();
  EXPECT_TRUE(wrote_part.load());
  EXPECT_EQ(fs::file_size(path), size_before);
  EXPECT_EQ(wal.stats().disk_full_errors, 1u);
  // Still full: refused again, counted again.
  wrote_part = false;
  EXPECT_EQ(append_all(loop, wal, {"also lost"})[0].code(), StatusCode::Unavailable);
  EXPECT_EQ(wal.stats().disk_full_errors, 2u);
  EXPECT_EQ(wal.stats().append_errors, 2u);

  fail_mode = 0;
  for (const auto& s : append_all(loop, wal, {"three"})) EXPECT_TRUE(s.is_ok());
  // A full disk while rolling to a new segment (the header write fails) is refused the same way.
  fail_mode = 1;
  wrote_part = true;
  EXPECT_EQ(append_all(loop, wal, {std::string(2000, 'x')})[0].code(), StatusCode::Unavailable);
  fail_mode = 0;
  for (const auto& s : append_all(loop, wal, {"four", std::string(2000, 'y')})) EXPECT_TRUE(s.is_ok());
  close_wal(loop, wal);

  Replayed r = replay(tmp.path());
  EXPECT_EQ(payloads_of(r),
            (std::vector<std::string>{"one", "two", "three", "four", std::string(2000, 'y')}));
  EXPECT_EQ(r.stats.corrupt_records, 0u);
  EXPECT_EQ(r.stats.torn_tail_bytes, 0u);
}

TEST(WalTest, FailedSyncRefusesItsAppendsAndMovesToANewSegment) {
  TempDir tmp;
  TestLoop loop;
  std::atomic<bool> fail_sync{true};
  WalOptions o = options_for(tmp.path());
  o.file_ops.fdatasync = [&](int fd) {
    if (fail_sync.exchange(false)) {
      errno = EIO;
      return -1;
    }
    return ::fdatasync(fd);
  };
  Wal wal(loop.get(), o);
  ASSERT_TRUE(wal.open().is_ok());
  auto first = append_all(loop, wal, {"a"});
  EXPECT_EQ(first[0].code(), StatusCode::Unavailable);
  EXPECT_EQ(wal.stats().sync_errors, 1u);
  uint64_t seq = wal.current_segment();
  for (const auto& s : append_all(loop, wal, {"b"})) EXPECT_TRUE(s.is_ok());
  EXPECT_EQ(wal.current_segment(), seq + 1);
  close_wal(loop, wal);
}

TEST(WalTest, RemoveSegmentsBeforeKeepsLaterAndCurrentSegments) {
  TempDir tmp;
  TestLoop loop;
  WalOptions o = options_for(tmp.path());
  o.segment_bytes = 256;
  Wal wal(loop.get(), o);
  ASSERT_TRUE(wal.open().is_ok());
  std::vector<std::string> batch;
  for (int i = 0; i < 40; ++i) batch.push_back("record number " + std::to_string(i) + std::string(50, '.'));
  for (const auto& s : append_all(loop, wal, batch)) EXPECT_TRUE(s.is_ok());
  uint64_t current = wal.current_segment();
  ASSERT_GT(current, 5u);

  ASSERT_TRUE(wal.remove_segments_before(4).is_ok());
  auto seqs = list_segments(wal_shard_dir(tmp.path(), 0));
  ASSERT_TRUE(seqs.ok());
  EXPECT_EQ(seqs->front(), 4u);
  EXPECT_EQ(wal.stats().segments_removed, 3u);
  EXPECT_EQ(wal.stats().live_segments, seqs->size());

  ASSERT_TRUE(wal.remove_segments_before(UINT64_MAX).is_ok());
  seqs = list_segments(wal_shard_dir(tmp.path(), 0));
  EXPECT_EQ(*seqs, std::vector<uint64_t>{current});
  for (const auto& s : append_all(loop, wal, {"still works"})) EXPECT_TRUE(s.is_ok());
  close_wal(loop, wal);
  Replayed r = replay(tmp.path());
  ASSERT_FALSE(r.records.empty());
  EXPECT_EQ(r.records.back().second, "still works");
  for (const auto& [seq, p] : r.records) EXPECT_EQ(seq, current);
}

TEST(WalTest, StatsCountBytesRecordsSegmentsAndSyncLatency) {
  TempDir tmp;
  TestLoop loop;
  Wal wal(loop.get(), options_for(tmp.path()));
  ASSERT_TRUE(wal.open().is_ok());
  for (const auto& s : append_all(loop, wal, {"abc", "defgh"})) EXPECT_TRUE(s.is_ok());
  close_wal(loop, wal);
  WalStats st = wal.stats();
  EXPECT_EQ(st.records_written, 2u);
  EXPECT_EQ(st.bytes_written, 2 * kRecordHeaderSize + 8);
  EXPECT_EQ(st.segments_created, 1u);
  uint64_t in_buckets = 0;
  for (uint64_t n : st.sync_latency_buckets) in_buckets += n;
  EXPECT_EQ(in_buckets, st.syncs);
  EXPECT_GE(st.syncs, 1u);
}

}  // namespace
}  // namespace spindle
