#pragma once
// Checks across keys that the parser cannot make one value at a time.
#include "config/config.h"

namespace reaper::config {

// What the file alone must satisfy.
core::Status validateFile(const Config& config);
// What the resolved configuration must satisfy once flags and defaults are applied.
core::Status validateResolved(const Config& config);
// server.bindAddress: host:port (IPv6 in brackets or bare), port 0 for any free port.
core::Status checkBindAddress(const std::string& address);

}  // namespace reaper::config
