// RapidJSON's reader behind core::Json::parse: a SAX handler builds the Json directly. Every
// poll parses pages of hundreds of TaskInstances of ~30 fields each; cpprestsdk's parser allocated
// every string, sorted every object's keys and was then converted again (a quarter of the agent's
// CPU at 2,000 processes). A projection keeps the few fields read of each TaskInstance: building
// the other ~20 was still half of that.
#include "core/json.h"

// Strings are scanned 16 bytes at a time (x86-64 always has SSE2).
#if defined(__SSE2__) && !defined(RAPIDJSON_SSE2)
#define RAPIDJSON_SSE2
#endif
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/printable.h"

namespace reaper::core {
namespace {

constexpr size_t kMaxDepth = 128;
constexpr size_t kScanPadding = 16;

// Builds a Json from the reader's events; returning false stops the reader with `error`. Members
// that a projection drops are read by the reader as usual (so checked as JSON) but not built.
class Builder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Builder> {
 public:
  explicit Builder(const Json::Projection* projection) : projection_(projection) {}

  bool Null() { return add(nullptr); }
  bool Bool(bool value) { return add(value); }
  bool Int(int value) { return add(int64_t{value}); }
  bool Uint(unsigned value) { return add(int64_t{value}); }
  bool Int64(int64_t value) { return add(value); }
  bool Uint64(uint64_t value) {
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return add(static_cast<double>(value));
    return add(static_cast<int64_t>(value));
  }
  bool Double(double value) { return add(value); }
  bool String(const char* text, rapidjson::SizeType length, bool) {
    return add(std::string_view(text, length));
  }
  bool Key(const char* text, rapidjson::SizeType length, bool) {
    if (dropped_ > 0) return true;
    if (projects(stack_.size()) && !keeps(std::string_view(text, length))) {
      dropNext_ = true;
      return true;
    }
    stack_.back().key.assign(text, length);
    return true;
  }
  bool StartObject() { return open(true); }
  bool EndObject(rapidjson::SizeType) {
    if (dropped_ > 0) return close();
    if (auto twice = duplicateKey(stack_.back().members)) {
      error = "JSON object with key \"" + *twice + "\" twice";
      return false;
    }
    Json object(std::move(stack_.back().members));
    stack_.pop_back();
    return add(std::move(object));
  }
  bool StartArray() { return open(false); }
  bool EndArray(rapidjson::SizeType) {
    if (dropped_ > 0) return close();
    Json array(std::move(stack_.back().items));
    stack_.pop_back();
    return add(std::move(array));
  }

  Json root;
  std::string error;

 private:
  struct Frame {
    bool object = false;
    Json::Array items;
    Json::Members members;
    std::string key;  // of the member whose value comes next
  };

  // Whether the members of an object `depth` containers deep are projected (the root is 0 deep
  // and its members are read with one frame open).
  bool projects(size_t framesOpen) const {
    return projection_ != nullptr && framesOpen == projection_->depth + 1;
  }
  bool keeps(std::string_view key) const {
    const auto& keys = projection_->keys;
    return std::find(keys.begin(), keys.end(), key) != keys.end();
  }

  // Whether the value now read is dropped: the value of a dropped member, or anything inside it.
  bool dropping() {
    if (dropped_ > 0) return true;
    if (!dropNext_) return false;
    dropNext_ = false;
    return true;
  }

  bool open(bool object) {
    if (stack_.size() + dropped_ >= kMaxDepth) {
      error = "JSON nested deeper than " + std::to_string(kMaxDepth) + " levels";
      return false;
    }
    if (dropping()) {
      ++dropped_;
      return true;
    }
    stack_.push_back(Frame{object, {}, {}, {}});
    return true;
  }

  // Ends a dropped container.
  bool close() {
    --dropped_;
    return true;
  }

  // Constructs the value where it belongs.
  template <typename Value>
  bool add(Value&& value) {
    if (dropping()) return true;
    if (stack_.empty()) {
      root = Json(std::forward<Value>(value));
    } else if (Frame& top = stack_.back(); top.object) {
      top.members.emplace_back(std::move(top.key), std::forward<Value>(value));
    } else {
      top.items.emplace_back(std::forward<Value>(value));
    }
    return true;
  }

  static std::optional<std::string> duplicateKey(const Json::Members& members) {
    std::vector<std::string_view> keys;
    keys.reserve(members.size());
    for (const auto& member : members) keys.push_back(member.first);
    std::sort(keys.begin(), keys.end());
    auto twice = std::adjacent_find(keys.begin(), keys.end());
    if (twice == keys.end()) return std::nullopt;
    return std::string(*twice);
  }

  const Json::Projection* projection_;
  std::vector<Frame> stack_;
  size_t dropped_ = 0;     // containers open inside a dropped value
  bool dropNext_ = false;  // the next value is that of a dropped member
};

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

Result<Json> parseProjected(std::string_view text, const Json::Projection* projection) {
  Builder builder(projection);
  rapidjson::Reader reader;
  // The reader takes a zero byte for the end of the text, and JSON has none outside escapes.
  if (const auto zero = text.find('\0'); zero != std::string_view::npos)
    return makeError("not JSON: a zero byte at offset " + std::to_string(zero));
  // In situ: the reader decodes strings in a copy of the text rather than character by character
  // onto its own stack. The copy ends in zeros, where the reader stops; its 16-byte loads stay
  // inside.
  std::string buffer;
  buffer.reserve(text.size() + kScanPadding);
  buffer.append(text).append(kScanPadding, '\0');
  rapidjson::InsituStringStream stream(buffer.data());
  // Iterative: the reader keeps its own stack on the heap. Full precision: doubles as strtod
  // reads them.
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseFullPrecisionFlag |
                              rapidjson::kParseInsituFlag;
  const rapidjson::ParseResult result = reader.Parse<kFlags>(stream, builder);
  if (!builder.error.empty()) return makeError(builder.error);
  if (result.IsError()) {
    return makeError(std::string("not JSON: ") + rapidjson::GetParseError_En(result.Code()) +
                     " at offset " + std::to_string(result.Offset()));
  }
  return std::move(builder.root);
}

}  // namespace

Result<Json> Json::parse(std::string_view text) { return parseProjected(text, nullptr); }

Result<Json> Json::parse(std::string_view text, const Projection& projection) {
  return parseProjected(text, &projection);
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
