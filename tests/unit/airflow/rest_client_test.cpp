#include "airflow/rest_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/log.h"
#include "support/fake_clock.h"

namespace reaper::airflow {
namespace {

using core::TaskInstanceKey;
using net::HttpRequest;
using net::HttpResponse;

using reaper::test::FakeClock;

// Answers requests by a handler; records every request.
class FakeTransport final : public net::HttpTransport {
 public:
  using Handler = std::function<core::Result<HttpResponse>(const HttpRequest&)>;
  explicit FakeTransport(Handler handler) : handler_(std::move(handler)) {}
  core::Result<HttpResponse> send(const HttpRequest& request) override {
    requests.push_back(request);
    return handler_(request);
  }
  core::Result<HttpResponse> stream(const HttpRequest&, const net::LineHandler&) override {
    return core::makeError("the Airflow client never streams");
  }
  void cancel() override {}
  std::vector<HttpRequest> requests;

 private:
  Handler handler_;
};

std::string tiJson(const TaskInstanceKey& key, const std::string& state, const std::string& id) {
  return R"({"id":")" + id + R"(","dag_id":")" + key.dagId + R"(","task_id":")" + key.taskId +
         R"(","dag_run_id":")" + key.runId + R"(","map_index":)" + std::to_string(key.mapIndex) +
         R"(,"try_number":)" + std::to_string(key.tryNumber) + R"(,"state":)" + state + "}";
}

std::string listReply(const std::vector<std::string>& items, size_t total) {
  std::string joined;
  for (const auto& item : items) joined += (joined.empty() ? "" : ",") + item;
  return R"({"task_instances":[)" + joined + R"(],"total_entries":)" + std::to_string(total) + "}";
}

