#include "api/status_mapping.h"

#include <string>

namespace spindle {

int http_status_for(StatusCode code) {
  switch (code) {
    case StatusCode::Ok: return 200;
    case StatusCode::InvalidArgument:
    case StatusCode::FailedPrecondition:
    case StatusCode::OutOfRange: return 400;
    case StatusCode::Unauthenticated: return 401;
    case StatusCode::PermissionDenied: return 403;
    case StatusCode::NotFound: return 404;
    case StatusCode::ResourceExhausted: return 413;
    case StatusCode::Cancelled: return 499;
    case StatusCode::Unimplemented: return 501;
    case StatusCode::Unavailable: return 503;
    case StatusCode::DeadlineExceeded: return 504;
    default: return 500;
  }
}

HttpResponse text_error_response(const Status& status) {
  HttpResponse r;
  r.status = http_status_for(status.code());
  r.headers.push_back({"content-type", "text/plain; charset=utf-8"});
  if (status.code() == StatusCode::Unavailable) {
    r.headers.push_back({"retry-after", std::to_string(kRetryAfterSeconds)});
  }
  r.body = status.message() + "\n";
  return r;
}

}  // namespace spindle
