#include "core/config_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/default_config.h"
#include "core/log.h"

namespace spindle {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A file under the test's temporary directory, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    std::string tmpl = ::testing::TempDir() + "spindle_config_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    int fd = mkstemp(buf.data());
    EXPECT_GE(fd, 0);
    path_ = buf.data();
    EXPECT_EQ(write(fd, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));
    close(fd);
  }
  ~TempFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Result<Config> load(std::vector<std::string> args) {
  args.insert(args.begin(), "spindle");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return load_config(static_cast<int>(argv.size()), argv.data());
}

Config parse_ok(std::string_view yaml, bool expand = false) {
  auto c = parse_config_yaml(yaml, expand);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? *c : Config{};
}

std::string parse_error(std::string_view yaml, bool expand = false) {
  auto c = parse_config_yaml(yaml, expand);
  EXPECT_FALSE(c.ok());
  return c.ok() ? "" : c.status().message();
}

bool has_key(const Config& c, std::string_view key) {
  return std::find(c.ignored_keys.begin(), c.ignored_keys.end(), key) != c.ignored_keys.end();
}

// What the embedded default (and the example file) parse to: Config{} except the storage paths, which are
// relative there so a bare `spindle` runs as any user, while Config{} keeps Tempo's /var/tempo/... for Tempo
// files that do not set them.
Config embedded_defaults() {
  Config c;
  c.wal_path = "./spindle-data/wal";
  c.blocks_path = "./spindle-data/blocks";
  return c;
}

// load() of a file with `yaml`, for errors that only validate_config reports.
std::string load_error(const std::string& yaml) {
  TempFile f(yaml);
  auto c = load({"-config.file=" + f.path()});
  EXPECT_FALSE(c.ok()) << yaml;
  return c.ok() ? "" : c.status().message();
}

TEST(ConfigLoaderTest, EmptyYamlGivesDefaultsThatValidate) {
  Config c = parse_ok("");
  EXPECT_EQ(c, Config{});
  EXPECT_EQ(c.http_listen_port, 3200);
  EXPECT_EQ(c.otlp_grpc.port, 4317);
  EXPECT_EQ(c.otlp_http.port, 4318);
  EXPECT_TRUE(validate_config(c).is_ok());
  EXPECT_EQ(parse_ok("# only a comment\n"), Config{});
}

TEST(ConfigLoaderTest, EmbeddedDefaultMatchesStructDefaultsExceptPaths) {
  Config c = parse_ok(kDefaultConfigYaml);
  EXPECT_EQ(c, embedded_defaults());
  EXPECT_NE(Config{}.wal_path, c.wal_path);
  EXPECT_TRUE(c.ignored_keys.empty());
  EXPECT_TRUE(validate_config(c).is_ok());
}

TEST(ConfigLoaderTest, ExampleFileEqualsEmbeddedDefault) {
  std::string example = read_file(SPINDLE_EXAMPLE_CONFIG);
  ASSERT_FALSE(example.empty());
  Config from_example = parse_ok(example);
  Config from_default = parse_ok(kDefaultConfigYaml);
  EXPECT_EQ(from_example, from_default);
  EXPECT_TRUE(from_example.ignored_keys.empty());
}

TEST(ConfigLoaderTest, ExampleFileLoadsThroughFlags) {
  auto c = load({"-config.file=" SPINDLE_EXAMPLE_CONFIG});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->config_file, SPINDLE_EXAMPLE_CONFIG);
  Config expected = embedded_defaults();
  expected.config_file = SPINDLE_EXAMPLE_CONFIG;
  EXPECT_EQ(*c, expected);
}

TEST(ConfigLoaderTest, EveryImplementedKey) {
  Config c = parse_ok(R"(
server:
  http_listen_address: 127.0.0.1
  http_listen_port: 3300
  log_level: debug
  http_server_read_timeout: 5s
  http_server_write_timeout: 6s
  http_server_idle_timeout: 7m
  grpc_server_max_recv_msg_size: 8MiB
distributor:
  receivers:
    otlp:
      protocols:
        grpc:
          endpoint: 127.0.0.1:5317
          max_recv_msg_size_mib: 32
        http:
          endpoint: localhost:5318
          max_request_body_size: 1048576
ingester:
  trace_idle_period: 5s
  max_block_duration: 10m
  flush_check_period: 2s
compactor:
  compaction:
    block_retention: 48h
    compaction_window: 30m
storage:
  trace:
    backend: local
    wal:
      path: " /data/wal "
    local:
      path: relative/blocks
overrides:
  defaults:
    global:
      max_bytes_per_trace: 2MB
spindle:
  shards: 8
  head:
    max_bytes: 256MiB
  shutdown_timeout: 1m30s
  wal:
    ack: Written
    segment_size: 16MiB
    sync_bytes: 1MiB
    sync_interval: 250ms
  compaction:
    inputs: 8
)");
  EXPECT_EQ(c.http_listen_address, "127.0.0.1");
  EXPECT_EQ(c.http_listen_port, 3300);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.read_timeout_ms, 5000u);
  EXPECT_EQ(c.write_timeout_ms, 6000u);
  EXPECT_EQ(c.idle_timeout_ms, 420000u);
  EXPECT_EQ(c.grpc_max_recv_msg_bytes, 8u << 20);
  EXPECT_EQ(c.otlp_grpc, (Endpoint{"127.0.0.1", 5317}));
  EXPECT_EQ(c.otlp_grpc_max_recv_msg_bytes, 32u << 20);
  EXPECT_EQ(c.otlp_http, (Endpoint{"localhost", 5318}));
  EXPECT_EQ(c.http_max_body_bytes, 1048576u);
  EXPECT_EQ(c.max_bytes_per_trace, 2000000u);
  EXPECT_EQ(c.shards, 8u);
  EXPECT_EQ(c.head_max_bytes, 256u << 20);
  EXPECT_EQ(c.shutdown_timeout_ms, 90000u);
  EXPECT_EQ(c.trace_idle_period_ms, 5000u);
  EXPECT_EQ(c.max_trace_live_ms, 600000u);
  EXPECT_EQ(c.flush_check_period_ms, 2000u);
  EXPECT_EQ(c.block_retention_ms, 48u * 3600 * 1000);
  EXPECT_EQ(c.compaction_window_ms, 1800000u);
  EXPECT_EQ(c.storage_backend, "local");
  EXPECT_EQ(c.wal_path, "/data/wal");  // trimmed
  EXPECT_EQ(c.blocks_path, "relative/blocks");
  EXPECT_EQ(c.wal_ack, "written");  // case-insensitive, stored in lower case
  EXPECT_EQ(c.wal_segment_bytes, 16u << 20);
  EXPECT_EQ(c.wal_sync_bytes, 1u << 20);
  EXPECT_EQ(c.wal_sync_interval_ms, 250u);
  EXPECT_EQ(c.compaction_inputs, 8u);
  EXPECT_TRUE(c.ignored_keys.empty());
  EXPECT_TRUE(validate_config(c).is_ok());
}

