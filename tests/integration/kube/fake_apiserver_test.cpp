// The kube client against the stand-in kube-apiserver (tests/e2e/fake_kube) over HTTPS with a
// throwaway CA and a bearer token: pods watch with faults, Events, custom resources.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
//

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/clock.h"
#include "core/json.h"
#include "kube/custom_resources.h"
#include "kube/event_recorder.h"
#include "kube/pod_watcher.h"
#include "support/test_support.h"

namespace reaper::kube {
namespace {

namespace fs = std::filesystem;
using core::Json;

Json parsed(const std::string& text) {
  auto json = Json::parse(text);
  EXPECT_TRUE(json) << text;
  return json ? *json : Json();
}

constexpr char kToken[] = "integration-token-7f3a";
constexpr auto kPatience = std::chrono::seconds(30);

fs::path fakeApiserver() {
  return fs::path(test::sourceDir()) / "tests/e2e/fake_kube/fake_apiserver.py";
}

bool run(const std::string& command) { return std::system(command.c_str()) == 0; }

// Waits for `condition` without asserting on how long it takes (the bound only stops a hang).
template <typename F>
bool eventually(F condition) {
  auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

class FakeApiserver : public ::testing::Test {
 protected:
  void SetUp() override {
    REAPER_REQUIRE(fs::exists(fakeApiserver()),
                   "stand-in apiserver missing: " + fakeApiserver().string());
    REAPER_REQUIRE(run("command -v openssl >/dev/null"), "openssl missing");
    dir_ = fs::temp_directory_path() / ("reaper-kube-it-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ASSERT_TRUE(makeCerts()) << "openssl failed";
    std::ofstream(dir_ / "token") << kToken << "\n";
    startServer();
    ASSERT_TRUE(eventually([&] {
      return fs::exists(dir_ / "port") && fs::file_size(dir_ / "port") > 0;
    })) << "fake apiserver did not start";
    std::ifstream(dir_ / "port") >> port_;
    options_.apiServer = "https://127.0.0.1:" + std::to_string(port_);
    options_.caFile = (dir_ / "ca.crt").string();
    options_.tokenFile = (dir_ / "token").string();
    admin_ = transport(nullptr);
    put(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"airflow"}})");
  }

  void TearDown() override {
    admin_.reset();
    if (server_ > 0) {
      ::kill(server_, SIGTERM);
      ::waitpid(server_, nullptr, 0);
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  bool makeCerts() {
    std::string d = "cd '" + dir_.string() + "' && ";
    return run(d +
               "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 "
               "-subj /CN=reaper-test-ca >/dev/null 2>&1") &&
           run(d +
               "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
               "-subj /CN=127.0.0.1 >/dev/null 2>&1") &&
           run(d +
               "echo subjectAltName=IP:127.0.0.1 > san.ext && openssl x509 -req -in server.csr "
               "-CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 "
               "-extfile san.ext >/dev/null 2>&1");
  }

  void startServer() {
    std::vector<std::string> args = {test::python(),
                                     fakeApiserver().string(),
                                     "--port",
                                     "0",
                                     "--port-file",
                                     (dir_ / "port").string(),
                                     "--cert",
                                     (dir_ / "server.crt").string(),
                                     "--key",
                                     (dir_ / "server.key").string(),
                                     "--token",
                                     kToken,
                                     "--bookmark-interval",
                                     "0.2"};
    fs::path crds = fs::path(test::sourceDir()) / "k8s/crds";
    if (fs::exists(crds)) args.insert(args.end(), {"--crd-dir", crds.string()});
    const pid_t parent = ::getpid();
    server_ = ::fork();
    if (server_ == 0) {
      // Dies with a test that crashes (a sanitizer report aborts) and so runs no destructor.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      std::string log = (dir_ / "server.log").string();
      FILE* out = std::freopen(log.c_str(), "w", stdout);
      if (out != nullptr) ::dup2(::fileno(stdout), 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }

  Json control(const std::string& method, const std::string& target, const std::string& body) {
    auto reply = admin_->send({method, target, body, "application/json"});
    EXPECT_TRUE(reply) << target;
    if (!reply) return Json();
    EXPECT_LT(reply->status, 300) << target << " " << reply->body;
    return reply->body.empty() ? Json() : parsed(reply->body);
  }
  Json put(const std::string& object) { return control("POST", "/_fake/objects", object); }
  Json get(const std::string& target) { return control("GET", target, ""); }
  void fault(const std::string& spec) { control("POST", "/_fake/fault", spec); }

  std::unique_ptr<HttpTransport> transport(RequestObserver observer) {
    auto made = makeApiTransport(options_, std::move(observer));
    EXPECT_TRUE(made);
    return std::move(made.value());
  }

  static std::string pod(const std::string& name, const std::string& uid, const std::string& node) {
    return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
           R"(","namespace":"airflow","uid":")" + uid + R"("},"spec":{"nodeName":")" + node +
           R"(","containers":[{"name":"base","image":"airflow"}]},"status":{"phase":"Running"}})";
  }

  fs::path dir_;
  pid_t server_ = -1;
  int port_ = 0;
  ClientOptions options_;
  std::unique_ptr<HttpTransport> admin_;
  core::SystemClock clock_;
};

bool hasPod(const PodWatcher& watcher, const std::string& name) {
  auto pods = watcher.pods();
  return std::any_of(pods.begin(), pods.end(), [&](const Pod& p) { return p.ref.name == name; });
}

TEST_F(FakeApiserver, RejectsAnUnknownCaAndAWrongToken) {
  ClientOptions noCa = options_;
  noCa.caFile = "";
  auto transport = makeApiTransport(noCa, nullptr);
  ASSERT_TRUE(transport);
  EXPECT_FALSE((*transport)->send({"GET", "/api/v1/pods", "", ""})) << "TLS must be verified";

  std::ofstream(dir_ / "wrong") << "nope";
  ClientOptions wrong = options_;
  wrong.tokenFile = (dir_ / "wrong").string();
  std::vector<int> codes;
  auto bad =
      makeApiTransport(wrong, [&](int code, std::optional<double>) { codes.push_back(code); });
  auto reply = (*bad)->send({"GET", "/api/v1/pods", "", ""});
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 401);
  EXPECT_EQ(codes, std::vector<int>{401});
}

TEST_F(FakeApiserver, WatcherFollowsThisNodesPodsThroughFaults) {
  put(pod("on-node", "11111111-1111-1111-1111-111111111111", "node-a"));
  put(pod("elsewhere", "22222222-2222-2222-2222-222222222222", "node-b"));
  std::atomic<int> finished{0};  // requests answered in full: the list, not the open watch
  auto watcher = PodWatcher::start(options_, "node-a", {}, clock_,
                                   [&](int, std::optional<double>) { finished.fetch_add(1); });
  ASSERT_TRUE(watcher) << watcher.error().message;
  PodWatcher& w = **watcher;
  ASSERT_TRUE(eventually([&] { return w.synced() && hasPod(w, "on-node"); }));
  EXPECT_FALSE(hasPod(w, "elsewhere"));

  put(pod("second", "33333333-3333-3333-3333-333333333333", "node-a"));
  EXPECT_TRUE(eventually([&] { return hasPod(w, "second"); })) << "watch delivered the new pod";
  EXPECT_EQ(finished.load(), 1) << "delivered line by line while the watch is still open";

  fault(R"({"mode":"410","count":1})");
  put(pod("after-gone", "44444444-4444-4444-4444-444444444444", "node-a"));
  EXPECT_TRUE(eventually([&] { return hasPod(w, "after-gone"); })) << "relisted after 410";

  fault(R"({"mode":"drop_watch","count":2})");
  put(pod("after-drop", "55555555-5555-5555-5555-555555555555", "node-a"));
  EXPECT_TRUE(eventually([&] { return hasPod(w, "after-drop"); })) << "reconnected after a drop";

  fault(R"({"mode":"500","count":3})");
  fault(R"({"mode":"drop_watch","count":1})");
  put(pod("after-500", "66666666-6666-6666-6666-666666666666", "node-a"));
  EXPECT_TRUE(eventually([&] { return hasPod(w, "after-500"); })) << "recovered from 500s";
  control("DELETE", "/api/v1/namespaces/airflow/pods/second?gracePeriodSeconds=0", "");
  EXPECT_TRUE(eventually([&] { return !hasPod(w, "second"); })) << "deletion observed";
  EXPECT_EQ(w.badLines(), 0u);
  w.stop();
}

TEST_F(FakeApiserver, WatcherLimitedToNamespaces) {
  put(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"other"}})");
  put(pod("in-airflow", "11111111-1111-1111-1111-111111111111", "node-a"));
  std::string elsewhere = pod("in-other", "22222222-2222-2222-2222-222222222222", "node-a");
  elsewhere.replace(elsewhere.find("\"airflow\""), 9, "\"other\"");
  put(elsewhere);
  auto watcher = PodWatcher::start(options_, "node-a", {"airflow"}, clock_, nullptr);
  ASSERT_TRUE(watcher) << watcher.error().message;
  ASSERT_TRUE(eventually([&] { return (*watcher)->synced(); }));
  EXPECT_TRUE(hasPod(**watcher, "in-airflow"));
  EXPECT_FALSE(hasPod(**watcher, "in-other"));
}

