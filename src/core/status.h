// Status and Result<T>: errors as values, never exceptions across module boundaries.
//
// A Status carries a code that maps one-to-one onto Vault's HTTP error classes (400, 403, 404, 405, 413, 500)
// and onto the plugin protocol's error types. Messages must never contain secrets (keys, tokens).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace pki {

enum class StatusCode {
  kOk = 0,
  kBadRequest,          // 400: bad input or refused by role policy
  kPermissionDenied,    // 403
  kNotFound,            // 404: unknown path or object
  kUnsupportedOperation,// 405: path exists, operation does not
  kTooLarge,            // 413
  kInternal,            // 500: a fault of ours or of a dependency
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status BadRequest(std::string msg) { return Status(StatusCode::kBadRequest, std::move(msg)); }
  static Status PermissionDenied(std::string msg = "permission denied") {
    return Status(StatusCode::kPermissionDenied, std::move(msg));
  }
  static Status NotFound(std::string msg = "") { return Status(StatusCode::kNotFound, std::move(msg)); }
  static Status Unsupported(std::string msg = "unsupported operation") {
    return Status(StatusCode::kUnsupportedOperation, std::move(msg));
  }
  static Status TooLarge(std::string msg) { return Status(StatusCode::kTooLarge, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(StatusCode::kInternal, std::move(msg)); }

  bool ok() const { return code_ == StatusCode::kOk; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy with `prefix + ": "` in front of the message, keeping the code.
  Status Annotate(const std::string& prefix) const {
    if (ok()) return *this;
    return Status(code_, prefix + ": " + message_);
  }

 private:
  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
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

}  // namespace pki

#define PKI_CONCAT_INNER(a, b) a##b
#define PKI_CONCAT(a, b) PKI_CONCAT_INNER(a, b)

// Returns from the enclosing function when `expr` (a Status) is not ok.
#define RETURN_IF_ERROR(expr)               \
  do {                                      \
    ::pki::Status _st = (expr);             \
    if (!_st.ok()) return _st;              \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, ResultExpr)`: binds the value or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL(PKI_CONCAT(_res_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
