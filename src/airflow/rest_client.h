#pragma once
// TaskInstanceSource over the Airflow REST API: v2 (Airflow 3) or v1 (Airflow 2), batched list
// requests, auth (none, basic, jwt, bearer), retries with backoff. Every error becomes
// Lookup::Unknown.
#include <memory>
#include <mutex>
#include <optional>
#include <random>

#include "airflow/file_secret.h"
#include "airflow/http_transport.h"
#include "airflow/task_instance_source.h"
#include "airflow/ti_query.h"

namespace reaper::airflow {

class RestTaskInstanceSource final : public TaskInstanceSource {
 public:
  // `options` must be valid (makeRestClient checks them).
  RestTaskInstanceSource(ClientOptions options, core::Clock& clock, RequestObserver observer,
                         std::unique_ptr<HttpTransport> transport);

  std::map<core::TaskInstanceKey, TaskInstanceStatus> fetchStates(
      const std::vector<core::TaskInstanceKey>& keys) override;
  std::map<std::string, core::TaskInstanceKey> resolveUuids(
      const std::vector<std::string>& uuids) override;
  core::Status probe() override;

 private:
  core::Result<ApiVersion> apiVersion();
  core::Result<HttpResponse> askVersion(ApiVersion version);
  core::Result<std::vector<TaskInstanceRecord>> listAll(const ListQuery& query, ApiVersion version);
  core::Result<HttpResponse> exchange(HttpRequest request, bool authenticated);
  core::Result<HttpResponse> sendOnce(const HttpRequest& request);
  core::Status authorize(HttpRequest& request);
  core::Result<std::string> bearerToken();
  void dropCredentials();
  void backoff(int attempt);

  ClientOptions options_;
  core::Clock& clock_;
  RequestObserver observer_;
  std::unique_ptr<HttpTransport> transport_;
  std::optional<FileSecret> password_;
  std::optional<FileSecret> tokenFile_;
  std::mutex mutex_;  // one poll at a time: the caches below are shared
  std::optional<ApiVersion> version_;
  std::string jwt_;
  core::WallTime jwtRefreshAt_{};
  std::minstd_rand jitter_;
};

}  // namespace reaper::airflow