TEST(ConfigLoaderTest, LegacyOverridesAndShutdownAlias) {
  Config c = parse_ok(
      "overrides:\n  max_bytes_per_trace: 0\n  ingestion_rate_limit_bytes: 1000\n"
      "server:\n  graceful_shutdown_timeout: 45s\n");
  EXPECT_EQ(c.max_bytes_per_trace, 0u);
  EXPECT_EQ(c.shutdown_timeout_ms, 45000u);
  EXPECT_TRUE(has_key(c, "overrides.ingestion_rate_limit_bytes"));
}

TEST(ConfigLoaderTest, NullValuesKeepDefaults) {
  Config c = parse_ok(
      "server:\n  http_listen_port:\ndistributor:\n  receivers:\n    otlp:\n      protocols:\n"
      "        grpc:\n        http:\n");
  EXPECT_EQ(c, Config{});
}

TEST(ConfigLoaderTest, Durations) {
  const std::pair<const char*, uint64_t> good[] = {
      {"500ms", 500},    {"30s", 30000}, {"5m", 300000},  {"336h", 1209600000}, {"1h30m", 5400000},
      {"1.5h", 5400000}, {"90", 90000},  {"0", 0},        {"2d", 172800000},    {"1w", 604800000},
      {"2m0s", 120000},  {"1500us", 1},  {"999999ns", 0}, {" 10s ", 10000},     {"1h0m0.5s", 3600500}};
  for (const auto& [text, ms] : good) {
    auto r = parse_duration_ms(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().to_string();
    EXPECT_EQ(*r, ms) << text;
  }
  for (const char* text :
       {"", "abc", "5x", "-5s", "1h30", "s", "1..5s", "10 s s", "99999999999999999999", "1e3s", "5S"}) {
    auto r = parse_duration_ms(text);
    EXPECT_FALSE(r.ok()) << text;
    if (!r.ok()) {
      EXPECT_THAT(r.status().message(), HasSubstr("is not a duration")) << text;
    }
  }
  EXPECT_EQ(parse_error("server:\n  http_server_read_timeout: 30x\n"),
            "config key server.http_server_read_timeout: \"30x\" is not a duration (like 30s, 5m, 1h30m) at "
            "line 2");
}

TEST(ConfigLoaderTest, Sizes) {
  const std::pair<const char*, uint64_t> good[] = {{"0", 0},
                                                   {"16777216", 16777216},
                                                   {"1_000_000", 1000000},
                                                   {"64KiB", 65536},
                                                   {"20MiB", 20971520},
                                                   {"1GiB", 1073741824},
                                                   {"1GB", 1000000000},
                                                   {"1gb", 1000000000},
                                                   {"10MB", 10000000},
                                                   {"1.5KiB", 1536},
                                                   {"64 KiB", 65536},
                                                   {"100B", 100},
                                                   {"2k", 2000},
                                                   {"3Mi", 3145728}};
  for (const auto& [text, bytes] : good) {
    auto r = parse_size_bytes(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().to_string();
    EXPECT_EQ(*r, bytes) << text;
  }
  for (const char* text : {"", "MiB", "12XB", "-1", "1e6", "20000000000TiB", "1.2.3MiB", "_1", "1__", "abc",
                           "99999999999999999999"}) {
    auto r = parse_size_bytes(text);
    EXPECT_FALSE(r.ok()) << text;
  }
  EXPECT_EQ(parse_error("spindle:\n  head:\n    max_bytes: lots\n"),
            "config key spindle.head.max_bytes: \"lots\" is not a size (bytes, or like 64KiB, 20MiB, 1GB) at "
            "line 3");
}

TEST(ConfigLoaderTest, Endpoints) {
  EXPECT_EQ(*parse_endpoint("0.0.0.0:4317"), (Endpoint{"0.0.0.0", 4317}));
  EXPECT_EQ(*parse_endpoint(":4317"), (Endpoint{"", 4317}));
  EXPECT_EQ(*parse_endpoint("[::]:4317"), (Endpoint{"0.0.0.0", 4317}));
  EXPECT_EQ(*parse_endpoint("tempo.local:0"), (Endpoint{"tempo.local", 0}));
  for (const char* text :
       {"4317", "0.0.0.0:70000", "[::1]:4317", "::1:4317", "host:", "bad host:1", "[::]4317", "", "a:b"}) {
    EXPECT_FALSE(parse_endpoint(text).ok()) << text;
  }
  EXPECT_THAT(
      parse_error("distributor:\n  receivers:\n    otlp:\n      protocols:\n        grpc:\n"
                  "          endpoint: \"0.0.0.0\"\n"),
      HasSubstr("config key distributor.receivers.otlp.protocols.grpc.endpoint: \"0.0.0.0\" is not an "
                "endpoint"));
}

TEST(ConfigLoaderTest, UnknownKeyNamesDottedPathAndLine) {
  EXPECT_EQ(parse_error("server:\n  http_listen_port: 3200\n  http_listen_prot: 3\n"),
            "config: unknown key \"server.http_listen_prot\" at line 3");
  EXPECT_THAT(parse_error("sever:\n  x: 1\n"), HasSubstr("unknown key \"sever\" at line 1"));
  EXPECT_THAT(parse_error("spindle:\n  head:\n    max_byte: 1\n"),
              HasSubstr("unknown key \"spindle.head.max_byte\" at line 3"));
  EXPECT_THAT(parse_error("distributor:\n  receivers:\n    otlp:\n      protocols:\n        grpc:\n"
                          "          endpiont: x\n"),
              HasSubstr("unknown key \"distributor.receivers.otlp.protocols.grpc.endpiont\" at line 6"));
  EXPECT_THAT(parse_error("distributor:\n  receivers:\n    otlphttp: {}\n"),
              HasSubstr("unknown key \"distributor.receivers.otlphttp\""));
  EXPECT_THAT(parse_error("overrides:\n  defaults:\n    global:\n      max_bytes_per_trac: 1\n"),
              HasSubstr("unknown key \"overrides.defaults.global.max_bytes_per_trac\""));
}

TEST(ConfigLoaderTest, UnknownKeyInFileNamesTheFile) {
  TempFile f("server:\n  http_listen_port: 3200\n  http_listen_prot: 3\n");
  auto c = load({"-config.file=" + f.path()});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::InvalidArgument);
  EXPECT_EQ(c.status().message(),
            "config file " + f.path() + ": unknown key \"server.http_listen_prot\" at line 3");
  TempFile bad("\nserver:\n  http_listen_port: abc\n");
  auto b = load({"-config.file=" + bad.path()});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message(),
            "config key server.http_listen_port: \"abc\" is not a port number (0-65535) "
            "at line 3 of " +
                bad.path());
}

