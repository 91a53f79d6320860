#pragma once
// How much the agent reads of what comes in over the network or from credential files. Each limit
// is written here once; the Airflow and Kubernetes clients share them.
#include <cstddef>

namespace reaper::net {

// One HTTP reply body (an Airflow list page of 100 TIs is ~100 KiB; a Kubernetes list of a few
// hundred pods a few MiB). Over it the reply is an error, never a partial body.
inline constexpr size_t kMaxReplyBytes = 8 << 20;
// A credential file: a password, a bearer token, a projected service-account JWT.
inline constexpr size_t kMaxSecretBytes = 64 << 10;

}  // namespace reaper::net
