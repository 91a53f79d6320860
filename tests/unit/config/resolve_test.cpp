#include <gtest/gtest.h>
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
  auto config = resolveConfig(withFile(std::string(kHostMode) + "hostRoot: /host\n"), env(), "h");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->procRoot, "/host/proc");
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
