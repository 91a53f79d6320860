// libFuzzer harness for the Airflow API replies: TaskInstance lists (v1 and v2), token replies,
// JWT payloads, timestamps and version replies.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "airflow/ti_query.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace airflow = reaper::airflow;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto version : {airflow::ApiVersion::V1, airflow::ApiVersion::V2}) {
    auto page = airflow::parseListReply(text, version);
    if (!page) continue;
    std::vector<reaper::core::TaskInstanceKey> keys;
    for (const auto& record : page->records) keys.push_back(record.key);
    airflow::Listing listing;
    (void)listing.add(std::move(page).value());
    (void)airflow::matchRecords(keys, listing);
  }
  (void)airflow::parseTimestamp(text);
  (void)airflow::parseTokenReply(text);
  (void)airflow::jwtExpiry(text);
  (void)airflow::isVersionReply(text);
  return 0;
}
