#include "core/redact.h"

#include <algorithm>
#include <array>

#include "core/printable.h"

namespace reaper::core {
namespace {

constexpr size_t npos = std::string_view::npos;

// Parts of a name that mark its value as a secret, matched anywhere in it, case-insensitively
// ("pass" covers password, passwd, DB_PASS; "key" covers api_key, X-API-Key).
constexpr std::array<std::string_view, 10> kSecretWords = {
    "token",      "pass", "pwd",    "secret",  "key",
    "credential", "auth", "cookie", "private", "signature"};
// Airflow connections given as environment-style assignments: the whole value is a credential.
constexpr std::string_view kConnectionPrefix = "airflow_conn_";
// Words after `Authorization:` that name the scheme; the credential follows them.
constexpr std::array<std::string_view, 7> kAuthSchemes = {"basic", "bearer",    "digest", "token",
                                                          "bot",   "negotiate", "ntlm"};
// Credentials recognisable on their own, without a name: a JWT (three base64url parts, the first
// a JSON object) and prefixed tokens (GitHub, GitLab, Slack, Google API keys).
constexpr std::string_view kJwtPrefix = "eyJ";
constexpr std::array<std::string_view, 11> kTokenPrefixes = {
    "ghp_",   "gho_",  "ghu_",  "ghs_",  "ghr_", "github_pat_",
    "glpat-", "xoxb-", "xoxp-", "xoxa-", "AIza"};
constexpr size_t kMinPrefixedToken = 20;
// find(1) predicates that look like mysql's `-pPASSWORD`; every other `-p...` word is redacted.
constexpr std::array<std::string_view, 6> kFindPredicates = {"-path",   "-perm",   "-print",
                                                             "-print0", "-printf", "-prune"};

bool isSpace(char c) { return static_cast<unsigned char>(c) <= ' '; }
bool isQuote(char c) { return c == '"' || c == '\''; }
bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
// Characters of names, flags, URL schemes and bare tokens.
bool isRunChar(char c) {
  return isAlpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' || c == '+';
}
char toLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) { return toLower(x) == toLower(y); });
}

bool containsIgnoringCase(std::string_view text, std::string_view word) {
  // std::search: Clang 14 (the sanitizer trees) rejects libstdc++ 12's ranges::subrange.
  return std::search(text.begin(), text.end(), word.begin(), word.end(),
                     [](char x, char y) { return toLower(x) == y; }) != text.end();
}

bool isSecretName(std::string_view name) {
  if (name.size() >= kConnectionPrefix.size() &&
      equalsIgnoringCase(name.substr(0, kConnectionPrefix.size()), kConnectionPrefix))
    return true;
  return std::ranges::any_of(
      kSecretWords, [&](std::string_view word) { return containsIgnoringCase(name, word); });
}

bool startsWithSecretWord(std::string_view name) {
  return std::ranges::any_of(kSecretWords, [&](std::string_view word) {
    return name.size() >= word.size() && equalsIgnoringCase(name.substr(0, word.size()), word);
  });
}

bool isAuthScheme(std::string_view word) {
  return std::ranges::any_of(
      kAuthSchemes, [&](std::string_view scheme) { return equalsIgnoringCase(word, scheme); });
}

bool isBareCredential(std::string_view run) {
  if (run.starts_with(kJwtPrefix) && std::ranges::count(run, '.') >= 2) return true;
  return run.size() >= kMinPrefixedToken &&
         std::ranges::any_of(kTokenPrefixes,
                             [&](std::string_view prefix) { return run.starts_with(prefix); });
}

// One left-to-right pass. The text is cut into runs of name characters; a run decides what follows
// it (a URL's userinfo, a flag's value, an assignment's value) and the scan resumes after what it
// consumed. Every lookahead either consumes what it read or is bounded by the next word, and a word
// is searched for '@' once, so the pass is linear.
class Redactor {
 public:
  explicit Redactor(std::string_view text) : text_(text) { out_.reserve(text.size()); }

  std::string run() && {
    while (pos_ < text_.size()) {
      if (isRunChar(text_[pos_]))
        scanRun();
      else
        out_ += text_[pos_++];
    }
    return std::move(out_);
  }

