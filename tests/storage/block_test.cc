#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "storage/block_reader.h"
#include "storage/block_writer.h"
#include "storage/trace_merge.h"
#include "tests/storage/block_test_util.h"

namespace spindle {
namespace {

namespace fs = std::filesystem;
using namespace spindle::testing;

constexpr uint64_t kBase = 1700000000000000000ull;

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// `count` random traces, sorted by ID, in merge normal form.
std::map<TraceId, std::string> make_traces(int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::map<TraceId, std::string> traces;
  while (static_cast<int>(traces.size()) < count) {
    TraceId id = random_id(rng);
    traces[id] = random_trace(rng, id, kBase + rng() % 3600000000000ull).SerializeAsString();
  }
  return traces;
}

Result<BlockMeta> write_block(const std::string& root, const std::map<TraceId, std::string>& traces,
                              BlockWriteOptions options = {}) {
  BlockWriter w(root, options);
  for (const auto& [id, t] : traces) SPINDLE_RETURN_IF_ERROR(w.add(id, t));
  return w.finish();
}

TEST(BlockTest, RoundTripsTenThousandTraces) {
  TempDir tmp;
  auto traces = make_traces(10000, 11);
  uint64_t spans = 0, min_start = UINT64_MAX, max_end = 0;
  for (const auto& [id, t] : traces) {
    tempopb::Trace parsed;
    ASSERT_TRUE(parsed.ParseFromString(t));
    for (const auto& rs : parsed.resourcespans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& s : ss.spans()) {
          ++spans;
          min_start = std::min<uint64_t>(min_start, s.start_time_unix_nano());
          max_end = std::max<uint64_t>(max_end, s.end_time_unix_nano());
        }
      }
    }
  }
  BlockWriteOptions opts;
  opts.shard = 1;
  opts.shard_count = 2;
  opts.page_bytes = 64 << 10;
  auto meta = write_block(tmp.path(), traces, opts);
  ASSERT_TRUE(meta.ok()) << meta.status().to_string();
  EXPECT_EQ(meta->traces, 10000u);
  EXPECT_EQ(meta->spans, spans);
  EXPECT_EQ(meta->min_start_ns, min_start);
  EXPECT_EQ(meta->max_end_ns, max_end);
  EXPECT_EQ(meta->shard, 1u);
  EXPECT_EQ(meta->shard_count, 2u);
  EXPECT_EQ(meta->level, 0u);
  EXPECT_GT(meta->pages, 5u);
  EXPECT_GT(meta->created_ns, kBase);

  std::string dir = tmp.path() + "/" + meta->block_id;
  EXPECT_EQ(fs::file_size(dir + "/data"), meta->data_bytes);
  auto reader = BlockReader::open(dir);
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  BlockReader& r = **reader;
  EXPECT_EQ(r.meta().to_json(), meta->to_json());

  for (const auto& [id, t] : traces) {
    auto found = r.find(id);
    ASSERT_TRUE(found.ok()) << found.status().to_string();
    ASSERT_TRUE(found->has_value()) << id.to_hex();
    ASSERT_EQ(**found, t);
    auto normal = merge_traces({**found});
    ASSERT_TRUE(normal.ok());
    ASSERT_EQ(*normal, t);
  }
  std::mt19937_64 rng(99);
  int bloom_passes = 0;
  for (int i = 0; i < 5000; ++i) {
    TraceId absent = random_id(rng);
    if (traces.count(absent)) continue;
    bloom_passes += r.may_contain(absent) ? 1 : 0;
    auto found = r.find(absent);
    ASSERT_TRUE(found.ok());
    ASSERT_FALSE(found->has_value());
  }
  EXPECT_LT(bloom_passes, 150);  // ~1% of 5000

  // The cursor yields every row, in order, with the summary times.
  auto cur = r.cursor();
  auto it = traces.begin();
  while (true) {
    auto has = cur.next();
    ASSERT_TRUE(has.ok());
    if (!*has) break;
    ASSERT_NE(it, traces.end());
    ASSERT_EQ(cur.row().id, it->first);
    ASSERT_EQ(cur.row().trace, it->second);
    auto sum = summary_of(it->second);
    ASSERT_EQ(cur.row().start_ns, sum.start_ns);
    ASSERT_EQ(cur.row().end_ns, sum.end_ns);
    ++it;
  }
  EXPECT_EQ(it, traces.end());
  auto again = cur.next();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
}

