// libFuzzer harness for what the kube-apiserver sends: pod JSON, pod lists and watch lines.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kube/pod.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto pod = reaper::kube::parsePod(text)) (void)pod->annotatedTaskInstance();
  (void)reaper::kube::parsePodList(text);
  (void)reaper::kube::parseWatchLine(text);
  return 0;
}
