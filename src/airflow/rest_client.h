#pragma once
// TaskInstanceSource over the Airflow REST API: v2 (Airflow 3) or v1 (Airflow 2), batched list
// requests, auth (none, basic, jwt, bearer), retries with backoff. Every error becomes
// Lookup::Unknown.
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include "airflow/task_instance_source.h"
#include "airflow/ti_query.h"
#include "net/backoff.h"
#include "net/http.h"
#include "net/secret_file.h"

namespace reaper::airflow {

class RestTaskInstanceSource final : public TaskInstanceSource {
 public:
  // `options` must be valid (makeRestClient checks them).
  RestTaskInstanceSource(ClientOptions options, core::Clock& clock, RequestObserver observer,
                         std::unique_ptr<net::HttpTransport> transport);

  std::map<core::TaskInstanceKey, TaskInstanceStatus> fetchStates(
      const std::vector<core::TaskInstanceKey>& keys) override;
  std::map<std::string, core::TaskInstanceKey> resolveUuids(
      const std::vector<std::string>& uuids) override;
  core::Status probe() override;

 private:
  // A uuid that a search did not resolve: searched again after a backoff, and then only among the
  // TaskInstances that ended most recently (unless the search failed: then in full again).
  struct PendingUuid {
    int misses = 0;
    core::SteadyTime retryAt{};
    bool searchFailed = false;
  };
  using Enough = std::function<bool(const Listing&)>;

  core::Result<ApiVersion> apiVersion();
  core::Result<net::HttpResponse> askVersion(ApiVersion version);
  // Pages are parsed through `cache` when one is given.
  core::Result<Listing> listAll(const ListQuery& query, ApiVersion version, int maxPages,
                                const Enough& enough = nullptr, PageCache* cache = nullptr);
  // Looks for `wanted` among in-flight, then recently ended TaskInstances; moves hits into
  // `resolved`.
  core::Status searchUuids(std::set<std::string>& wanted, bool recentOnly,
                           std::map<std::string, core::TaskInstanceKey>& resolved);
  void rememberUnresolved(const std::set<std::string>& uuids, bool failed);
  core::Result<net::HttpResponse> exchange(net::HttpRequest request, bool authenticated);
  core::Result<net::HttpResponse> sendOnce(const net::HttpRequest& request);
  core::Status authorize(net::HttpRequest& request);
  core::Result<std::string> bearerToken();
  void dropCredentials();

  ClientOptions options_;
  core::Clock& clock_;
  RequestObserver observer_;
  std::unique_ptr<net::HttpTransport> transport_;
  std::optional<net::SecretFile> password_;
  std::optional<net::SecretFile> tokenFile_;
  std::mutex mutex_;  // one poll at a time: the caches below are shared
  std::optional<ApiVersion> version_;
  std::string jwt_;
  core::WallTime jwtRefreshAt_{};
  std::map<std::string, PendingUuid> pendingUuids_;
  PageCache statePages_;       // of fetchStates
  net::Backoff retryBackoff_;  // between the attempts of one request
  net::Backoff uuidBackoff_;   // between the searches for one uuid
};

}  // namespace reaper::airflow
