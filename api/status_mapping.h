#pragma once
// The one place where a Status becomes an HTTP status (gRPC statuses are the StatusCode numbers themselves).
#include "core/status.h"
#include "net/http_message.h"

namespace spindle {

// Ok 200; InvalidArgument/FailedPrecondition/OutOfRange 400; Unauthenticated 401; PermissionDenied 403;
// NotFound 404; ResourceExhausted 413 (a body or message over a configured limit); Cancelled 499;
// Unimplemented 501; Unavailable 503; DeadlineExceeded 504; anything else 500.
int http_status_for(StatusCode code);

// Seconds a client should wait before retrying a refused request (Retry-After).
inline constexpr int kRetryAfterSeconds = 1;

// A plain-text error response as Tempo sends them (Grafana shows the body verbatim). Adds Retry-After when the
// status is Unavailable.
HttpResponse text_error_response(const Status& status);

}  // namespace spindle
