// cpprestsdk's parser behind core::Json; its headers stay in this file (after spdlog: fmt 9 clashes
// otherwise).
#include <spdlog/spdlog.h>
//
#include <cpprest/json.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "core/json.h"
#include "core/printable.h"

namespace reaper::core {
namespace {

using web::json::value;

Result<Json> convert(const value& in) {
  switch (in.type()) {
    case value::Boolean:
      return Json(in.as_bool());
    case value::Number:
      if (in.as_number().is_int64()) return Json(in.as_number().to_int64());
      return Json(in.as_double());
    case value::String:
      return Json(in.as_string());
    case value::Array: {
      Json::Array items;
      items.reserve(in.size());
      for (const value& item : in.as_array()) {
        auto converted = convert(item);
        if (!converted) return converted.error();
        items.push_back(std::move(converted).value());
      }
      return Json(std::move(items));
    }
    case value::Object: {
      Json::Members members;
      members.reserve(in.size());
      std::set<std::string_view> keys;
      for (const auto& [key, member] : in.as_object()) {
        if (!keys.insert(key).second)
          return makeError("JSON object with key \"" + key + "\" twice");
        auto converted = convert(member);
        if (!converted) return converted.error();
        members.emplace_back(key, std::move(converted).value());
      }
      return Json(std::move(members));
    }
    default:
      return Json();
  }
}

void appendQuoted(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  while (!text.empty()) {
    const auto c = static_cast<unsigned char>(text.front());
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else if (c >= 0x80) {
      const size_t length = decodeUtf8(text).length;
      if (length == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD for the byte that is not UTF-8
        text.remove_prefix(1);
      } else {
        out.append(text.substr(0, length));
        text.remove_prefix(length);
      }
      continue;
    } else {
      out += static_cast<char>(c);
    }
    text.remove_prefix(1);
  }
  out += '"';
}

void append(std::string& out, const Json& json);

// Writes one value of a Json's variant.
struct Writer {
  std::string& out;
  void operator()(std::monostate) const { out += "null"; }
  void operator()(bool b) const { out += b ? "true" : "false"; }
  void operator()(int64_t n) const { out += std::to_string(n); }
  void operator()(double d) const {
    if (!std::isfinite(d)) {
      out += "null";  // JSON has no infinity or NaN
      return;
    }
    char text[32];
    const auto end = std::to_chars(text, text + sizeof text, d).ptr;
    out.append(text, end);
  }
  void operator()(const std::string& s) const { appendQuoted(out, s); }
  void operator()(const Json::Array& items) const {
    out += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += ',';
      append(out, items[i]);
    }
    out += ']';
  }
  void operator()(const Json::Members& members) const {
    out += '{';
    for (size_t i = 0; i < members.size(); ++i) {
      if (i > 0) out += ',';
      appendQuoted(out, members[i].first);
      out += ':';
      append(out, members[i].second);
    }
    out += '}';
  }
};

void append(std::string& out, const Json& json) { json.visit(Writer{out}); }

const Json kNull;
const Json::Array kNoItems;
const Json::Members kNoMembers;

}  // namespace

Result<Json> Json::parse(std::string_view text) {
  try {
    return convert(value::parse(std::string(text)));
  } catch (const std::exception& e) {
    return makeError(std::string("not JSON: ") + e.what());
  }
}

std::string Json::dump() const {
  std::string out;
  append(out, *this);
  return out;
}

const Json& Json::field(std::string_view key) const {
  for (const auto& [name, member] : members()) {
    if (name == key) return member;
  }
  return kNull;
}

bool Json::has(std::string_view key) const {
  const auto& all = members();
  return std::any_of(all.begin(), all.end(),
                     [&](const auto& member) { return member.first == key; });
}

const Json::Array& Json::items() const {
  const auto* items = std::get_if<Array>(&value_);
  return items != nullptr ? *items : kNoItems;
}

const Json::Members& Json::members() const {
  const auto* members = std::get_if<Members>(&value_);
  return members != nullptr ? *members : kNoMembers;
}

std::optional<std::string> Json::string() const {
  const auto* s = std::get_if<std::string>(&value_);
  return s != nullptr ? std::optional<std::string>(*s) : std::nullopt;
}

std::optional<bool> Json::boolean() const {
  const auto* b = std::get_if<bool>(&value_);
  return b != nullptr ? std::optional<bool>(*b) : std::nullopt;
}

std::optional<int64_t> Json::integer() const {
  const auto* n = std::get_if<int64_t>(&value_);
  return n != nullptr ? std::optional<int64_t>(*n) : std::nullopt;
}

std::optional<double> Json::number() const {
  if (const auto* n = std::get_if<int64_t>(&value_)) return static_cast<double>(*n);
  if (const auto* d = std::get_if<double>(&value_)) return *d;
  return std::nullopt;
}

Json& Json::operator[](std::string_view key) {
  if (isNull()) value_ = Members{};
  auto& members = std::get<Members>(value_);
  for (auto& [name, member] : members) {
    if (name == key) return member;
  }
  return members.emplace_back(std::string(key), Json()).second;
}

void Json::push(Json item) {
  if (isNull()) value_ = Array{};
  std::get<Array>(value_).push_back(std::move(item));
}

}  // namespace reaper::core
