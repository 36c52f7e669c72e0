#include "core/config_loader.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "core/default_config.h"
#include "core/log.h"

namespace spindle {
namespace {

// ---- Value parsers (each returns the tail of an error message; the caller prefixes the key) ----

std::string quoted(std::string_view v) { return "\"" + std::string(v) + "\""; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

// Decimal digits only (underscores between digits allowed when asked: YAML 1.1 writes 1_000_000).
std::optional<uint64_t> parse_decimal(std::string_view s, bool allow_underscores) {
  if (s.empty() || !is_digit(s.front()) || !is_digit(s.back())) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c == '_' && allow_underscores) continue;
    if (!is_digit(c)) return std::nullopt;
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, uint64_t(c - '0'), &v)) {
      return std::nullopt;
    }
  }
  return v;
}

Result<uint64_t> parse_count(std::string_view text, uint64_t max, std::string_view what) {
  auto v = parse_decimal(trim(text), false);
  if (!v || *v > max) {
    return invalid_argument(quoted(text) + " is not " + std::string(what));
  }
  return *v;
}

Result<uint16_t> parse_port(std::string_view text) {
  auto v = parse_decimal(trim(text), false);
  if (!v || *v > 65535) {
    return invalid_argument(quoted(text) + " is not a port number (0-65535)");
  }
  return static_cast<uint16_t>(*v);
}

// A host part: an IPv4 address or a DNS name. Resolution is the network layer's job.
bool valid_host(std::string_view h) {
  if (h.size() > 253) return false;
  for (char c : h) {
    if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '-' && c != '_') return false;
  }
  return true;
}

// Splits "<number><unit>" at the start of `s`; the number may have a fraction. Returns false if there is no
// number.
bool take_number(std::string_view& s, long double& value, bool& has_fraction) {
  size_t i = 0;
  long double v = 0;
  bool digits = false;
  while (i < s.size() && is_digit(s[i])) {
    v = v * 10 + (s[i] - '0');
    digits = true;
    ++i;
  }
  has_fraction = false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    long double scale = 0.1L;
    while (i < s.size() && is_digit(s[i])) {
      v += (s[i] - '0') * scale;
      scale /= 10;
      digits = true;
      has_fraction = true;
      ++i;
    }
  }
  if (!digits) return false;
  value = v;
  s.remove_prefix(i);
  return true;
}

std::optional<long double> duration_unit_ms(std::string_view unit) {
  struct Unit {
    std::string_view name;
    long double ms;
  };
  static constexpr Unit kUnits[] = {
      {"ns", 1e-6L},   {"us", 1e-3L},    {"\xC2\xB5s", 1e-3L}, {"\xCE\xBCs", 1e-3L},
      {"ms", 1},       {"s", 1000},      {"m", 60000},         {"h", 3600000},
      {"d", 86400000}, {"w", 604800000}, {"y", 31536000000.0L}};
  for (const Unit& u : kUnits) {
    if (u.name == unit) return u.ms;
  }
  return std::nullopt;
}

std::optional<uint64_t> size_unit_multiplier(std::string_view unit) {
  struct Unit {
    std::string_view name;
    uint64_t mult;
  };
  static constexpr Unit kUnits[] = {{"", 1},
                                    {"b", 1},
                                    {"k", 1000},
                                    {"kb", 1000},
                                    {"m", 1000000},
                                    {"mb", 1000000},
                                    {"g", 1000000000},
                                    {"gb", 1000000000},
                                    {"t", 1000000000000ull},
                                    {"tb", 1000000000000ull},
                                    {"ki", 1ull << 10},
                                    {"kib", 1ull << 10},
                                    {"mi", 1ull << 20},
                                    {"mib", 1ull << 20},
                                    {"gi", 1ull << 30},
                                    {"gib", 1ull << 30},
                                    {"ti", 1ull << 40},
                                    {"tib", 1ull << 40}};
  std::string lower;
  for (char c : unit) lower.push_back(to_lower(c));
  for (const Unit& u : kUnits) {
    if (u.name == lower) return u.mult;
  }
  return std::nullopt;
}

// ---- Schema ----

using ApplyFn = Status (*)(Config&, std::string_view);

enum class KeyKind { Implemented, Ignored, Silent };

struct KeySpec {
  std::string_view path;  // dotted; a "*" segment matches any key
  KeyKind kind;
  ApplyFn apply = nullptr;  // Implemented only
  const char* quiet =
      nullptr;  // Ignored only: this scalar value means "what Spindle does anyway": no warning
};

#define SPINDLE_APPLY_(field, parser)             \
  [](Config& c, std::string_view v) -> Status {   \
    SPINDLE_ASSIGN_OR_RETURN(c.field, parser(v)); \
    return Status::ok();                          \
  }

Result<uint32_t> parse_shards(std::string_view v) {
  SPINDLE_ASSIGN_OR_RETURN(uint64_t n, parse_count(v, UINT32_MAX, "a shard count (0 = one per core)"));
  return static_cast<uint32_t>(n);
}

Result<std::string> parse_level_name(std::string_view v) {
  SPINDLE_ASSIGN_OR_RETURN(LogLevel level, parse_log_level(trim(v)));
  return std::string(log_level_name(level));
}

Result<std::string> parse_listen_address(std::string_view v) {
  std::string_view h = trim(v);
  if (!valid_host(h)) {
    return invalid_argument(quoted(v) + " is not an IPv4 address or host name");
  }
  return std::string(h);
}

Result<uint64_t> parse_mib(std::string_view v) {
  SPINDLE_ASSIGN_OR_RETURN(uint64_t mib, parse_count(v, UINT64_MAX >> 20, "a whole number of MiB"));
  return mib << 20;
}

// Shared by the parser and validate_config so a file and a programmatic Config get the same message.
std::string unsupported_backend(std::string_view backend) {
  return quoted(backend) + " is not supported yet; Spindle stores blocks on local disk (backend: local)";
}

