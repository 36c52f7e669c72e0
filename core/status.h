#pragma once
// Status: the error model of the data path. Codes are numbered exactly like gRPC status codes so the API layer
// maps them 1:1 (api/status_mapping.h is the one place that turns them into HTTP and gRPC statuses).
#include <memory>
#include <string>
#include <string_view>

namespace spindle {

enum class StatusCode : int {
  Ok = 0,
  Cancelled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
};

std::string_view status_code_name(StatusCode code);

// One pointer wide: OK is a null pointer, so the data path's "everything fine" returns cost no more than a bool.
// Only an error allocates (its code and message).
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message)
      : rep_(code == StatusCode::Ok ? nullptr : new Rep{code, std::move(message)}) {}
  Status(const Status& other) : rep_(other.rep_ ? new Rep(*other.rep_) : nullptr) {}
  Status(Status&&) noexcept = default;
  Status& operator=(const Status& other) {
    if (this != &other) rep_.reset(other.rep_ ? new Rep(*other.rep_) : nullptr);
    return *this;
  }
  Status& operator=(Status&&) noexcept = default;

  static Status ok() { return Status(); }
  bool is_ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::Ok; }
  const std::string& message() const { return rep_ ? rep_->message : empty_message(); }
  // "INVALID_ARGUMENT: message" (or "OK").
  std::string to_string() const;
  // Explicitly drop a status the caller has decided not to act on.
  void ignore() const {}

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  static const std::string& empty_message();
  std::unique_ptr<Rep> rep_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::InvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::NotFound, std::move(m)}; }
inline Status resource_exhausted(std::string m) { return {StatusCode::ResourceExhausted, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::Unavailable, std::move(m)}; }
inline Status unimplemented(std::string m) { return {StatusCode::Unimplemented, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::Internal, std::move(m)}; }
inline Status failed_precondition(std::string m) { return {StatusCode::FailedPrecondition, std::move(m)}; }
inline Status deadline_exceeded(std::string m) { return {StatusCode::DeadlineExceeded, std::move(m)}; }
inline Status data_loss(std::string m) { return {StatusCode::DataLoss, std::move(m)}; }

}  // namespace spindle

// Propagates a non-OK Status (or the Status of a failed Result) out of the enclosing function.
#define SPINDLE_RETURN_IF_ERROR(expr)            \
  do {                                           \
    ::spindle::Status spindle_status_ = (expr);  \
    if (!spindle_status_.is_ok()) {              \
      return spindle_status_;                    \
    }                                            \
  } while (0)
