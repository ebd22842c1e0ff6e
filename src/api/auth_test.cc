#include "api/auth.h"

#include <gtest/gtest.h>

#include "core/ids.h"

#include <sodium.h>

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

std::string BasicOf(std::string_view login_and_password) {
  std::string out(sodium_base64_encoded_len(login_and_password.size(),
                                            sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(login_and_password.data()),
                    login_and_password.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return "Basic " + out;
}

TEST_F(AuthenticatorTest, BasicTakesTheLoginAndPasswordAndRemembersThemBriefly) {
  auto caller = auth_->AuthenticateBasic(BasicOf("alice:s3cret"));
  ASSERT_TRUE(caller.ok()) << caller.status().ToString();
  EXPECT_EQ(caller->user.login, "alice");
  EXPECT_TRUE(auth_->AuthenticateBasic(BasicOf("alice:s3cre")).status().Is(Code::kUnauthenticated));
  EXPECT_TRUE(auth_->AuthenticateBasic(BasicOf("nobody:s3cret")).status().Is(Code::kUnauthenticated));
  EXPECT_TRUE(auth_->AuthenticateBasic(std::nullopt).status().Is(Code::kUnauthenticated));
  EXPECT_TRUE(auth_->AuthenticateBasic("Basic !!!").status().Is(Code::kUnauthenticated));
  EXPECT_TRUE(auth_->AuthenticateBasic(BasicOf("no colon")).status().Is(Code::kUnauthenticated));
  // Remembered: a password changed in the store is still taken for a while ...
  model::User u = *store_->GetUserByLogin("alice");
  u.password_hash = *HashPassword("new", PasswordCost::Fast());
  ASSERT_TRUE(store_->UpdateUser(u, std::nullopt).ok());
  EXPECT_TRUE(auth_->AuthenticateBasic(BasicOf("alice:s3cret")).ok());
  // ... until ForgetUser (what the API calls on a user change) or a minute passes.
  auth_->ForgetUser(u.id);
  EXPECT_FALSE(auth_->AuthenticateBasic(BasicOf("alice:s3cret")).ok());
  EXPECT_TRUE(auth_->AuthenticateBasic(BasicOf("alice:new")).ok());
  u.password_hash = *HashPassword("newer", PasswordCost::Fast());
  ASSERT_TRUE(store_->UpdateUser(u, std::nullopt).ok());
  clock_.Advance(std::chrono::seconds(61));
  EXPECT_FALSE(auth_->AuthenticateBasic(BasicOf("alice:new")).ok());
  // A bearer token is accepted too.
  auto login = auth_->Login("alice", "newer");
  ASSERT_TRUE(login.ok());
  EXPECT_TRUE(auth_->AuthenticateBasic("Bearer " + login->token).ok());
}

TEST_F(AuthenticatorTest, AppPasswordsOpenBasicOnlyUntilRevoked) {
  model::User u = *store_->GetUserByLogin("alice");
  auto phone = auth_->CreateAppPassword(u, "phone");
  ASSERT_TRUE(phone.ok()) << phone.status().ToString();
  EXPECT_EQ(phone->size(), 19u);  // xxxx-xxxx-xxxx-xxxx
  EXPECT_EQ((*phone)[4], '-');
  auto laptop = auth_->CreateAppPassword(u, "laptop");
  ASSERT_TRUE(laptop.ok());
  EXPECT_NE(*phone, *laptop);
  EXPECT_TRUE(auth_->CreateAppPassword(u, "phone").status().Is(Code::kAlreadyExists));
  EXPECT_TRUE(auth_->CreateAppPassword(u, "my phone/1").status().Is(Code::kInvalidArgument));
  // Stored hashed only.
  auto stored = store_->ListAppPasswords(u.id);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 2u);
  for (const auto& p : *stored) {
    EXPECT_EQ(p.hash.rfind("$argon2id$", 0), 0u) << p.hash;
    EXPECT_EQ(p.hash.find(*phone), std::string::npos);
  }
  // Basic takes each; the REST login does not.
  EXPECT_TRUE(auth_->AuthenticateBasic(BasicOf("alice:" + *phone)).ok());
  EXPECT_TRUE(auth_->AuthenticateBasic(BasicOf("alice:" + *laptop)).ok());
  EXPECT_TRUE(auth_->AuthenticateBasic(BasicOf("alice:s3cret")).ok());
  EXPECT_TRUE(auth_->Login("alice", *phone).status().Is(Code::kUnauthenticated));
  // Another user cannot use it.
  model::User bob;
  bob.login = "bob";
  bob.password_hash = *HashPassword("b", PasswordCost::Fast());
  ASSERT_TRUE(store_->CreateUser(bob).ok());
  EXPECT_FALSE(auth_->AuthenticateBasic(BasicOf("bob:" + *phone)).ok());
  // Revoked: refused at once, though it was just remembered; the other stays.
  ASSERT_TRUE(auth_->RevokeAppPassword(u, "phone").ok());
  EXPECT_TRUE(auth_->AuthenticateBasic(BasicOf("alice:" + *phone)).status().Is(Code::kUnauthenticated));
  EXPECT_TRUE(auth_->AuthenticateBasic(BasicOf("alice:" + *laptop)).ok());
  EXPECT_TRUE(auth_->RevokeAppPassword(u, "phone").Is(Code::kNotFound));
  // A disabled user's app passwords stop too.
  u = *store_->GetUserByLogin("alice");
  u.disabled = true;
  ASSERT_TRUE(store_->UpdateUser(u, std::nullopt).ok());
  auth_->ForgetUser(u.id);
  EXPECT_FALSE(auth_->AuthenticateBasic(BasicOf("alice:" + *laptop)).ok());
}

TEST_F(AuthenticatorTest, BasicRefusesALoginAfterRepeatedFailuresForAWhile) {
  for (int i = 0; i < Authenticator::kBasicFailureLimit; ++i) {
    EXPECT_TRUE(auth_->AuthenticateBasic(BasicOf("alice:guess")).status().Is(Code::kUnauthenticated));
  }
  // Now even the right password is refused unchecked ...
  auto refused = auth_->AuthenticateBasic(BasicOf("ALICE:s3cret"));
  EXPECT_TRUE(refused.status().Is(Code::kResourceExhausted)) << refused.status().ToString();
  // ... other logins are not affected ...
  EXPECT_TRUE(auth_->AuthenticateBasic(BasicOf("bob:x")).status().Is(Code::kUnauthenticated));
  // ... and once the window has passed, the right password works again.
  clock_.Advance(Authenticator::kBasicFailureWindow);
  EXPECT_TRUE(auth_->AuthenticateBasic(BasicOf("alice:s3cret")).ok());
}

}  // namespace
}  // namespace tandem::api
