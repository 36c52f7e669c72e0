// spindle-trace-lookup: trace-by-ID latency of a running Spindle (or Tempo), for bench/storage_bench.sh.
//
//   spindle-trace-lookup --ack-log FILE --sample N --write-ids IDS [--seed S]
//       samples N traces uniformly (reservoir) from a spindle-loadgen --ack-log file (records of u32 LE length +
//       serialized ExportTraceServiceRequest) and writes "hex-id span-count" lines to IDS, in random order;
//   spindle-trace-lookup --ids IDS --target HOST:PORT [--passes P] [--baseline PATH] [--json]
//       sends GET /api/v2/traces/<id> (Accept: application/protobuf) for each ID, one at a time over one
//       keep-alive HTTP/1.1 connection, and reports per-request latency percentiles per pass, plus how many
//       traces came back whole, short or missing; --baseline PATH first times as many GETs of PATH.
//
// Latency is measured from just before send() to the last byte of the response, with blocking sockets and
// TCP_NODELAY, so the client adds one syscall pair and no event-loop turn; the response is decoded (spans
// counted) after the clock stops. The client's own CPU time is reported so its share can be judged.
// Not a test and not part of the server: a bench tool, bounded by a 10 s timeout on every socket read.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/trace_id.h"
#include "proto/wire.h"

namespace spindle {
namespace {

struct Sampled {
  std::string id;  // 16 raw bytes
  uint32_t spans = 0;
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "spindle-trace-lookup: %s\n", what.c_str());
  std::exit(1);
}

// Calls visit(field_number, bytes) for every length-delimited field of `msg`; false on malformed input.
template <typename F>
bool for_each_len_field(std::string_view msg, F&& visit) {
  WireReader r(msg);
  while (!r.done()) {
    auto tag = r.read_tag();
    if (!tag.ok()) return false;
    if (tag->type == WireType::Len) {
      auto bytes = r.read_length_delimited();
      if (!bytes.ok()) return false;
      if (!visit(tag->field, *bytes)) return false;
    } else if (!r.skip_field(tag->type).is_ok()) {
      return false;
    }
  }
  return true;
}

// Span messages of a list of ResourceSpans (field `rs_field` of `msg`): ResourceSpans.scope_spans = 2,
// ScopeSpans.spans = 2. Same layout in ExportTraceServiceRequest (resource_spans = 1) and tempopb.Trace
// (resourceSpans = 1).
template <typename F>
bool for_each_span(std::string_view msg, F&& visit) {
  return for_each_len_field(msg, [&](uint32_t f, std::string_view rs) {
    if (f != 1) return true;
    return for_each_len_field(rs, [&](uint32_t f2, std::string_view ss) {
      if (f2 != 2) return true;
      return for_each_len_field(ss, [&](uint32_t f3, std::string_view span) {
        if (f3 != 2) return true;
        return visit(span);
      });
    });
  });
}

std::string span_trace_id(std::string_view span) {
  std::string id;
  for_each_len_field(span, [&](uint32_t f, std::string_view b) {
    if (f == 1) id.assign(b);
    return true;
  });
  return id;
}

void sample_ack_log(const std::string& path, size_t n, uint64_t seed, const std::string& out_path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) fail("cannot open " + path + ": " + std::strerror(errno));
  std::mt19937_64 rng(seed);
  std::vector<Sampled> reservoir;
  uint64_t traces_seen = 0, requests = 0, spans = 0;
  std::string record;
  // Traces of one request, in order of first appearance (the loadgen never splits a trace across requests;
  // if a client did, a trace would be counted once per request, which only skews the sample slightly).
  std::vector<Sampled> in_request;
  std::unordered_map<std::string, size_t> index;
  for (;;) {
    unsigned char len_bytes[4];
    size_t got = std::fread(len_bytes, 1, 4, f);
    if (got == 0) break;
    if (got != 4) fail("ack log ends inside a record length");
    uint32_t len = len_bytes[0] | (len_bytes[1] << 8) | (len_bytes[2] << 16) | (uint32_t{len_bytes[3]} << 24);
    record.resize(len);
    if (std::fread(record.data(), 1, len, f) != len) fail("ack log ends inside a record");
    ++requests;
    in_request.clear();
    index.clear();
    bool ok = for_each_span(record, [&](std::string_view span) {
      std::string id = span_trace_id(span);
      ++spans;
      auto [it, fresh] = index.try_emplace(id, in_request.size());
      if (fresh) in_request.push_back({id, 0});
      ++in_request[it->second].spans;
      return true;
    });
    if (!ok) fail("record " + std::to_string(requests) + " is not an ExportTraceServiceRequest");
    for (Sampled& t : in_request) {
      ++traces_seen;
      if (reservoir.size() < n) {
        reservoir.push_back(std::move(t));
      } else {
        uint64_t j = rng() % traces_seen;
        if (j < n) reservoir[j] = std::move(t);
      }
    }
  }
  std::fclose(f);
  std::shuffle(reservoir.begin(), reservoir.end(), rng);
  std::ofstream out(out_path);
  for (const Sampled& t : reservoir) {
    auto id = TraceId::from_bytes(t.id);
    if (!id) continue;
    out << id->to_hex() << ' ' << t.spans << '\n';
  }
  if (!out) fail("cannot write " + out_path);
  std::fprintf(stderr, "spindle-trace-lookup: %llu requests, %llu spans, %llu traces; sampled %zu into %s\n",
               static_cast<unsigned long long>(requests), static_cast<unsigned long long>(spans),
               static_cast<unsigned long long>(traces_seen), reservoir.size(), out_path.c_str());
}