TEST(ConfigLoaderTest, BadValueNamesKeyAndValue) {
  EXPECT_EQ(parse_error("server:\n  http_listen_port: abc\n"),
            "config key server.http_listen_port: \"abc\" is not a port number (0-65535) at line 2");
  EXPECT_THAT(parse_error("server:\n  http_listen_port: 65536\n"),
              HasSubstr("\"65536\" is not a port number"));
  EXPECT_THAT(parse_error("server:\n  log_level: verbose\n"),
              HasSubstr("config key server.log_level: \"verbose\" is not a log level"));
  EXPECT_THAT(parse_error("spindle:\n  shards: -1\n"), HasSubstr("config key spindle.shards: \"-1\""));
  EXPECT_THAT(parse_error("server:\n  http_listen_address: \"a b\"\n"),
              HasSubstr("config key server.http_listen_address: \"a b\""));
  EXPECT_THAT(parse_error("server:\n  http_listen_port: [1, 2]\n"),
              HasSubstr("config key server.http_listen_port: expected a single value"));
  EXPECT_THAT(parse_error("server: 5\n"), HasSubstr("config key server: expected a mapping"));
  EXPECT_THAT(parse_error("- a\n- b\n"), HasSubstr("top level must be a mapping"));
}

TEST(ConfigLoaderTest, DuplicateKeysAndBadYamlAreErrors) {
  EXPECT_THAT(parse_error("server:\n  http_listen_port: 1\n  http_listen_port: 2\n"),
              HasSubstr("duplicate key \"server.http_listen_port\" at line 3"));
  EXPECT_THAT(parse_error("server:\n  http_listen_port: [1\n"), HasSubstr("invalid YAML at line"));
  EXPECT_THAT(parse_error("server: {a: 1\n"), HasSubstr("invalid YAML"));
  EXPECT_THAT(parse_error("? [a, b]\n: 1\n"), HasSubstr("keys must be plain names"));
}

TEST(ConfigLoaderTest, HostileInputIsAnErrorNotACrash) {
  const std::string inputs[] = {std::string(5000, '['),
                                std::string(5000, '{'),
                                std::string("\0\xff\xfe", 3),
                                "server: *nope\n",
                                "server: &x {http_listen_port: *x}\n",
                                "server:\n\thttp_listen_port: 1\n",
                                "server:\n  http_listen_port: !!binary aGVsbG8=\n",
                                "ingester: &a [*a]\n"};
  for (const std::string& in : inputs) {
    auto c = parse_config_yaml(in, true);
    if (c.ok()) continue;  // some are valid YAML for an ignored key; the point is no crash
    EXPECT_EQ(c.status().code(), StatusCode::InvalidArgument);
    EXPECT_THAT(c.status().message(), ::testing::StartsWith("config"));
  }
}

