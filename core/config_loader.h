#pragma once
// Builds the immutable Config from command-line flags and a Tempo-compatible YAML file. Control plane only:
// runs once in main before any shard starts (single-threaded; getenv is read during expansion).
//
// Order: flags are parsed first (to find -config.file and -config.expand-env), then the file (or, without
// -config.file, the embedded default kDefaultConfigYaml) is applied onto Config{} defaults, then the
// remaining flags are applied over it, then validate_config() runs.
//
// YAML is checked strictly, like Tempo: every key must be known. The schema (config_loader.cc, kSchema) lists
// each key path with one of three kinds:
//   implemented - parsed into a Config field; a bad value is an error naming the key and the value;
//   ignored     - a Tempo key (or a whole subtree) we accept but do not act on yet; its dotted path is added
//   to
//                 Config::ignored_keys, which the server logs once at start (log_config_warnings);
//   silent      - accepted with no effect and no warning, because Spindle already behaves that way
//                 (e.g. stream_over_http_enabled: Spindle always serves gRPC streaming on the HTTP port).
// An unknown key is an error: `config file x.yaml: unknown key "server.http_listen_prot" at line 3`.
// A null value (`key:` with nothing after it) keeps the default.
//
// Value syntax:
//   durations  Go/Prometheus style `500ms`, `30s`, `5m`, `336h`, `1h30m`, `1.5h`, `2d`, `1w` (units ns us µs
//   ms
//              s m h d w y), or a plain integer meaning seconds. Stored in milliseconds, sub-ms parts
//              truncated.
//   sizes      bytes as an integer (`1_000_000` allowed), or suffixed: `64KiB` `20MiB` `1GiB` (powers of
//   1024),
//              `64KB` `1GB` `1k` `1m` (powers of 1000, as Go's humanize.ParseBytes); case-insensitive.
//   endpoints  `host:port`, `:port` (all interfaces) or `[::]:port` (taken as all interfaces; other IPv6
//              addresses are rejected until the network layer supports them). Port 0-65535.
//
// Environment expansion (only with -config.expand-env=true, applied to the whole file text before YAML
// parsing, like Tempo): `${VAR}` and `$VAR` expand to the variable's value; a variable that is unset expands
// to the empty string (Tempo's and envsubst's behaviour). `${VAR:-default}` (shell style) and
// `${VAR:default}` (Tempo's style) give the default when VAR is unset or empty. A `$` not followed by a name
// or `{` is kept as is; an unterminated `${` is an error.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/result.h"

namespace spindle {

// Parses flags (argv), reads the YAML file named by -config.file / --config.file, expands ${VAR} and
// ${VAR:-default} when -config.expand-env=true, applies the file, then flags over it, then validates.
// With -help, returns defaults with help=true without reading any file.
Result<Config> load_config(int argc, const char* const* argv);

// For tests and for the embedded default: parses YAML text (expansion optional) onto `base`.
// Does not validate.
Result<Config> parse_config_yaml(std::string_view yaml, bool expand_env, Config base = Config{});

// Checks values that are each well-formed but not usable (together); each error names the key.
Status validate_config(const Config& config);

// Text for -help.
std::string config_usage();

// Logs one warning listing Config::ignored_keys (nothing when empty). Call after set_log_level().
void log_config_warnings(const Config& config);

// Value parsers shared with anything else that reads human-written durations and sizes. Errors are
// InvalidArgument with the value quoted, e.g. `"5x" is not a duration (like 30s, 5m, 1h30m)`.
Result<uint64_t> parse_duration_ms(std::string_view text);
Result<uint64_t> parse_size_bytes(std::string_view text);
Result<Endpoint> parse_endpoint(std::string_view text);
// Environment expansion as described above.
Result<std::string> expand_env(std::string_view text);

}  // namespace spindle
