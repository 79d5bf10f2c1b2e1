// Errors as values: every fallible library call returns Result<T>, which holds
// either a T or an Error. An Error carries a Code (what kind of failure, which
// `blk` maps to a stable exit code) and a one-line message for a person.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace blk {

// What kind of failure. The numeric values are blk's exit codes (README,
// man blk(1)); they are a stable interface, so never renumber one.
enum class Code : int {
  failure = 1,          // anything not covered below (I/O error, internal bug)
  usage = 2,            // bad command-line arguments
  partial = 3,          // some peers synced, some did not (sync)
  not_found = 4,        // no such block (or it is deleted)
  invalid_input = 5,    // malformed data: an import line, an over-long blob
  no_store = 10,        // the store does not exist
  store_locked = 11,    // another process held the store past the busy timeout
  store_unusable = 12,  // corrupt, not a blk store, or made by a newer blk
  store_readonly = 13,  // the store cannot be written (permissions, read-only fs)
  store_exists = 14,    // `init` refused to overwrite an existing store
  not_permitted = 15,   // the manifest does not let this machine write that block
};

struct Error {
  Code code = Code::failure;
  std::string message;
};

// Result<T>: a T, or an Error. Result<void> is success-or-Error.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error make_error(Code code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace blk

// Propagates the error of a Result-returning expression; otherwise yields
// nothing. For use inside functions that themselves return a Result.
#define BLK_TRY(expr)                                                \
  do {                                                               \
    auto blk_try_result_ = (expr);                                   \
    if (!blk_try_result_) return std::move(blk_try_result_).error(); \
  } while (0)
