// libFuzzer harness for the Airflow API replies: TaskInstance lists (v1 and v2), token replies,
// JWT payloads and version replies.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "airflow/ti_query.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace airflow = reaper::airflow;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto version : {airflow::ApiVersion::V1, airflow::ApiVersion::V2}) {
    auto page = airflow::parseListReply(text, version);
    if (page) {
      std::vector<reaper::core::TaskInstanceKey> keys;
      for (const auto& record : page->records) keys.push_back(record.key);
      (void)airflow::matchRecords(keys, page->records);
    }
  }
  (void)airflow::parseTokenReply(text);
  (void)airflow::jwtExpiry(text);
  (void)airflow::isVersionReply(text);
  return 0;
}
