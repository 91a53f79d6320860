#include <gtest/gtest.h>

#include "config/config.h"

namespace reaper::config {
namespace {

std::string errorOf(const std::vector<std::string>& args) {
  auto result = parseCommandLine(args);
  EXPECT_FALSE(result.ok());
  return result.ok() ? "" : result.error().message;
}

TEST(ParseCommandLine, NoArgumentsMeansRun) {
  auto line = parseCommandLine({});
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(line->command, Command::Run);
  EXPECT_EQ(line->configFile, "");
  EXPECT_FALSE(line->mode);
  EXPECT_FALSE(line->dryRun);
  EXPECT_EQ(line->output, "table");
}

TEST(ParseCommandLine, RunTakesEveryRunFlag) {
  auto line = parseCommandLine({"run", "--config", "/etc/r.yaml", "--mode=host", "--node-name",
                                "n1", "--dry-run", "--log-level", "debug", "--log-format=json"});
  ASSERT_TRUE(line.ok()) << line.error().message;
  EXPECT_EQ(line->command, Command::Run);
  EXPECT_EQ(line->configFile, "/etc/r.yaml");
  EXPECT_EQ(line->mode, Mode::Host);
  EXPECT_EQ(line->nodeName, "n1");
  EXPECT_TRUE(line->dryRun);
  EXPECT_EQ(line->logLevel, "debug");
  EXPECT_EQ(line->logFormat, "json");
}

TEST(ParseCommandLine, FlagsWithoutCommandMeanRun) {
  auto line = parseCommandLine({"--mode", "kubernetes"});
  ASSERT_TRUE(line.ok());
  EXPECT_EQ(line->command, Command::Run);
  EXPECT_EQ(line->mode, Mode::Kubernetes);
}

TEST(ParseCommandLine, ScanTakesConfigAndOutput) {
  auto line = parseCommandLine({"scan", "--config=/c.yaml", "--output", "json"});
  ASSERT_TRUE(line.ok()) << line.error().message;
  EXPECT_EQ(line->command, Command::Scan);
  EXPECT_EQ(line->configFile, "/c.yaml");
  EXPECT_EQ(line->output, "json");
}

TEST(ParseCommandLine, ScanTakesFiltersAndProcesses) {
  auto line = parseCommandLine(
      {"scan", "--processes", "--state", "failed", "--pod=airflow/worker-0", "--dag", "etl"});
  ASSERT_TRUE(line.ok()) << line.error().message;
  EXPECT_TRUE(line->processes);
  EXPECT_EQ(line->state, "failed");
  EXPECT_EQ(line->pod, "airflow/worker-0");
  EXPECT_EQ(line->dag, "etl");
  EXPECT_EQ(errorOf({"scan", "--processes=yes"}).rfind("--processes takes no value", 0), 0u);
  EXPECT_EQ(errorOf({"scan", "--dag="}).rfind("--dag: needs a non-empty value", 0), 0u);
  EXPECT_EQ(errorOf({"run", "--state", "failed"}).rfind("unknown flag '--state' for run", 0), 0u);
}

TEST(ParseCommandLine, HelpInEveryFormAsksForTheUsage) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"help"}, {"--help"}, {"-h"}, {"scan", "--help"}, {"run", "--config", "x", "-h"}}) {
    auto line = parseCommandLine(args);
    ASSERT_TRUE(line.ok()) << args[0];
    EXPECT_EQ(line->command, Command::Help) << args[0];
  }
  EXPECT_EQ(errorOf({"help", "scan"}).rfind("unknown argument 'scan' for help", 0), 0u);
}

TEST(ParseCommandLine, VersionTakesNothing) {
  EXPECT_EQ(parseCommandLine({"version"})->command, Command::Version);
  EXPECT_EQ(parseCommandLine({"--version"})->command, Command::Version);
  EXPECT_EQ(errorOf({"--version", "extra"}).rfind("unknown argument 'extra' for version", 0), 0u);
  EXPECT_NE(errorOf({"version", "--config", "x"}).find("unknown flag '--config' for version"),
            std::string::npos);
}

TEST(ParseCommandLine, RejectsWhatTheContractDoesNotList) {
  EXPECT_EQ(errorOf({"reap"}).rfind("unknown command 'reap'", 0), 0u);
  EXPECT_EQ(errorOf({"--verbose"}).rfind("unknown flag '--verbose' for run", 0), 0u);
  EXPECT_EQ(errorOf({"scan", "--dry-run"}).rfind("unknown flag '--dry-run' for scan", 0), 0u);
  EXPECT_EQ(errorOf({"run", "--output", "json"}).rfind("unknown flag '--output' for run", 0), 0u);
  EXPECT_EQ(errorOf({"run", "extra"}).rfind("unknown argument 'extra' for run", 0), 0u);
}

TEST(ParseCommandLine, RejectsBadValues) {
  EXPECT_EQ(errorOf({"--mode", "cluster"}).rfind("--mode: bad value 'cluster'", 0), 0u);
  EXPECT_EQ(errorOf({"--log-level", "verbose"}).rfind("--log-level: bad value", 0), 0u);
  EXPECT_EQ(errorOf({"scan", "--output", "yaml"}).rfind("--output: bad value", 0), 0u);
  EXPECT_EQ(errorOf({"--config"}).rfind("--config: missing value", 0), 0u);
  EXPECT_EQ(errorOf({"--config="}).rfind("--config: needs a non-empty value", 0), 0u);
  EXPECT_EQ(errorOf({"--dry-run=false"}).rfind("--dry-run takes no value", 0), 0u);
}

TEST(ParseCommandLine, ErrorsCarryTheUsage) {
  EXPECT_NE(errorOf({"--bogus"}).find(usage()), std::string::npos);
}

TEST(Usage, NamesEveryCommandAndScanFlag) {
  for (const char* word : {"[run]", "scan", "--processes", "--state", "--pod", "--dag", "version",
                           "--version", "--help", "-h"})
    EXPECT_NE(usage().find(word), std::string::npos) << word;
}

}  // namespace
}  // namespace reaper::config
