#include "net/secret_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "net/limits.h"

namespace reaper::net {
namespace {

core::Error fileError(const std::string& path, int error) {
  return core::makeError("cannot read " + path + ": " + std::strerror(error), error);
}

bool sameFile(const struct stat& a, const struct stat& b) {
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

bool isSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

}  // namespace

core::Result<std::string> readSecretFile(const std::string& path, size_t maxBytes) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return fileError(path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return core::makeError(path + " is not a regular file");
  }
  std::string content(maxBytes + 1, '\0');
  size_t used = 0;
  while (used < content.size()) {
    const ssize_t n = ::read(fd, content.data() + used, content.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return fileError(path, error);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  ::close(fd);
  if (used > maxBytes) {
    return core::makeError(path + " is larger than " + std::to_string(maxBytes) + " bytes");
  }
  content.resize(used);
  content.erase(content.begin(), std::find_if_not(content.begin(), content.end(), isSpace));
  content.erase(std::find_if_not(content.rbegin(), content.rend(), isSpace).base(), content.end());
  if (content.empty()) return core::makeError(path + " is empty");
  return content;
}

core::Result<std::string> SecretFile::read() {
  struct stat now {};
  if (::stat(path_.c_str(), &now) != 0) return fileError(path_, errno);
  if (!cached_.empty() && sameFile(now, seen_)) return cached_;
  auto content = readSecretFile(path_, kMaxSecretBytes);
  if (!content.ok()) return content.error();
  cached_ = std::move(content).value();
  seen_ = now;
  return cached_;
}

}  // namespace reaper::net
