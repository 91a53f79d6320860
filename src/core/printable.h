#pragma once
// The one sanitizer for text that leaves the agent (logs, scan output, Events, custom resources).
// Dag ids, command lines and API replies are foreign bytes: a newline in a dag id would forge a log
// line, an ANSI escape would rewrite a terminal, a stray byte makes JSON invalid. The result is
// valid UTF-8 without control characters:
//   \n \r \t           for those three;
//   \xNN               for any other C0 control, DEL, and each byte that is not valid UTF-8;
//   \uNNNN             for C1 controls, line/paragraph separators and bidi overrides.
// A backslash is kept as is, so the text reads naturally; it is for display, not lossless.
#include <cstddef>
#include <string>
#include <string_view>

namespace reaper::core {

// The code point of the valid UTF-8 sequence at the start of `text` (not empty) and its length;
// length 0 when the sequence is invalid (truncated, overlong, a surrogate or above U+10FFFF).
struct Utf8Char {
  char32_t codePoint = 0;
  size_t length = 0;
};
Utf8Char decodeUtf8(std::string_view text);

// `text` made printable; `maxBytes` (0: unbounded) bounds the result, which then ends in "..." and
// never splits a character or an escape.
std::string printable(std::string_view text, size_t maxBytes = 0);

// `text` as a double-quoted string: printable's escapes, plus \" and \\ so the quotes are
// unambiguous (key="value" log fields).
std::string quoted(std::string_view text);

// `text` as a JSON string: printable's escapes, then \" and \\ as JSON requires.
std::string jsonQuoted(std::string_view text);

}  // namespace reaper::core
