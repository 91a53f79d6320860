#include "kube/api_time.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace reaper::kube {
namespace {

std::string formatWithFraction(core::WallTime t, int digits) {
  auto sinceEpoch = t.time_since_epoch();
  auto seconds = std::chrono::floor<std::chrono::seconds>(sinceEpoch);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(sinceEpoch - seconds).count();
  std::time_t secs = static_cast<std::time_t>(seconds.count());
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (digits > 0) {
    std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(micros));
    out += buf;
  }
  return out + "Z";
}

}  // namespace

std::string formatTime(core::WallTime t) { return formatWithFraction(t, 0); }
std::string formatMicroTime(core::WallTime t) { return formatWithFraction(t, 6); }

std::optional<core::WallTime> parseTime(std::string_view text) {
  std::tm tm{};
  std::string s(text);
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return std::nullopt;
  long long micros = 0;
  if (*rest == '.') {
    int digits = 0;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, ++digits) {
      if (digits < 6) micros = micros * 10 + (*rest - '0');
    }
    for (; digits < 6; ++digits) micros *= 10;
  }
  if (std::string_view(rest) != "Z") return std::nullopt;
  return core::WallTime(std::chrono::seconds(timegm(&tm))) + std::chrono::microseconds(micros);
}

std::string stableHash(std::string_view text, size_t hexDigits) {
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash));
  return std::string(buf, std::min<size_t>(hexDigits, 16));
}

}  // namespace reaper::kube