 private:
  void scanRun() {
    const size_t start = pos_;
    size_t end = start;
    while (end < text_.size() && isRunChar(text_[end])) ++end;
    const std::string_view run = text_.substr(start, end - start);
    if (redactUserinfo(start, end)) return;
    if (isBareCredential(run)) {
      out_ += kRedacted;
      pos_ = end;
      return;
    }
    if (atWordStart(start) && run.starts_with('-') && redactFlagValue(run, end)) return;
    if (isSecretName(run) && redactAssignment(start, end)) return;
    copyUntil(end);
  }

  // scheme://user:password@host -> scheme://***@host (the last '@' of the word: passwords hold
  // unescaped '@' and '/' in practice).
  bool redactUserinfo(size_t start, size_t end) {
    if (text_.compare(end, 3, "://") != 0 || !isAlpha(text_[start])) return false;
    const size_t authority = end + 3;
    const size_t at = lastAtInWord(authority);
    if (at == npos) return false;
    copyUntil(authority);
    out_ += kRedacted;
    pos_ = at;
    return true;
  }

  // -pSECRET (mysql, sshpass), -p SECRET, --password SECRET, -u user:SECRET (curl).
  bool redactFlagValue(std::string_view flag, size_t end) {
    if (hasAttachedValue(flag, end)) {
      copyUntil(pos_ + 2);
      redactValue(false);
      return true;
    }
    if (end == text_.size() || !isSpace(text_[end])) return false;
    if (flag == "-p" || isSecretName(flag)) {
      copyUntil(skipSpaces(end));
      redactValue(false);
      return true;
    }
    if (flag == "-u" || flag == "--user") return redactAfterColon(skipSpaces(end));
    return false;
  }

  // -pSECRET, -p'SECRET' (but not find's -print, nor a named flag such as openssl's -pass).
  bool hasAttachedValue(std::string_view flag, size_t end) const {
    if (!flag.starts_with("-p") || isFindPredicate(flag, end) ||
        startsWithSecretWord(flag.substr(1)))
      return false;
    return flag.size() > 2 ? flag[2] != '-' : end < text_.size() && !isSpace(text_[end]);
  }

  bool isFindPredicate(std::string_view flag, size_t end) const {
    const bool wholeWord = end == text_.size() || isSpace(text_[end]) || isQuote(text_[end]);
    return wholeWord && std::ranges::find(kFindPredicates, flag) != kFindPredicates.end();
  }

  bool redactAfterColon(size_t word) {
    size_t colon = word;
    while (colon < text_.size() && !isSpace(text_[colon]) && text_[colon] != ':') ++colon;
    if (colon == text_.size() || text_[colon] != ':') return false;
    copyUntil(colon + 1);
    redactValue(false);
    return true;
  }

  // NAME=value, NAME: value, "name": "value", 'name': 'value', \"name\": \"value\".
  bool redactAssignment(size_t start, size_t end) {
    size_t i = end;
    bool quotedName = false;
    if (i < text_.size() && isQuote(text_[i])) {
      quotedName = true;
      ++i;
    } else if (i + 1 < text_.size() && text_[i] == '\\' && isQuote(text_[i + 1])) {
      quotedName = true;
      i += 2;
    }
    i = skipSpaces(i);
    if (i == text_.size() || (text_[i] != '=' && text_[i] != ':')) return false;
    // In JSON, a Python dict or a YAML flow mapping a value also ends at , } or ].
    const bool structured =
        quotedName || (start > 0 && (text_[start - 1] == '{' || text_[start - 1] == ','));
    copyUntil(skipSpaces(i + 1));
    redactValue(structured);
    return true;
  }

  // Replaces the value at pos_ by kRedacted, keeping its quotes.
  void redactValue(bool structured) {
    if (pos_ == text_.size()) return;
    const char c = text_[pos_];
    if (isQuote(c)) return redactQuoted(1, quotedEnd(pos_ + 1, c), 1);
    if (c == '\\' && pos_ + 1 < text_.size() && isQuote(text_[pos_ + 1]))
      return redactQuoted(2, escapedQuotedEnd(pos_ + 2, text_[pos_ + 1]), 2);
    if (c == '{' || c == '[') {
      out_ += kRedacted;
      pos_ = bracketEnd(pos_);
      return;
    }
    // `Authorization: Bearer SECRET`: the scheme stays, the credential after it goes.
    size_t end = bareEnd(pos_, structured);
    while (isAuthScheme(text_.substr(pos_, end - pos_)) && end < text_.size() &&
           isSpace(text_[end]) && skipSpaces(end) < text_.size()) {
      copyUntil(skipSpaces(end));
      end = bareEnd(pos_, structured);
    }
    if (end == pos_) return;
    out_ += kRedacted;
    pos_ = end;
  }

