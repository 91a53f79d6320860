#include <spdlog/spdlog.h>
// spdlog before cpprestsdk (fmt 9 breaks otherwise); no U() macro, which clashes with GoogleTest.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/http_client.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "integration/airflow/fake_airflow_server.h"
#include "support/test_support.h"

namespace reaper::test {
namespace {

namespace json = web::json;

json::value tiBody(const core::TaskInstanceKey& key) {
  json::value body = json::value::object();
  body["dag_id"] = json::value::string(key.dagId);
  body["task_id"] = json::value::string(key.taskId);
  body["run_id"] = json::value::string(key.runId);
  body["map_index"] = json::value::number(key.mapIndex);
  body["try_number"] = json::value::number(key.tryNumber);
  return body;
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
  const pid_t pid = ::fork();
  if (pid == 0) {
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
  web::http::client::http_client_config config;
  config.set_validate_certificates(false);
  config.set_timeout(std::chrono::seconds(10));
  web::http::client::http_client client(baseUrl(), config);
  web::http::http_request request(method);
  request.set_request_uri(path);
  request.set_body(body, "application/json");
  auto response = client.request(request).get();
  return response.extract_utf8string(true).get();
}

std::string FakeAirflowServer::putTi(const core::TaskInstanceKey& key,
                                     std::optional<std::string> state, const std::string& id,
                                     const std::string& fields) {
  json::value body = json::value::parse(fields);
  const json::value identity = tiBody(key);
  for (const auto& [name, value] : identity.as_object()) body[name] = value;
  body["state"] = state ? json::value::string(*state) : json::value::null();
  if (!id.empty()) body["id"] = json::value::string(id);
  return json::value::parse(control("PUT", "/_fake/ti", body.serialize())).at("id").as_string();
}

void FakeAirflowServer::putTis(const std::vector<core::TaskInstanceKey>& keys,
                               const std::string& state) {
  std::vector<json::value> tis;
  for (const auto& key : keys) {
    json::value ti = tiBody(key);
    ti["state"] = json::value::string(state);
    tis.push_back(std::move(ti));
  }
  json::value body = json::value::object();
  body["tis"] = json::value::array(std::move(tis));
  control("PUT", "/_fake/tis", body.serialize());
}

void FakeAirflowServer::deleteTi(const core::TaskInstanceKey& key) {
  control("DELETE", "/_fake/ti", tiBody(key).serialize());
}

void FakeAirflowServer::fault(const std::string& mode, int count) {
  json::value body = json::value::object();
  body["mode"] = json::value::string(mode);
  if (count > 0) body["count"] = json::value::number(count);
  control("POST", "/_fake/fault", body.serialize());
}

void FakeAirflowServer::setBearerToken(const std::string& token) {
  json::value body = json::value::object();
  body["token"] = json::value::string(token);
  control("PUT", "/_fake/token", body.serialize());
}

void FakeAirflowServer::revokeTokens() { control("POST", "/_fake/revoke", "{}"); }

int FakeAirflowServer::requests(const std::string& methodAndPath, int status) {
  auto stats = json::value::parse(control("GET", "/_fake/stats", ""));
  auto& all = stats.at("requests");
  if (!all.has_field(methodAndPath)) return 0;
  int count = 0;
  for (const auto& [code, n] : all.at(methodAndPath).as_object()) {
    if (status == 0 || code == std::to_string(status)) count += n.as_integer();
  }
  return count;
}

int FakeAirflowServer::totalRequests() {
  return json::value::parse(control("GET", "/_fake/stats", "")).at("total").as_integer();
}

int FakeAirflowServer::tokenIssues() {
  return json::value::parse(control("GET", "/_fake/stats", "")).at("token_issues").as_integer();
}

}  // namespace reaper::test