TEST_F(FakeApiserver, EventsAreAcceptedAggregatedAndQueuedWhileDown) {
  const core::PodRef ref{"airflow", "on-node", "11111111-1111-1111-1111-111111111111"};
  put(pod(ref.name, ref.uid, "node-a"));
  std::vector<int> codes;
  int untimed = 0;
  EventRecorder recorder(transport([&](int c, std::optional<double> seconds) {
                           codes.push_back(c);
                           untimed += seconds ? 0 : 1;
                         }),
                         "node-a", clock_);
  recorder.record({ref, "OrphansReaped", "ti=etl/load/r/-1/1 state=failed killed=3 orphans=1"});
  recorder.flush();
  EXPECT_EQ(recorder.queued(), 0u);
  EXPECT_EQ(recorder.dropped(), 0u) << "the apiserver's validation accepted the event";
  recorder.record({ref, "OrphansReaped", "ti=etl/load/r/-1/1 state=failed killed=3 orphans=1"});
  recorder.flush();
  Json events = get("/apis/events.k8s.io/v1/namespaces/airflow/events");
  ASSERT_EQ(events.field("items").items().size(), 1u);
  Json event = events.field("items").items().at(0);
  EXPECT_EQ(event.field("reason").string(), "OrphansReaped");
  EXPECT_EQ(event.field("series").field("count").integer(), 2);
  EXPECT_EQ(event.field("regarding").field("name").string(), "on-node");

  fault(R"({"mode":"down","seconds":600})");
  recorder.record({ref, "TaskTreeKillFailed", "ti=etl/load/r/-1/1 survivors=1"});
  recorder.flush();
  EXPECT_EQ(recorder.queued(), 1u) << "kept while the apiserver is unreachable";
  fault(R"({"mode":"none"})");
  recorder.flush();
  EXPECT_EQ(recorder.queued(), 0u);
  EXPECT_EQ(get("/apis/events.k8s.io/v1/namespaces/airflow/events").field("items").items().size(),
            2u);
  EXPECT_TRUE(std::count(codes.begin(), codes.end(), 0) >= 1) << "the outage was observed";
  EXPECT_EQ(untimed, 0) << "every plain request reports its round trip";
}