// Only "local" is served: accepting s3/gcs/azure would start a server that keeps traces somewhere the user
// did not ask for. Compared exactly, as Tempo does.
Result<std::string> parse_backend(std::string_view v) {
  std::string_view b = trim(v);
  if (b != "local") return invalid_argument(unsupported_backend(b));
  return std::string(b);
}

// A directory. Relative paths stay relative (to the working directory); existence is checked when the
// storage opens it, where the error can say which operation failed.
Result<std::string> parse_dir_path(std::string_view v) {
  std::string_view p = trim(v);
  if (p.empty()) return invalid_argument(quoted(v) + " is not a directory path (it is empty)");
  return std::string(p);
}

bool valid_wal_ack(std::string_view v) { return v == "synced" || v == "written" || v == "none"; }

Result<std::string> parse_wal_ack(std::string_view v) {
  std::string lower;
  for (char c : trim(v)) lower.push_back(to_lower(c));
  if (!valid_wal_ack(lower)) {
    return invalid_argument(quoted(v) + " is not a WAL ack mode (synced, written or none)");
  }
  return lower;
}

// The 2..64 range is checked in validate_config, like the other bounds, so flags and files share it.
Result<uint32_t> parse_compaction_inputs(std::string_view v) {
  SPINDLE_ASSIGN_OR_RETURN(uint64_t n, parse_count(v, UINT32_MAX, "a block count (2-64)"));
  return static_cast<uint32_t>(n);
}

