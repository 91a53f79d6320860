// libFuzzer harness for redaction: any command line, as one string and as NUL-separated argv.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/redact.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)reaper::core::redactCommandLine(text);
  std::vector<std::string> argv;
  for (size_t start = 0; start <= text.size();) {
    size_t end = text.find('\0', start);
    if (end == std::string_view::npos) end = text.size();
    argv.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  (void)reaper::core::redactedCommandLine(argv);
  (void)reaper::core::redactedCommandLine(argv, 64);
  return 0;
}
