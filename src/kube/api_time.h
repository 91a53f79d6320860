#pragma once
// Timestamps as the Kubernetes API writes them (RFC 3339, UTC) and small shared helpers.
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace reaper::kube {

// metav1.Time: 2026-11-25T12:00:00Z
std::string formatTime(core::WallTime t);
// metav1.MicroTime: 2026-11-25T12:00:00.123456Z
std::string formatMicroTime(core::WallTime t);
// Either of the above (fraction optional, `Z` only).
std::optional<core::WallTime> parseTime(std::string_view text);

// A stable 64-bit FNV-1a hash as hex, for object names that must not change across restarts.
std::string stableHash(std::string_view text, size_t hexDigits);

}  // namespace reaper::kube
