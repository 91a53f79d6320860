// libFuzzer harness for the YAML configuration file: parsing and validation of what parses.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.h"
#include "config/validate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto config = reaper::config::parseConfig(text)) (void)reaper::config::validateFile(*config);
  return 0;
}
