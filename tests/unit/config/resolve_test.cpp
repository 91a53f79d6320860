#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "config/config.h"

namespace reaper::config {
namespace {

// A config file in a private temporary directory, removed with the fixture.
class ResolveConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/reaper-config-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::remove(file_.c_str());
    ::rmdir(dir_.c_str());
  }

  CommandLine withFile(const std::string& yaml) {
    file_ = dir_ + "/config.yaml";
    std::ofstream(file_) << yaml;
    CommandLine line;
    line.configFile = file_;
    return line;
  }

  EnvLookup env() const {
    return [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
  }

  std::string dir_, file_;
  std::map<std::string, std::string> env_;
};

constexpr const char* kHostMode = "mode: host\nairflow:\n  baseUrl: http://airflow:8080\n";

TEST_F(ResolveConfig, FillsDefaultsFromTheEnvironment) {
  env_["NODE_NAME"] = "node-from-env";
  auto config = resolveConfig(withFile(kHostMode), env(), "myhost");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->nodeName, "node-from-env");
  EXPECT_EQ(config->procRoot, "/proc");
}

TEST_F(ResolveConfig, NodeNameFallsBackToTheHostName) {
  auto config = resolveConfig(withFile(kHostMode), env(), "myhost");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->nodeName, "myhost");
}

TEST_F(ResolveConfig, ProcRootFollowsHostRoot) {
  const std::string proc = dir_ + "/proc";
  ASSERT_EQ(::mkdir(proc.c_str(), 0700), 0);
  auto config =
      resolveConfig(withFile(std::string(kHostMode) + "hostRoot: " + dir_ + "\n"), env(), "h");
  ::rmdir(proc.c_str());
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->procRoot, dir_ + "/proc");
}

// A root that cannot be listed would run and see nothing, exiting 0: a configuration error.
TEST_F(ResolveConfig, RootsThatCannotBeListedAreErrorsNamingTheKey) {
  const std::map<std::string, std::string> cases = {
      {"procRoot: /nonexistent\n", "procRoot: '/nonexistent' cannot be listed: "},
      {"hostRoot: /nonexistent\n", "hostRoot: '/nonexistent' cannot be listed: "},
      {"cgroupRoot: /nonexistent/cg\n", "cgroupRoot: '/nonexistent/cg' cannot be listed: "},
      {"procRoot: /etc/hostname\n", "procRoot: '/etc/hostname' cannot be listed: "},
  };
  for (const auto& [yaml, message] : cases) {
    auto config = resolveConfig(withFile(std::string(kHostMode) + yaml), env(), "h");
    ASSERT_FALSE(config.ok()) << yaml;
    EXPECT_EQ(config.error().message.rfind(message, 0), 0u) << config.error().message;
  }
}

// One ConfigMap serves every pod of the DaemonSet; each binds its own pod IP.
TEST_F(ResolveConfig, BindAddressTakesThePodIpFromTheEnvironment) {
  const std::string yaml = std::string(kHostMode) + "server:\n  bindAddress: ${POD_IP}:9464\n";
  env_["POD_IP"] = "10.1.2.3";
  auto config = resolveConfig(withFile(yaml), env(), "h");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->server.bindAddress, "10.1.2.3:9464");
  env_["POD_IP"] = "fd00::7";
  config = resolveConfig(withFile(yaml), env(), "h");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->server.bindAddress, "fd00::7:9464");
  env_.erase("POD_IP");
  config = resolveConfig(withFile(yaml), env(), "h");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message, "server.bindAddress: $POD_IP is not set in the environment");
  env_["POD_IP"] = "not an address";
  config = resolveConfig(withFile(yaml), env(), "h");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message.rfind("server.bindAddress: 'not an address:9464' ", 0), 0u);
}

TEST_F(ResolveConfig, FlagsOverrideTheFile) {
  env_["NODE_NAME"] = "node-from-env";
  auto line = withFile(std::string(kHostMode) +
                       "nodeName: file-node\ndryRun: false\nlogLevel: warn\nlogFormat: text\n");
  line.mode = Mode::Kubernetes;
  line.nodeName = "flag-node";
  line.dryRun = true;
  line.logLevel = "trace";
  line.logFormat = "json";
  env_["KUBERNETES_SERVICE_HOST"] = "10.96.0.1";
  env_["KUBERNETES_SERVICE_PORT"] = "443";
  auto config = resolveConfig(line, env(), "h");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->mode, Mode::Kubernetes);
  EXPECT_EQ(config->nodeName, "flag-node");
  EXPECT_TRUE(config->dryRun);
  EXPECT_EQ(config->logLevel, "trace");
  EXPECT_EQ(config->logFormat, "json");
}

TEST_F(ResolveConfig, FileValuesWinOverEnvironmentDefaults) {
  env_["NODE_NAME"] = "node-from-env";
  auto config =
      resolveConfig(withFile(std::string(kHostMode) + "nodeName: file-node\n"), env(), "h");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->nodeName, "file-node");
}

TEST_F(ResolveConfig, KubernetesModeUsesTheInClusterApiServer) {
  env_["KUBERNETES_SERVICE_HOST"] = "fd00::1";
  env_["KUBERNETES_SERVICE_PORT"] = "6443";
  auto config = resolveConfig(withFile("airflow:\n  baseUrl: http://a\n"), env(), "h");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->kubernetes.apiServer, "https://[fd00::1]:6443");
}

TEST_F(ResolveConfig, KubernetesModeOutsideAClusterNamesTheKey) {
  auto config = resolveConfig(withFile("airflow:\n  baseUrl: http://a\n"), env(), "h");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message.rfind("kubernetes.apiServer: ", 0), 0u);
}

TEST_F(ResolveConfig, ErrorsNameTheFileAndTheKey) {
  auto config =
      resolveConfig(withFile(std::string(kHostMode) + "pollInterval: soon\n"), env(), "h");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message.rfind(file_ + ": pollInterval: bad duration 'soon'", 0), 0u)
      << config.error().message;
}

TEST_F(ResolveConfig, NoConfigFileStillRequiresBaseUrl) {
  auto config = resolveConfig(CommandLine{}, env(), "h");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message, "(no --config): airflow.baseUrl: required");
}

TEST_F(ResolveConfig, UnreadableFileIsAnError) {
  CommandLine line;
  line.configFile = dir_ + "/missing.yaml";
  auto config = resolveConfig(line, env(), "h");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("missing.yaml: cannot read"), std::string::npos);
}

}  // namespace
}  // namespace reaper::config