const std::vector<KeySpec>& schema() {
  using K = KeyKind;
  static const std::vector<KeySpec> kSchema = {
      // Ours.
      {"spindle.shards", K::Implemented, SPINDLE_APPLY_(shards, parse_shards)},
      {"spindle.head.max_bytes", K::Implemented, SPINDLE_APPLY_(head_max_bytes, parse_size_bytes)},
      {"spindle.shutdown_timeout", K::Implemented, SPINDLE_APPLY_(shutdown_timeout_ms, parse_duration_ms)},
      {"spindle.wal.ack", K::Implemented, SPINDLE_APPLY_(wal_ack, parse_wal_ack)},
      {"spindle.wal.segment_size", K::Implemented, SPINDLE_APPLY_(wal_segment_bytes, parse_size_bytes)},
      {"spindle.wal.sync_bytes", K::Implemented, SPINDLE_APPLY_(wal_sync_bytes, parse_size_bytes)},
      {"spindle.wal.sync_interval", K::Implemented, SPINDLE_APPLY_(wal_sync_interval_ms, parse_duration_ms)},
      {"spindle.compaction.inputs", K::Implemented,
       SPINDLE_APPLY_(compaction_inputs, parse_compaction_inputs)},

      // Tempo top level.
      {"target", K::Ignored, nullptr, "all"},
      {"http_api_prefix", K::Ignored, nullptr, ""},
      {"multitenancy_enabled", K::Ignored, nullptr, "false"},
      {"auth_enabled", K::Ignored, nullptr, "false"},
      {"metrics_generator_enabled", K::Ignored, nullptr, "false"},
      {"use_otel_tracer", K::Ignored, nullptr, "false"},
      {"stream_over_http_enabled", K::Silent},   // always on in Spindle
      {"search_enabled", K::Silent},             // search is always on
      {"enable_go_runtime_metrics", K::Silent},  // no Go runtime
      {"usage_report", K::Silent},               // Spindle never phones home
      {"internal_server", K::Ignored},
      {"ingester_client", K::Ignored},
      {"metrics_generator_client", K::Ignored},
      {"live_store_client", K::Ignored},
      {"backend_scheduler_client", K::Ignored},
      {"querier", K::Ignored},
      {"query_frontend", K::Ignored},
      {"metrics_generator", K::Ignored},
      {"ingest", K::Ignored},
      {"block_builder", K::Ignored},
      {"backend_scheduler", K::Ignored},
      {"backend_worker", K::Ignored},
      {"live_store", K::Ignored},
      {"memberlist", K::Ignored},
      {"cache", K::Ignored},

      // server (dskit server.Config).
      {"server.http_listen_address", K::Implemented,
       SPINDLE_APPLY_(http_listen_address, parse_listen_address)},
      {"server.http_listen_port", K::Implemented, SPINDLE_APPLY_(http_listen_port, parse_port)},
      {"server.log_level", K::Implemented, SPINDLE_APPLY_(log_level, parse_level_name)},
      {"server.http_server_read_timeout", K::Implemented, SPINDLE_APPLY_(read_timeout_ms, parse_duration_ms)},
      {"server.http_server_write_timeout", K::Implemented,
       SPINDLE_APPLY_(write_timeout_ms, parse_duration_ms)},
      {"server.http_server_idle_timeout", K::Implemented, SPINDLE_APPLY_(idle_timeout_ms, parse_duration_ms)},
      {"server.grpc_server_max_recv_msg_size", K::Implemented,
       SPINDLE_APPLY_(grpc_max_recv_msg_bytes, parse_size_bytes)},
      // Same meaning as spindle.shutdown_timeout; whichever comes last in the file wins.
      {"server.graceful_shutdown_timeout", K::Implemented,
       SPINDLE_APPLY_(shutdown_timeout_ms, parse_duration_ms)},
      {"server.log_format", K::Ignored, nullptr, "logfmt"},
      {"server.register_instrumentation", K::Ignored, nullptr, "true"},
      {"server.http_listen_network", K::Ignored, nullptr, "tcp"},
      {"server.grpc_listen_network", K::Ignored, nullptr, "tcp"},
      {"server.http_listen_conn_limit", K::Ignored, nullptr, "0"},
      {"server.http_path_prefix", K::Ignored, nullptr, ""},
      {"server.grpc_listen_address", K::Ignored},
      {"server.grpc_listen_port", K::Ignored},
      {"server.grpc_listen_conn_limit", K::Ignored},
      {"server.grpc_collect_max_streams_by_conn", K::Ignored},
      {"server.proxy_protocol_enabled", K::Ignored},
      {"server.tls_cipher_suites", K::Ignored},
      {"server.tls_min_version", K::Ignored},
      {"server.http_tls_config", K::Ignored},
      {"server.grpc_tls_config", K::Ignored},
      {"server.report_grpc_codes_in_instrumentation_label_enabled", K::Ignored},
      {"server.http_server_read_header_timeout", K::Ignored},
      {"server.http_log_closed_connections_without_response_enabled", K::Ignored},
      {"server.grpc_server_max_send_msg_size", K::Ignored},
      {"server.grpc_server_max_concurrent_streams", K::Ignored},
      {"server.grpc_server_max_connection_idle", K::Ignored},
      {"server.grpc_server_max_connection_age", K::Ignored},
      {"server.grpc_server_max_connection_age_grace", K::Ignored},
      {"server.grpc_server_keepalive_time", K::Ignored},
      {"server.grpc_server_keepalive_timeout", K::Ignored},
      {"server.grpc_server_min_time_between_pings", K::Ignored},
      {"server.grpc_server_ping_without_stream_allowed", K::Ignored},
      {"server.grpc_server_num_workers", K::Ignored},
      {"server.grpc_server_num_stream_workers", K::Ignored},
      {"server.grpc_server_stats_tracking_enabled", K::Ignored},
      {"server.grpc_server_recv_buffer_pools_enabled", K::Ignored},
      {"server.log_source_ips_enabled", K::Ignored},
      {"server.log_source_ips_full", K::Ignored},
      {"server.log_source_ips_header", K::Ignored},
      {"server.log_source_ips_regex", K::Ignored},
      {"server.log_request_headers", K::Ignored},
      {"server.log_request_at_info_level_enabled", K::Ignored},
      {"server.log_request_exclude_headers_list", K::Ignored},
      {"server.trace_request_headers", K::Ignored},
      {"server.trace_request_exclude_headers_list", K::Ignored},
      {"server.cluster_validation", K::Ignored},

      // ingester, compactor, storage: the keys Spindle acts on, each subtree's other Tempo keys ignored. A
      // section must not also be listed as a key of its own: an exact entry wins in classify(), which would
      // swallow the whole subtree, implemented keys included. "x.*" matches only direct children of x.
      {"ingester.trace_idle_period", K::Implemented, SPINDLE_APPLY_(trace_idle_period_ms, parse_duration_ms)},
      {"ingester.max_block_duration", K::Implemented, SPINDLE_APPLY_(max_trace_live_ms, parse_duration_ms)},
      {"ingester.flush_check_period", K::Implemented,
       SPINDLE_APPLY_(flush_check_period_ms, parse_duration_ms)},
      // lifecycler, max_block_bytes, complete_block_timeout, concurrent_flushes, ...
      {"ingester.*", K::Ignored},
      {"compactor.compaction.block_retention", K::Implemented,
       SPINDLE_APPLY_(block_retention_ms, parse_duration_ms)},
      {"compactor.compaction.compaction_window", K::Implemented,
       SPINDLE_APPLY_(compaction_window_ms, parse_duration_ms)},
      {"compactor.compaction.*", K::Ignored},  // compacted_block_retention, max_block_bytes, ...
      {"compactor.*", K::Ignored},             // ring, disabled, override_ring_key
      // storage holds only `trace` in Tempo, and trace.local only `path`: no wildcard there, so a typo in
      // them is an unknown-key error rather than a warning.
      {"storage.trace.backend", K::Implemented, SPINDLE_APPLY_(storage_backend, parse_backend)},
      {"storage.trace.wal.path", K::Implemented, SPINDLE_APPLY_(wal_path, parse_dir_path)},
      {"storage.trace.wal.*", K::Ignored},  // v2_encoding, search_encoding, ingestion_time_range_slack, ...
      {"storage.trace.local.path", K::Implemented, SPINDLE_APPLY_(blocks_path, parse_dir_path)},
      {"storage.trace.*", K::Ignored},  // s3, gcs, azure, block, pool, blocklist_poll, cache, search, ...

      // distributor.
      {"distributor.receivers.otlp.protocols.grpc.endpoint", K::Implemented,
       SPINDLE_APPLY_(otlp_grpc, parse_endpoint)},
      {"distributor.receivers.otlp.protocols.grpc.max_recv_msg_size_mib", K::Implemented,
       SPINDLE_APPLY_(otlp_grpc_max_recv_msg_bytes, parse_mib)},
      {"distributor.receivers.otlp.protocols.grpc.transport", K::Ignored, nullptr, "tcp"},
      {"distributor.receivers.otlp.protocols.grpc.include_metadata", K::Ignored, nullptr, "false"},
      {"distributor.receivers.otlp.protocols.grpc.tls", K::Ignored},
      {"distributor.receivers.otlp.protocols.grpc.max_concurrent_streams", K::Ignored},
      {"distributor.receivers.otlp.protocols.grpc.read_buffer_size", K::Ignored},
      {"distributor.receivers.otlp.protocols.grpc.write_buffer_size", K::Ignored},
      {"distributor.receivers.otlp.protocols.grpc.keepalive", K::Ignored},
      {"distributor.receivers.otlp.protocols.grpc.auth", K::Ignored},
      {"distributor.receivers.otlp.protocols.http.endpoint", K::Implemented,
       SPINDLE_APPLY_(otlp_http, parse_endpoint)},
      {"distributor.receivers.otlp.protocols.http.max_request_body_size", K::Implemented,
       SPINDLE_APPLY_(http_max_body_bytes, parse_size_bytes)},
      {"distributor.receivers.otlp.protocols.http.traces_url_path", K::Ignored, nullptr, "/v1/traces"},
      {"distributor.receivers.otlp.protocols.http.include_metadata", K::Ignored, nullptr, "false"},
      {"distributor.receivers.otlp.protocols.http.metrics_url_path", K::Silent},  // traces only
      {"distributor.receivers.otlp.protocols.http.logs_url_path", K::Silent},
      {"distributor.receivers.otlp.protocols.http.tls", K::Ignored},
      {"distributor.receivers.otlp.protocols.http.cors", K::Ignored},
      {"distributor.receivers.otlp.protocols.http.auth", K::Ignored},
      {"distributor.receivers.otlp.protocols.http.response_headers", K::Ignored},
      {"distributor.receivers.otlp.protocols.http.compression_algorithms", K::Ignored},
      {"distributor.receivers.otlp.protocols.http.read_timeout", K::Ignored},
      {"distributor.receivers.otlp.protocols.http.read_header_timeout", K::Ignored},
      {"distributor.receivers.otlp.protocols.http.write_timeout", K::Ignored},
      {"distributor.receivers.otlp.protocols.http.idle_timeout", K::Ignored},
      {"distributor.receivers.otlp.protocols.http.keep_alives_enabled", K::Ignored},
      // Receivers Spindle does not serve yet: their ports are not bound.
      {"distributor.receivers.jaeger", K::Ignored},
      {"distributor.receivers.zipkin", K::Ignored},
      {"distributor.receivers.opencensus", K::Ignored},
      {"distributor.receivers.kafka", K::Ignored},
      {"distributor.ring", K::Ignored},
      {"distributor.override_ring_key", K::Ignored},
      {"distributor.forwarders", K::Ignored},
      {"distributor.usage", K::Ignored},
      {"distributor.ingester_write_path_enabled", K::Ignored},
      {"distributor.kafka_write_path_enabled", K::Ignored},
      {"distributor.kafka_config", K::Ignored},
      {"distributor.extend_writes", K::Ignored},
      {"distributor.retry_after_on_resource_exhausted", K::Ignored},
      {"distributor.max_attribute_bytes", K::Ignored},
      {"distributor.log_received_spans", K::Ignored},
      {"distributor.log_discarded_spans", K::Ignored},
      {"distributor.metric_received_spans", K::Ignored},
      {"distributor.log_received_traces", K::Ignored},
      {"distributor.search_tags_deny_list", K::Ignored},

      // overrides: new-style defaults and the legacy flat form (2.x), plus per-tenant files.
      {"overrides.defaults.global.max_bytes_per_trace", K::Implemented,
       SPINDLE_APPLY_(max_bytes_per_trace, parse_size_bytes)},
      {"overrides.max_bytes_per_trace", K::Implemented,
       SPINDLE_APPLY_(max_bytes_per_trace, parse_size_bytes)},
      {"overrides.defaults.*", K::Ignored},
      {"overrides.*", K::Ignored},
  };
  return kSchema;
}

