#pragma once
// Checks across keys that the parser cannot make one value at a time.
#include "config/config.h"

namespace reaper::config {

// What the file alone must satisfy.
core::Status validateFile(const Config& config);
// What the resolved configuration must satisfy once flags and defaults are applied.
core::Status validateResolved(const Config& config);

}  // namespace reaper::config
