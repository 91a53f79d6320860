#pragma once
// Result<T>: a value or an Error. No exception crosses a module boundary; adapters around throwing
// libraries (cpprestsdk, yaml-cpp) catch and convert to this.
#include <string>
#include <utility>
#include <variant>

namespace reaper::core {

struct Error {
  std::string message;
  int code = 0;  // errno, HTTP status, or 0
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : data_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const T& value() const& { return std::get<0>(data_); }
  T& value() & { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  const Error& error() const { return std::get<1>(data_); }

 private:
  std::variant<T, Error> data_;
};

struct Ok {};
using Status = Result<Ok>;

inline Error makeError(std::string message, int code = 0) {
  return Error{std::move(message), code};
}

}  // namespace reaper::core
