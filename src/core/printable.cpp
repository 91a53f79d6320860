#include "core/printable.h"

#include <algorithm>
#include <cstdint>

namespace reaper::core {
namespace {

constexpr std::string_view kEllipsis = "...";
constexpr char kHex[] = "0123456789abcdef";

// Valid code points that still must not reach a log line or a terminal verbatim.
bool isHiddenControl(char32_t c) {
  return (c >= 0x80 && c <= 0x9F) ||      // C1 controls (CSI is one)
         c == 0x2028 || c == 0x2029 ||    // line and paragraph separators
         (c >= 0x202A && c <= 0x202E) ||  // bidi embeddings and overrides
         (c >= 0x2066 && c <= 0x2069);    // bidi isolates
}

void appendByteEscape(std::string& out, unsigned char byte) {
  out += "\\x";
  out += kHex[byte >> 4];
  out += kHex[byte & 0xF];
}

void appendCodePointEscape(std::string& out, char32_t c) {
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(c >> shift) & 0xF];
}

// Appends the printable form of the character (or invalid byte) at the start of `text`; returns how
// many input bytes it consumed.
size_t appendUnit(std::string& out, std::string_view text, bool escapeQuotes) {
  const Utf8Char decoded = decodeUtf8(text);
  const char c = text.front();
  if (decoded.length == 0) {
    appendByteEscape(out, static_cast<unsigned char>(c));
    return 1;
  }
  if (decoded.length == 1) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      appendByteEscape(out, static_cast<unsigned char>(c));
    } else {
      if (escapeQuotes && (c == '"' || c == '\\')) out += '\\';
      out += c;
    }
    return 1;
  }
  if (isHiddenControl(decoded.codePoint))
    appendCodePointEscape(out, decoded.codePoint);
  else
    out.append(text.substr(0, decoded.length));
  return decoded.length;
}

}  // namespace

Utf8Char decodeUtf8(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return {lead, 1};
  size_t length = 0;
  char32_t codePoint = 0;
  char32_t minimum = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, codePoint = lead & 0x1F, minimum = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, codePoint = lead & 0x0F, minimum = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, codePoint = lead & 0x07, minimum = 0x10000;
  } else {
    return {};
  }
  if (length > text.size()) return {};
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return {};
    codePoint = (codePoint << 6) | (byte(i) & 0x3F);
  }
  if (codePoint < minimum || codePoint > 0x10FFFF || (codePoint >= 0xD800 && codePoint <= 0xDFFF))
    return {};
  return {codePoint, length};
}

std::string printable(std::string_view text, size_t maxBytes) {
  std::string out;
  out.reserve(maxBytes > 0 ? std::min(maxBytes, text.size()) : text.size());
  // The longest prefix that still leaves room for the ellipsis, at a unit boundary.
  const size_t roomBeforeEllipsis = maxBytes > kEllipsis.size() ? maxBytes - kEllipsis.size() : 0;
  size_t fitsWithEllipsis = 0;
  while (!text.empty()) {
    text.remove_prefix(appendUnit(out, text, false));
    if (maxBytes == 0) continue;
    if (out.size() > maxBytes) {
      out.resize(fitsWithEllipsis);
      out += kEllipsis;
      break;
    }
    if (out.size() <= roomBeforeEllipsis) fitsWithEllipsis = out.size();
  }
  return out;
}

std::string quoted(std::string_view text) {
  std::string out = "\"";
  while (!text.empty()) text.remove_prefix(appendUnit(out, text, true));
  out += '"';
  return out;
}

std::string jsonQuoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : printable(text)) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace reaper::core
