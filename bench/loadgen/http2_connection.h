#pragma once
// Http2Connection: an h2c (prior knowledge) client connection on an nghttp2 client session, many streams in
// flight. Used for OTLP/gRPC: the caller frames the gRPC message and sets content-type/te/grpc-encoding; the
// grpc-status of the headers or trailers is reported in ClientReply::grpc_status.
//
// Threading: single-threaded, see ClientConnection.
#include <nghttp2/nghttp2.h>

#include <map>
#include <memory>

#include "bench/loadgen/client_connection.h"

namespace spindle {

class Http2Connection : public ClientConnection {
 public:
  using ClientConnection::ClientConnection;
  ~Http2Connection() override;

  size_t in_flight() const override { return streams_.size(); }
  bool wants_write() const override;
  Status submit(ClientRequest request) override;
  Status on_readable() override;
  Status flush() override;
  bool finished() const override;

 private:
  struct Stream {
    uint64_t tag = 0;
    std::string body;
    size_t sent = 0;
    LoadClock::time_point started;
    int http_status = 0;
    int grpc_status = -1;
    std::string response;
  };

  Status start_protocol() override;
  std::vector<std::pair<uint64_t, LoadClock::time_point>> take_in_flight() override;
  void close_protocol() override;

  static ssize_t read_body(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                           uint32_t* data_flags, nghttp2_data_source* source, void* user_data);
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t flags, void* user_data);
  static int on_data_chunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data,
                           size_t len, void* user_data);
  static int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data);

  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::unique_ptr<Stream>> streams_;
};

}  // namespace spindle
