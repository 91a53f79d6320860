#pragma once
// How much the agent reads of what comes in over the network or from credential files. Each limit
// is written here once; the Airflow and Kubernetes clients share them.
#include <cstddef>

namespace reaper::net {

// One HTTP reply body (an Airflow list page of 100 TIs is ~100 KiB; a Kubernetes list of a few
// hundred pods a few MiB). Over it the reply is an error, never a partial body.
inline constexpr size_t kMaxReplyBytes = 8 << 20;
// One line of a streamed reply (a Kubernetes watch event: one object, which the apiserver stores
// only up to etcd's 1.5 MiB request limit; its JSON is larger than the stored protobuf). Longer,
// the stream is ended before the rest of the line is read.
inline constexpr size_t kMaxLineBytes = 4 << 20;
// A credential file: a password, a bearer token, a projected service-account JWT.
inline constexpr size_t kMaxSecretBytes = 64 << 10;

}  // namespace reaper::net