// A JWT whose payload is {"exp":<exp>}; the signature is not checked by the client.
std::string jwtWithExp(int64_t exp) {
  const std::string payload = R"({"exp":)" + std::to_string(exp) + "}";
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string encoded;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : payload) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) encoded.push_back(kAlphabet[(buffer >> (bits -= 6)) & 0x3F]);
  }
  if (bits > 0) encoded.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3F]);
  return "eyJhbGciOiJIUzI1NiJ9." + encoded + ".c2ln";
}

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/reaper-airflow-test-XXXXXX";
    const int fd = ::mkstemp(name);
    ::close(fd);
    path_ = name;
    write(content);
  }
  ~TempFile() { std::filesystem::remove(path_); }
  void write(const std::string& content) {
    // A new inode, as a Kubernetes Secret update does.
    const std::string next = path_ + ".next";
    std::ofstream(next) << content;
    std::filesystem::rename(next, path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Harness {
  FakeClock clock;
  FakeTransport* transport = nullptr;
  std::vector<int> observed;
  std::unique_ptr<RestTaskInstanceSource> client;

  Harness(ClientOptions options, FakeTransport::Handler handler) {
    auto owned = std::make_unique<FakeTransport>(std::move(handler));
    transport = owned.get();
    client = std::make_unique<RestTaskInstanceSource>(
        std::move(options), clock, [this](int code, double) { observed.push_back(code); },
        std::move(owned));
  }
};

ClientOptions v2Options() {
  ClientOptions options;
  options.baseUrl = "http://airflow";
  options.apiVersion = "v2";
  return options;
}

const TaskInstanceKey kRunning{"dag", "task", "run", -1, 1};

HttpResponse ok(std::string body) { return {200, std::move(body)}; }

TEST(RestClient, FoundMissingAndClearedFromOneRequest) {
  const TaskInstanceKey cleared{"dag", "other", "run", -1, 1};
  const TaskInstanceKey missing{"dag", "gone", "run", -1, 1};
  Harness h(v2Options(), [&](const HttpRequest&) -> core::Result<HttpResponse> {
    return ok(
        listReply({tiJson(kRunning, R"("running")", "u1"), tiJson(cleared, "null", "u2")}, 2));
  });
  auto states = h.client->fetchStates({kRunning, cleared, missing});
  ASSERT_EQ(h.transport->requests.size(), 1u);
  EXPECT_EQ(h.transport->requests[0].method, "POST");
  EXPECT_EQ(h.transport->requests[0].target, "/api/v2/dags/~/dagRuns/~/taskInstances/list");
  EXPECT_EQ(states[kRunning].lookup, Lookup::Found);
  EXPECT_EQ(states[kRunning].state, "running");
  EXPECT_EQ(states[cleared].lookup, Lookup::Found);
  EXPECT_EQ(states[cleared].state, std::nullopt);
  EXPECT_EQ(states[missing].lookup, Lookup::Missing);
  EXPECT_EQ(h.observed, std::vector<int>{200});
}

// A poll whose pages are as they were reads them from the page cache; a changed page is read anew.
TEST(RestClient, EachPollSeesTheRepliesOfThatPoll) {
  std::string state = R"("running")";
  Harness h(v2Options(), [&](const HttpRequest&) -> core::Result<HttpResponse> {
    return ok(listReply({tiJson(kRunning, state, "u1")}, 1));
  });
  for (const char* next : {R"("running")", R"("running")", R"("failed")", "null", R"("failed")"}) {
    state = next;
    auto states = h.client->fetchStates({kRunning});
    EXPECT_EQ(states[kRunning].lookup, Lookup::Found);
    EXPECT_EQ(states[kRunning].state,
              state == "null" ? std::nullopt : std::optional(state.substr(1, state.size() - 2)));
  }
  EXPECT_EQ(h.transport->requests.size(), 5u) << "every poll asks";
}

TEST(RestClient, PaginatesUntilTotalEntries) {
  std::vector<TaskInstanceKey> keys;
  for (int i = 0; i < 5; ++i) keys.push_back({"dag", "task", "run", i, 1});
  ClientOptions options = v2Options();
  options.pageSize = 2;
  options.apiVersion = "v2";
  // The server caps pages at 2 and answers one query holding all 5 keys in 3 pages.
  Harness h(options, [&](const HttpRequest& request) -> core::Result<HttpResponse> {
    const auto offsetAt = request.body.find("\"page_offset\":") + 14;
    const int offset = std::stoi(request.body.substr(offsetAt));
    std::vector<std::string> items;
    for (int i = offset; i < std::min(offset + 2, 5); ++i) {
      items.push_back(tiJson(keys[i], R"("success")", "u" + std::to_string(i)));
    }
    return ok(listReply(items, 5));
  });
  // One query for all keys: ceil(5 / 2) pages.
  auto states = h.client->fetchStates(keys);
  for (const auto& key : keys) EXPECT_EQ(states[key].lookup, Lookup::Found) << key.toString();
  EXPECT_EQ(h.transport->requests.size(), 3u);
}

TEST(RestClient, TotalChangingWhilePagingIsUnknown) {
  int calls = 0;
  ClientOptions options = v2Options();
  options.pageSize = 1;
  Harness h(options, [&](const HttpRequest&) -> core::Result<HttpResponse> {
    ++calls;
    return ok(listReply({tiJson({"dag", "a", "run", -1, 1}, R"("running")", "u")}, calls + 1));
  });
  auto states = h.client->fetchStates({kRunning});
  EXPECT_EQ(states[kRunning].lookup, Lookup::Unknown);
}

TEST(RestClient, EmptyPageBeforeTotalEntriesIsUnknown) {
  Harness h(v2Options(), [&](const HttpRequest& request) -> core::Result<HttpResponse> {
    if (request.body.find("\"page_offset\":0") != std::string::npos) {
      return ok(listReply({tiJson({"dag", "a", "run", -1, 1}, R"("running")", "u")}, 2));
    }
    return ok(listReply({}, 2));
  });
  EXPECT_EQ(h.client->fetchStates({kRunning})[kRunning].lookup, Lookup::Unknown);
  EXPECT_EQ(h.transport->requests.size(), 2u);
}

TEST(RestClient, RetriesServerErrorsWithBackoffThenSucceeds) {
  int calls = 0;
  ClientOptions options = v2Options();
  options.maxAttempts = 3;
  options.backoffBase = core::Duration(100);
  Harness h(options, [&](const HttpRequest&) -> core::Result<HttpResponse> {
    if (++calls < 3) return HttpResponse{503, R"({"detail":"busy"})"};
    return ok(listReply({tiJson(kRunning, R"("running")", "u1")}, 1));
  });
  auto states = h.client->fetchStates({kRunning});
  EXPECT_EQ(states[kRunning].lookup, Lookup::Found);
  ASSERT_EQ(h.clock.slept().size(), 2u);
  // Exponential with jitter in [d/2, d]: 50..100 ms, then 100..200 ms.
  EXPECT_GE(h.clock.slept()[0].count(), 50);
  EXPECT_LE(h.clock.slept()[0].count(), 100);
  EXPECT_GE(h.clock.slept()[1].count(), 100);
  EXPECT_LE(h.clock.slept()[1].count(), 200);
  EXPECT_EQ(h.observed, (std::vector<int>{503, 503, 200}));
}

TEST(RestClient, EveryErrorMakesEveryKeyUnknown) {
  const std::vector<std::function<core::Result<HttpResponse>()>> failures = {
      [] { return core::makeError("transport: connection refused"); },
      [] {
        return HttpResponse{500, "{}"};
      },
      [] {
        return HttpResponse{503, "{}"};
      },
      [] {
        return HttpResponse{401, R"({"detail":"Not authenticated"})"};
      },
      [] {
        return HttpResponse{403, R"({"detail":"Forbidden"})"};
      },
      [] {
        return HttpResponse{404, R"({"detail":"Not Found"})"};
      },
      [] {
        return HttpResponse{422, R"({"detail":[]})"};
      },
      [] {
        return HttpResponse{400, R"({"title":"Bad Request"})"};
      },
      [] {
        return HttpResponse{200, R"({"task_instances": [{"dag_id": "x", "tas)"};
      },
      [] {
        return HttpResponse{200, R"({"task_instances":[]})"};
      },
  };
  for (size_t i = 0; i < failures.size(); ++i) {
    Harness h(v2Options(), [&](const HttpRequest&) { return failures[i](); });
    const TaskInstanceKey other{"dag2", "t", "r", -1, 1};
    auto states = h.client->fetchStates({kRunning, other});
    ASSERT_EQ(states.size(), 2u);
    EXPECT_EQ(states[kRunning].lookup, Lookup::Unknown) << "failure " << i;
    EXPECT_EQ(states[other].lookup, Lookup::Unknown) << "failure " << i;
    EXPECT_FALSE(states[kRunning].detail.empty());
  }
}

TEST(RestClient, JwtIsFetchedOnceAndReusedUntilNearExpiry) {
  TempFile password("s3cret\n");
  ClientOptions options = v2Options();
  options.authType = "jwt";
  options.username = "admin";
  options.passwordFile = password.path();
  int issued = 0;
  FakeClock* clock = nullptr;
  Harness h(options, [&](const HttpRequest& request) -> core::Result<HttpResponse> {
    if (request.target == "/auth/token") {
      EXPECT_EQ(request.body, R"({"username":"admin","password":"s3cret"})");
      const auto now =
          std::chrono::duration_cast<std::chrono::seconds>(clock->wallNow().time_since_epoch());
      return HttpResponse{201, R"({"access_token":")" + jwtWithExp(now.count() + 100) + "-" +
                                   std::to_string(++issued) + R"("})"};
    }
    EXPECT_EQ(request.authorization.rfind("Bearer ", 0), 0u);
    return ok(listReply({}, 0));
  });
  clock = &h.clock;
  (void)h.client->fetchStates({kRunning});
  (void)h.client->fetchStates({kRunning});
  EXPECT_EQ(issued, 1);
  h.clock.advance(std::chrono::seconds(85));  // within the last fifth of its 100 s life
  (void)h.client->fetchStates({kRunning});
  EXPECT_EQ(issued, 2);
}