TEST(ConfigLoaderTest, StorageBackendOtherThanLocalIsAnError) {
  EXPECT_EQ(parse_error("storage:\n  trace:\n    backend: s3\n"),
            "config key storage.trace.backend: \"s3\" is not supported yet; Spindle stores blocks on local "
            "disk (backend: local) at line 3");
  for (const char* backend : {"gcs", "azure", "Local", "\"\""}) {
    EXPECT_THAT(parse_error(std::string("storage:\n  trace:\n    backend: ") + backend + "\n"),
                HasSubstr("config key storage.trace.backend: "))
        << backend;
  }
  EXPECT_EQ(parse_ok("storage:\n  trace:\n    backend: \" local \"\n").storage_backend, "local");
}

TEST(ConfigLoaderTest, StorageBadValuesNameTheKey) {
  EXPECT_EQ(parse_error("spindle:\n  wal:\n    ack: maybe\n"),
            "config key spindle.wal.ack: \"maybe\" is not a WAL ack mode (synced, written or none) at line 3");
  EXPECT_THAT(parse_error("storage:\n  trace:\n    wal:\n      path: \"  \"\n"),
              HasSubstr("config key storage.trace.wal.path: \"  \" is not a directory path"));
  EXPECT_THAT(parse_error("storage:\n  trace:\n    local:\n      path: \"\"\n"),
              HasSubstr("config key storage.trace.local.path: \"\" is not a directory path"));
  EXPECT_THAT(parse_error("storage:\n  trace:\n    wal:\n      path: [a, b]\n"),
              HasSubstr("config key storage.trace.wal.path: expected a single value"));
  EXPECT_THAT(parse_error("spindle:\n  wal:\n    segment_size: big\n"),
              HasSubstr("config key spindle.wal.segment_size: \"big\" is not a size"));
  EXPECT_THAT(parse_error("spindle:\n  wal:\n    sync_interval: soon\n"),
              HasSubstr("config key spindle.wal.sync_interval: \"soon\" is not a duration"));
  EXPECT_THAT(parse_error("ingester:\n  trace_idle_period: 10\n  max_block_duration: x\n"),
              HasSubstr("config key ingester.max_block_duration: \"x\" is not a duration"));
  EXPECT_THAT(parse_error("compactor:\n  compaction:\n    block_retention: forever\n"),
              HasSubstr("config key compactor.compaction.block_retention: \"forever\""));
  EXPECT_THAT(parse_error("spindle:\n  compaction:\n    inputs: -2\n"),
              HasSubstr("config key spindle.compaction.inputs: \"-2\" is not a block count"));
  // Well-formed but out of bounds: validate_config, through load().
  EXPECT_THAT(load_error("spindle:\n  wal:\n    segment_size: 1KiB\n"),
              HasSubstr("config key spindle.wal.segment_size: 1024 bytes is not between 1MiB"));
  EXPECT_THAT(load_error("spindle:\n  wal:\n    segment_size: 2GiB\n"),
              HasSubstr("config key spindle.wal.segment_size: 2147483648 bytes"));
  EXPECT_THAT(load_error("spindle:\n  compaction:\n    inputs: 1\n"),
              HasSubstr("config key spindle.compaction.inputs: 1 is not between 2 and 64"));
  EXPECT_THAT(load_error("spindle:\n  wal:\n    sync_bytes: 0\n"),
              HasSubstr("config key spindle.wal.sync_bytes: must be at least 1 byte"));
  EXPECT_THAT(load_error("spindle:\n  wal:\n    sync_interval: 500us\n"),
              HasSubstr("config key spindle.wal.sync_interval: must be at least 1ms"));
  EXPECT_THAT(load_error("ingester:\n  flush_check_period: 0s\n"),
              HasSubstr("config key ingester.flush_check_period: must be at least 1ms"));
  EXPECT_THAT(load_error("compactor:\n  compaction:\n    compaction_window: 0\n"),
              HasSubstr("config key compactor.compaction.compaction_window: must be at least 1ms"));
}

TEST(ConfigLoaderTest, StorageSectionsStayStrict) {
  // Tempo's storage holds only `trace`, and trace.local only `path`: typos there are errors, not warnings.
  EXPECT_THAT(parse_error("storage:\n  trcae:\n    backend: local\n"),
              HasSubstr("unknown key \"storage.trcae\""));
  EXPECT_THAT(parse_error("storage:\n  trace:\n    local:\n      paht: /x\n"),
              HasSubstr("unknown key \"storage.trace.local.paht\" at line 4"));
  EXPECT_THAT(parse_error("spindle:\n  wal:\n    acks: synced\n"),
              HasSubstr("unknown key \"spindle.wal.acks\""));
  EXPECT_THAT(parse_error("spindle:\n  compaction:\n    input: 4\n"),
              HasSubstr("unknown key \"spindle.compaction.input\""));
  EXPECT_THAT(parse_error("storage: local\n"), HasSubstr("config key storage: expected a mapping"));
  EXPECT_THAT(parse_error("compactor:\n  compaction: 5\n"),
              HasSubstr("config key compactor.compaction: expected a mapping"));
  // Empty or null sections keep the defaults without a warning.
  Config c = parse_ok("ingester: {}\ncompactor:\nstorage:\n  trace:\n    wal: {}\n");
  EXPECT_EQ(c, Config{});
}

