#pragma once
// Secret redaction for anything that leaves the agent (logs, scan output, Events, custom
// resources). Command lines carry secrets: the KubernetesExecutor --json-string holds the task's
// execution token, connection URIs hold passwords, `--password`-style arguments and `*_PASSWORD=`
// assignments hold credentials. Redaction errs on the side of hiding too much.
#include <string>
#include <string_view>
#include <vector>

namespace reaper::core {

inline constexpr std::string_view kRedacted = "***";

// Redacts one command line given as a single string (arguments joined by spaces).
std::string redactCommandLine(std::string_view commandLine);

// Joins argv with spaces and redacts it; `maxLength` bounds the result (0: unbounded).
std::string redactedCommandLine(const std::vector<std::string>& argv, size_t maxLength = 0);

}  // namespace reaper::core
