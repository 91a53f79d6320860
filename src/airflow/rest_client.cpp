#include "airflow/rest_client.h"

#include <algorithm>
#include <random>
#include <set>

#include "core/log.h"

namespace reaper::airflow {

using net::HttpRequest;
using net::HttpResponse;
using net::HttpTransport;

namespace {

constexpr int kMaxPagesPerQuery = 1000;
constexpr core::Duration kMaxBackoff{10000};
constexpr std::chrono::seconds kMaxRefreshMargin{30};
// A uuid search reads at most this many pages of in-flight, then of recently ended TaskInstances.
constexpr int kMaxSearchPages = 20;
// "Recently ended": a tree outlives its TaskInstance by a poll or, after an agent restart, by
// however long the agent was down.
constexpr std::chrono::hours kRecentlyEnded{1};
// An unresolved uuid is searched again after 5 s, 10 s, ... up to every 10 minutes.
constexpr core::Duration kUuidRetryBase{5000};
constexpr core::Duration kUuidRetryCap{600000};
// The TI states in which a task process can still be running.
const std::vector<std::string> kInFlightStates = {
    "running",           "queued",     "scheduled",   "deferred",
    "up_for_reschedule", "restarting", "up_for_retry"};

std::string statusError(const HttpResponse& response) {
  std::string body = response.body.substr(0, 200);
  std::replace(body.begin(), body.end(), '\n', ' ');
  return "HTTP " + std::to_string(response.status) + ": " + body;
}

bool retryable(const core::Result<HttpResponse>& response) {
  return !response.ok() || response->status >= 500 || response->status == 429;
}

std::string versionPath(ApiVersion version) {
  return version == ApiVersion::V2 ? "/api/v2/version" : "/api/v1/version";
}

std::map<core::TaskInstanceKey, TaskInstanceStatus> allUnknown(
    const std::vector<core::TaskInstanceKey>& keys, const std::string& why) {
  std::map<core::TaskInstanceKey, TaskInstanceStatus> result;
  for (const auto& key : keys) result[key] = {.lookup = Lookup::Unknown, .detail = why};
  return result;
}

}  // namespace

RestTaskInstanceSource::RestTaskInstanceSource(ClientOptions options, core::Clock& clock,
                                               RequestObserver observer,
                                               std::unique_ptr<HttpTransport> transport)
    : options_(std::move(options)),
      clock_(clock),
      observer_(std::move(observer)),
      transport_(std::move(transport)),
      retryBackoff_(options_.backoffBase, kMaxBackoff, std::random_device{}()),
      uuidBackoff_(kUuidRetryBase, kUuidRetryCap, std::random_device{}()) {
  if (!options_.passwordFile.empty()) password_.emplace(options_.passwordFile);
  if (!options_.tokenFile.empty()) tokenFile_.emplace(options_.tokenFile);
  if (options_.apiVersion == "v1") version_ = ApiVersion::V1;
  if (options_.apiVersion == "v2") version_ = ApiVersion::V2;
}

std::map<core::TaskInstanceKey, TaskInstanceStatus> RestTaskInstanceSource::fetchStates(
    const std::vector<core::TaskInstanceKey>& keys) {
  std::lock_guard lock(mutex_);
  statePages_.startRound();
  if (keys.empty()) return {};
  auto version = apiVersion();
  if (!version.ok()) {
    core::Logger("airflow").warn("task instance states unknown",
                                 {{"keys", keys.size()}, {"reason", version.error().message}});
    return allUnknown(keys, version.error().message);
  }
  std::map<core::TaskInstanceKey, TaskInstanceStatus> result;
  for (const auto& query : planQueries(keys)) {
    auto listing = listAll(query, *version, kMaxPagesPerQuery, nullptr, &statePages_);
    if (!listing.ok()) {
      core::Logger("airflow").warn(
          "task instance states unknown",
          {{"keys", query.keys.size()}, {"reason", listing.error().message}});
      result.merge(allUnknown(query.keys, listing.error().message));
      continue;
    }
    if (!listing->complete()) {
      core::Logger("airflow").warn(
          "task instance listing incomplete",
          {{"keys", query.keys.size()}, {"reason", listing->incompleteReason()}});
    }
    if (!listing->bad().empty()) {
      core::Logger("airflow").warn(
          "task instance records unreadable",
          {{"count", listing->bad().size()}, {"first", listing->bad().front().reason}});
    }
    auto matched = matchRecords(query.keys, *listing);
    if (result.empty()) {
      result = std::move(matched);  // the one query, as usual
    } else {
      result.merge(matched);
    }
  }
  return result;
}

core::Status RestTaskInstanceSource::probe() {
  std::lock_guard lock(mutex_);
  // Detection asks the version endpoints itself; a known (pinned or detected) version is asked
  // again here, so that a probe always reaches the API.
  if (!version_) {
    auto detected = apiVersion();
    if (!detected.ok()) return detected.error();
    return core::Ok{};
  }
  auto reply = askVersion(*version_);
  if (!reply.ok()) return core::makeError("API probe failed: " + reply.error().message);
  if (reply->status != 200 || !isVersionReply(reply->body))
    return core::makeError("API probe: " + versionPath(*version_) + " " + statusError(*reply));
  return core::Ok{};
}

std::map<std::string, core::TaskInstanceKey> RestTaskInstanceSource::resolveUuids(
    const std::vector<std::string>& uuids) {
  std::lock_guard lock(mutex_);
  const std::set<std::string> asked(uuids.begin(), uuids.end());
  // A uuid no longer asked about belongs to a tree that is gone.
  std::erase_if(pendingUuids_, [&](const auto& entry) { return !asked.contains(entry.first); });
  if (asked.empty()) return {};
  auto version = apiVersion();
  if (!version.ok() || *version != ApiVersion::V2) return {};
  std::set<std::string> full, recent;
  const auto now = clock_.now();
  for (const auto& uuid : asked) {
    auto pending = pendingUuids_.find(uuid);
    if (pending == pendingUuids_.end()) {
      full.insert(uuid);
    } else if (pending->second.retryAt <= now) {
      (pending->second.searchFailed ? full : recent).insert(uuid);
    }
  }
  std::map<std::string, core::TaskInstanceKey> resolved;
  for (auto [wanted, recentOnly] : {std::pair{&full, false}, std::pair{&recent, true}}) {
    if (wanted->empty()) continue;
    auto searched = searchUuids(*wanted, recentOnly, resolved);
    if (!searched.ok()) {
      core::Logger("airflow").warn(
          "task instance uuids unresolved",
          {{"count", wanted->size()}, {"reason", searched.error().message}});
    }
    rememberUnresolved(*wanted, !searched.ok());
  }
  for (const auto& [uuid, key] : resolved) pendingUuids_.erase(uuid);
  return resolved;
}

core::Status RestTaskInstanceSource::searchUuids(
    std::set<std::string>& wanted, bool recentOnly,
    std::map<std::string, core::TaskInstanceKey>& resolved) {
  const Enough take = [&](const Listing& listing) {
    for (const auto& record : listing.records()) {
      if (wanted.erase(record.uuid) > 0) resolved[record.uuid] = record.key;
    }
    return wanted.empty();
  };
  if (!recentOnly) {
    ListQuery inFlight;
    inFlight.states = kInFlightStates;
    inFlight.orderBy = "-id";  // uuid7: the newest tries, those of trees just seen, come first
    auto listed = listAll(inFlight, ApiVersion::V2, kMaxSearchPages, take);
    if (!listed.ok()) return listed.error();
    if (wanted.empty()) return core::Ok{};
  }
  // The TaskInstance ended before its tree was seen (e.g. while the agent was down), or between
  // the pages of the search above. A retry reads only the first page: what ended since the last.
  ListQuery ended;
  ended.endedSince = clock_.wallNow() - kRecentlyEnded;
  ended.orderBy = "-end_date";
  auto listed = listAll(ended, ApiVersion::V2, recentOnly ? 1 : kMaxSearchPages, take);
  if (!listed.ok()) return listed.error();
  return core::Ok{};
}

void RestTaskInstanceSource::rememberUnresolved(const std::set<std::string>& uuids, bool failed) {
  for (const auto& uuid : uuids) {
    auto& pending = pendingUuids_[uuid];
    ++pending.misses;
    pending.searchFailed = failed;
    pending.retryAt = clock_.now() + uuidBackoff_.delay(pending.misses);
  }
}

core::Result<ApiVersion> RestTaskInstanceSource::apiVersion() {
  if (version_) return *version_;
  auto v2 = askVersion(ApiVersion::V2);
  if (v2.ok() && v2->status == 200 && isVersionReply(v2->body)) return *(version_ = ApiVersion::V2);
  if (!v2.ok()) return core::makeError("API version probe failed: " + v2.error().message);
  if (v2->status != 404)
    return core::makeError("API version probe: /api/v2/version " + statusError(*v2));
  auto v1 = askVersion(ApiVersion::V1);
  if (v1.ok() && v1->status == 200 && isVersionReply(v1->body)) return *(version_ = ApiVersion::V1);
  return core::makeError("API version probe: neither /api/v2/version nor /api/v1/version answers " +
                         (v1.ok() ? statusError(*v1) : v1.error().message));
}

core::Result<HttpResponse> RestTaskInstanceSource::askVersion(ApiVersion version) {
  // Airflow 2 has no /auth/token: a JWT cannot authenticate its version request.
  const bool authenticated = version == ApiVersion::V1 && options_.authType != "jwt";
  return exchange({"GET", versionPath(version)}, authenticated);
}

core::Result<Listing> RestTaskInstanceSource::listAll(const ListQuery& query, ApiVersion version,
                                                      int maxPages, const Enough& enough,
                                                      PageCache* cache) {
  Listing listing;
  for (int page = 0; page < maxPages; ++page) {
    std::string body = buildListBody(query, version, listing.nextOffset(), options_.pageSize);
    auto response = exchange({"POST", listPath(version), body}, true);
    if (!response.ok()) return response.error();
    if (response->status != 200) return core::makeError(statusError(*response), response->status);
    auto parsed = cache != nullptr ? cache->parse(version, body, std::move(response->body))
                                   : parseListReply(response->body, version);
    if (!parsed.ok()) return parsed.error();
    const bool more = listing.add(std::move(parsed).value());
    const bool satisfied = enough && enough(listing);
    if (!more || satisfied) return listing;
  }
  listing.truncate("more than " + std::to_string(maxPages) + " pages");
  return listing;
}

core::Result<HttpResponse> RestTaskInstanceSource::exchange(HttpRequest request,
                                                            bool authenticated) {
  bool refreshed = false;
  for (int attempt = 1;; ++attempt) {
    HttpRequest sent = request;
    if (authenticated) {
      auto authorized = authorize(sent);
      if (!authorized.ok()) return authorized.error();
    }
    auto response = sendOnce(sent);
    if (authenticated && response.ok() && response->status == 401 && !refreshed &&
        options_.authType != "none") {
      refreshed = true;  // one fresh credential; a second 401 is final
      dropCredentials();
      --attempt;
      continue;
    }
    if (!retryable(response) || attempt >= options_.maxAttempts) return response;
    clock_.sleepFor(retryBackoff_.delay(attempt));
  }
}

core::Result<HttpResponse> RestTaskInstanceSource::sendOnce(const HttpRequest& request) {
  const auto start = clock_.now();
  auto response = transport_->send(request);
  const std::chrono::duration<double> took = clock_.now() - start;
  if (observer_) observer_(response.ok() ? response->status : 0, took.count());
  return response;
}

core::Status RestTaskInstanceSource::authorize(HttpRequest& request) {
  if (options_.authType == "basic") {
    if (!password_) return core::makeError("airflow.auth.passwordFile is not set");
    auto password = password_->read();
    if (!password.ok()) return password.error();
    request.authorization = net::basicAuthorization(options_.username, *password);
  } else if (options_.authType == "jwt" || options_.authType == "bearer") {
    auto token = bearerToken();
    if (!token.ok()) return token.error();
    request.authorization = net::bearerAuthorization(*token);
  }
  return core::Ok{};
}

core::Result<std::string> RestTaskInstanceSource::bearerToken() {
  if (options_.authType == "bearer") {
    if (!tokenFile_) return core::makeError("airflow.auth.tokenFile is not set");
    return tokenFile_->read();
  }
  if (!jwt_.empty() && clock_.wallNow() < jwtRefreshAt_) return jwt_;
  if (!password_) return core::makeError("airflow.auth.passwordFile is not set");
  auto password = password_->read();
  if (!password.ok()) return password.error();
  HttpRequest request{"POST", "/auth/token", buildTokenBody(options_.username, *password)};
  auto response = exchange(std::move(request), false);
  if (!response.ok()) return core::makeError("POST /auth/token: " + response.error().message);
  if (response->status != 200 && response->status != 201) {
    return core::makeError("POST /auth/token: HTTP " + std::to_string(response->status),
                           response->status);
  }
  auto token = parseTokenReply(response->body);
  if (!token.ok()) return core::makeError("POST /auth/token: " + token.error().message);
  auto expiry = jwtExpiry(*token);
  if (expiry.ok()) {
    const core::WallTime expiresAt{std::chrono::seconds(*expiry)};
    const auto lifetime = expiresAt - clock_.wallNow();
    jwtRefreshAt_ = expiresAt - std::min<core::WallTime::duration>(kMaxRefreshMargin, lifetime / 5);
  } else {
    jwtRefreshAt_ = core::WallTime::max();  // used until a 401 says otherwise
  }
  jwt_ = std::move(token).value();
  return jwt_;
}

void RestTaskInstanceSource::dropCredentials() {
  jwt_.clear();
  if (password_) password_->invalidate();
  if (tokenFile_) tokenFile_->invalidate();
}

}  // namespace reaper::airflow

