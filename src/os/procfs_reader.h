#pragma once
// ProcFs over a real procfs mount. One instance per thread: it reuses a path buffer between reads.
#include <string>

#include "os/proc_fs.h"

namespace reaper::os {

class ProcfsReader final : public ProcFs {
 public:
  explicit ProcfsReader(std::string procRoot);

  std::vector<core::Pid> listPids() override;
  core::Result<std::string> read(core::Pid pid, std::string_view file, size_t maxBytes) override;
  core::Result<std::string> readRoot(std::string_view file) override;

 private:
  core::Result<std::string> readPath(const char* path, size_t maxBytes);

  std::string root_;
  std::string path_;  // reused to build file paths without allocating per read
};

}  // namespace reaper::os