TEST(BlockTest, IdsAtPageBoundariesAndOutsideTheRangeAreHandled) {
  TempDir tmp;
  std::map<TraceId, std::string> traces;
  std::mt19937_64 rng(5);
  for (int i = 1; i <= 300; ++i) {
    TraceId id;
    id.bytes[0] = static_cast<uint8_t>(i / 256 + 1);
    id.bytes[1] = static_cast<uint8_t>(i % 256);
    id.bytes[15] = 1;
    traces[id] = random_trace(rng, id, kBase).SerializeAsString();
  }
  BlockWriteOptions opts;
  opts.page_bytes = 2000;  // a handful of rows per page
  auto meta = write_block(tmp.path(), traces, opts);
  ASSERT_TRUE(meta.ok());
  EXPECT_GT(meta->pages, 30u);
  auto r = BlockReader::open(tmp.path() + "/" + meta->block_id);
  ASSERT_TRUE(r.ok());
  for (const auto& [id, t] : traces) {
    auto f = (*r)->find(id);
    ASSERT_TRUE(f.ok() && f->has_value());
    EXPECT_EQ(**f, t);
    // Neighbours that fall between rows (and between pages) are absent.
    TraceId next = id;
    next.bytes[15] = 2;
    auto g = (*r)->find(next);
    ASSERT_TRUE(g.ok());
    EXPECT_FALSE(g->has_value());
  }
  TraceId low;  // all zero: below the first page
  TraceId high;
  high.bytes.fill(0xff);
  for (const TraceId& id : {low, high}) {
    auto f = (*r)->find(id);
    ASSERT_TRUE(f.ok());
    EXPECT_FALSE(f->has_value());
  }
}

TEST(BlockTest, WriterRejectsBadInputButStaysUsable) {
  TempDir tmp;
  auto traces = make_traces(3, 2);
  auto it = traces.begin();
  const auto& [id0, t0] = *it++;
  const auto& [id1, t1] = *it++;
  const auto& [id2, t2] = *it;
  BlockWriter w(tmp.path(), {});
  ASSERT_TRUE(w.add(id1, t1).is_ok());
  EXPECT_EQ(w.add(id1, t1).code(), StatusCode::InvalidArgument);  // duplicate ID
  EXPECT_EQ(w.add(id0, t0).code(), StatusCode::InvalidArgument);  // descending
  EXPECT_EQ(w.add(id2,
                  "\x0a\x05"
                  "ab")
                .code(),
            StatusCode::InvalidArgument);  // malformed trace
  ASSERT_TRUE(w.add(id2, t2).is_ok());
  auto meta = w.finish();
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->traces, 2u);
  EXPECT_EQ(w.add(id2, t2).code(), StatusCode::FailedPrecondition);
  EXPECT_FALSE(w.finish().ok());
}

TEST(BlockTest, WritesAtomicallyAndCleansUpAbandonedWriters) {
  TempDir tmp;
  auto traces = make_traces(50, 3);
  std::string root = tmp.path() + "/blocks";  // created on demand
  {
    BlockWriter abandoned(root, {});
    for (const auto& [id, t] : traces) ASSERT_TRUE(abandoned.add(id, t).is_ok());
    // Mid-write only the temporary directory exists.
    auto names = list_dir(root);
    ASSERT_EQ(names.size(), 1u);
    EXPECT_EQ(names[0], ".tmp-" + abandoned.block_id());
  }
  EXPECT_TRUE(list_dir(root).empty());

  {
    BlockWriter empty(root, {});
    auto m = empty.finish();
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::FailedPrecondition);
  }
  EXPECT_TRUE(list_dir(root).empty());

  auto meta = write_block(root, traces);
  ASSERT_TRUE(meta.ok());
  EXPECT_TRUE(is_valid_block_id(meta->block_id));
  EXPECT_EQ(list_dir(root), std::vector<std::string>{meta->block_id});
  EXPECT_EQ(list_dir(root + "/" + meta->block_id),
            (std::vector<std::string>{"bloom", "data", "index", "meta.json", "search"}));
  auto parsed = BlockMeta::parse(read_file(root + "/" + meta->block_id + "/meta.json"));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->to_json(), meta->to_json());

  BlockWriteOptions bad;
  bad.shard = 2;
  bad.shard_count = 2;
  BlockWriter w(root, bad);
  EXPECT_EQ(w.add(traces.begin()->first, traces.begin()->second).code(), StatusCode::InvalidArgument);
}

