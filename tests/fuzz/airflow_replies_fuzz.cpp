// libFuzzer harness for the Airflow API replies: TaskInstance lists (v1 and v2), token replies,
// JWT payloads, timestamps and version replies; and the projection the list replies are parsed
// with, held to the full parse.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <utility>
#include <vector>

#include "airflow/ti_query.h"
#include "core/json.h"
#include "support/json_projection.h"

namespace {

// What the full parse reads, a projection builds; and it rejects everything the full parse does
// but for a key twice among the members it drops.
void checkProjection(std::string_view text) {
  namespace core = reaper::core;
  static const core::Json::Projection kProjections[] = {
      {.depth = 0, .keys = {"task_instances"}},
      {.depth = 2, .keys = {"dag_id", "state", "id", "map_index"}}};
  auto full = core::Json::parse(text);
  for (const auto& projection : kProjections) {
    auto kept = core::Json::parse(text, projection);
    if (full.ok() && (!kept.ok() || *kept != reaper::test::projected(*full, projection)))
      std::abort();
    if (kept.ok() && !full.ok() && full.error().message.find(" twice") == std::string::npos)
      std::abort();
  }
}

}  // namespace

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
  checkProjection(text);
  return 0;
}