#undef SPINDLE_APPLY_

enum class Match { None, Equal, Wildcard, Section };

// How `spec` relates to the key `path` (both dotted).
Match match_spec(std::string_view spec, std::string_view path) {
  bool wild = false;
  while (true) {
    size_t s_end = spec.find('.');
    size_t p_end = path.find('.');
    std::string_view s = spec.substr(0, s_end);
    std::string_view p = path.substr(0, p_end);
    if (s == "*") {
      wild = true;
    } else if (s != p) {
      return Match::None;
    }
    bool s_last = s_end == std::string_view::npos;
    bool p_last = p_end == std::string_view::npos;
    if (p_last) {
      return s_last ? (wild ? Match::Wildcard : Match::Equal) : Match::Section;
    }
    if (s_last) {
      return Match::None;
    }
    spec.remove_prefix(s_end + 1);
    path.remove_prefix(p_end + 1);
  }
}

struct Lookup {
  enum class Kind { Unknown, Section, Key } kind = Kind::Unknown;
  const KeySpec* spec = nullptr;
};

// An exact entry wins over a section, which wins over a wildcard (so "overrides.defaults" is a section even
// though "overrides.*" would match it).
Lookup classify(std::string_view path) {
  const KeySpec* wildcard = nullptr;
  bool section = false;
  for (const KeySpec& spec : schema()) {
    switch (match_spec(spec.path, path)) {
      case Match::Equal:
        return {Lookup::Kind::Key, &spec};
      case Match::Section:
        section = true;
        break;
      case Match::Wildcard:
        if (!wildcard) wildcard = &spec;
        break;
      case Match::None:
        break;
    }
  }
  if (section) return {Lookup::Kind::Section, nullptr};
  if (wildcard) return {Lookup::Kind::Key, wildcard};
  return {};
}

// ---- YAML walk ----

std::string at_line(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return "";
  return " at line " + std::to_string(mark.line + 1);
}

void add_ignored(Config& c, std::string key) {
  for (const std::string& k : c.ignored_keys) {
    if (k == key) return;
  }
  c.ignored_keys.push_back(std::move(key));
}

class YamlApplier {
 public:
  YamlApplier(Config& config, std::string_view source) : config_(config), source_(source) {}

  Status apply_root(const YAML::Node& root) {
    if (root.IsNull()) return Status::ok();
    if (!root.IsMap()) {
      return file_error("the top level must be a mapping of settings");
    }
    return walk_map(root, "");
  }

 private:
  Status file_error(const std::string& msg) {
    return invalid_argument(
        (source_.empty() ? std::string("config") : "config file " + std::string(source_)) + ": " + msg);
  }

  Status walk_map(const YAML::Node& map, const std::string& prefix) {
    std::vector<std::string> seen;
    for (const auto& entry : map) {  // `it->first` would bind to a temporary proxy
      const YAML::Node& key = entry.first;
      if (!key.IsScalar()) {
        return file_error("keys must be plain names" + std::string(prefix.empty() ? "" : " under ") + prefix +
                          at_line(key.Mark()));
      }
      std::string path = prefix.empty() ? key.Scalar() : prefix + "." + key.Scalar();
      for (const std::string& s : seen) {
        if (s == key.Scalar()) {
          return file_error("duplicate key " + quoted(path) + at_line(key.Mark()));
        }
      }
      seen.push_back(key.Scalar());
      SPINDLE_RETURN_IF_ERROR(apply_node(path, entry.second, key.Mark()));
    }
    return Status::ok();
  }

