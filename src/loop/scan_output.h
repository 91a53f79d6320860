#pragma once
// What `airflow-reaper scan` prints: the registered trees and what the agent would do with each.
// Command lines are redacted; environments are never printed.
#include <string>
#include <vector>

#include "loop/reap_loop.h"

namespace reaper::loop {

// The contract's JSON document: {"trees":[{"pod","ti","state","processes","action", ...}]}.
std::string scanJson(const std::vector<Assessment>& assessments);
// One line per tree, then its processes indented.
std::string scanTable(const std::vector<Assessment>& assessments);

}  // namespace reaper::loop
