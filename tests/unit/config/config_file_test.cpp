#include <gtest/gtest.h>

#include <map>

#include "config/config.h"

namespace reaper::config {
namespace {

using core::Duration;

constexpr const char* kMinimal = "airflow:\n  baseUrl: http://airflow:8080\n";

// Parses a document expected to fail and returns its message.
std::string errorOf(const std::string& yaml) {
  auto result = parseConfig(yaml);
  EXPECT_FALSE(result.ok()) << yaml;
  return result.ok() ? "" : result.error().message;
}

TEST(ParseConfig, DefaultsWhenOnlyBaseUrlIsGiven) {
  auto config = parseConfig(kMinimal);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->mode, Mode::Kubernetes);
  EXPECT_EQ(config->hostRoot, "/");
  EXPECT_EQ(config->procRoot, "");
  EXPECT_EQ(config->pollInterval, Duration(2000));
  EXPECT_EQ(config->startupGrace, Duration(30000));
  EXPECT_FALSE(config->dryRun);
  EXPECT_EQ(config->airflow.apiVersion, "auto");
  EXPECT_EQ(config->airflow.auth.type, "none");
  EXPECT_EQ(config->airflow.timeout, Duration(5000));
  EXPECT_EQ(config->airflow.pageSize, 100);
  EXPECT_EQ(config->kill.gracePeriod, Duration(10000));
  EXPECT_EQ(config->kill.onMissingTaskInstance, "keep");
  EXPECT_EQ(config->kubernetes.tokenFile, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  EXPECT_TRUE(config->kubernetes.events);
  EXPECT_TRUE(config->kubernetes.namespaces.empty());
  EXPECT_EQ(config->kubernetes.treeRetention, Duration(3600000));
  EXPECT_EQ(config->server.bindAddress, "0.0.0.0:9464");
  EXPECT_EQ(config->logLevel, "info");
  EXPECT_EQ(config->logFormat, "text");
}

TEST(ParseConfig, EveryKeyIsRead) {
  auto config = parseConfig(R"(
mode: host
nodeName: node-a
hostRoot: /host
procRoot: /host/proc2
cgroupRoot: /host/cg
pollInterval: 500ms
startupGrace: 1m
dryRun: true
airflow:
  baseUrl: https://airflow.example:8443/
  apiVersion: v2
  auth:
    type: jwt
    username: reaper
    passwordFile: /secrets/pw
    tokenFile: /secrets/token
  caFile: /ca.pem
  insecureSkipVerify: true
  timeout: 3s
  pageSize: 50
kill:
  gracePeriod: 1m30s
  onMissingTaskInstance: kill
kubernetes:
  apiServer: https://10.0.0.1:443
  tokenFile: /t
  caFile: /c
  insecureSkipVerify: true
  namespaces: [airflow, etl]
  events: false
  taskTrees: false
  nodeReport: false
  treeRetention: 2h
server:
  bindAddress: 127.0.0.1:0
logLevel: debug
logFormat: json
)");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->mode, Mode::Host);
  EXPECT_EQ(config->nodeName, "node-a");
  EXPECT_EQ(config->hostRoot, "/host");
  EXPECT_EQ(config->procRoot, "/host/proc2");
  EXPECT_EQ(config->cgroupRoot, "/host/cg");
  EXPECT_EQ(config->pollInterval, Duration(500));
  EXPECT_EQ(config->startupGrace, Duration(60000));
  EXPECT_TRUE(config->dryRun);
  EXPECT_EQ(config->airflow.baseUrl, "https://airflow.example:8443/");
  EXPECT_EQ(config->airflow.apiVersion, "v2");
  EXPECT_EQ(config->airflow.auth.type, "jwt");
  EXPECT_EQ(config->airflow.auth.username, "reaper");
  EXPECT_EQ(config->airflow.auth.passwordFile, "/secrets/pw");
  EXPECT_EQ(config->airflow.auth.tokenFile, "/secrets/token");
  EXPECT_EQ(config->airflow.caFile, "/ca.pem");
  EXPECT_TRUE(config->airflow.insecureSkipVerify);
  EXPECT_EQ(config->airflow.timeout, Duration(3000));
  EXPECT_EQ(config->airflow.pageSize, 50);
  EXPECT_EQ(config->kill.gracePeriod, Duration(90000));
  EXPECT_EQ(config->kill.onMissingTaskInstance, "kill");
  EXPECT_EQ(config->kubernetes.apiServer, "https://10.0.0.1:443");
  EXPECT_EQ(config->kubernetes.tokenFile, "/t");
  EXPECT_EQ(config->kubernetes.caFile, "/c");
  EXPECT_TRUE(config->kubernetes.insecureSkipVerify);
  EXPECT_EQ(config->kubernetes.namespaces, (std::vector<std::string>{"airflow", "etl"}));
  EXPECT_FALSE(config->kubernetes.events);
  EXPECT_FALSE(config->kubernetes.taskTrees);
  EXPECT_FALSE(config->kubernetes.nodeReport);
  EXPECT_EQ(config->kubernetes.treeRetention, Duration(7200000));
  EXPECT_EQ(config->server.bindAddress, "127.0.0.1:0");
  EXPECT_EQ(config->logLevel, "debug");
  EXPECT_EQ(config->logFormat, "json");
}

// A null reads as "unset" to one tool and "empty" to another: leave the key out instead.
TEST(ParseConfig, NullValuesAreErrorsNamingTheKey) {
  const std::string why = ": has no value (null); remove the key for its default";
  EXPECT_EQ(errorOf(std::string(kMinimal) + "pollInterval: ~\n"), "pollInterval" + why);
  EXPECT_EQ(errorOf(std::string(kMinimal) + "procRoot:\n"), "procRoot" + why);
  EXPECT_EQ(errorOf(std::string(kMinimal) + "kubernetes:\n  namespaces: null\n"),
            "kubernetes.namespaces" + why);
  EXPECT_EQ(errorOf(std::string(kMinimal) + "  auth: ~\n"), "airflow.auth" + why);
  EXPECT_EQ(errorOf("airflow:\n  baseUrl: Null\n"), "airflow.baseUrl" + why);
  EXPECT_EQ(errorOf(std::string(kMinimal) + "kill:\n"), "kill" + why);
  // Quoted, it is a string like any other.
  auto quoted = parseConfig(std::string(kMinimal) + "nodeName: '~'\n");
  ASSERT_TRUE(quoted.ok()) << quoted.error().message;
  EXPECT_EQ(quoted->nodeName, "~");
}

// Which of two equal keys wins differs between YAML parsers (and between helm and the agent).
TEST(ParseConfig, DuplicateKeysAreErrorsNamingTheKey) {
  EXPECT_EQ(errorOf(std::string(kMinimal) + "pollInterval: 1s\npollInterval: 2s\n"),
            "pollInterval: duplicate key");
  EXPECT_EQ(errorOf("airflow:\n  baseUrl: http://a\n  baseUrl: http://b\n"),
            "airflow.baseUrl: duplicate key");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "kill: {gracePeriod: 1s, gracePeriod: 1s}\n"),
            "kill.gracePeriod: duplicate key");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "airflow:\n  baseUrl: http://b\n"),
            "airflow: duplicate key");
}