TEST(ConfigLoaderTest, TempoStorageConfigLoadsWithUnimplementedSubkeysIgnored) {
  Config c = parse_ok(R"(
ingester:
  trace_idle_period: 20s
  max_block_bytes: 1_000_000
  complete_block_timeout: 15m
  concurrent_flushes: 4
  lifecycler:
    ring:
      replication_factor: 1
      kvstore: { store: inmemory }
compactor:
  ring:
    kvstore:
      store: memberlist
  compaction:
    block_retention: 24h
    compacted_block_retention: 1h
    max_compaction_objects: 6000000
storage:
  trace:
    backend: local
    wal:
      path: /var/tempo/wal2
      v2_encoding: snappy
      search_encoding: none
      ingestion_time_range_slack: 2m
    local:
      path: /var/tempo/blocks2
    block:
      version: vParquet4
      bloom_filter_false_positive: .05
    s3:
      bucket: unused
    pool:
      max_workers: 100
    blocklist_poll: 5m
)");
  EXPECT_EQ(c.trace_idle_period_ms, 20000u);
  EXPECT_EQ(c.block_retention_ms, 24u * 3600 * 1000);
  EXPECT_EQ(c.storage_backend, "local");
  EXPECT_EQ(c.wal_path, "/var/tempo/wal2");
  EXPECT_EQ(c.blocks_path, "/var/tempo/blocks2");
  EXPECT_EQ(
      c.ignored_keys,
      (std::vector<std::string>{
          "ingester.max_block_bytes", "ingester.complete_block_timeout", "ingester.concurrent_flushes",
          "ingester.lifecycler", "compactor.ring", "compactor.compaction.compacted_block_retention",
          "compactor.compaction.max_compaction_objects", "storage.trace.wal.v2_encoding",
          "storage.trace.wal.search_encoding", "storage.trace.wal.ingestion_time_range_slack",
          "storage.trace.block", "storage.trace.s3", "storage.trace.pool", "storage.trace.blocklist_poll"}));
  EXPECT_TRUE(validate_config(c).is_ok());
}

TEST(ConfigLoaderTest, Tempo2xConfigLoadsWithIgnoredKeys) {
  auto c = load({"-config.file=" SPINDLE_TESTDATA_DIR "/tempo-2x.yaml"});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->http_listen_port, 3200);
  EXPECT_EQ(c->http_listen_address, "");
  EXPECT_EQ(c->log_level, "info");
  EXPECT_EQ(c->read_timeout_ms, 30000u);
  EXPECT_EQ(c->write_timeout_ms, 30000u);
  EXPECT_EQ(c->grpc_max_recv_msg_bytes, 16777216u);
  EXPECT_EQ(c->otlp_grpc, (Endpoint{"0.0.0.0", 4317}));
  EXPECT_EQ(c->otlp_http, (Endpoint{"0.0.0.0", 4318}));
  for (const char* key : {"server.grpc_listen_port",
                          "server.grpc_server_max_send_msg_size",
                          "distributor.receivers.jaeger",
                          "distributor.receivers.zipkin",
                          "distributor.max_attribute_bytes",
                          "distributor.log_received_spans",
                          "ingester.max_block_bytes",
                          "ingester.complete_block_timeout",
                          "ingester.trace_live_period",
                          "ingester.lifecycler",
                          "compactor.compaction.compacted_block_retention",
                          "compactor.compaction.max_block_bytes",
                          "querier",
                          "query_frontend",
                          "metrics_generator",
                          "storage.trace.s3",
                          "storage.trace.block",
                          "storage.trace.blocklist_poll",
                          "storage.trace.pool",
                          "overrides.defaults.metrics_generator",
                          "overrides.defaults.ingestion",
                          "overrides.defaults.read",
                          "overrides.defaults.compaction"}) {
    EXPECT_TRUE(has_key(*c, key)) << key;
  }
  // The storage keys Spindle implements are applied, not listed.
  EXPECT_EQ(c->trace_idle_period_ms, 10000u);
  EXPECT_EQ(c->max_trace_live_ms, 300000u);
  EXPECT_EQ(c->flush_check_period_ms, 10000u);
  EXPECT_EQ(c->block_retention_ms, 336u * 3600 * 1000);
  EXPECT_EQ(c->compaction_window_ms, 3600000u);
  EXPECT_EQ(c->wal_path, "/var/tempo/wal");
  EXPECT_EQ(c->blocks_path, "/var/tempo/blocks");
  for (const char* key : {"ingester", "compactor", "storage", "storage.trace", "ingester.trace_idle_period",
                          "compactor.compaction.block_retention", "storage.trace.backend",
                          "storage.trace.wal", "storage.trace.wal.path", "storage.trace.local.path"}) {
    EXPECT_FALSE(has_key(*c, key)) << key;
  }
  // Values Spindle already behaves like produce no warning.
  for (const char* key : {"target", "multitenancy_enabled", "http_api_prefix", "stream_over_http_enabled",
                          "usage_report", "server.log_level"}) {
    EXPECT_FALSE(has_key(*c, key)) << key;
  }
}

TEST(ConfigLoaderTest, Tempo3xConfigLoadsWithIgnoredKeys) {
  auto c = load({"-config.file=" SPINDLE_TESTDATA_DIR "/tempo-3x.yaml"});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->log_level, "warn");
  EXPECT_EQ(c->idle_timeout_ms, 90000u);
  EXPECT_EQ(c->max_bytes_per_trace, 10000000u);
  EXPECT_EQ(c->shards, 4u);
  EXPECT_EQ(c->wal_path, "/var/tempo/wal");
  EXPECT_EQ(c->blocks_path, Config{}.blocks_path);  // not in the file: Tempo's default
  for (const char* key : {"live_store", "block_builder", "backend_scheduler", "backend_worker", "ingest",
                          "query_frontend", "querier", "metrics_generator", "storage.trace.s3", "memberlist",
                          "distributor.receivers.zipkin", "distributor.ingester_write_path_enabled",
                          "overrides.per_tenant_override_config", "overrides.defaults.metrics_generator"}) {
    EXPECT_TRUE(has_key(*c, key)) << key;
  }
}

