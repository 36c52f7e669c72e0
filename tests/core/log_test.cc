#include "core/log.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace spindle {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Points the logger at a temporary O_APPEND file for the test and restores stderr and the level afterwards.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "spindle_log_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    int fd = mkstemp(buf.data());
    ASSERT_GE(fd, 0);
    path_ = buf.data();
    close(fd);
    fd_ = open(path_.c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd_, 0);
    set_log_fd(fd_);
    set_log_level(LogLevel::Debug);
  }
  void TearDown() override {
    set_log_fd(2);
    set_log_level(LogLevel::Info);
    close(fd_);
    unlink(path_.c_str());
  }

  std::vector<std::string> lines() {
    std::string all;
    int fd = open(path_.c_str(), O_RDONLY);
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) all.append(buf, static_cast<size_t>(n));
    close(fd);
    EXPECT_TRUE(all.empty() || all.back() == '\n');
    std::vector<std::string> out;
    std::stringstream ss(all);
    std::string line;
    while (std::getline(ss, line)) out.push_back(line);
    return out;
  }

  std::string path_;
  int fd_ = -1;
};

TEST_F(LogTest, LogfmtLineWithTimestampAndMessage) {
  log_info("listening on %s port %d", "0.0.0.0", 3200);
  auto l = lines();
  ASSERT_EQ(l.size(), 1u);
  static const std::regex kLine(
      R"(level=info ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z msg="listening on 0\.0\.0\.0 port 3200")");
  EXPECT_TRUE(std::regex_match(l[0], kLine)) << l[0];
}

TEST_F(LogTest, LevelsFilterAndNameThemselves) {
  set_log_level(LogLevel::Warn);
  EXPECT_FALSE(log_enabled(LogLevel::Info));
  EXPECT_TRUE(log_enabled(LogLevel::Error));
  log_debug("d");
  log_info("i");
  log_warn("w");
  log_error("e");
  log_fields(LogLevel::Info, "filtered");
  auto l = lines();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_THAT(l[0], ::testing::StartsWith("level=warn "));
  EXPECT_THAT(l[0], HasSubstr("msg=\"w\""));
  EXPECT_THAT(l[1], ::testing::StartsWith("level=error "));
  EXPECT_EQ(log_level(), LogLevel::Warn);
}

TEST_F(LogTest, FieldsAreQuotedOnlyWhenNeeded) {
  log_fields(LogLevel::Info, "say \"hi\"\n",
             {{"a", "plain"},
              {"b", "has space"},
              {"c", "q\"uote"},
              {"d", ""},
              {"e", "new\nline"},
              {"f", "k=v"},
              {"g", std::string_view("\x01", 1)},
              {"h", "back\\slash"}});
  auto l = lines();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_THAT(l[0], HasSubstr(R"(msg="say \"hi\"\n" a=plain b="has space" c="q\"uote" d="" e="new\nline")"
                              R"( f="k=v" g="\x01" h="back\\slash")"));
}

TEST_F(LogTest, ShardFieldOnlyOnShardThreads) {
  std::thread t([] {
    set_log_shard(3);
    log_info("from shard");
  });
  t.join();
  log_info("from main");
  auto l = lines();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_THAT(l[0], HasSubstr("Z shard=3 msg=\"from shard\""));
  EXPECT_THAT(l[1], Not(HasSubstr("shard=")));
}

TEST_F(LogTest, LongLinesAreTruncated) {
  std::string big(3 * kMaxLogLineBytes, 'x');
  log_fields(LogLevel::Info, "big", {{"v", big}});
  log_info("%s", big.c_str());
  auto l = lines();
  ASSERT_EQ(l.size(), 2u);
  for (const std::string& line : l) {
    EXPECT_LE(line.size() + 1, kMaxLogLineBytes);
    EXPECT_GT(line.size(), kMaxLogLineBytes / 2);
  }
  EXPECT_THAT(l[0], ::testing::EndsWith("..."));
}

TEST_F(LogTest, ConcurrentLinesNeverInterleave) {
  constexpr int kThreads = 4;
  constexpr int kLines = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      set_log_shard(static_cast<uint32_t>(t));
      for (int i = 0; i < kLines; ++i) {
        log_fields(LogLevel::Info, "tick", {{"i", std::to_string(i)}, {"pad", std::string(200, 'a' + t)}});
      }
    });
  }
  for (auto& t : threads) t.join();
  auto l = lines();
  ASSERT_EQ(l.size(), static_cast<size_t>(kThreads * kLines));
  static const std::regex kLine(R"(level=info ts=\S+ shard=(\d) msg="tick" i=\d+ pad=([a-d])\2{199})");
  for (const std::string& line : l) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, kLine)) << line;
    EXPECT_EQ(m[1].str()[0] - '0', m[2].str()[0] - 'a');
  }
}

TEST(LogLevelTest, ParsesTheFourLevels) {
  EXPECT_EQ(*parse_log_level("debug"), LogLevel::Debug);
  EXPECT_EQ(*parse_log_level("info"), LogLevel::Info);
  EXPECT_EQ(*parse_log_level("warn"), LogLevel::Warn);
  EXPECT_EQ(*parse_log_level("error"), LogLevel::Error);
  for (const char* bad : {"", "INFO", "warning", "trace"}) {
    auto r = parse_log_level(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::InvalidArgument);
  }
  EXPECT_EQ(log_level_name(LogLevel::Warn), "warn");
}

}  // namespace
}  // namespace spindle