TEST_F(FakeApiserver, CreatedRecorderSendsInTheBackground) {
  const core::PodRef ref{"airflow", "on-node", "11111111-1111-1111-1111-111111111111"};
  put(pod(ref.name, ref.uid, "node-a"));
  auto recorder = EventRecorder::create(options_, "node-a", clock_, nullptr);
  ASSERT_TRUE(recorder) << recorder.error().message;
  (*recorder)->record({ref, "TaskTreeReaped", "ti=etl/load/r/-1/1 state=success killed=2"});
  EXPECT_TRUE(eventually([&] {
    return get("/apis/events.k8s.io/v1/namespaces/airflow/events").field("items").items().size() ==
           1;
  }));
  // The apiserver may list the event before the flusher has settled the reply.
  EXPECT_TRUE(eventually([&] { return (*recorder)->queued() == 0u; }));
}

TEST_F(FakeApiserver, CustomResourcesRoundTrip) {
  REAPER_REQUIRE(fs::exists(fs::path(test::sourceDir()) / "k8s/crds"), "k8s/crds missing");
  const core::PodRef ref{"airflow", "on-node", "11111111-1111-1111-1111-111111111111"};
  put(pod(ref.name, ref.uid, "node-a"));
  TreeStatus tree;
  tree.nodeName = "node-a";
  tree.pod = ref;
  tree.ti = {"etl", "load", "manual__2026-11-18T12:00:00+00:00", -1, 1};
  tree.taskInstanceState = "running";
  tree.rootPid = 4242;
  tree.processes = 3;
  tree.firstSeen = tree.lastSeen = clock_.wallNow();
  {
    CustomResources crs(transport(nullptr), "node-a", clock_);
    auto status = crs.upsertTree(tree);
    ASSERT_TRUE(status) << status.error().message;
    tree.phase = kube::TreePhase::Reaped;
    tree.taskInstanceState = "failed";
    tree.reapedAt = clock_.wallNow();
    status = crs.upsertTree(tree);
    ASSERT_TRUE(status) << status.error().message;
    crs.recordResult({clock_.wallNow(), ref, tree.ti, "failed", 3, 1, core::ReapOutcome::Killed});
    crs.setSummary({1, 3, 1, 3, 1, 0});
    status = crs.flushReport();
    ASSERT_TRUE(status) << status.error().message;
  }
  Json object = get("/apis/airflowreaper.io/v1alpha1/namespaces/airflow/taskrunnertrees/" +
                    treeName(ref, tree.ti));
  EXPECT_EQ(object.field("status").field("phase").string(), "Reaped");
  EXPECT_EQ(object.field("status").field("rootPid").integer(), 4242);
  EXPECT_EQ(object.field("spec").field("runId").string(), tree.ti.runId);
  EXPECT_EQ(object.field("metadata").field("ownerReferences").items().at(0).field("uid").string(),
            ref.uid);
  Json report = get("/apis/airflowreaper.io/v1alpha1/nodereapreports/node-a");
  EXPECT_EQ(report.field("status").field("summary").field("reapedTrees").integer(), 1);
  EXPECT_EQ(report.field("status").field("results").items().at(0).field("outcome").string(),
            "killed");

  // A restarted agent adopts the tree and deletes it once retention has passed.
  CustomResources restarted(transport(nullptr), "node-a", clock_,
                            {.treeRetention = core::Duration(0)});
  auto adopted = restarted.adopt();
  ASSERT_TRUE(adopted) << adopted.error().message;
  EXPECT_EQ(restarted.trackedObjects(), 1u);
  auto cleaned = restarted.cleanup();
  ASSERT_TRUE(cleaned) << cleaned.error().message;
  EXPECT_EQ(get("/apis/airflowreaper.io/v1alpha1/namespaces/airflow/taskrunnertrees")
                .field("items")
                .items()
                .size(),
            0u);
}

}  // namespace
}  // namespace reaper::kube
