#pragma once
// Result<T>: a value or a non-OK Status. std::expected is not usable with g++ 12 in C++20 mode nor with clang 14.
#include <cassert>
#include <utility>
#include <variant>

#include "core/status.h"

namespace spindle {

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).is_ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace spindle

#define SPINDLE_CONCAT_INNER_(a, b) a##b
#define SPINDLE_CONCAT_(a, b) SPINDLE_CONCAT_INNER_(a, b)
// SPINDLE_ASSIGN_OR_RETURN(auto x, make_x()); returns the Status if make_x() failed.
#define SPINDLE_ASSIGN_OR_RETURN(decl, expr) \
  SPINDLE_ASSIGN_OR_RETURN_IMPL_(SPINDLE_CONCAT_(spindle_result_, __LINE__), decl, expr)
#define SPINDLE_ASSIGN_OR_RETURN_IMPL_(tmp, decl, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) {                                      \
    return tmp.status();                                \
  }                                                     \
  decl = std::move(tmp).value()
