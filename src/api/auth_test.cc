#include "api/auth.h"

#include <gtest/gtest.h>

#include "core/ids.h"

namespace tandem::api {
namespace {

TEST(PasswordTest, HashVerifiesOnlyTheSamePassword) {
  auto h = HashPassword("correct horse", PasswordCost::Fast());
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(VerifyPassword(*h, "correct horse"));
  EXPECT_FALSE(VerifyPassword(*h, "correct horsE"));
  EXPECT_FALSE(VerifyPassword("", "correct horse"));
  EXPECT_FALSE(VerifyPassword("garbage", "correct horse"));
  // Salted: the same password hashes differently.
  EXPECT_NE(*h, *HashPassword("correct horse", PasswordCost::Fast()));
}

TEST(TokenHashTest, IsSha256Hex) {
  EXPECT_EQ(TokenHash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::OpenSqliteStore({.path = ":memory:", .clock = &clock_, .ids = &ids_});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    auth_ = std::make_unique<Authenticator>(store_.get(), &clock_, &random_, std::chrono::hours(1),
                                            PasswordCost::Fast());
    model::User u;
    u.login = "alice";
    u.password_hash = *HashPassword("s3cret", PasswordCost::Fast());
    ASSERT_TRUE(store_->CreateUser(u).ok());
  }
  FakeClock clock_{FromUnixSeconds(1'800'000'000)};
  SeededRandom random_{7};
  IdGenerator ids_{clock_, random_};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(AuthenticatorTest, LoginAuthenticateLogout) {
  EXPECT_TRUE(auth_->Login("alice", "wrong").status().Is(Code::kUnauthenticated));
  auto unknown = auth_->Login("nobody", "s3cret");
  auto wrong = auth_->Login("alice", "nope");
  EXPECT_EQ(unknown.status().message(), wrong.status().message());

  auto login = auth_->Login("ALICE", "s3cret");
  ASSERT_TRUE(login.ok()) << login.status().ToString();
  EXPECT_EQ(login->token.size(), 64u);
  // Only the hash is stored.
  EXPECT_TRUE(store_->GetSession(login->token).status().Is(Code::kNotFound));
  EXPECT_TRUE(store_->GetSession(TokenHash(login->token)).ok());

  auto caller = auth_->Authenticate("Bearer " + login->token);
  ASSERT_TRUE(caller.ok()) << caller.status().ToString();
  EXPECT_EQ(caller->user.login, "alice");
  EXPECT_FALSE(caller->viewer.admin);
  EXPECT_TRUE(auth_->Authenticate(std::nullopt).status().Is(Code::kUnauthenticated));
  EXPECT_TRUE(auth_->Authenticate("Basic abc").status().Is(Code::kUnauthenticated));
  EXPECT_TRUE(
      auth_->Authenticate("Bearer " + std::string(64, 'a')).status().Is(Code::kUnauthenticated));

  ASSERT_TRUE(auth_->Logout(*caller).ok());
  EXPECT_TRUE(auth_->Authenticate("Bearer " + login->token).status().Is(Code::kUnauthenticated));
}

TEST_F(AuthenticatorTest, SessionExpires) {
  auto login = auth_->Login("alice", "s3cret");
  ASSERT_TRUE(login.ok());
  EXPECT_TRUE(auth_->Authenticate("bearer " + login->token).ok());
  clock_.Advance(std::chrono::hours(1) + std::chrono::seconds(1));
  EXPECT_TRUE(auth_->Authenticate("Bearer " + login->token).status().Is(Code::kUnauthenticated));
}

TEST_F(AuthenticatorTest, DisabledUserIsRefusedAtOnce) {
  auto login = auth_->Login("alice", "s3cret");
  ASSERT_TRUE(login.ok());
  ASSERT_TRUE(auth_->Authenticate("Bearer " + login->token).ok());  // now cached
  auto u = *store_->GetUserByLogin("alice");
  u.disabled = true;
  ASSERT_TRUE(store_->UpdateUser(u, std::nullopt).ok());
  auth_->ForgetUser(u.id);
  EXPECT_TRUE(auth_->Authenticate("Bearer " + login->token).status().Is(Code::kUnauthenticated));
  EXPECT_TRUE(auth_->Login("alice", "s3cret").status().Is(Code::kUnauthenticated));
}

}  // namespace
}  // namespace tandem::api