  Status apply_node(const std::string& path, const YAML::Node& value, const YAML::Mark& mark) {
    Lookup l = classify(path);
    switch (l.kind) {
      case Lookup::Kind::Unknown:
        return file_error("unknown key " + quoted(path) + at_line(mark));
      case Lookup::Kind::Section:
        if (value.IsNull()) return Status::ok();
        if (!value.IsMap()) {
          return invalid_argument("config key " + path + ": expected a mapping of settings" + where(mark));
        }
        return walk_map(value, path);
      case Lookup::Kind::Key:
        break;
    }
    const KeySpec& spec = *l.spec;
    switch (spec.kind) {
      case KeyKind::Silent:
        return Status::ok();
      case KeyKind::Ignored:
        if (spec.quiet && (value.IsNull() || (value.IsScalar() && iequals(value.Scalar(), spec.quiet)))) {
          return Status::ok();
        }
        add_ignored(config_, path);
        return Status::ok();
      case KeyKind::Implemented:
        if (value.IsNull()) return Status::ok();  // `key:` with no value keeps the default
        if (!value.IsScalar()) {
          return invalid_argument("config key " + path + ": expected a single value, not a list or mapping" +
                                  where(mark));
        }
        Status s = spec.apply(config_, value.Scalar());
        if (!s.is_ok()) {
          return invalid_argument("config key " + path + ": " + s.message() + where(mark));
        }
        return Status::ok();
    }
    return Status::ok();
  }

  // Where a bad value is, for messages that start with the key rather than the file.
  std::string where(const YAML::Mark& mark) const {
    if (source_.empty()) return at_line(mark);
    std::string line = at_line(mark);
    return line.empty() ? " in " + std::string(source_) : line + " of " + std::string(source_);
  }

  Config& config_;
  std::string_view source_;
};

Result<Config> parse_yaml_source(std::string_view yaml, bool expand, Config base, std::string_view source) {
  std::string expanded;
  if (expand) {
    auto e = expand_env(yaml);
    if (!e.ok()) {
      return invalid_argument(
          (source.empty() ? std::string("config") : "config file " + std::string(source)) + ": " +
          e.status().message());
    }
    expanded = std::move(e).value();
    yaml = expanded;
  }
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    SPINDLE_RETURN_IF_ERROR(YamlApplier(base, source).apply_root(root));
  } catch (const YAML::Exception& e) {
    return invalid_argument((source.empty() ? std::string("config") : "config file " + std::string(source)) +
                            ": invalid YAML" + at_line(e.mark) + ": " + e.msg);
  } catch (const std::exception& e) {
    return invalid_argument((source.empty() ? std::string("config") : "config file " + std::string(source)) +
                            ": " + e.what());
  }
  return base;
}

// ---- Flags ----

// Flags reuse the YAML keys' parsers so a value means the same thing in both places.
ApplyFn schema_apply(std::string_view path) {
  for (const KeySpec& spec : schema()) {
    if (spec.path == path) return spec.apply;
  }
  return nullptr;
}

enum class FlagKind { ConfigFile, ExpandEnv, Help, Value, Ignored };

struct FlagSpec {
  std::string_view name;
  FlagKind kind;
  ApplyFn apply;  // Value only
  std::string_view value_hint;
  std::string_view help;
};

const std::vector<FlagSpec>& flags() {
  using F = FlagKind;
  static const std::vector<FlagSpec> kFlags = {
      {"config.file", F::ConfigFile, nullptr, "FILE",
       "YAML configuration file (Tempo's format); without it the embedded default is used"},
      {"config.expand-env", F::ExpandEnv, nullptr, "BOOL",
       "expand ${VAR}, ${VAR:-default} and $VAR in the file from the environment (unset = empty)"},
      {"shards", F::Value, schema_apply("spindle.shards"), "N",
       "spindle.shards: worker threads, 0 = one per core"},
      {"server.http-listen-port", F::Value, schema_apply("server.http_listen_port"), "PORT",
       "server.http_listen_port: query API, gRPC streaming and admin port"},
      {"server.http-listen-address", F::Value, schema_apply("server.http_listen_address"), "ADDR",
       "server.http_listen_address: \"\" = all interfaces"},
      {"otlp.grpc-endpoint", F::Value, schema_apply("distributor.receivers.otlp.protocols.grpc.endpoint"),
       "HOST:PORT", "distributor.receivers.otlp.protocols.grpc.endpoint"},
      {"otlp.http-endpoint", F::Value, schema_apply("distributor.receivers.otlp.protocols.http.endpoint"),
       "HOST:PORT", "distributor.receivers.otlp.protocols.http.endpoint"},
      {"head.max-bytes", F::Value, schema_apply("spindle.head.max_bytes"), "SIZE",
       "spindle.head.max_bytes: memory for live traces, e.g. 512MiB"},
      {"log.level", F::Value, schema_apply("server.log_level"), "LEVEL",
       "server.log_level: debug, info, warn or error"},
      {"storage.trace.wal.path", F::Value, schema_apply("storage.trace.wal.path"), "DIR",
       "storage.trace.wal.path: write-ahead log directory"},
      {"storage.trace.local.path", F::Value, schema_apply("storage.trace.local.path"), "DIR",
       "storage.trace.local.path: block directory"},
      {"wal.ack", F::Value, schema_apply("spindle.wal.ack"), "synced|written|none",
       "spindle.wal.ack: answer ingest after fdatasync (synced), after the write (written), or without a WAL"},
      {"target", F::Ignored, nullptr, "all",
       "accepted for Tempo compatibility; Spindle always runs everything"},
      {"help", F::Help, nullptr, "", "print this text and exit"},
  };
  return kFlags;
}