TEST(BlockTest, OverlapUsesInclusiveBoundsAndOpenEnd) {
  BlockMeta m;
  m.min_start_ns = 100;
  m.max_end_ns = 200;
  EXPECT_TRUE(m.overlaps(0, 0));
  EXPECT_TRUE(m.overlaps(200, 300));
  EXPECT_TRUE(m.overlaps(50, 100));
  EXPECT_TRUE(m.overlaps(150, 160));
  EXPECT_TRUE(m.overlaps(150, 0));
  EXPECT_FALSE(m.overlaps(201, 300));
  EXPECT_FALSE(m.overlaps(10, 99));
  EXPECT_FALSE(m.overlaps(201, 0));
}

TEST(BlockTest, MetaJsonRejectsBadContent) {
  BlockMeta m;
  m.block_id = new_block_id();
  m.traces = 3;
  std::string good = m.to_json();
  ASSERT_TRUE(BlockMeta::parse(good).ok());
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  for (const std::string& bad :
       {std::string(""), std::string("[]"), std::string("{"), good.substr(0, good.size() / 2),
        replace("\"format_version\":1", "\"format_version\":2"), replace("\"shard\":0", "\"shard\":1"),
        replace("\"shard_count\":1", "\"shard_count\":0"), replace("\"traces\":3", "\"traces\":-3"),
        replace("\"traces\":3", "\"traces\":\"3\""), replace("\"traces\":3", "\"traces\":3.5"),
        replace("\"level\":0", "\"level\":4294967296"), replace("\"block_id\":\"", "\"block_id\":\"../"),
        replace("\"min_start_unix_nano\":0", "\"min_start_unix_nano\":5"), replace("\"spans\":0,", "")}) {
    auto r = BlockMeta::parse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::DataLoss) << bad;
  }
  // Unknown keys are fine (forward compatibility).
  EXPECT_TRUE(BlockMeta::parse(replace("{", "{\"future\":[1,2],")).ok());
}

class CorruptBlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    traces_ = make_traces(400, 21);
    BlockWriteOptions opts;
    opts.page_bytes = 8 << 10;
    auto meta = write_block(src_.path(), traces_, opts);
    ASSERT_TRUE(meta.ok());
    meta_ = *meta;
    for (const char* f : {"data", "index", "bloom", "meta.json"}) {
      files_[f] = read_file(src_.path() + "/" + meta_.block_id + "/" + f);
    }
  }

  // A copy of the block with `file` replaced by `content` (or missing when nullopt).
  std::string make_copy(const std::string& file, const std::optional<std::string>& content) {
    std::string dir = dst_.path() + "/" + meta_.block_id;
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const auto& [name, bytes] : files_) {
      if (name == file) {
        if (content) write_file(dir + "/" + name, *content);
      } else {
        write_file(dir + "/" + name, bytes);
      }
    }
    return dir;
  }

  // Opens the block and reads everything; every answer must be an error or the true data.
  // Returns whether any error was seen.
  bool read_everything(const std::string& dir) {
    auto r = BlockReader::open(dir);
    if (!r.ok()) {
      EXPECT_NE(r.status().code(), StatusCode::Ok);
      EXPECT_FALSE(r.status().message().empty());
      return true;
    }
    bool error = false;
    for (const auto& [id, t] : traces_) {
      auto f = (*r)->find(id);
      if (!f.ok()) {
        EXPECT_EQ(f.status().code(), StatusCode::DataLoss) << f.status().to_string();
        error = true;
      } else if (f->has_value()) {
        EXPECT_EQ(**f, t);
      } else {
        error = true;  // a trace lost: only acceptable because the test counts it as detected-or-not below
      }
    }
    auto cur = (*r)->cursor();
    auto it = traces_.begin();
    while (true) {
      auto has = cur.next();
      if (!has.ok()) {
        EXPECT_EQ(has.status().code(), StatusCode::DataLoss);
        error = true;
        break;
      }
      if (!*has) break;
      EXPECT_TRUE(it != traces_.end() && cur.row().id == it->first && cur.row().trace == it->second);
      ++it;
    }
    return error;
  }

  TempDir src_;
  TempDir dst_;
  std::map<TraceId, std::string> traces_;
  BlockMeta meta_;
  std::map<std::string, std::string> files_;
};