TEST(ConfigLoaderTest, QuietValuesOnlyWhenTheyMatchSpindle) {
  Config c = parse_ok("target: all\nmultitenancy_enabled: False\n");
  EXPECT_TRUE(c.ignored_keys.empty());
  c = parse_ok("target: distributor\nmultitenancy_enabled: true\nhttp_api_prefix: /tempo\n");
  EXPECT_EQ(c.ignored_keys, (std::vector<std::string>{"target", "multitenancy_enabled", "http_api_prefix"}));
}

class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("SPINDLE_TEST_PORT", "4000", 1);
    setenv("SPINDLE_TEST_EMPTY", "", 1);
    unsetenv("SPINDLE_TEST_UNSET");
  }
  void TearDown() override {
    unsetenv("SPINDLE_TEST_PORT");
    unsetenv("SPINDLE_TEST_EMPTY");
  }
};

TEST_F(EnvTest, ExpandsVariablesAndDefaults) {
  EXPECT_EQ(*expand_env("a ${SPINDLE_TEST_PORT} b"), "a 4000 b");
  EXPECT_EQ(*expand_env("$SPINDLE_TEST_PORT/x"), "4000/x");
  EXPECT_EQ(*expand_env("${SPINDLE_TEST_UNSET:-3300}"), "3300");
  EXPECT_EQ(*expand_env("${SPINDLE_TEST_UNSET:3301}"), "3301");  // Tempo's form
  EXPECT_EQ(*expand_env("${SPINDLE_TEST_EMPTY:-dflt}"), "dflt");
  EXPECT_EQ(*expand_env("${SPINDLE_TEST_PORT:-dflt}"), "4000");
  EXPECT_EQ(*expand_env("[${SPINDLE_TEST_UNSET}]"), "[]");  // unset without default: empty, like Tempo
  EXPECT_EQ(*expand_env("[$SPINDLE_TEST_UNSET]"), "[]");
  EXPECT_EQ(*expand_env("pa$5word $ $"), "pa$5word $ $");
  EXPECT_FALSE(expand_env("x: ${SPINDLE_TEST_PORT").ok());
  EXPECT_THAT(expand_env("a\nb: ${bad name}").status().message(), HasSubstr("line 2"));
}

TEST_F(EnvTest, ExpansionOnlyWhenAsked) {
  const char* yaml =
      "server:\n  http_listen_port: ${SPINDLE_TEST_PORT}\n  http_listen_address: "
      "\"${SPINDLE_TEST_UNSET}\"\nspindle:\n  shards: ${SPINDLE_TEST_UNSET:-7}\n";
  Config c = parse_ok(yaml, /*expand=*/true);
  EXPECT_EQ(c.http_listen_port, 4000);
  EXPECT_EQ(c.http_listen_address, "");
  EXPECT_EQ(c.shards, 7u);
  EXPECT_THAT(parse_error(yaml, /*expand=*/false),
              HasSubstr("config key server.http_listen_port: \"${SPINDLE_TEST_PORT}\" is not a port number"));
}

TEST_F(EnvTest, ExpandEnvFlag) {
  TempFile f("server:\n  http_listen_port: ${SPINDLE_TEST_PORT}\n");
  auto with = load({"-config.file=" + f.path(), "-config.expand-env=true"});
  ASSERT_TRUE(with.ok()) << with.status().to_string();
  EXPECT_EQ(with->http_listen_port, 4000);
  auto bare = load({"--config.file", f.path(), "-config.expand-env"});
  ASSERT_TRUE(bare.ok()) << bare.status().to_string();
  EXPECT_EQ(bare->http_listen_port, 4000);
  auto without = load({"-config.file=" + f.path()});
  EXPECT_FALSE(without.ok());
  auto off = load({"-config.file=" + f.path(), "-config.expand-env=false"});
  EXPECT_FALSE(off.ok());
}

TEST(ConfigLoaderFlagsTest, FlagsOverrideFile) {
  TempFile f("server:\n  http_listen_port: 3300\n  log_level: warn\nspindle:\n  shards: 2\n");
  auto c = load({"-config.file=" + f.path(), "-shards=3", "--server.http-listen-port=4000",
                 "-server.http-listen-address", "127.0.0.1", "-otlp.grpc-endpoint=:5317",
                 "-otlp.http-endpoint=127.0.0.1:5318", "-head.max-bytes=64MiB", "-log.level=debug"});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->shards, 3u);
  EXPECT_EQ(c->http_listen_port, 4000);
  EXPECT_EQ(c->http_listen_address, "127.0.0.1");
  EXPECT_EQ(c->otlp_grpc, (Endpoint{"", 5317}));
  EXPECT_EQ(c->otlp_http, (Endpoint{"127.0.0.1", 5318}));
  EXPECT_EQ(c->head_max_bytes, 64u << 20);
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->config_file, f.path());
}

