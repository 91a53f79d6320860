#include "proc/parsers.h"

#include "os/proc_text.h"

namespace reaper::proc {
namespace {

using os::proc_text::nextField;
using os::proc_text::toNumber;
using os::proc_text::trim;

bool validUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 0 || i + len > text.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

void applyContextVariable(std::string_view name, std::string_view value, AirflowContext& ctx) {
  if (!validUtf8(value)) return;
  if (name == "DAG_ID") {
    ctx.dagId = value;
  } else if (name == "TASK_ID") {
    ctx.taskId = value;
  } else if (name == "DAG_RUN_ID") {
    ctx.runId = value;
  } else if (name == "TRY_NUMBER") {
    int n = 0;
    if (toNumber(value, n) && n > 0) ctx.tryNumber = n;
  } else if (name == "MAP_INDEX") {
    int n = 0;
    if (toNumber(value, n) && n >= -1) {
      ctx.mapIndex = n;
      ctx.hasMapIndex = true;
    }
  }
}

}  // namespace

core::TaskInstanceKey AirflowContext::key() const {
  return core::TaskInstanceKey{dagId, taskId, runId, mapIndex, tryNumber};
}

core::Result<StatusFields> parseStatus(std::string_view text) {
  StatusFields status;
  bool haveUid = false;
  bool haveTgid = false;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    if (name == "Tgid") {
      haveTgid = toNumber(trim(value), status.tgid);
    } else if (name == "Uid") {
      value = trim(value);
      std::string_view real = nextField(value);
      std::string_view effective = nextField(value);
      haveUid = toNumber(real, status.realUid) && toNumber(effective, status.effectiveUid);
    } else if (name == "NSpid") {
      value = trim(value);
      for (std::string_view f = nextField(value); !f.empty(); f = nextField(value)) {
        core::Pid pid = 0;
        if (!toNumber(f, pid)) return core::makeError("status: bad NSpid");
        status.nsPids.push_back(pid);
      }
    } else if (name == "Kthread") {
      status.kthread = trim(value) == "1";
    }
  }
  if (!haveUid || !haveTgid) return core::makeError("status: no Uid or Tgid");
  return status;
}

std::vector<std::string> parseCmdline(std::string_view text) {
  while (!text.empty() && text.back() == '\0') text.remove_suffix(1);
  std::vector<std::string> argv;
  if (text.empty()) return argv;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nul = text.find('\0', start);
    if (nul == std::string_view::npos) nul = text.size();
    argv.emplace_back(text.substr(start, nul - start));
    start = nul + 1;
  }
  return argv;
}

AirflowContext parseAirflowContext(std::string_view environ) {
  constexpr std::string_view kPrefix = "AIRFLOW_CTX_";
  AirflowContext ctx;
  while (!environ.empty()) {
    size_t nul = environ.find('\0');
    std::string_view entry = environ.substr(0, nul);
    environ.remove_prefix(nul == std::string_view::npos ? environ.size() : nul + 1);
    if (!entry.starts_with(kPrefix)) continue;
    entry.remove_prefix(kPrefix.size());
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    applyContextVariable(entry.substr(0, eq), entry.substr(eq + 1), ctx);
  }
  return ctx;
}

std::vector<CgroupEntry> parseCgroup(std::string_view text) {
  std::vector<CgroupEntry> entries;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    size_t first = line.find(':');
    if (first == std::string_view::npos) continue;
    size_t second = line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    CgroupEntry entry;
    if (!toNumber(line.substr(0, first), entry.hierarchyId)) continue;
    entry.controllers = line.substr(first + 1, second - first - 1);
    entry.path = line.substr(second + 1);  // a path may itself contain ':'
    if (entry.path.empty() || entry.path.front() != '/') continue;
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace reaper::proc