const FlagSpec* find_flag(std::string_view name) {
  for (const FlagSpec& f : flags()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// Go's strconv.ParseBool, which Tempo's flag package uses.
std::optional<bool> parse_bool(std::string_view v) {
  for (std::string_view t : {"1", "t", "T", "true", "TRUE", "True"}) {
    if (v == t) return true;
  }
  for (std::string_view f : {"0", "f", "F", "false", "FALSE", "False"}) {
    if (v == f) return false;
  }
  return std::nullopt;
}

struct ParsedFlags {
  std::string config_file;
  bool expand_env = false;
  bool help = false;
  std::vector<std::pair<const FlagSpec*, std::string>> values;  // in command-line order
  std::vector<std::string> ignored;
};

// Go flag syntax: -name=value, --name=value, -name value; booleans may stand alone.
Result<ParsedFlags> parse_flags(int argc, const char* const* argv) {
  ParsedFlags out;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i] ? argv[i] : "";
    if (arg.size() < 2 || arg[0] != '-' || arg == "--") {
      return invalid_argument("unexpected argument " + quoted(arg) +
                              " (flags look like -name=value; see -help)");
    }
    std::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    size_t eq = body.find('=');
    std::string_view name = body.substr(0, eq);
    const FlagSpec* spec = find_flag(name);
    if (!spec) {
      return invalid_argument("unknown flag -" + std::string(name) + " (see -help)");
    }
    bool is_bool = spec->kind == FlagKind::ExpandEnv || spec->kind == FlagKind::Help;
    std::string value;
    if (eq != std::string_view::npos) {
      value = std::string(body.substr(eq + 1));
    } else if (is_bool) {
      value = "true";
    } else if (i + 1 < argc && argv[i + 1]) {
      value = argv[++i];
    } else {
      return invalid_argument("flag -" + std::string(name) + " needs a value (" +
                              std::string(spec->value_hint) + ")");
    }
    std::optional<bool> b;
    if (is_bool && !(b = parse_bool(value))) {
      return invalid_argument("flag -" + std::string(name) + ": " + quoted(value) + " is not true or false");
    }
    switch (spec->kind) {
      case FlagKind::ConfigFile:
        out.config_file = value;
        break;
      case FlagKind::ExpandEnv:
        out.expand_env = *b;
        break;
      case FlagKind::Help:
        out.help = *b;
        break;
      case FlagKind::Value:
        out.values.emplace_back(spec, value);
        break;
      case FlagKind::Ignored:
        if (value != spec->value_hint) out.ignored.push_back("flag -" + std::string(name));
        break;
    }
  }
  return out;
}

Result<std::string> read_config_file(const std::string& path) {
  constexpr size_t kMaxConfigBytes = 16u << 20;  // a config file is small; refuse to slurp a wrong path
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    return invalid_argument("config file " + path + ": " + std::strerror(errno));
  }
  std::string text;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    text.append(buf, n);
    if (text.size() > kMaxConfigBytes) {
      std::fclose(f);
      return invalid_argument("config file " + path + ": larger than 16 MiB");
    }
  }
  bool failed = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (failed) {
    return invalid_argument("config file " + path + ": " + std::strerror(err));
  }
  return text;
}

bool wildcard_host(const std::string& h) { return h.empty() || h == "0.0.0.0"; }

}  // namespace

// ---- Public API ----

Result<uint64_t> parse_duration_ms(std::string_view text) {
  std::string_view s = trim(text);
  auto bad = [&] { return invalid_argument(quoted(text) + " is not a duration (like 30s, 5m, 1h30m)"); };
  if (s.empty()) return bad();
  if (auto secs = parse_decimal(s, false)) {
    uint64_t ms;
    if (__builtin_mul_overflow(*secs, 1000, &ms)) return bad();
    return ms;
  }
  long double total = 0;
  while (!s.empty()) {
    long double v;
    bool fraction;
    if (!take_number(s, v, fraction)) return bad();
    size_t u = 0;
    while (u < s.size() && !is_digit(s[u]) && s[u] != '.') ++u;
    auto unit_ms = duration_unit_ms(s.substr(0, u));
    if (!unit_ms) return bad();
    total += v * *unit_ms;
    s.remove_prefix(u);
  }
  if (total >= 1.8e19L) return bad();
  return static_cast<uint64_t>(total);
}

Result<uint64_t> parse_size_bytes(std::string_view text) {
  std::string_view s = trim(text);
  auto bad = [&] {
    return invalid_argument(quoted(text) + " is not a size (bytes, or like 64KiB, 20MiB, 1GB)");
  };
  if (auto bytes = parse_decimal(s, true)) return *bytes;
  long double v;
  bool fraction;
  std::string_view rest = s;
  if (!take_number(rest, v, fraction)) return bad();
  std::string_view number = s.substr(0, s.size() - rest.size());
  auto mult = size_unit_multiplier(trim(rest));
  if (!mult) return bad();
  if (!fraction) {
    auto whole = parse_decimal(number.substr(0, number.find('.')), false);
    uint64_t out;
    if (!whole || __builtin_mul_overflow(*whole, *mult, &out)) return bad();
    return out;
  }
  long double bytes = v * static_cast<long double>(*mult);
  if (bytes >= 1.8e19L) return bad();
  return static_cast<uint64_t>(bytes);
}

Result<Endpoint> parse_endpoint(std::string_view text) {
  std::string_view s = trim(text);
  auto bad = [&](std::string_view why) {
    return invalid_argument(quoted(text) + " is not an endpoint (" + std::string(why) + ")");
  };
  Endpoint ep;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return bad("expected [address]:port");
    }
    if (s.substr(1, close - 1) != "::") {
      return bad("IPv6 addresses other than [::] are not supported yet");
    }
    ep.host = "0.0.0.0";  // [::] means "all interfaces"; the network layer listens on IPv4 only
    port = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return bad("expected host:port, like 0.0.0.0:4317");
    std::string_view host = s.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return bad("IPv6 addresses must be written as [addr]:port");
    if (!valid_host(host)) return bad("bad host");
    ep.host = std::string(host);
    port = s.substr(colon + 1);
  }
  auto p = parse_decimal(port, false);
  if (!p || *p > 65535) return bad("port must be 0-65535");
  ep.port = static_cast<uint16_t>(*p);
  return ep;
}

