#pragma once
// What Json::parse with a projection must build, computed from a full parse: the tests and the fuzz
// harness hold the projection to it.
#include <algorithm>
#include <cstddef>

#include "core/json.h"

namespace reaper::test {

// `json` without the members `projection` drops; `depth` is that of `json` itself.
inline core::Json projected(const core::Json& json, const core::Json::Projection& projection,
                            size_t depth = 0) {
  if (json.isArray()) {
    core::Json::Array items;
    for (const auto& item : json.items()) items.push_back(projected(item, projection, depth + 1));
    return items;
  }
  if (!json.isObject()) return json;
  const auto& keys = projection.keys;
  core::Json::Members members;
  for (const auto& [key, value] : json.members()) {
    if (depth == projection.depth && std::find(keys.begin(), keys.end(), key) == keys.end())
      continue;
    members.emplace_back(key, projected(value, projection, depth + 1));
  }
  return members;
}

}  // namespace reaper::test
