#pragma once
// What `airflow-reaper scan` prints: the registered trees and what the agent would do with each.
// Command lines are redacted; environments are never printed.
#include <optional>
#include <string>
#include <vector>

#include "loop/reap_loop.h"

namespace reaper::loop {

// Which trees `scan` shows; an unset field matches every tree.
struct ScanFilter {
  std::optional<std::string> state;  // the TI state as stateLabel() spells it
  std::optional<std::string> pod;    // NAME or NAMESPACE/NAME
  std::optional<std::string> dag;    // dag_id
};

bool matches(const ScanFilter& filter, const Assessment& assessment);

// The contract's JSON document: {"trees":[{"pod","ti","state","processes","action", ...}]}.
std::string scanJson(const std::vector<Assessment>& assessments);
// One aligned row per tree (with `processes`, its members below it), then a summary line;
// `total` is how many trees the node has before filtering.
std::string scanTable(const std::vector<Assessment>& assessments, bool processes, size_t total);

}  // namespace reaper::loop