  void redactQuoted(size_t openLength, size_t close, size_t closeLength) {
    copyUntil(pos_ + openLength);
    out_ += kRedacted;
    pos_ = close;
    if (close < text_.size()) copyUntil(close + closeLength);
  }

  // The closing quote of a string opened before `i`, skipping backslash escapes (JSON, Python).
  size_t quotedEnd(size_t i, char quote) const {
    while (i < text_.size() && text_[i] != quote) i += text_[i] == '\\' ? 2 : 1;
    return std::min(i, text_.size());
  }

  // The closing \" of a string inside a shell-escaped JSON document: there an escaped quote is
  // \\\" and an escaped backslash \\\\.
  size_t escapedQuotedEnd(size_t i, char quote) const {
    while (i < text_.size()) {
      if (text_[i] != '\\') {
        ++i;
      } else if (i + 1 < text_.size() && text_[i + 1] == quote) {
        return i;
      } else if (text_.compare(i, 3, "\\\\\\") == 0 && i + 3 < text_.size() &&
                 (text_[i + 3] == quote || text_[i + 3] == '\\')) {
        i += 4;
      } else {
        i += 2;
      }
    }
    return text_.size();
  }

  // The end of the object or array opening at `i`, quoted strings skipped.
  size_t bracketEnd(size_t i) const {
    size_t depth = 0;
    while (i < text_.size()) {
      const char c = text_[i];
      if (isQuote(c)) {
        i = quotedEnd(i + 1, c) + 1;
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if ((c == '}' || c == ']') && --depth == 0) return i + 1;
      ++i;
    }
    return text_.size();
  }

  size_t bareEnd(size_t i, bool structured) const {
    while (i < text_.size() && !isSpace(text_[i]) && !isQuote(text_[i]) &&
           !(structured && (text_[i] == ',' || text_[i] == '}' || text_[i] == ']')))
      ++i;
    return i;
  }

  size_t skipSpaces(size_t i) const {
    while (i < text_.size() && isSpace(text_[i])) ++i;
    return i;
  }

  bool atWordStart(size_t i) const {
    return i == 0 || isSpace(text_[i - 1]) || isQuote(text_[i - 1]);
  }

  // The last '@' at or after `from` in the word around `from` (npos: none). A word is searched
  // once, however many "://" it holds.
  size_t lastAtInWord(size_t from) {
    if (from >= searchedUntil_) {
      lastAt_ = npos;
      size_t i = from;
      for (; i < text_.size() && !isSpace(text_[i]) && !isQuote(text_[i]); ++i)
        if (text_[i] == '@') lastAt_ = i;
      searchedUntil_ = std::max(i, from + 1);
    }
    return lastAt_ != npos && lastAt_ >= from ? lastAt_ : npos;
  }

  void copyUntil(size_t end) {
    out_.append(text_.substr(pos_, end - pos_));
    pos_ = end;
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::string out_;
  size_t searchedUntil_ = 0;
  size_t lastAt_ = npos;
};

}  // namespace

std::string redactCommandLine(std::string_view commandLine) {
  const bool capped = commandLine.size() > kMaxRedactedInput;
  if (capped) {
    // A secret cut in half may no longer look like one: the partial last word goes too.
    commandLine = commandLine.substr(0, kMaxRedactedInput);
    size_t end = commandLine.size();
    while (end > 0 && !isSpace(commandLine[end - 1])) --end;
    commandLine = commandLine.substr(0, end);
  }
  std::string redacted = Redactor(commandLine).run();
  if (capped) redacted += "...";
  return redacted;
}

std::string redactedCommandLine(const std::vector<std::string>& argv, size_t maxLength) {
  // Joined only up to just past the cap, so redactCommandLine sees that it was capped.
  std::string joined;
  for (const auto& arg : argv) {
    if (joined.size() > kMaxRedactedInput) break;
    if (!joined.empty()) joined += ' ';
    joined.append(arg, 0, kMaxRedactedInput + 1 - joined.size());
  }
  // One line per command: scripts passed with `-c` carry newlines and tabs.
  std::replace_if(
      joined.begin(), joined.end(), [](char c) { return c >= 0 && c < ' '; }, ' ');
  return printable(redactCommandLine(joined), maxLength);
}

}  // namespace reaper::core
