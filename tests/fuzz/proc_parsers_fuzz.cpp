// libFuzzer-style harness for the /proc parsers and the command-line recognition: any bytes, no
// crash, no exception.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "os/proc_stat.h"
#include "proc/airflow_process.h"
#include "proc/parsers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)reaper::os::parseStat(text);
  (void)reaper::os::parseSchedstat(text);
  (void)reaper::proc::parseStatus(text);
  (void)reaper::proc::parseAirflowContext(text);
  (void)reaper::proc::parseCgroup(text);
  (void)reaper::proc::recognize(reaper::proc::parseCmdline(text));
  (void)reaper::proc::parseWorkloadJson(text);
  return 0;
}