TEST(RestClient, JwtRefreshedOnceOn401) {
  TempFile password("pw");
  ClientOptions options = v2Options();
  options.authType = "jwt";
  options.username = "admin";
  options.passwordFile = password.path();
  int issued = 0;
  bool rejectAll = false;
  Harness h(options, [&](const HttpRequest& request) -> core::Result<HttpResponse> {
    if (request.target == "/auth/token") {
      return HttpResponse{201, R"({"access_token":")" + jwtWithExp(4'000'000'000) + "-" +
                                   std::to_string(++issued) + R"("})"};
    }
    const bool fresh = request.authorization.ends_with("-2");
    if (rejectAll || !fresh) return HttpResponse{401, R"({"detail":"Not authenticated"})"};
    return ok(listReply({tiJson(kRunning, R"("running")", "u1")}, 1));
  });
  auto states = h.client->fetchStates({kRunning});
  EXPECT_EQ(states[kRunning].lookup, Lookup::Found);
  EXPECT_EQ(issued, 2);
  rejectAll = true;
  states = h.client->fetchStates({kRunning});
  EXPECT_EQ(states[kRunning].lookup, Lookup::Unknown);
  EXPECT_EQ(issued, 3);  // one refresh, not a loop
}

TEST(RestClient, BasicAuthHeader) {
  TempFile password("pw");
  ClientOptions options = v2Options();
  options.apiVersion = "v1";
  options.authType = "basic";
  options.username = "admin";
  options.passwordFile = password.path();
  Harness h(options, [&](const HttpRequest& request) -> core::Result<HttpResponse> {
    EXPECT_EQ(request.target, "/api/v1/dags/~/dagRuns/~/taskInstances/list");
    EXPECT_EQ(request.authorization, "Basic YWRtaW46cHc=");  // admin:pw
    return ok(listReply({}, 0));
  });
  EXPECT_EQ(h.client->fetchStates({kRunning})[kRunning].lookup, Lookup::Missing);
}