namespace reaper::airflow {
namespace {

core::Status checkReadable(const std::string& key, const std::string& path) {
  if (path.empty()) return core::makeError(key + " is required");
  auto content = net::SecretFile(path).read();
  if (!content.ok()) return core::makeError(key + ": " + content.error().message);
  return core::Ok{};
}

core::Status validate(const ClientOptions& o) {
  if (o.baseUrl.rfind("http://", 0) != 0 && o.baseUrl.rfind("https://", 0) != 0) {
    return core::makeError("airflow.baseUrl: must start with http:// or https://");
  }
  if (o.apiVersion != "auto" && o.apiVersion != "v1" && o.apiVersion != "v2") {
    return core::makeError("airflow.apiVersion: must be auto, v1 or v2");
  }
  if (o.pageSize < 1) return core::makeError("airflow.pageSize: must be at least 1");
  if (o.timeout <= core::Duration::zero()) return core::makeError("airflow.timeout: must be > 0");
  if (o.maxAttempts < 1) return core::makeError("airflow maxAttempts: must be at least 1");
  if (!o.caFile.empty()) {
    auto ca = checkReadable("airflow.caFile", o.caFile);
    if (!ca.ok()) return ca;
  }
  if (o.authType == "none") return core::Ok{};
  if (o.authType == "basic" || o.authType == "jwt") {
    if (o.username.empty()) return core::makeError("airflow.auth.username is required");
    return checkReadable("airflow.auth.passwordFile", o.passwordFile);
  }
  if (o.authType == "bearer") return checkReadable("airflow.auth.tokenFile", o.tokenFile);
  return core::makeError("airflow.auth.type: must be none, basic, jwt or bearer");
}

}  // namespace

core::Result<std::unique_ptr<TaskInstanceSource>> makeRestClient(const ClientOptions& options,
                                                                 core::Clock& clock,
                                                                 RequestObserver observer) {
  auto valid = validate(options);
  if (!valid.ok()) return valid.error();
  auto transport = net::makeHttpTransport({.baseUrl = options.baseUrl,
                                           .caFile = options.caFile,
                                           .insecureSkipVerify = options.insecureSkipVerify,
                                           .timeout = options.timeout});
  if (!transport.ok()) return core::makeError("airflow.baseUrl: " + transport.error().message);
  return std::unique_ptr<TaskInstanceSource>(new RestTaskInstanceSource(
      options, clock, std::move(observer), std::move(transport).value()));
}

}  // namespace reaper::airflow
