#pragma once
// Http1Connection: an HTTP/1.1 keep-alive client connection. With several requests in flight they are
// pipelined (sent back to back, answered in order); responses are parsed with llhttp, so content-length and
// chunked bodies both work. A response carrying `connection: close` ends the connection after it: whatever is
// still in flight then fails with "connection_lost".
//
// Threading: single-threaded, see ClientConnection.
#include <llhttp.h>

#include <deque>

#include "bench/loadgen/client_connection.h"

namespace spindle {

class Http1Connection : public ClientConnection {
 public:
  Http1Connection(std::string authority, ReplyHandler on_reply);

  size_t in_flight() const override { return pending_.size(); }
  bool wants_write() const override { return alive() && has_pending_output(); }
  Status submit(ClientRequest request) override;
  Status on_readable() override;
  Status flush() override { return send_pending(); }
  bool finished() const override { return alive() && closing_ && pending_.empty(); }

 private:
  struct Pending {
    uint64_t tag = 0;
    LoadClock::time_point started;
  };

  Status start_protocol() override;
  std::vector<std::pair<uint64_t, LoadClock::time_point>> take_in_flight() override;

  static int on_body(llhttp_t* parser, const char* at, size_t length);
  static int on_message_complete(llhttp_t* parser);

  llhttp_settings_t settings_;
  llhttp_t parser_;
  std::deque<Pending> pending_;
  std::string body_;  // of the response being parsed
  bool closing_ = false;
};

}  // namespace spindle