TEST(ConfigLoaderFlagsTest, StorageFlagsOverrideFile) {
  TempFile f(
      "storage:\n  trace:\n    backend: local\n    wal:\n      path: /file/wal\n    local:\n"
      "      path: /file/blocks\nspindle:\n  wal:\n    ack: synced\n");
  auto c = load({"-config.file=" + f.path(), "-storage.trace.wal.path=/flag/wal",
                 "--storage.trace.local.path", "/flag/blocks", "-wal.ack=written"});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->wal_path, "/flag/wal");
  EXPECT_EQ(c->blocks_path, "/flag/blocks");
  EXPECT_EQ(c->wal_ack, "written");
  auto file_only = load({"-config.file=" + f.path()});
  ASSERT_TRUE(file_only.ok()) << file_only.status().to_string();
  EXPECT_EQ(file_only->wal_path, "/file/wal");
  EXPECT_EQ(file_only->blocks_path, "/file/blocks");
  EXPECT_EQ(file_only->wal_ack, "synced");
  auto bad_ack = load({"-wal.ack=maybe"});
  ASSERT_FALSE(bad_ack.ok());
  EXPECT_EQ(bad_ack.status().message(), "flag -wal.ack: \"maybe\" is not a WAL ack mode (synced, written or none)");
  auto empty_path = load({"-storage.trace.wal.path="});
  ASSERT_FALSE(empty_path.ok());
  EXPECT_THAT(empty_path.status().message(),
              HasSubstr("flag -storage.trace.wal.path: \"\" is not a directory"));
}

TEST(ConfigLoaderFlagsTest, NoFileUsesEmbeddedDefault) {
  auto c = load({});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(*c, embedded_defaults());
  auto s = load({"-shards=5"});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->shards, 5u);
}

TEST(ConfigLoaderFlagsTest, FlagErrors) {
  auto unknown = load({"-server.http-listen-prot=1"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown flag -server.http-listen-prot"));
  auto positional = load({"tempo.yaml"});
  ASSERT_FALSE(positional.ok());
  EXPECT_THAT(positional.status().message(), HasSubstr("unexpected argument \"tempo.yaml\""));
  auto missing_value = load({"-shards"});
  ASSERT_FALSE(missing_value.ok());
  EXPECT_THAT(missing_value.status().message(), HasSubstr("flag -shards needs a value"));
  auto bad_value = load({"-shards=many"});
  ASSERT_FALSE(bad_value.ok());
  EXPECT_THAT(bad_value.status().message(), HasSubstr("flag -shards: \"many\" is not a shard count"));
  auto bad_bool = load({"-config.expand-env=maybe"});
  ASSERT_FALSE(bad_bool.ok());
  EXPECT_THAT(bad_bool.status().message(), HasSubstr("-config.expand-env: \"maybe\" is not true or false"));
  auto too_many = load({"-shards=300"});
  ASSERT_FALSE(too_many.ok());
  EXPECT_THAT(too_many.status().message(), HasSubstr("spindle.shards"));
}

TEST(ConfigLoaderFlagsTest, TargetFlagIsAcceptedLikeTempo) {
  auto all = load({"-target=all"});
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->ignored_keys.empty());
  auto other = load({"-target=querier"});
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(has_key(*other, "flag -target"));
}

TEST(ConfigLoaderFlagsTest, MissingFileNamesPathAndReason) {
  std::string path = ::testing::TempDir() + "spindle_no_such_dir/tempo.yaml";
  auto c = load({"-config.file=" + path});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "config file " + path + ": " + std::strerror(ENOENT));
}

TEST(ConfigLoaderFlagsTest, HelpSkipsTheFile) {
  auto c = load({"-config.file=/nonexistent/tempo.yaml", "-help"});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_TRUE(c->help);
  auto d = load({"--help"});
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->help);
  std::string usage = config_usage();
  for (const char* flag : {"-config.file=FILE", "-config.expand-env", "-shards=N", "-server.http-listen-port",
                           "-server.http-listen-address", "-otlp.grpc-endpoint", "-otlp.http-endpoint",
                           "-head.max-bytes", "-log.level", "-storage.trace.wal.path=DIR",
                           "-storage.trace.local.path=DIR", "-wal.ack=synced|written", "-help"}) {
    EXPECT_THAT(usage, HasSubstr(flag));
  }
}

