#include "integration/airflow/fake_airflow_server.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/json.h"
#include "net/http.h"
#include "support/test_support.h"

namespace reaper::test {
namespace {

using core::Json;

Json tiBody(const core::TaskInstanceKey& key) {
  Json body;
  body["dag_id"] = key.dagId;
  body["task_id"] = key.taskId;
  body["run_id"] = key.runId;
  body["map_index"] = key.mapIndex;
  body["try_number"] = key.tryNumber;
  return body;
}

Json parsed(const std::string& text) {
  auto json = Json::parse(text);
  EXPECT_TRUE(json) << text;
  return json ? *json : Json();
}

std::vector<std::string> commandLine(const FakeAirflowOptions& o, const std::string& portFile) {
  std::vector<std::string> args = {
      python(),         sourceDir() + "/tests/e2e/fake_airflow/fake_airflow.py",
      "--port",         "0",
      "--port-file",    portFile,
      "--api",          o.api,
      "--auth",         o.auth,
      "--username",     o.username,
      "--password",     o.password,
      "--token-ttl",    std::to_string(o.tokenTtlSeconds),
      "--hang-seconds", std::to_string(o.hangSeconds)};
  if (!o.token.empty()) args.insert(args.end(), {"--token", o.token});
  if (!o.tlsCert.empty()) args.insert(args.end(), {"--tls-cert", o.tlsCert, "--tls-key", o.tlsKey});
  return args;
}

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // A test that crashes (a sanitizer report aborts) runs no destructor: the server dies with it
    // rather than live on holding ctest's output pipe open.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

FakeAirflowServer::FakeAirflowServer(FakeAirflowOptions options) : options_(std::move(options)) {
  char dir[] = "/tmp/reaper-fake-airflow-XXXXXX";
  dir_ = ::mkdtemp(dir);
  const std::string portFile = dir_ + "/port";
  pid_ = spawn(commandLine(options_, portFile));
  if (pid_ < 0) {
    startError_ = "fork failed";
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(portFile);
    if (in >> port_ && port_ > 0) return;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      startError_ = "fake_airflow.py exited at start-up";
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  startError_ = "fake_airflow.py did not write its port";
}

FakeAirflowServer::~FakeAirflowServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::filesystem::remove_all(dir_);
}

std::string FakeAirflowServer::baseUrl() const {
  return std::string(options_.tlsCert.empty() ? "http" : "https") +
         "://127.0.0.1:" + std::to_string(port_);
}

std::string FakeAirflowServer::control(const std::string& method, const std::string& path,
                                       const std::string& body) {
  auto client = net::makeHttpTransport(
      {.baseUrl = baseUrl(), .insecureSkipVerify = true, .timeout = core::Duration(10000)});
  EXPECT_TRUE(client) << client.error().message;
  if (!client) return "";
  auto reply = (*client)->send({method, path, body});
  EXPECT_TRUE(reply) << method << " " << path << ": " << reply.error().message;
  return reply ? reply->body : "";
}

std::string FakeAirflowServer::putTi(const core::TaskInstanceKey& key,
                                     std::optional<std::string> state, const std::string& id,
                                     const std::string& fields) {
  Json body = parsed(fields);
  const Json identity = tiBody(key);
  for (const auto& [name, value] : identity.members()) body[name] = value;
  body["state"] = state ? Json(*state) : Json();
  if (!id.empty()) body["id"] = id;
  return parsed(control("PUT", "/_fake/ti", body.dump())).field("id").string().value_or("");
}

void FakeAirflowServer::putTis(const std::vector<core::TaskInstanceKey>& keys,
                               const std::string& state) {
  Json tis = Json::Array{};
  for (const auto& key : keys) {
    Json ti = tiBody(key);
    ti["state"] = state;
    tis.push(std::move(ti));
  }
  Json body;
  body["tis"] = std::move(tis);
  control("PUT", "/_fake/tis", body.dump());
}

void FakeAirflowServer::deleteTi(const core::TaskInstanceKey& key) {
  control("DELETE", "/_fake/ti", tiBody(key).dump());
}

void FakeAirflowServer::fault(const std::string& mode, int count) {
  Json body;
  body["mode"] = mode;
  if (count > 0) body["count"] = count;
  control("POST", "/_fake/fault", body.dump());
}

void FakeAirflowServer::setBearerToken(const std::string& token) {
  Json body;
  body["token"] = token;
  control("PUT", "/_fake/token", body.dump());
}

void FakeAirflowServer::revokeTokens() { control("POST", "/_fake/revoke", "{}"); }

int FakeAirflowServer::requests(const std::string& methodAndPath, int status) {
  const Json stats = parsed(control("GET", "/_fake/stats", ""));
  int count = 0;
  for (const auto& [code, n] : stats.field("requests").field(methodAndPath).members()) {
    if (status == 0 || code == std::to_string(status))
      count += static_cast<int>(n.integer().value_or(0));
  }
  return count;
}

int FakeAirflowServer::totalRequests() {
  return static_cast<int>(
      parsed(control("GET", "/_fake/stats", "")).field("total").integer().value_or(-1));
}

int FakeAirflowServer::tokenIssues() {
  return static_cast<int>(
      parsed(control("GET", "/_fake/stats", "")).field("token_issues").integer().value_or(-1));
}

}  // namespace reaper::test