TEST(RestClient, BearerTokenFileReReadWhenItChanges) {
  TempFile token("first");
  ClientOptions options = v2Options();
  options.authType = "bearer";
  options.tokenFile = token.path();
  std::vector<std::string> seen;
  Harness h(options, [&](const HttpRequest& request) -> core::Result<HttpResponse> {
    seen.push_back(request.authorization);
    return ok(listReply({}, 0));
  });
  (void)h.client->fetchStates({kRunning});
  token.write("second");
  (void)h.client->fetchStates({kRunning});
  EXPECT_EQ(seen, (std::vector<std::string>{"Bearer first", "Bearer second"}));
}

TEST(RestClient, AutoDetectsV1AndCachesIt) {
  ClientOptions options = v2Options();
  options.apiVersion = "auto";
  Harness h(options, [&](const HttpRequest& request) -> core::Result<HttpResponse> {
    if (request.target == "/api/v2/version") return HttpResponse{404, "{}"};
    if (request.target == "/api/v1/version")
      return ok(R"({"version":"2.10.5","git_version":null})");
    EXPECT_EQ(request.target, "/api/v1/dags/~/dagRuns/~/taskInstances/list");
    return ok(listReply({}, 0));
  });
  (void)h.client->fetchStates({kRunning});
  (void)h.client->fetchStates({kRunning});
  ASSERT_EQ(h.transport->requests.size(), 4u);
  EXPECT_EQ(h.transport->requests[2].target, "/api/v1/dags/~/dagRuns/~/taskInstances/list");
}

