#include "core/log.h"

#include "core/quote.h"

#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <string>

namespace spindle {

namespace log_internal {
std::atomic<int> g_min_level{static_cast<int>(LogLevel::Info)};
}  // namespace log_internal

namespace {

std::atomic<int> g_fd{2};
thread_local int64_t t_shard = -1;

bool needs_quotes(std::string_view v) {
  if (v.empty()) {
    return true;
  }
  for (unsigned char c : v) {
    if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f) {
      return true;
    }
  }
  return false;
}

void append_value(std::string& out, std::string_view v) {
  if (needs_quotes(v)) {
    append_quoted(out, v);
  } else {
    out.append(v);
  }
}

// RFC 3339 in UTC with microseconds, as Tempo's logs show them.
void append_timestamp(std::string& out) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  char buf[40];
  int n = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", utc.tm_year + 1900,
                        utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                        static_cast<long>(ts.tv_nsec / 1000));
  out.append(buf, static_cast<size_t>(n));
}

void write_line(std::string& line) {
  if (line.size() + 1 > kMaxLogLineBytes) {
    line.resize(kMaxLogLineBytes - 4);
    line += "...";
  }
  line.push_back('\n');
  int fd = g_fd.load(std::memory_order_relaxed);
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;  // nowhere to report a failing log sink
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void log_vprintf(LogLevel level, const char* fmt, va_list args) {
  char buf[kMaxLogLineBytes];
  int n = std::vsnprintf(buf, sizeof(buf), fmt, args);
  if (n < 0) {
    n = 0;
  }
  size_t len = static_cast<size_t>(n) < sizeof(buf) ? static_cast<size_t>(n) : sizeof(buf) - 1;
  log_fields(level, std::string_view(buf, len));
}

}  // namespace

Result<LogLevel> parse_log_level(std::string_view name) {
  if (name == "debug") return LogLevel::Debug;
  if (name == "info") return LogLevel::Info;
  if (name == "warn") return LogLevel::Warn;
  if (name == "error") return LogLevel::Error;
  return invalid_argument("\"" + std::string(name) + "\" is not a log level (debug, info, warn, error)");
}

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Error:
      return "error";
  }
  return "unknown";
}

void set_log_level(LogLevel level) {
  log_internal::g_min_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

LogLevel log_level() {
  return static_cast<LogLevel>(log_internal::g_min_level.load(std::memory_order_relaxed));
}

void set_log_fd(int fd) { g_fd.store(fd, std::memory_order_relaxed); }

void set_log_shard(uint32_t shard_id) { t_shard = shard_id; }

void log_fields(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (!log_enabled(level)) {
    return;
  }
  std::string line;
  line.reserve(96 + msg.size());
  line += "level=";
  line += log_level_name(level);
  line += " ts=";
  append_timestamp(line);
  if (t_shard >= 0) {
    line += " shard=";
    line += std::to_string(t_shard);
  }
  line += " msg=";
  append_quoted(line, msg);
  for (const LogField& f : fields) {
    line.push_back(' ');
    line.append(f.key);
    line.push_back('=');
    append_value(line, f.value);
  }
  write_line(line);
}

#define SPINDLE_DEFINE_LOG_FN_(name, level) \
  void name(const char* fmt, ...) {         \
    if (!log_enabled(level)) {              \
      return;                               \
    }                                       \
    va_list args;                           \
    va_start(args, fmt);                    \
    log_vprintf(level, fmt, args);          \
    va_end(args);                           \
  }

SPINDLE_DEFINE_LOG_FN_(log_debug, LogLevel::Debug)
SPINDLE_DEFINE_LOG_FN_(log_info, LogLevel::Info)
SPINDLE_DEFINE_LOG_FN_(log_warn, LogLevel::Warn)
SPINDLE_DEFINE_LOG_FN_(log_error, LogLevel::Error)

#undef SPINDLE_DEFINE_LOG_FN_

}  // namespace spindle
