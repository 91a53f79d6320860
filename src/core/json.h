#pragma once
// The one JSON value of the agent: parsed from foreign text (API replies, a task's workload) and
// built to be sent (request bodies, Events, custom resources). Reading never throws and never
// guesses: a member that is absent or of another type reads as null, and each accessor says
// whether the value has its type.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/result.h"

namespace reaper::core {

class Json {
 public:
  using Array = std::vector<Json>;
  using Members = std::vector<std::pair<std::string, Json>>;  // in the order written

  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool value) : value_(value) {}
  Json(int value) : value_(int64_t{value}) {}
  Json(int64_t value) : value_(value) {}
  Json(uint64_t value) = delete;  // would not round-trip above INT64_MAX; cast explicitly
  Json(double value) : value_(value) {}
  Json(std::string value) : value_(std::move(value)) {}
  Json(std::string_view value) : value_(std::string(value)) {}
  Json(const char* value) : value_(std::string(value)) {}
  Json(Array items) : value_(std::move(items)) {}
  Json(Members members) : value_(std::move(members)) {}
  static Json object() { return Json(Members{}); }

  // Which members parse() builds. The objects `depth` containers deep (the root value is 0 deep,
  // the elements of a root array 1 deep) keep only the members named in `keys`; the value of any
  // other member is still read and checked as JSON, nested up to the same limit, and then dropped.
  // A key that is kept must not appear twice; one that is dropped is not remembered.
  struct Projection {
    size_t depth = 0;
    std::vector<std::string_view> keys;
  };

  // Parses JSON text (RFC 8259). Nesting deeper than 128 arrays and objects and an object with a
  // key twice (parsers disagree on which one counts) are errors.
  static Result<Json> parse(std::string_view text);
  // The same, building only what `projection` keeps: a reply read for a few of many fields.
  static Result<Json> parse(std::string_view text, const Projection& projection);
  // Compact JSON text: UTF-8 kept, control characters escaped, each byte that is not valid UTF-8
  // written as U+FFFD, so the text is valid JSON whatever the strings held.
  std::string dump() const;

  bool isNull() const { return std::holds_alternative<std::monostate>(value_); }
  bool isObject() const { return std::holds_alternative<Members>(value_); }
  bool isArray() const { return std::holds_alternative<Array>(value_); }
  bool isString() const { return std::holds_alternative<std::string>(value_); }
  bool isNumber() const {
    return std::holds_alternative<int64_t>(value_) || std::holds_alternative<double>(value_);
  }

  // The member `key` of an object; null when absent or when this is no object.
  const Json& field(std::string_view key) const;
  bool has(std::string_view key) const;
  // The elements of an array, the members of an object; empty for any other value.
  const Array& items() const;
  const Members& members() const;
  std::optional<std::string> string() const;
  std::optional<bool> boolean() const;
  // An integer written without fraction or exponent that fits 64 bits.
  std::optional<int64_t> integer() const;
  // Any number.
  std::optional<double> number() const;

  // Building. The member `key` of an object, added as null when absent; a null value becomes an
  // object first (any other value is a bug: std::bad_variant_access).
  Json& operator[](std::string_view key);
  // Appends to an array; a null value becomes an array first.
  void push(Json item);

  // Calls `visitor` with the value held: std::monostate (null), bool, int64_t, double,
  // std::string, Array or Members.
  template <typename Visitor>
  decltype(auto) visit(Visitor&& visitor) const {
    return std::visit(std::forward<Visitor>(visitor), value_);
  }

  bool operator==(const Json&) const = default;

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, Array, Members> value_;
};

}  // namespace reaper::core
