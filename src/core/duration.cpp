#include "core/duration.h"

#include <cctype>
#include <charconv>

namespace reaper::core {
namespace {

struct Unit {
  std::string_view suffix;
  long long millis;
};
// Longest suffix first so "ms" is not read as "m".
constexpr Unit kUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};

}  // namespace

Result<Duration> parseDuration(std::string_view text) {
  if (text.empty()) return makeError("empty duration");
  const std::string original(text);
  long long total = 0;
  while (!text.empty()) {
    long long amount = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), amount);
    if (ec != std::errc() || end == text.data() || amount < 0)
      return makeError("bad duration '" + original + "' (want e.g. 500ms, 2s, 1m, 1h)");
    text.remove_prefix(end - text.data());
    const Unit* unit = nullptr;
    for (const auto& u : kUnits) {
      if (text.starts_with(u.suffix)) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr)
      return makeError("bad duration '" + original + "': missing unit (ms, s, m or h)");
    text.remove_prefix(unit->suffix.size());
    if (amount > (1LL << 40) / unit->millis)
      return makeError("duration '" + original + "' too large");
    total += amount * unit->millis;
  }
  return Duration(total);
}

std::string formatDuration(Duration d) {
  const auto ms = d.count();
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  return std::to_string(ms / 1000) + "s";
}

}  // namespace reaper::core
