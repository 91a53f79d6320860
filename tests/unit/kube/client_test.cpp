#include "kube/client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "kube/api_time.h"

namespace reaper::kube {
namespace {

std::function<const char*(const char*)> env(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const char* name) -> const char* {
    auto it = values.find(name);
    return it == values.end() ? nullptr : it->second.c_str();
  };
}

TEST(ResolveApiServer, ExplicitServerWins) {
  ClientOptions options;
  options.apiServer = "https://10.0.0.1:6443";
  EXPECT_EQ(*resolveApiServer(options, env({{"KUBERNETES_SERVICE_HOST", "x"}})),
            "https://10.0.0.1:6443");
}

TEST(ResolveApiServer, InClusterFromServiceEnvironment) {
  ClientOptions options;
  EXPECT_EQ(*resolveApiServer(options, env({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                            {"KUBERNETES_SERVICE_PORT", "443"}})),
            "https://10.96.0.1:443");
  EXPECT_EQ(*resolveApiServer(options, env({{"KUBERNETES_SERVICE_HOST", "fd00::1"},
                                            {"KUBERNETES_SERVICE_PORT", "443"}})),
            "https://[fd00::1]:443");
  EXPECT_FALSE(resolveApiServer(options, env({})));
}

TEST(ClientOptions, DefaultsVerifyTlsWithTheServiceAccount) {
  ClientOptions options;
  EXPECT_FALSE(options.insecureSkipVerify);
  EXPECT_EQ(options.tokenFile, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  EXPECT_EQ(options.caFile, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
}

TEST(EncodeQueryValue, EscapesReservedCharacters) {
  EXPECT_EQ(encodeQueryValue("spec.nodeName=node-1"), "spec.nodeName%3Dnode-1");
  EXPECT_EQ(encodeQueryValue("a b/c,d&e"), "a%20b%2Fc%2Cd%26e");
}

TEST(ApiTime, FormatsAndParsesRfc3339) {
  core::WallTime t =
      core::WallTime(std::chrono::seconds(1795003200)) + std::chrono::microseconds(42);
  EXPECT_EQ(formatTime(t), "2026-11-18T12:00:00Z");
  EXPECT_EQ(formatMicroTime(t), "2026-11-18T12:00:00.000042Z");
  EXPECT_EQ(parseTime("2026-11-18T12:00:00.000042Z"), t);
  EXPECT_EQ(parseTime("2026-11-18T12:00:00Z"), core::WallTime(std::chrono::seconds(1795003200)));
  EXPECT_EQ(parseTime("2026-11-18 12:00"), std::nullopt);
  EXPECT_EQ(parseTime("2026-11-18T12:00:00+01:00"), std::nullopt);
}

}  // namespace
}  // namespace reaper::kube