class Http1Client {
 public:
  Http1Client(const std::string& host, const std::string& port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* ai = nullptr;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &ai) != 0 || ai == nullptr) fail("cannot resolve " + host);
    fd_ = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd_ < 0 || connect(fd_, ai->ai_addr, ai->ai_addrlen) != 0) {
      fail("cannot connect to " + host + ":" + port + ": " + std::strerror(errno));
    }
    freeaddrinfo(ai);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{10, 0};  // a stalled server fails the run instead of hanging it
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    host_ = host + ":" + port;
  }
  ~Http1Client() { close(fd_); }

  // One GET; returns the status and fills `body`. Exits the program on a transport error.
  int get(const std::string& target, std::string& body) {
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: " + host_ + "\r\nAccept: application/protobuf\r\n\r\n";
    for (size_t sent = 0; sent < req.size();) {
      ssize_t w = send(fd_, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
      if (w <= 0) fail(std::string("send: ") + std::strerror(errno));
      sent += static_cast<size_t>(w);
    }
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) fill();
    std::string_view head(buf_.data(), head_end);
    int status = std::atoi(std::string(head.substr(9, 3)).c_str());
    std::string lower(head);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    size_t pos = head_end + 4;
    body.clear();
    if (size_t cl = lower.find("\r\ncontent-length:"); cl != std::string::npos) {
      size_t n = std::strtoull(lower.c_str() + cl + 17, nullptr, 10);
      while (buf_.size() < pos + n) fill();
      body.assign(buf_, pos, n);
      buf_.erase(0, pos + n);
    } else if (lower.find("transfer-encoding: chunked") != std::string::npos) {
      for (;;) {
        size_t eol;
        while ((eol = buf_.find("\r\n", pos)) == std::string::npos) fill();
        size_t n = std::strtoull(buf_.c_str() + pos, nullptr, 16);
        while (buf_.size() < eol + 2 + n + 2) fill();
        body.append(buf_, eol + 2, n);
        pos = eol + 2 + n + 2;
        if (n == 0) break;  // no trailers expected
      }
      buf_.erase(0, pos);
    } else {
      fail("response without content-length or chunked encoding");
    }
    return status;
  }

 private:
  void fill() {
    char tmp[65536];
    ssize_t r = recv(fd_, tmp, sizeof tmp, 0);
    if (r <= 0) fail(r == 0 ? "server closed the connection" : std::string("recv: ") + std::strerror(errno));
    buf_.append(tmp, static_cast<size_t>(r));
  }

  int fd_ = -1;
  std::string host_;
  std::string buf_;
};

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));  // nearest rank
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int query(const std::string& ids_path, const std::string& target, int passes, const std::string& baseline,
          bool json) {
  std::vector<std::pair<std::string, uint32_t>> ids;
  {
    std::ifstream in(ids_path);
    std::string hex;
    uint32_t spans;
    while (in >> hex >> spans) ids.emplace_back(hex, spans);
  }
  if (ids.empty()) fail("no IDs in " + ids_path);
  size_t colon = target.rfind(':');
  if (colon == std::string::npos) fail("--target must be HOST:PORT");
  Http1Client client(target.substr(0, colon), target.substr(colon + 1));
  int rc = 0;
  std::string body;
  // Pass 0 (with --baseline PATH): the same number of requests for a trivial PATH (e.g. /ready), the floor that
  // the loopback, the HTTP layer and the machine's scheduling noise put under every lookup.
  for (int pass = baseline.empty() ? 1 : 0; pass <= passes; ++pass) {
    const bool base = pass == 0;
    std::vector<double> ms;
    ms.reserve(ids.size());
    uint64_t whole = 0, short_traces = 0, missing = 0, errors = 0, bytes = 0;
    double cpu0 = cpu_seconds();
    auto wall0 = std::chrono::steady_clock::now();
    for (const auto& [hex, expected] : ids) {
      std::string path = base ? baseline : "/api/v2/traces/" + hex;
      auto t0 = std::chrono::steady_clock::now();
      int status = client.get(path, body);
      auto t1 = std::chrono::steady_clock::now();
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      bytes += body.size();
      if (base) {
        ++(status == 200 ? whole : errors);
        continue;
      }
      if (status != 200 && status != 404) {
        ++errors;
        continue;
      }
      uint64_t found = 0;
      if (status == 200) {
        // TraceByIDResponse.trace = 1 -> tempopb.Trace (resourceSpans = 1, same layout as OTLP).
        for_each_len_field(body, [&](uint32_t f, std::string_view trace) {
          if (f == 1) for_each_span(trace, [&](std::string_view) { return ++found, true; });
          return true;
        });
      }
      if (found == 0) {
        ++missing;
      } else if (found < expected) {
        ++short_traces;
      } else {
        ++whole;
      }
    }
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    double cpu = cpu_seconds() - cpu0;
    std::sort(ms.begin(), ms.end());
    double mean = 0;
    for (double v : ms) mean += v;
    mean /= static_cast<double>(ms.size());
    if (!base && missing + short_traces + errors != 0) rc = 4;
    if (json) {
      std::printf(
          "{\"pass\":%d,\"path\":\"%s\",\"requests\":%zu,\"whole\":%llu,\"short\":%llu,\"missing\":%llu,\"errors\":%llu,"
          "\"mean_response_bytes\":%.0f,\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f,"
          "\"mean\":%.3f},\"seconds\":%.3f,\"client_cpu_seconds\":%.3f}\n",
          pass, base ? baseline.c_str() : "/api/v2/traces/<id>", ms.size(), static_cast<unsigned long long>(whole),
          static_cast<unsigned long long>(short_traces), static_cast<unsigned long long>(missing),
          static_cast<unsigned long long>(errors), static_cast<double>(bytes) / static_cast<double>(ms.size()),
          percentile(ms, 0.5), percentile(ms, 0.9), percentile(ms, 0.99), ms.back(), mean, wall, cpu);
    } else {
      std::printf(
          "pass %d%s: %zu lookups (%llu whole, %llu short, %llu missing, %llu errors), %.0f response bytes on average\n"
          "  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  mean %.3f;  %.2f s wall, client CPU %.2f s\n",
          pass, base ? (" (" + baseline + ")").c_str() : "", ms.size(), static_cast<unsigned long long>(whole),
          static_cast<unsigned long long>(short_traces), static_cast<unsigned long long>(missing),
          static_cast<unsigned long long>(errors), static_cast<double>(bytes) / static_cast<double>(ms.size()),
          percentile(ms, 0.5), percentile(ms, 0.9), percentile(ms, 0.99), ms.back(), mean, wall, cpu);
    }
    std::fflush(stdout);
  }
  return rc;
}

