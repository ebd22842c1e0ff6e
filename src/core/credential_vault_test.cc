#include "core/credential_vault.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace tandem {
namespace {

namespace fs = std::filesystem;

class VaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vault-" + random_.Hex(6));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  SecureRandom random_;
};

TEST_F(VaultTest, SealsAndUnsealsWithAKeyFileMadePrivate) {
  std::string key_file = (dir_ / "secret.key").string();
  auto vault = CredentialVault::Open({.key_file = key_file}, random_);
  ASSERT_TRUE(vault.ok()) << vault.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  const std::string secret = "hunter2-calendar-password";
  auto sealed = vault->Seal(secret);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->find(secret), std::string::npos);
  EXPECT_NE(*sealed, *vault->Seal(secret));  // fresh nonce every time
  EXPECT_EQ(*vault->Unseal(*sealed), secret);

  // A second open reads the same key.
  auto again = CredentialVault::Open({.key_file = key_file}, random_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again->Unseal(*sealed), secret);
}

TEST_F(VaultTest, TamperingAndForeignKeysAreRefused) {
  auto a = CredentialVault::Open({.key_from_env = std::string(64, 'a')}, random_);
  auto b = CredentialVault::Open({.key_from_env = std::string(64, 'b')}, random_);
  ASSERT_TRUE(a.ok() && b.ok());
  std::string sealed = *a->Seal("s3cret");
  EXPECT_EQ(b->Unseal(sealed).status().code(), Code::kUnauthenticated);
  std::string altered = sealed;
  altered.back() = altered.back() == '0' ? '1' : '0';
  EXPECT_EQ(a->Unseal(altered).status().code(), Code::kUnauthenticated);
  EXPECT_FALSE(a->Unseal("plain").ok());
  EXPECT_FALSE(CredentialVault::Open({.key_from_env = "abc"}, random_).ok());
}

TEST_F(VaultTest, RefusesAKeyFileOthersCanRead) {
  std::string key_file = (dir_ / "secret.key").string();
  { std::ofstream(key_file) << std::string(64, 'c') << "\n"; }
  fs::permissions(key_file, fs::perms::owner_read | fs::perms::group_read);
  EXPECT_EQ(CredentialVault::Open({.key_file = key_file}, random_).status().code(),
            Code::kPermissionDenied);
  fs::permissions(key_file, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_TRUE(CredentialVault::Open({.key_file = key_file}, random_).ok());
}

}  // namespace
}  // namespace tandem
