#pragma once
// Helpers shared by the test suites.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace reaper::test {

// CI runs as root with CI=true: there a test that would skip for lack of privilege fails instead.
inline bool inCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// Built with ASan or TSan: their shadow memory and quarantine make resident memory no measure of
// what the code under test holds.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

inline std::string sourceDir() {
  const char* dir = std::getenv("REAPER_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

inline std::string binaryDir() {
  const char* dir = std::getenv("REAPER_BINARY_DIR");
  return dir != nullptr ? dir : ".";
}

// Debian's python3 (with python3-yaml), which runs the test stand-ins.
inline std::string python() {
  const char* py = std::getenv("REAPER_PYTHON");
  return py != nullptr ? py : "/usr/bin/python3";
}

}  // namespace reaper::test

// Skips a test that needs root (cgroups, namespaces), or fails it under CI where it must run.
#define REAPER_REQUIRE_ROOT()                                                      \
  do {                                                                             \
    if (::geteuid() != 0) {                                                        \
      if (::reaper::test::inCi()) FAIL() << "needs root, and CI must run as root"; \
      GTEST_SKIP() << "needs root (real cgroups and PID namespaces)";              \
    }                                                                              \
  } while (0)

// Skips (or fails under CI) when a precondition of the machine is missing.
#define REAPER_REQUIRE(cond, why)                                         \
  do {                                                                    \
    if (!(cond)) {                                                        \
      if (::reaper::test::inCi()) FAIL() << "required under CI: " << why; \
      GTEST_SKIP() << why;                                                \
    }                                                                     \
  } while (0)
