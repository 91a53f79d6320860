#pragma once
// Credentials kept in files (mounted Secrets, projected service-account tokens), read up to
// kMaxSecretBytes: a wrong path such as /dev/zero fails at once instead of filling memory.
#include <sys/stat.h>

#include <string>

#include "core/result.h"

namespace reaper::net {

// The content of the regular file at `path` without surrounding whitespace; an error when it is not
// a regular file, is larger than `maxBytes` or is empty.
core::Result<std::string> readSecretFile(const std::string& path, size_t maxBytes);

// A credential file re-read when it changes (inode, size or mtime), so rotation needs no restart.
class SecretFile {
 public:
  explicit SecretFile(std::string path) : path_(std::move(path)) {}
  core::Result<std::string> read();
  // Forces the next read() to go to the file.
  void invalidate() { cached_.clear(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string cached_;
  struct stat seen_ {};
};

}  // namespace reaper::net
