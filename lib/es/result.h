// es/result.h
//
// Result<T> holds a T or a non-ok Status (g++ 12 has no std::expected).
#pragma once

#include <cassert>
#include <utility>
#include <variant>

#include "es/status.h"

namespace es {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace es

// Returns the Status of `expr` from the enclosing function when it failed.
#define ES_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::es::Status es_status_ = (expr);        \
    if (!es_status_.ok()) return es_status_; \
  } while (0)
