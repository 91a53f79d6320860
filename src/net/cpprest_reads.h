#pragma once
// Reading cpprestsdk replies within the limits of net/limits.h, for the adapters of both clients.
// Include only from a cpprestsdk adapter .cpp, after spdlog (fmt 9 breaks otherwise).
#include <cpprest/http_client.h>

#include <string>

#include "core/result.h"

namespace reaper::net {

// Reads a reply's whole body, up to `maxBytes`. A reply that announces or delivers more is an
// error, and `transfer` (the source of the request's cancellation token) is cancelled as soon as
// it passes the cap, so cpprestsdk stops reading: memory stays within about `maxBytes` whatever
// the server sends.
core::Result<std::string> readBodyCapped(web::http::http_response& response, size_t maxBytes,
                                         pplx::cancellation_token_source& transfer);

}  // namespace reaper::net
