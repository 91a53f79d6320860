#pragma once
// Runs tests/e2e/fake_airflow/fake_airflow.py on loopback for one test and drives its /_fake/
// control API. The destructor kills the child it started, and only that child, even when the test
// fails.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/types.h"

namespace reaper::test {

struct FakeAirflowOptions {
  std::string api = "v2";     // v2 | v1
  std::string auth = "none";  // none | jwt | basic | bearer
  std::string username = "admin";
  std::string password = "admin";
  std::string token{};
  int tokenTtlSeconds = 3600;
  double hangSeconds = 3;
  std::string tlsCert{};
  std::string tlsKey{};
};

class FakeAirflowServer {
 public:
  explicit FakeAirflowServer(FakeAirflowOptions options);
  ~FakeAirflowServer();
  FakeAirflowServer(const FakeAirflowServer&) = delete;
  FakeAirflowServer& operator=(const FakeAirflowServer&) = delete;

  // Empty when the server is up; otherwise why it is not.
  const std::string& startError() const { return startError_; }
  std::string baseUrl() const;

  // `state` nullopt = a TI without state (cleared). `fields`: a JSON object of further control
  // fields (start_date, end_date, hostname, overrides). Returns the TI's uuid.
  std::string putTi(const core::TaskInstanceKey& key, std::optional<std::string> state,
                    const std::string& id = "", const std::string& fields = "{}");
  // Many TIs in one state at once.
  void putTis(const std::vector<core::TaskInstanceKey>& keys, const std::string& state);
  void deleteTi(const core::TaskInstanceKey& key);
  void fault(const std::string& mode, int count = 0);  // count 0: until changed
  void setBearerToken(const std::string& token);
  void revokeTokens();
  // Requests the server saw for "METHOD /path" with `status` (0: any status).
  int requests(const std::string& methodAndPath, int status = 0);
  int totalRequests();
  int tokenIssues();

 private:
  std::string control(const std::string& method, const std::string& path, const std::string& body);

  FakeAirflowOptions options_;
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string startError_;
};

}  // namespace reaper::test
