// Redaction cost per command line: a typical KubernetesExecutor workload, the 40 KB argument and
// the 20 KB JSON token that crashed the std::regex version, and a 5 MB argument (capped before the
// scan). Prints numbers; asserts nothing about them.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "core/redact.h"

namespace {

void measure(const char* name, const std::vector<std::string>& argv) {
  constexpr int kRounds = 20;
  size_t bytes = 0;
  for (const auto& arg : argv) bytes += arg.size() + 1;
  const auto start = std::chrono::steady_clock::now();
  size_t out = 0;
  for (int i = 0; i < kRounds; ++i) out += reaper::core::redactedCommandLine(argv, 512).size();
  const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
  std::printf("redact %-22s input=%8zu B  %9.1f us/command line  (out %zu B)\n", name, bytes,
              took.count() / kRounds, out / kRounds);
}

}  // namespace

int main() {
  const std::string workload =
      R"({"token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIwMTkzIn0.c2lnbmF0dXJl","ti":{"id":"0193","task_id":"t","dag_id":"d","run_id":"r","try_number":1,"map_index":-1},"dag_rel_path":"d.py","type":"ExecuteTask"})";
  measure("kubernetes workload", {"python", "-m", "airflow.sdk.execution_time.execute_workload",
                                  "--json-string", workload});
  measure("40 KB argument", {"python", "-c", std::string(40 * 1024, 'x')});
  measure("20 KB JSON token",
          {"python", "--json-string", R"({"token": ")" + std::string(20 * 1024, 'S') + "\"}"});
  measure("5 MB argument", {"python", "-c", std::string(5 << 20, 'x')});
  return 0;
}
