#include "bench/loadgen/ack_log.h"
#include "bench/loadgen/request_template.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/endian.h"
#include "core/trace_id.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "proto/base64.h"

namespace spindle {
namespace {

// OTLP/JSON carries trace and span IDs as hex, proto3 JSON (what libprotobuf parses) as base64.
Result<std::string> hex_ids_to_base64(std::string_view json) {
  return rewrite_json_ids(json, [](std::string_view hex) -> Result<std::string> {
    if (hex.size() % 2 != 0) return invalid_argument("bad hex ID in OTLP/JSON: odd length");
    std::string raw;
    for (size_t i = 0; i < hex.size(); i += 2) {
      const int hi = hex_digit_value(hex[i]), lo = hex_digit_value(hex[i + 1]);
      if (hi < 0 || lo < 0) return invalid_argument("bad hex ID in OTLP/JSON");
      raw.push_back(static_cast<char>(hi * 16 + lo));
    }
    std::string out;
    append_base64(raw, out);
    return out;
  });
}

}  // namespace

void append_ack_record(std::string_view request, std::string& out) {
  append_le(out, static_cast<uint32_t>(request.size()));
  out.append(request);
}

Status for_each_ack_record(std::string_view log, const std::function<Status(std::string_view)>& visit) {
  size_t at = 0;
  while (at < log.size()) {
    if (log.size() - at < 4) {
      return data_loss("ack log: record length cut short at offset " + std::to_string(at));
    }
    const uint32_t n = load_le<uint32_t>(log.data() + at);
    if (log.size() - at - 4 < n) {
      return data_loss("ack log: record at offset " + std::to_string(at) + " announces " + std::to_string(n) +
                       " bytes, only " + std::to_string(log.size() - at - 4) + " follow");
    }
    SPINDLE_RETURN_IF_ERROR(visit(log.substr(at + 4, n)));
    at += 4 + static_cast<size_t>(n);
  }
  return Status::ok();
}

Result<std::vector<std::string>> parse_ack_records(std::string_view log) {
  std::vector<std::string> out;
  SPINDLE_RETURN_IF_ERROR(for_each_ack_record(log, [&](std::string_view r) {
    out.emplace_back(r);
    return Status::ok();
  }));
  return out;
}

Result<std::string> otlp_json_to_protobuf(std::string_view json) {
  SPINDLE_ASSIGN_OR_RETURN(std::string proto3_json, hex_ids_to_base64(json));
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest request;
  google::protobuf::util::JsonParseOptions options;
  auto parsed = google::protobuf::util::JsonStringToMessage(proto3_json, &request, options);
  if (!parsed.ok()) return invalid_argument("OTLP/JSON request does not parse: " + std::string(parsed.message()));
  std::string out;
  if (!request.SerializeToString(&out)) return internal_error("cannot serialize the request");
  return out;
}

Result<std::unique_ptr<AckLogWriter>> AckLogWriter::create(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return unavailable("cannot create the ack log " + path + ": " + std::strerror(errno));
  return std::unique_ptr<AckLogWriter>(new AckLogWriter(fd, path));
}

AckLogWriter::~AckLogWriter() {
  flush().ignore();
  if (fd_ >= 0) ::close(fd_);
}

void AckLogWriter::add(std::string_view request) {
  append_ack_record(request, pending_);
  ++records_;
}

Status AckLogWriter::flush() {
  if (!error_.is_ok()) {
    pending_.clear();
    return error_;
  }
  size_t done = 0;
  while (done < pending_.size()) {
    ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    error_ = unavailable("cannot write the ack log " + path_ + ": " +
                         (n < 0 ? std::strerror(errno) : std::string("nothing written")));
    pending_.clear();
    return error_;
  }
  pending_.clear();
  return Status::ok();
}

}  // namespace spindle