Result<std::string> expand_env(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t line = 1;
  auto name_start = [](char c) { return is_alpha(c) || c == '_'; };
  auto name_char = [&](char c) { return name_start(c) || is_digit(c); };
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      line += c == '\n';
      out.push_back(c);
      ++i;
      continue;
    }
    char next = text[i + 1];
    if (next == '{') {
      size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        return invalid_argument("unterminated ${ at line " + std::to_string(line));
      }
      std::string_view body = text.substr(i + 2, close - i - 2);
      size_t colon = body.find(':');
      std::string name(body.substr(0, colon));
      if (name.empty() || !name_start(name[0]) ||
          name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
              std::string::npos) {
        return invalid_argument("bad variable reference \"${" + std::string(body) + "}\" at line " +
                                std::to_string(line));
      }
      const char* v = std::getenv(name.c_str());
      if (colon == std::string_view::npos) {
        out += v ? v : "";
      } else if (v && *v) {
        out += v;
      } else {
        std::string_view def = body.substr(colon + 1);
        if (!def.empty() && def.front() == '-')
          def.remove_prefix(1);  // ${VAR:-x} (shell) or ${VAR:x} (Tempo)
        out += def;
      }
      for (char b : body) line += b == '\n';
      i = close + 1;
    } else if (name_start(next)) {
      size_t end = i + 1;
      while (end < text.size() && name_char(text[end])) ++end;
      std::string name(text.substr(i + 1, end - i - 1));
      const char* v = std::getenv(name.c_str());
      out += v ? v : "";
      i = end;
    } else {
      out.push_back('$');
      ++i;
    }
  }
  return out;
}

Result<Config> parse_config_yaml(std::string_view yaml, bool expand_env, Config base) {
  return parse_yaml_source(yaml, expand_env, std::move(base), "");
}

Result<Config> load_config(int argc, const char* const* argv) {
  SPINDLE_ASSIGN_OR_RETURN(ParsedFlags parsed, parse_flags(argc, argv));
  if (parsed.help) {
    Config c;
    c.help = true;
    return c;
  }
  Config config;
  if (parsed.config_file.empty()) {
    SPINDLE_ASSIGN_OR_RETURN(config,
                             parse_yaml_source(kDefaultConfigYaml, false, Config{}, "<embedded default>"));
  } else {
    SPINDLE_ASSIGN_OR_RETURN(std::string text, read_config_file(parsed.config_file));
    SPINDLE_ASSIGN_OR_RETURN(config,
                             parse_yaml_source(text, parsed.expand_env, Config{}, parsed.config_file));
  }
  for (const auto& [spec, value] : parsed.values) {
    Status s = spec->apply(config, value);
    if (!s.is_ok()) {
      return invalid_argument("flag -" + std::string(spec->name) + ": " + s.message());
    }
  }
  for (std::string& key : parsed.ignored) add_ignored(config, std::move(key));
  config.config_file = parsed.config_file;
  SPINDLE_RETURN_IF_ERROR(validate_config(config));
  return config;
}

