#include "net/secret_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "net/limits.h"

namespace reaper::net {
namespace {

using ::testing::HasSubstr;

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/reaper-net-test-XXXXXX";
    dir_ = ::mkdtemp(name);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path + ".new") << content;
    std::filesystem::rename(path + ".new", path);  // a new inode, as kubelet swaps a volume
    return path;
  }
  std::string dir_;
};

TEST_F(SecretFileTest, TrimmedContent) {
  EXPECT_EQ(*readSecretFile(write("token", "  tok\n"), kMaxSecretBytes), "tok");
}

// A device, a FIFO or a huge file is refused at once, not read into memory.
TEST_F(SecretFileTest, RefusesWhatIsNotASmallRegularFile) {
  auto zero = readSecretFile("/dev/zero", kMaxSecretBytes);
  ASSERT_FALSE(zero.ok());
  EXPECT_THAT(zero.error().message, HasSubstr("/dev/zero is not a regular file"));
  const std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_FALSE(readSecretFile(fifo, kMaxSecretBytes).ok());
  auto big = readSecretFile(write("big", std::string(kMaxSecretBytes + 1, 'x')), kMaxSecretBytes);
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(big.error().message, HasSubstr("larger than"));
  EXPECT_FALSE(readSecretFile(write("blank", " \n"), kMaxSecretBytes).ok());
  EXPECT_FALSE(readSecretFile(dir_ + "/absent", kMaxSecretBytes).ok());
}

TEST_F(SecretFileTest, RereadWhenRotated) {
  const std::string path = write("token", "first-token\n");
  SecretFile token(path);
  EXPECT_EQ(*token.read(), "first-token");
  write("token", "  second-token \n");
  EXPECT_EQ(*token.read(), "second-token");
  std::filesystem::remove(path);
  EXPECT_FALSE(token.read().ok());
}

}  // namespace
}  // namespace reaper::net