TEST(RestClient, FailedDetectionIsUnknownAndRetriedNextPoll) {
  bool up = false;
  ClientOptions options = v2Options();
  options.apiVersion = "auto";
  options.maxAttempts = 1;
  Harness h(options, [&](const HttpRequest& request) -> core::Result<HttpResponse> {
    if (!up) return core::makeError("transport: connection refused");
    if (request.target == "/api/v2/version") return ok(R"({"version":"3.1.0","git_version":null})");
    return ok(listReply({tiJson(kRunning, R"("running")", "u1")}, 1));
  });
  EXPECT_EQ(h.client->fetchStates({kRunning})[kRunning].lookup, Lookup::Unknown);
  up = true;
  EXPECT_EQ(h.client->fetchStates({kRunning})[kRunning].lookup, Lookup::Found);
  EXPECT_EQ(h.observed, (std::vector<int>{0, 200, 200}));
}

// A pinned version skips detection, yet a probe must still reach the API (readiness depends on it).
TEST(RestClient, ProbeAsksThePinnedVersionsEndpoint) {
  for (const auto& [pinned, path] :
       {std::pair{"v2", "/api/v2/version"}, std::pair{"v1", "/api/v1/version"}}) {
    SCOPED_TRACE(pinned);
    bool up = false;
    ClientOptions options = v2Options();
    options.apiVersion = pinned;
    options.maxAttempts = 1;
    Harness h(options, [&](const HttpRequest&) -> core::Result<HttpResponse> {
      if (!up) return core::makeError("transport: connection refused");
      return ok(R"({"version":"3.1.0","git_version":null})");
    });
    EXPECT_FALSE(h.client->probe().ok());
    up = true;
    EXPECT_TRUE(h.client->probe().ok());
    ASSERT_EQ(h.transport->requests.size(), 2u);
    EXPECT_EQ(h.transport->requests[1].method, "GET");
    EXPECT_EQ(h.transport->requests[1].target, path);
  }
}

TEST(RestClient, ProbeFailsWhenThePinnedVersionIsNotServed) {
  Harness h(v2Options(), [&](const HttpRequest&) -> core::Result<HttpResponse> {
    return HttpResponse{404, "{}"};
  });
  auto probed = h.client->probe();
  ASSERT_FALSE(probed.ok());
  EXPECT_THAT(probed.error().message, ::testing::HasSubstr("/api/v2/version HTTP 404"));
}

TEST(RestClient, ResolvesUuidsAmongInFlightTaskInstancesNewestFirst) {
  const TaskInstanceKey second{"dag", "task", "run", 4, 2};
  Harness h(v2Options(), [&](const HttpRequest& request) -> core::Result<HttpResponse> {
    EXPECT_THAT(request.body, ::testing::HasSubstr(R"("state":["running")"));
    EXPECT_THAT(request.body, ::testing::HasSubstr(R"("order_by":"-id")"));
    return ok(listReply(
        {tiJson(kRunning, R"("running")", "u1"), tiJson(second, R"("queued")", "u2")}, 2));
  });
  auto resolved = h.client->resolveUuids({"u2"});
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved["u2"], second);
  EXPECT_EQ(h.transport->requests.size(), 1u);
}

bool isEndedSearch(const HttpRequest& request) {
  return request.body.find("end_date_gte") != std::string::npos;
}

// A tree seen only after its TaskInstance ended (agent restart): found among recently ended TIs.
TEST(RestClient, ResolvesAUuidWhoseTaskInstanceAlreadyEnded) {
  const TaskInstanceKey ended{"dag", "task", "run", -1, 3};
  Harness h(v2Options(), [&](const HttpRequest& request) -> core::Result<HttpResponse> {
    if (!isEndedSearch(request)) return ok(listReply({tiJson(kRunning, R"("running")", "u1")}, 1));
    EXPECT_THAT(request.body, ::testing::HasSubstr(R"("order_by":"-end_date")"));
    // 2026-11-18T12:00:00Z less an hour
    EXPECT_THAT(request.body, ::testing::HasSubstr(R"("end_date_gte":"2026-11-18T11:00:00Z")"));
    return ok(listReply({tiJson(ended, R"("success")", "gone")}, 1));
  });
  auto resolved = h.client->resolveUuids({"gone"});
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved["gone"], ended);
}