TEST(ValidateConfigTest, EachErrorNamesTheKey) {
  auto error_of = [](auto mutate) {
    Config c;
    mutate(c);
    Status s = validate_config(c);
    EXPECT_FALSE(s.is_ok());
    return s.message();
  };
  EXPECT_THAT(error_of([](Config& c) { c.shards = 257; }), HasSubstr("config key spindle.shards: 257"));
  EXPECT_THAT(error_of([](Config& c) {
                c.wal_path = "/d/";
                c.blocks_path = "/d";
              }),
              HasSubstr("storage.trace.wal.path and storage.trace.local.path: both are"));
  EXPECT_THAT(error_of([](Config& c) { c.wal_sync_interval_ms = 120000; }),
              HasSubstr("config key spindle.wal.sync_interval: 120000ms is above 1m"));
  EXPECT_THAT(error_of([](Config& c) { c.read_timeout_ms = 0; }),
              HasSubstr("config key server.http_server_read_timeout"));
  EXPECT_THAT(error_of([](Config& c) { c.write_timeout_ms = 0; }),
              HasSubstr("config key server.http_server_write_timeout"));
  EXPECT_THAT(error_of([](Config& c) { c.idle_timeout_ms = 0; }),
              HasSubstr("config key server.http_server_idle_timeout"));
  EXPECT_THAT(error_of([](Config& c) { c.shutdown_timeout_ms = 0; }),
              HasSubstr("config key spindle.shutdown_timeout"));
  EXPECT_THAT(error_of([](Config& c) { c.head_max_bytes = (1 << 20) - 1; }),
              HasSubstr("config key spindle.head.max_bytes"));
  EXPECT_THAT(error_of([](Config& c) { c.grpc_max_recv_msg_bytes = 0; }),
              HasSubstr("config key server.grpc_server_max_recv_msg_size"));
  EXPECT_THAT(error_of([](Config& c) { c.otlp_grpc_max_recv_msg_bytes = 8ull << 30; }),
              HasSubstr("max_recv_msg_size_mib"));
  EXPECT_THAT(error_of([](Config& c) { c.http_max_body_bytes = 0; }), HasSubstr("max_request_body_size"));
  EXPECT_THAT(error_of([](Config& c) { c.log_level = "trace"; }), HasSubstr("config key server.log_level"));
  EXPECT_THAT(error_of([](Config& c) { c.http_listen_port = 4317; }),
              HasSubstr("config keys server.http_listen_port and "
                        "distributor.receivers.otlp.protocols.grpc.endpoint: both listen on port 4317"));
  EXPECT_THAT(error_of([](Config& c) {
                c.otlp_http = {"127.0.0.1", 4317};
              }),
              HasSubstr("both listen on port 4317"));
  EXPECT_THAT(error_of([](Config& c) { c.storage_backend = "gcs"; }),
              HasSubstr("config key storage.trace.backend: \"gcs\" is not supported yet"));
  EXPECT_THAT(error_of([](Config& c) { c.wal_path = ""; }), HasSubstr("config key storage.trace.wal.path"));
  EXPECT_THAT(error_of([](Config& c) { c.blocks_path = " "; }),
              HasSubstr("config key storage.trace.local.path"));
  EXPECT_THAT(error_of([](Config& c) { c.wal_ack = "fsync"; }), HasSubstr("config key spindle.wal.ack"));
  EXPECT_THAT(error_of([](Config& c) { c.wal_segment_bytes = (1 << 20) - 1; }),
              HasSubstr("config key spindle.wal.segment_size"));
  EXPECT_THAT(error_of([](Config& c) { c.wal_segment_bytes = (1ull << 30) + 1; }),
              HasSubstr("config key spindle.wal.segment_size"));
  EXPECT_THAT(error_of([](Config& c) { c.wal_sync_bytes = 0; }),
              HasSubstr("config key spindle.wal.sync_bytes"));
  EXPECT_THAT(error_of([](Config& c) { c.wal_sync_interval_ms = 0; }),
              HasSubstr("config key spindle.wal.sync_interval: must be at least 1ms"));
  EXPECT_THAT(error_of([](Config& c) { c.trace_idle_period_ms = 0; }),
              HasSubstr("config key ingester.trace_idle_period"));
  EXPECT_THAT(error_of([](Config& c) { c.max_trace_live_ms = 0; }),
              HasSubstr("config key ingester.max_block_duration"));
  EXPECT_THAT(error_of([](Config& c) { c.flush_check_period_ms = 0; }),
              HasSubstr("config key ingester.flush_check_period"));
  EXPECT_THAT(error_of([](Config& c) { c.block_retention_ms = 0; }),
              HasSubstr("config key compactor.compaction.block_retention"));
  EXPECT_THAT(error_of([](Config& c) { c.compaction_window_ms = 0; }),
              HasSubstr("config key compactor.compaction.compaction_window"));
  EXPECT_THAT(error_of([](Config& c) { c.compaction_inputs = 65; }),
              HasSubstr("config key spindle.compaction.inputs: 65 is not between 2 and 64"));
}

TEST(ValidateConfigTest, AcceptsBoundaryValuesAndDisjointListeners) {
  Config c;
  c.shards = 256;
  c.head_max_bytes = 1 << 20;
  c.read_timeout_ms = 1;
  c.wal_segment_bytes = 1 << 20;
  c.wal_sync_bytes = 1;
  c.wal_sync_interval_ms = 1;
  c.compaction_inputs = 2;
  EXPECT_TRUE(validate_config(c).is_ok());
  c.wal_segment_bytes = 1 << 30;
  c.compaction_inputs = 64;
  c.wal_ack = "written";
  EXPECT_TRUE(validate_config(c).is_ok());
  c.http_listen_port = 0;
  c.otlp_grpc.port = 0;
  c.otlp_http.port = 0;
  EXPECT_TRUE(validate_config(c).is_ok()) << "port 0 listeners never collide";
  c.otlp_grpc = {"127.0.0.1", 5000};
  c.otlp_http = {"127.0.0.2", 5000};
  EXPECT_TRUE(validate_config(c).is_ok()) << "same port on different addresses";
}

TEST(ConfigWarningsTest, LogsIgnoredKeysAndReceivers) {
  std::string path = ::testing::TempDir() + "spindle_config_log_XXXXXX";
  std::vector<char> buf(path.begin(), path.end());
  buf.push_back('\0');
  int fd = mkstemp(buf.data());
  ASSERT_GE(fd, 0);
  set_log_fd(fd);
  Config c =
      parse_ok("ingester:\n  lifecycler: {}\ndistributor:\n  receivers:\n    jaeger: {}\n    zipkin: {}\n");
  log_config_warnings(c);
  log_config_warnings(Config{});  // nothing to say
  set_log_fd(2);
  std::string out = read_file(buf.data());
  close(fd);
  unlink(buf.data());
  EXPECT_THAT(out, HasSubstr("level=warn"));
  EXPECT_THAT(
      out, HasSubstr("keys=ingester.lifecycler,distributor.receivers.jaeger,distributor.receivers.zipkin"));
  EXPECT_THAT(out, HasSubstr("receivers=jaeger,zipkin"));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2);
}

}  // namespace
}  // namespace spindle