TEST_F(CorruptBlockTest, IntactCopyReadsBack) { EXPECT_FALSE(read_everything(make_copy("", std::nullopt))); }

TEST_F(CorruptBlockTest, MissingFilesAreErrors) {
  for (const char* f : {"data", "index", "bloom", "meta.json"}) {
    auto r = BlockReader::open(make_copy(f, std::nullopt));
    ASSERT_FALSE(r.ok()) << f;
    EXPECT_EQ(r.status().code(), StatusCode::NotFound) << r.status().to_string();
  }
  EXPECT_FALSE(BlockReader::open(dst_.path() + "/no-such-block").ok());
}

TEST_F(CorruptBlockTest, TruncatedOrExtendedFilesAreRejectedAtOpen) {
  for (const char* f : {"data", "index", "bloom", "meta.json"}) {
    const std::string& good = files_[f];
    bool json = std::string(f) == "meta.json";
    // meta.json ends with a newline, which JSON does not need.
    for (size_t n : {size_t{0}, size_t{1}, good.size() / 2, good.size() - (json ? 2 : 1)}) {
      auto r = BlockReader::open(make_copy(f, good.substr(0, n)));
      ASSERT_FALSE(r.ok()) << f << " cut to " << n;
      EXPECT_EQ(r.status().code(), StatusCode::DataLoss) << r.status().to_string();
    }
    if (!json) {  // trailing whitespace is valid JSON
      EXPECT_FALSE(BlockReader::open(make_copy(f, good + "garbage")).ok()) << f;
    }
  }
}

TEST_F(CorruptBlockTest, FlippedBitsInBinaryFilesAreDetected) {
  for (const char* f : {"index", "bloom"}) {
    const std::string& good = files_[f];
    size_t step = std::max<size_t>(1, good.size() / 300);
    for (size_t i = 0; i < good.size(); i += step) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ 0x10);
      auto r = BlockReader::open(make_copy(f, bad));
      ASSERT_FALSE(r.ok()) << f << " byte " << i;
      EXPECT_EQ(r.status().code(), StatusCode::DataLoss);
    }
  }
  // Data pages are checked when read: open succeeds, the damaged page's traces fail, the rest still serve.
  const std::string& good = files_["data"];
  size_t step = std::max<size_t>(1, good.size() / 200);
  for (size_t i = 0; i < good.size(); i += step) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_TRUE(read_everything(make_copy("data", bad))) << "flip at " << i << " went unnoticed";
  }
}

TEST_F(CorruptBlockTest, MetaThatDisagreesWithTheFilesIsRejected) {
  auto json_with = [&](auto mutate) {
    BlockMeta m = meta_;
    mutate(m);
    return m.to_json();
  };
  for (const std::string& bad : {
           json_with([](BlockMeta& m) { m.traces += 1; }),
           json_with([](BlockMeta& m) { m.pages -= 1; }),
           json_with([](BlockMeta& m) { m.data_bytes += 1; }),
           json_with([](BlockMeta& m) { m.block_id = new_block_id(); }),
       }) {
    auto r = BlockReader::open(make_copy("meta.json", bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::DataLoss) << r.status().to_string();
  }
}

TEST_F(CorruptBlockTest, RandomGarbageNeverCrashes) {
  std::mt19937_64 rng(77);
  for (int round = 0; round < 200; ++round) {
    const char* names[] = {"data", "index", "bloom", "meta.json"};
    std::string f = names[rng() % 4];
    std::string bad = files_[f];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits && !bad.empty(); ++e) bad[rng() % bad.size()] = static_cast<char>(rng());
    read_everything(make_copy(f, bad));  // must not crash, hang or return a wrong trace
  }
}

}  // namespace
}  // namespace spindle
