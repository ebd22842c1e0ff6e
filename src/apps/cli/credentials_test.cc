#include "apps/cli/credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

namespace tandem::cli {
namespace {
namespace fs = std::filesystem;

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tandem-cli-cred-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST(DefaultCredentialsPathTest, PrefersXdgConfigHome) {
  EXPECT_EQ(*DefaultCredentialsPath({"/x/cfg", "/home/a"}), "/x/cfg/tandem/credentials.json");
  EXPECT_EQ(*DefaultCredentialsPath({std::nullopt, "/home/a"}),
            "/home/a/.config/tandem/credentials.json");
  // A relative XDG_CONFIG_HOME is invalid by the XDG spec and ignored.
  EXPECT_EQ(*DefaultCredentialsPath({"rel", "/home/a"}), "/home/a/.config/tandem/credentials.json");
  EXPECT_EQ(DefaultCredentialsPath({std::nullopt, std::nullopt}).status().code(),
            Code::kInvalidArgument);
}

TEST_F(CredentialsTest, SavesPrivatelyAndLoadsBack) {
  CredentialsFile file(dir_ / "cfg" / "tandem" / "credentials.json");
  EXPECT_EQ(file.Load().status().code(), Code::kNotFound);
  Credentials c{"http://127.0.0.1:8480", "alice", "u1", "secret-token"};
  ASSERT_TRUE(file.Save(c).ok());
  struct stat st {};
  ASSERT_EQ(::stat(file.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(file.path().parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto loaded = file.Load();
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->server, c.server);
  EXPECT_EQ(loaded->login, "alice");
  EXPECT_EQ(loaded->user_id, "u1");
  EXPECT_EQ(loaded->token, "secret-token");
  EXPECT_FALSE(fs::exists(file.path().string() + ".tmp"));
}

TEST_F(CredentialsTest, OverwriteTightensAPermissiveFile) {
  fs::create_directories(dir_ / "t");
  fs::path path = dir_ / "t" / "credentials.json";
  std::ofstream(path) << "{}";
  fs::permissions(path, fs::perms::all);
  CredentialsFile file(path);
  ASSERT_TRUE(file.Save({"http://h", "bob", "", "tok2"}).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(file.Load()->token, "tok2");
}

TEST_F(CredentialsTest, DamagedFileIsCorruption) {
  fs::path path = dir_ / "credentials.json";
  std::ofstream(path) << "{\"server\": 1";
  auto r = CredentialsFile(path).Load();
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("tandem login"), std::string::npos);
}

TEST_F(CredentialsTest, RemoveIsIdempotent) {
  CredentialsFile file(dir_ / "credentials.json");
  ASSERT_TRUE(file.Save({"http://h", "a", "", "t"}).ok());
  EXPECT_TRUE(file.Remove().ok());
  EXPECT_FALSE(fs::exists(file.path()));
  EXPECT_TRUE(file.Remove().ok());
}

}  // namespace
}  // namespace tandem::cli
