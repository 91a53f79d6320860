#pragma once
// Secret redaction for anything that leaves the agent (logs, scan output, Events, custom
// resources). Command lines carry secrets: the KubernetesExecutor --json-string holds the task's
// execution token, connection URIs hold passwords, `--password`-style arguments, `-pSECRET` and
// `*_PASSWORD=` assignments hold credentials, scripts pass `Authorization: Bearer` headers.
// Redaction errs on the side of hiding too much.
//
// One hand-written left-to-right scan, linear in its input, which is capped at kMaxRedactedInput
// before the scan starts: command lines are foreign bytes, up to megabytes long (a backtracking
// regex over them recursed once per byte and crashed the agent on a 40 KB argument).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace reaper::core {

inline constexpr std::string_view kRedacted = "***";
// Only this much of a command line is looked at (and shown); the rest becomes "...".
inline constexpr size_t kMaxRedactedInput = 64 * 1024;

// Redacts one command line given as a single string (arguments joined by spaces). The result is
// raw bytes: printable() it before it leaves the agent.
std::string redactCommandLine(std::string_view commandLine);

// Joins argv with spaces (control characters become spaces, so a `-c` script is one line),
// redacts it and makes it printable; `maxLength` bounds the result (0: only the input cap).
std::string redactedCommandLine(const std::vector<std::string>& argv, size_t maxLength = 0);

}  // namespace reaper::core
