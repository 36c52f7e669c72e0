#pragma once
// The ack log of spindle-loadgen (--ack-log FILE): every request the receiver acknowledged in full (gRPC status
// OK / HTTP 200, no partial_success rejections), as the serialized OTLP ExportTraceServiceRequest that was
// sent, before gzip and without the gRPC message prefix. For http-json the request went out as OTLP/JSON and
// the log holds its protobuf equivalent (otlp_json_to_protobuf). Requests that failed or got no complete reply
// are never logged, so a crash test can expect every logged span to be readable after the receiver restarts.
//
// File format: a sequence of records, each a u32 little-endian length followed by that many bytes. No header,
// no trailer; an empty file is an empty log. The writer only ever appends whole records with one write(2) per
// batch, so the file stays a valid log at every moment except while a write is in progress.
//
// Threading: AckLogWriter is single-threaded (the loadgen's poll loop); the free functions are pure.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace spindle {

// Appends one record (length prefix + bytes) to `out`.
void append_ack_record(std::string_view request, std::string& out);

// Calls `visit` for each record of a whole ack log, in order, stopping at the first error it returns.
// DataLoss naming the byte offset when the last record is cut short (a writer killed mid-write).
Status for_each_ack_record(std::string_view log, const std::function<Status(std::string_view)>& visit);
Result<std::vector<std::string>> parse_ack_records(std::string_view log);

// Converts an OTLP/JSON ExportTraceServiceRequest (IDs as hex, as OTLP/JSON requires) to serialized protobuf.
// InvalidArgument if it does not parse.
Result<std::string> otlp_json_to_protobuf(std::string_view json);

class AckLogWriter {
 public:
  // Creates or truncates `path`. Unavailable with errno's text if it cannot be opened.
  static Result<std::unique_ptr<AckLogWriter>> create(const std::string& path);
  ~AckLogWriter();  // flushes what is buffered and closes
  AckLogWriter(const AckLogWriter&) = delete;
  AckLogWriter& operator=(const AckLogWriter&) = delete;

  // Buffers one record; it reaches the file at the next flush().
  void add(std::string_view request);
  // Writes every buffered record (to the page cache: it survives the loadgen's death, not the machine's).
  // After a failure everything later is dropped and the same error is returned again.
  Status flush();
  uint64_t records() const { return records_; }
  const std::string& path() const { return path_; }

 private:
  AckLogWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  int fd_ = -1;
  std::string path_;
  std::string pending_;
  uint64_t records_ = 0;
  Status error_;
};

}  // namespace spindle