TEST(ParseConfig, MalformedUrlsAreErrorsNamingTheKey) {
  const std::map<std::string, std::string> bad = {
      {"'http://[::1'", "has an unclosed '[' in its host"},
      {"'http://[::1]x'", "has text after its ']'"},
      {"'http://[zz::1]:80'", "has a bad IPv6 address in brackets"},
      {"'http://::1:8080'", "has an IPv6 host without brackets"},
      {"'http://'", "has no host"},
      {"'http:///api'", "has no host"},
      {"'http://airflow:'", "has a bad port"},
      {"'http://airflow:0'", "has a bad port"},
      {"'http://airflow:65536'", "has a bad port"},
      {"'http://airflow:80x'", "has a bad port"},
      {"'http://air flow'", "contains a space or control character"},
      {"'http://airflow/a b'", "contains a space or control character"},
      {"'http://air%flow'", "has a bad host name"},
      {"'http://admin:pw@airflow'", "carries credentials (they belong in files, never in a URL)"},
      {"'ftp://airflow'", "is not an http:// or https:// URL"},
      {"airflow:8080", "is not an http:// or https:// URL"},
  };
  for (const auto& [url, why] : bad) {
    std::string shown = url.front() == '\'' ? url.substr(1, url.size() - 2) : url;
    EXPECT_EQ(errorOf("airflow:\n  baseUrl: " + url + "\n"),
              "airflow.baseUrl: '" + shown + "' " + why);
    EXPECT_EQ(errorOf(std::string(kMinimal) + "kubernetes:\n  apiServer: " + url + "\n"),
              "kubernetes.apiServer: '" + shown + "' " + why);
  }
  for (const char* good :
       {"http://airflow", "https://airflow.example:8443/base/", "http://[::1]:8080",
        "http://10.0.0.1:8080?x=1", "http://airflow-api_server.ns.svc"}) {
    auto config = parseConfig(std::string("airflow:\n  baseUrl: '") + good + "'\n");
    EXPECT_TRUE(config.ok()) << good << ": " << config.error().message;
  }
}

TEST(ParseConfig, NamespacesAreNamespaceNamesListedOnce) {
  EXPECT_EQ(errorOf(std::string(kMinimal) + "kubernetes:\n  namespaces: [airflow, Airflow]\n"),
            "kubernetes.namespaces: 'Airflow' is not a namespace name");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "kubernetes:\n  namespaces: [team.a]\n"),
            "kubernetes.namespaces: 'team.a' is not a namespace name");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "kubernetes:\n  namespaces: [a, b, a]\n"),
            "kubernetes.namespaces: 'a' is listed twice");
}

