#pragma once
// A credential kept in a file (mounted Secret): re-read when the file changes, so rotation needs no
// restart.
#include <sys/stat.h>

#include <string>

#include "core/result.h"

namespace reaper::airflow {

class FileSecret {
 public:
  explicit FileSecret(std::string path) : path_(std::move(path)) {}
  // The file's content without trailing whitespace; re-read when its mtime, size or inode changed.
  core::Result<std::string> read();
  // Forces the next read() to go to the file.
  void invalidate() { cached_.clear(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string cached_;
  struct stat seen_ {};
};

}  // namespace reaper::airflow