// An unresolvable uuid is not searched on every poll: after 5 s, 10 s, 20 s ..., and then only in
// the first page of recently ended TaskInstances; a uuid no longer asked about is forgotten.
TEST(RestClient, UnresolvedUuidsAreRetriedWithBackoffNotEveryPoll) {
  std::string endedUuid = "none-yet";
  const TaskInstanceKey ended{"dag", "task", "run", -1, 3};
  Harness h(v2Options(), [&](const HttpRequest& request) -> core::Result<HttpResponse> {
    if (isEndedSearch(request)) return ok(listReply({tiJson(ended, R"("failed")", endedUuid)}, 1));
    return ok(listReply({tiJson(kRunning, R"("running")", "u1")}, 1));
  });
  EXPECT_TRUE(h.client->resolveUuids({"lost"}).empty());
  EXPECT_EQ(h.transport->requests.size(), 2u);  // in flight, then recently ended
  std::vector<size_t> requestsPerPoll;
  for (int poll = 0; poll < 40; ++poll) {
    const size_t before = h.transport->requests.size();
    h.clock.advance(core::Duration(2000));
    EXPECT_TRUE(h.client->resolveUuids({"lost"}).empty());
    requestsPerPoll.push_back(h.transport->requests.size() - before);
  }
  size_t retries = 0;
  for (size_t count : requestsPerPoll) {
    EXPECT_LE(count, 1u);
    retries += count;
  }
  // 80 s: retries after 5, 10, 20, 40 s, each drawn from [half, all] of that.
  EXPECT_GE(retries, 2u);
  EXPECT_LE(retries, 6u);
  EXPECT_TRUE(isEndedSearch(h.transport->requests.back()));
  EXPECT_THAT(h.transport->requests.back().body, ::testing::HasSubstr(R"("page_offset":0)"));

  endedUuid = "lost";  // it ended meanwhile and shows up among the recently ended
  h.clock.advance(core::Duration(600000));
  auto resolved = h.client->resolveUuids({"lost"});
  EXPECT_EQ(resolved["lost"], ended);

  // A new uuid is searched at once; one asked again after being dropped starts afresh.
  const size_t before = h.transport->requests.size();
  EXPECT_TRUE(h.client->resolveUuids({"other"}).empty());
  EXPECT_EQ(h.transport->requests.size() - before, 2u);
}

TEST(RestClient, FailedUuidSearchIsRetriedInFullAfterBackoff) {
  bool up = false;
  ClientOptions options = v2Options();
  options.maxAttempts = 1;
  Harness h(options, [&](const HttpRequest&) -> core::Result<HttpResponse> {
    if (!up) return core::makeError("transport: connection refused");
    return ok(listReply({tiJson(kRunning, R"("running")", "u1")}, 1));
  });
  EXPECT_TRUE(h.client->resolveUuids({"u1"}).empty());
  EXPECT_EQ(h.transport->requests.size(), 1u);
  up = true;
  EXPECT_TRUE(h.client->resolveUuids({"u1"}).empty());  // backing off
  EXPECT_EQ(h.transport->requests.size(), 1u);
  h.clock.advance(core::Duration(10000));
  EXPECT_EQ(h.client->resolveUuids({"u1"})["u1"], kRunning);
  EXPECT_FALSE(isEndedSearch(h.transport->requests.back()));
}

// One record with wrong types: that TaskInstance unknown, the rest of the reply used.
TEST(RestClient, OneMalformedRecordSpoilsOnlyItsTaskInstance) {
  const TaskInstanceKey spoilt{"dag", "spoilt", "run", -1, 1};
  const TaskInstanceKey failed{"dag", "failed", "run", -1, 1};
  Harness h(v2Options(), [&](const HttpRequest&) -> core::Result<HttpResponse> {
    return ok(listReply(
        {tiJson(kRunning, R"("running")", "u1"), tiJson(spoilt, R"({"not":"a state"})", "u2"),
         tiJson(failed, R"("failed")", "u3")},
        3));
  });
  auto states = h.client->fetchStates({kRunning, spoilt, failed});
  EXPECT_EQ(states[kRunning].lookup, Lookup::Found);
  EXPECT_EQ(states[spoilt].lookup, Lookup::Unknown);
  EXPECT_EQ(states[failed].state, "failed");
}