TEST(ParseConfig, BindAddressesAreHostAndPort) {
  for (const char* bad : {"9464", ":9464", "0.0.0.0:", "0.0.0.0:65536", "[::1:9464", "a b:1"}) {
    EXPECT_EQ(errorOf(std::string(kMinimal) + "server:\n  bindAddress: '" + bad + "'\n")
                  .rfind(std::string("server.bindAddress: '") + bad + "' ", 0),
              0u)
        << bad;
  }
  for (const char* good : {"0.0.0.0:9464", "127.0.0.1:0", "[::]:9464", "fd00::5:9464",
                           "localhost:9464", "${POD_IP}:9464"}) {
    auto config = parseConfig(std::string(kMinimal) + "server:\n  bindAddress: '" + good + "'\n");
    EXPECT_TRUE(config.ok()) << good << ": " << config.error().message;
  }
}

TEST(ParseConfig, MissingBaseUrlIsNamed) {
  EXPECT_EQ(errorOf(""), "airflow.baseUrl: required");
  EXPECT_EQ(errorOf("mode: host\n"), "airflow.baseUrl: required");
}

TEST(ParseConfig, UnknownKeysAreNamedWithTheirPath) {
  EXPECT_EQ(errorOf(std::string(kMinimal) + "pollIntervall: 2s\n"), "pollIntervall: unknown key");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "  tiemout: 2s\n"), "airflow.tiemout: unknown key");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "  auth:\n    user: x\n"),
            "airflow.auth.user: unknown key");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "kill:\n  grace: 1s\n"), "kill.grace: unknown key");
}

TEST(ParseConfig, WrongTypesAreNamed) {
  EXPECT_EQ(errorOf(std::string(kMinimal) + "dryRun: yes please\n"),
            "dryRun: expected true or false, got 'yes please'");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "  pageSize: many\n"),
            "airflow.pageSize: expected an integer, got 'many'");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "nodeName: [a, b]\n"),
            "nodeName: expected a single value, got a list");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "kubernetes:\n  namespaces: airflow\n"),
            "kubernetes.namespaces: expected a list of strings");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "kill: 10s\n"), "kill: expected a mapping");
  EXPECT_EQ(errorOf("- a\n- b\n"), "(document): expected a mapping");
}

TEST(ParseConfig, BadDurationsAreNamed) {
  const std::string message = errorOf(std::string(kMinimal) + "kill:\n  gracePeriod: ten\n");
  EXPECT_EQ(message.rfind("kill.gracePeriod: bad duration 'ten'", 0), 0u) << message;
  EXPECT_EQ(errorOf(std::string(kMinimal) + "pollInterval: 2\n").rfind("pollInterval: ", 0), 0u);
  EXPECT_EQ(errorOf(std::string(kMinimal) + "pollInterval: 0s\n"),
            "pollInterval: must be greater than 0");
}

TEST(ParseConfig, BadEnumValuesAreNamed) {
  EXPECT_EQ(errorOf(std::string(kMinimal) + "mode: cluster\n"),
            "mode: bad value 'cluster' (want kubernetes | host)");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "  apiVersion: v3\n"),
            "airflow.apiVersion: bad value 'v3' (want auto | v1 | v2)");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "  auth:\n    type: oauth\n")
                .rfind("airflow.auth.type: bad value 'oauth'", 0),
            0u);
  EXPECT_EQ(errorOf(std::string(kMinimal) + "kill:\n  onMissingTaskInstance: maybe\n")
                .rfind("kill.onMissingTaskInstance: bad value 'maybe'", 0),
            0u);
  EXPECT_EQ(errorOf(std::string(kMinimal) + "logFormat: xml\n").rfind("logFormat: bad value", 0),
            0u);
}

TEST(ParseConfig, CrossKeyChecksNameTheKey) {
  EXPECT_EQ(errorOf("airflow:\n  baseUrl: airflow:8080\n").rfind("airflow.baseUrl: ", 0), 0u);
  EXPECT_EQ(errorOf(std::string(kMinimal) + "  pageSize: 101\n"),
            "airflow.pageSize: 101 is not in 1..100");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "  pageSize: 0\n"),
            "airflow.pageSize: 0 is not in 1..100");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "  auth:\n    type: basic\n    username: u\n"),
            "airflow.auth.passwordFile: required by auth type basic");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "  auth:\n    type: bearer\n"),
            "airflow.auth.tokenFile: required by auth type bearer");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "server:\n  bindAddress: 9464\n"),
            "server.bindAddress: '9464' is not host:port");
  EXPECT_EQ(errorOf(std::string(kMinimal) + "kubernetes:\n  apiServer: 10.0.0.1\n")
                .rfind("kubernetes.apiServer: ", 0),
            0u);
}

TEST(ParseConfig, YamlSyntaxErrorsGiveTheLine) {
  const std::string message =
      errorOf("mode: host\nairflow: {baseUrl: http://a}\nkill: gracePeriod: 1s\n");
  EXPECT_NE(message.find("line 3"), std::string::npos) << message;
}

}  // namespace
}  // namespace reaper::config
