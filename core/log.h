#pragma once
// Minimal logger for the control plane (startup, shutdown, listener errors, config warnings). Never call it
// per span or per request on the data path: each line formats a timestamp and makes a write(2) system call.
//
// Line format (logfmt, like Tempo's go-kit logger), one line per call:
//   level=info ts=2026-03-01T12:00:00.123456Z shard=1 msg="listening on 0.0.0.0:3200" addr=0.0.0.0:3200
// `shard=` appears only on threads that called set_log_shard(). Values containing spaces, '=', '"', '\' or
// control characters are double-quoted with Go-style escapes (\" \\ \n \r \t \xNN); msg is always quoted.
// Lines longer than kMaxLogLineBytes are truncated and end in "...".
//
// Threads: every function may be called from any thread. set_log_level()/set_log_fd() are meant to be called
// once at start, before other threads log; later calls are safe but lines already being written may go to the
// old fd. Each line is one write(2) call, so lines from different threads never interleave (stderr is a pipe
// or a tty or an O_APPEND file in every supported deployment).
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "core/result.h"

namespace spindle {

enum class LogLevel : int { Debug = 0, Info = 1, Warn = 2, Error = 3 };

inline constexpr size_t kMaxLogLineBytes = 8192;

// "debug" | "info" | "warn" | "error" (what server.log_level accepts).
Result<LogLevel> parse_log_level(std::string_view name);
std::string_view log_level_name(LogLevel level);

void set_log_level(LogLevel level);
LogLevel log_level();
// Where lines go (default 2 = stderr). Tests point it at a temporary file.
void set_log_fd(int fd);
// Tags every line written by the calling thread with shard=<id>; shard threads call it once at start.
void set_log_shard(uint32_t shard_id);

namespace log_internal {
extern std::atomic<int> g_min_level;
}  // namespace log_internal

// One relaxed atomic load: callers may use it to skip building expensive arguments.
inline bool log_enabled(LogLevel level) {
  return static_cast<int>(level) >= log_internal::g_min_level.load(std::memory_order_relaxed);
}

struct LogField {
  std::string_view key;    // written as is: use [a-z_.] keys
  std::string_view value;  // quoted when needed
};

// Structured form: msg plus key=value fields in order.
void log_fields(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});

// printf-style forms: the formatted text becomes msg. Cheap when the level is disabled (arguments are still
// evaluated by the caller; use log_enabled() around anything costly).
void log_debug(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace spindle