// Airflow 2 cannot sort the batch listing: rows that move between pages are caught by the
// de-duplication and total check, and the keys left unseen are Unknown, never Missing.
TEST(RestClient, V1ShiftingPagesAreUnknownNotMissing) {
  ClientOptions options = v2Options();
  options.apiVersion = "v1";
  options.pageSize = 2;
  const TaskInstanceKey a{"dag", "a", "run", -1, 1}, b{"dag", "b", "run", -1, 1},
      c{"dag", "c", "run", -1, 1};
  Harness h(options, [&](const HttpRequest& request) -> core::Result<HttpResponse> {
    EXPECT_THAT(request.body, ::testing::Not(::testing::HasSubstr("order_by")));
    if (request.body.find("\"page_offset\":0") != std::string::npos) {
      return ok(listReply({tiJson(a, R"("running")", ""), tiJson(b, R"("running")", "")}, 3));
    }
    return ok(listReply({tiJson(b, R"("running")", "")}, 3));  // c moved to page 1, b to page 2
  });
  auto states = h.client->fetchStates({a, b, c});
  EXPECT_EQ(states[a].lookup, Lookup::Found);
  EXPECT_EQ(states[c].lookup, Lookup::Unknown);
}

TEST(RestClient, NoUuidsOnAirflow2) {
  ClientOptions options = v2Options();
  options.apiVersion = "v1";
  Harness h(options, [&](const HttpRequest&) -> core::Result<HttpResponse> { return ok("{}"); });
  EXPECT_TRUE(h.client->resolveUuids({"u1"}).empty());
  EXPECT_TRUE(h.transport->requests.empty());
}

TEST(RestClient, WarnsWithTheReasonButNeverTheCredentials) {
  std::ostringstream logged;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(logged);
  auto log = core::logger("airflow");
  log->sinks().push_back(sink);
  TempFile password("hunter2-password");
  ClientOptions options = v2Options();
  options.authType = "jwt";
  options.username = "admin";
  options.passwordFile = password.path();
  const std::string token = jwtWithExp(4'000'000'000);
  Harness h(options, [&](const HttpRequest& request) -> core::Result<HttpResponse> {
    if (request.target == "/auth/token")
      return HttpResponse{201, R"({"access_token":")" + token + "\"}"};
    return HttpResponse{403, R"({"detail":"Forbidden"})"};
  });
  EXPECT_EQ(h.client->fetchStates({kRunning})[kRunning].lookup, Lookup::Unknown);
  log->sinks().pop_back();
  EXPECT_THAT(logged.str(), ::testing::HasSubstr("HTTP 403"));
  EXPECT_THAT(logged.str(), ::testing::Not(::testing::HasSubstr("hunter2")));
  EXPECT_THAT(logged.str(), ::testing::Not(::testing::HasSubstr(token)));
}

TEST(MakeRestClient, NamesTheBadKey) {
  core::SystemClock clock;
  ClientOptions options;
  options.baseUrl = "airflow:8080";
  auto bad = makeRestClient(options, clock, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, ::testing::HasSubstr("airflow.baseUrl"));

  options.baseUrl = "http://airflow:8080";
  options.authType = "jwt";
  options.username = "admin";
  options.passwordFile = "/nonexistent/password";
  bad = makeRestClient(options, clock, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, ::testing::HasSubstr("airflow.auth.passwordFile"));

  options.passwordFile = "/dev/zero";  // fails at once, not after reading forever
  bad = makeRestClient(options, clock, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, ::testing::HasSubstr("airflow.auth.passwordFile"));

  options.authType = "bearer";
  bad = makeRestClient(options, clock, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, ::testing::HasSubstr("airflow.auth.tokenFile"));

  options.authType = "none";
  EXPECT_TRUE(makeRestClient(options, clock, nullptr).ok());
}

}  // namespace
}  // namespace reaper::airflow
