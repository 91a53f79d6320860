#pragma once
// Base64 (RFC 4648): Basic credentials and the segments of a JWT.
#include <optional>
#include <string>
#include <string_view>

namespace reaper::net {

// The standard alphabet, with padding.
std::string base64Encode(std::string_view bytes);
// The URL-safe alphabet (- and _), padding optional, as JWT segments are written (RFC 7515);
// nullopt for any other character or an impossible length.
std::optional<std::string> base64UrlDecode(std::string_view text);

}  // namespace reaper::net