const char kUsage[] =
    "usage: spindle-trace-lookup --ack-log FILE --sample N --write-ids IDS [--seed S]\n"
    "       spindle-trace-lookup --ids IDS --target HOST:PORT [--passes P] [--baseline PATH] [--json]\n"
    "The first samples N traces from a spindle-loadgen --ack-log file; the second looks each up with\n"
    "GET /api/v2/traces/<id>, sequentially over one keep-alive connection, and prints latency percentiles per\n"
    "pass; --baseline PATH first times as many GETs of PATH (e.g. /ready): the floor under every lookup.\n"
    "Exit status: 0 ok, 1 bad arguments or I/O error, 4 some trace came back short or missing.\n";

}  // namespace
}  // namespace spindle

int main(int argc, char** argv) {
  using namespace spindle;
  std::string ack_log, ids, write_ids, target, baseline;
  size_t sample = 2000;
  uint64_t seed = std::random_device{}();
  int passes = 1;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail(a + " needs a value");
      return argv[++i];
    };
    if (a == "--ack-log") ack_log = value();
    else if (a == "--sample") sample = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--write-ids") write_ids = value();
    else if (a == "--seed") seed = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--ids") ids = value();
    else if (a == "--target") target = value();
    else if (a == "--passes") passes = std::atoi(value().c_str());
    else if (a == "--baseline") baseline = value();
    else if (a == "--json") json = true;
    else if (a == "-h" || a == "--help") { std::fputs(kUsage, stdout); return 0; }
    else { std::fputs(kUsage, stderr); return 1; }
  }
  if (!ack_log.empty()) {
    if (write_ids.empty() || sample == 0) fail("--ack-log needs --write-ids and --sample N > 0");
    sample_ack_log(ack_log, sample, seed, write_ids);
    return 0;
  }
  if (ids.empty() || target.empty() || passes < 1) { std::fputs(kUsage, stderr); return 1; }
  return query(ids, target, passes, baseline, json);
}
