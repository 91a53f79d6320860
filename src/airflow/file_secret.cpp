#include "airflow/file_secret.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace reaper::airflow {
namespace {

bool sameFile(const struct stat& a, const struct stat& b) {
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

}  // namespace

core::Result<std::string> FileSecret::read() {
  struct stat now {};
  if (::stat(path_.c_str(), &now) != 0) {
    return core::makeError("cannot read " + path_ + ": " + std::strerror(errno), errno);
  }
  if (!cached_.empty() && sameFile(now, seen_)) return cached_;
  std::ifstream in(path_, std::ios::binary);
  if (!in) return core::makeError("cannot read " + path_ + ": " + std::strerror(errno), errno);
  std::ostringstream content;
  content << in.rdbuf();
  std::string value = content.str();
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
  if (value.empty()) return core::makeError(path_ + " is empty");
  cached_ = std::move(value);
  seen_ = now;
  return cached_;
}

}  // namespace reaper::airflow