Status validate_config(const Config& c) {
  auto key_error = [](std::string_view key, const std::string& msg) {
    return invalid_argument("config key " + std::string(key) + ": " + msg);
  };
  constexpr uint32_t kMaxShards = 256;
  if (c.shards > kMaxShards) {
    return key_error("spindle.shards", std::to_string(c.shards) + " is more than the maximum of 256");
  }
  // A zero period would spin (sync, cut checks) or, for limits, act on every trace at once.
  const std::pair<std::string_view, uint64_t> durations[] = {
      {"server.http_server_read_timeout", c.read_timeout_ms},
      {"server.http_server_write_timeout", c.write_timeout_ms},
      {"server.http_server_idle_timeout", c.idle_timeout_ms},
      {"spindle.shutdown_timeout", c.shutdown_timeout_ms},
      {"spindle.wal.sync_interval", c.wal_sync_interval_ms},
      {"ingester.trace_idle_period", c.trace_idle_period_ms},
      {"ingester.max_block_duration", c.max_trace_live_ms},
      {"ingester.flush_check_period", c.flush_check_period_ms},
      {"compactor.compaction.block_retention", c.block_retention_ms},
      {"compactor.compaction.compaction_window", c.compaction_window_ms},
  };
  for (const auto& [key, ms] : durations) {
    if (ms == 0) return key_error(key, "must be at least 1ms");
  }
  // Repeated here (the parsers check too) because a Config can also be built in code.
  if (c.storage_backend != "local") {
    return key_error("storage.trace.backend", unsupported_backend(c.storage_backend));
  }
  if (trim(c.wal_path).empty()) return key_error("storage.trace.wal.path", "must not be empty");
  if (trim(c.blocks_path).empty()) return key_error("storage.trace.local.path", "must not be empty");
  if (!valid_wal_ack(c.wal_ack)) {
    return key_error("spindle.wal.ack", quoted(c.wal_ack) + " is not a WAL ack mode (synced, written or none)");
  }
  // Below 1MiB nearly every record would roll a segment (each roll costs a file create and a directory
  // fsync); above 1GiB a segment pins too much disk until its last span reaches a block.
  constexpr uint64_t kMinSegmentBytes = 1ull << 20;
  constexpr uint64_t kMaxSegmentBytes = 1ull << 30;
  if (c.wal_segment_bytes < kMinSegmentBytes || c.wal_segment_bytes > kMaxSegmentBytes) {
    return key_error(
        "spindle.wal.segment_size",
        std::to_string(c.wal_segment_bytes) + " bytes is not between 1MiB (1048576) and 1GiB (1073741824)");
  }
  if (c.wal_sync_bytes == 0) return key_error("spindle.wal.sync_bytes", "must be at least 1 byte");
  constexpr uint64_t kMaxSyncIntervalMs = 60000;  // a background sync less often than a minute protects nothing
  if (c.wal_sync_interval_ms > kMaxSyncIntervalMs) {
    return key_error("spindle.wal.sync_interval", std::to_string(c.wal_sync_interval_ms) + "ms is above 1m");
  }
  // Both keep shard-N/ directories: one directory for both would mix segment files and blocks.
  auto normal = [](std::string p) {
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p;
  };
  if (normal(c.wal_path) == normal(c.blocks_path)) {
    return invalid_argument("config keys storage.trace.wal.path and storage.trace.local.path: both are \"" +
                            c.wal_path + "\"; give the WAL and the blocks directories of their own");
  }
  // One input merges nothing; past 64 a single merge holds too many blocks open at once.
  constexpr uint32_t kMinCompactionInputs = 2;
  constexpr uint32_t kMaxCompactionInputs = 64;
  if (c.compaction_inputs < kMinCompactionInputs || c.compaction_inputs > kMaxCompactionInputs) {
    return key_error("spindle.compaction.inputs",
                     std::to_string(c.compaction_inputs) + " is not between 2 and 64");
  }
  constexpr uint64_t kMinHeadBytes = 1u << 20;
  if (c.head_max_bytes < kMinHeadBytes) {
    return key_error("spindle.head.max_bytes",
                     std::to_string(c.head_max_bytes) + " bytes is below the minimum of 1MiB (1048576)");
  }
  // gRPC frames carry a 32-bit length.
  constexpr uint64_t kMaxGrpcMessage = 0xFFFFFFFFull;
  const std::pair<std::string_view, uint64_t> limits[] = {
      {"server.grpc_server_max_recv_msg_size", c.grpc_max_recv_msg_bytes},
      {"distributor.receivers.otlp.protocols.grpc.max_recv_msg_size_mib", c.otlp_grpc_max_recv_msg_bytes},
  };
  for (const auto& [key, bytes] : limits) {
    if (bytes == 0 || bytes > kMaxGrpcMessage) {
      return key_error(key, std::to_string(bytes) + " bytes is not between 1 and 4294967295");
    }
  }
  if (c.http_max_body_bytes == 0) {
    return key_error("distributor.receivers.otlp.protocols.http.max_request_body_size", "must be at least 1");
  }
  if (!parse_log_level(c.log_level).ok()) {
    return key_error("server.log_level",
                     quoted(c.log_level) + " is not a log level (debug, info, warn, error)");
  }
  if (!valid_host(c.http_listen_address)) {
    return key_error("server.http_listen_address", quoted(c.http_listen_address) + " is not a host");
  }
  struct Listener {
    std::string_view key;
    const std::string& host;
    uint16_t port;
  };
  const Listener listeners[] = {
      {"server.http_listen_port", c.http_listen_address, c.http_listen_port},
      {"distributor.receivers.otlp.protocols.grpc.endpoint", c.otlp_grpc.host, c.otlp_grpc.port},
      {"distributor.receivers.otlp.protocols.http.endpoint", c.otlp_http.host, c.otlp_http.port},
  };
  for (size_t i = 0; i < std::size(listeners); ++i) {
    for (size_t j = i + 1; j < std::size(listeners); ++j) {
      const Listener& a = listeners[i];
      const Listener& b = listeners[j];
      bool same_host = wildcard_host(a.host) || wildcard_host(b.host) || a.host == b.host;
      if (a.port != 0 && a.port == b.port && same_host) {
        return invalid_argument("config keys " + std::string(a.key) + " and " + std::string(b.key) +
                                ": both listen on port " + std::to_string(a.port));
      }
    }
  }
  return Status::ok();
}

std::string config_usage() {
  std::string out =
      "Usage: spindle [flags]\n"
      "Spindle reads Tempo's YAML configuration; flags override the file.\n\nFlags (-name=value or "
      "--name=value):\n";
  for (const FlagSpec& f : flags()) {
    std::string left = "  -" + std::string(f.name);
    if (!f.value_hint.empty()) left += "=" + std::string(f.value_hint);
    if (left.size() < 34)
      left.resize(34, ' ');
    else
      left += "  ";
    out += left + std::string(f.help) + "\n";
  }
  out +=
      "\nDurations: 500ms, 30s, 5m, 1h30m (a plain number is seconds). Sizes: bytes, or 64KiB, 20MiB, 1GB.\n"
      "See deploy/config.example.yaml for every key.\n";
  return out;
}

void log_config_warnings(const Config& config) {
  // Mirrors storage's kMaxStoredTraceBytes (core cannot include storage): the head applies the cap either way.
  constexpr uint64_t kMaxStoredTraceBytes = 60ull << 20;
  if (config.max_bytes_per_trace > kMaxStoredTraceBytes) {
    log_fields(LogLevel::Warn,
               "max_bytes_per_trace is above the largest trace a block holds; traces are capped at 60MiB",
               {{"max_bytes_per_trace", std::to_string(config.max_bytes_per_trace)}});
  }
  if (config.ignored_keys.empty()) return;
  std::string keys;
  std::string receivers;
  constexpr std::string_view kReceivers = "distributor.receivers.";
  for (const std::string& k : config.ignored_keys) {
    keys += (keys.empty() ? "" : ",") + k;
    if (k.compare(0, kReceivers.size(), kReceivers) == 0 &&
        k.find('.', kReceivers.size()) == std::string::npos) {
      receivers += (receivers.empty() ? "" : ",") + k.substr(kReceivers.size());
    }
  }
  log_fields(LogLevel::Warn,
             "config keys accepted for Tempo compatibility but not implemented; they have no effect",
             {{"keys", keys}});
  if (!receivers.empty()) {
    log_fields(LogLevel::Warn, "receivers not supported yet; their ports are not opened, send OTLP instead",
               {{"receivers", receivers}});
  }
}

}  // namespace spindle
