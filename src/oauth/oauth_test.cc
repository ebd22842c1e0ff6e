// The OAuth 2.0 client against a token endpoint stub on 127.0.0.1 that checks
// what RFC 6749, 7636, 8628 and 7523 ask of a client (the Google fake in
// tests/fakes/google checks the same flows against Google's documentation).
#include "oauth/oauth.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/server.h"
#include "oauth/loopback.h"

namespace tandem::oauth {
namespace {

using nlohmann::json;

// application/x-www-form-urlencoded, as a token endpoint reads it.
std::map<std::string, std::string> FormDecode(std::string_view body) {
  std::map<std::string, std::string> out;
  while (!body.empty()) {
    auto amp = body.find('&');
    std::string_view kv = body.substr(0, amp);
    auto eq = kv.find('=');
    out[http::PercentDecode(kv.substr(0, eq), true)] =
        eq == std::string_view::npos ? "" : http::PercentDecode(kv.substr(eq + 1), true);
    if (amp == std::string_view::npos) break;
    body = body.substr(amp + 1);
  }
  return out;
}

std::string B64UrlDecode(std::string_view s) {
  std::string out(s.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), s.data(), s.size(),
                        nullptr, &len, nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
    return "";
  out.resize(len);
  return out;
}

class NoSleep final : public http::Sleeper {
 public:
  void SleepFor(Duration d) override { slept.push_back(d); }
  std::vector<Duration> slept;
};

// A token endpoint that records every form it is sent and answers from a script.
class TokenStub {
 public:
  using Answer = std::function<http::ServerResponse(const std::map<std::string, std::string>&)>;
  explicit TokenStub(Answer answer) : answer_(std::move(answer)) {
    http::Router router;
    auto handler = [this](const http::ServerRequest& r) {
      auto form = FormDecode(r.body);
      std::lock_guard lock(mu_);
      forms_.push_back(form);
      content_types_.push_back(std::string(r.Header("Content-Type").value_or("")));
      return answer_(form);
    };
    router.Add("POST", "/token", handler);
    router.Add("POST", "/device", handler);
    http::ServerOptions o;
    o.threads = 1;
    server_ = std::move(http::Server::Start(o, std::move(router)).value());
  }
  ~TokenStub() {
    server_->Stop();
    server_->Wait();
  }
  Endpoints endpoints() const {
    const std::string base = "http://127.0.0.1:" + std::to_string(server_->port());
    return {base + "/auth", base + "/token", base + "/device"};
  }
  std::vector<std::map<std::string, std::string>> forms() {
    std::lock_guard lock(mu_);
    return forms_;
  }
  std::vector<std::string> content_types() {
    std::lock_guard lock(mu_);
    return content_types_;
  }

 private:
  Answer answer_;
  std::mutex mu_;
  std::vector<std::map<std::string, std::string>> forms_;
  std::vector<std::string> content_types_;
  std::unique_ptr<http::Server> server_;
};

http::ServerResponse TokenAnswer(const std::string& access, const std::string& refresh, int expires) {
  json j = {{"access_token", access}, {"token_type", "Bearer"}, {"expires_in", expires},
            {"scope", "https://www.googleapis.com/auth/calendar"}};
  if (!refresh.empty()) j["refresh_token"] = refresh;
  return http::ServerResponse::Json(200, j.dump());
}

http::ServerResponse Error(int status, const std::string& error, const std::string& desc = "") {
  json j = {{"error", error}};
  if (!desc.empty()) j["error_description"] = desc;
  return http::ServerResponse::Json(status, j.dump());
}

const ClientId kClient{"tandem-test-client", "tandem-test-secret"};

TEST(PkceTest, TheChallengeIsTheOneOfRfc7636AppendixB) {
  EXPECT_EQ(CodeChallengeS256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  SecureRandom random;
  const std::string v = MakeCodeVerifier(random);
  EXPECT_EQ(v.size(), 64u);  // RFC 7636 4.1: 43 to 128 characters
  for (char c : v) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
  EXPECT_NE(MakeCodeVerifier(random), v);
}

TEST(AuthorizationTest, TheUrlCarriesEveryParameterEncoded) {
  Endpoints e{"https://accounts.example.test/o/oauth2/v2/auth", "", ""};
  std::string url = AuthorizationUrl(
      e, kClient,
      {.redirect_uri = "http://127.0.0.1:5555/callback",
       .scope = "https://www.googleapis.com/auth/calendar openid",
       .state = "st4te",
       .code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
       .extra = {{"access_type", "offline"}, {"prompt", "consent"}}});
  ASSERT_TRUE(url.starts_with(e.authorization + "?")) << url;
  Redirect parsed = ParseRedirectTarget(url.substr(url.find('?') - 1));
  EXPECT_EQ(parsed.state, "st4te");
  for (const char* part :
       {"response_type=code", "client_id=tandem-test-client",
        "redirect_uri=http%3A%2F%2F127.0.0.1%3A5555%2Fcallback",
        "scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcalendar%20openid",
        "code_challenge_method=S256", "access_type=offline", "prompt=consent"})
    EXPECT_NE(url.find(part), std::string::npos) << part << " in " << url;
  EXPECT_EQ(url.find("tandem-test-secret"), std::string::npos);  // never in a URL
}

TEST(AuthorizationTest, TheRedirectMustCarryTheStateAndNoError) {
  EXPECT_EQ(*CodeFrom({.code = "c", .state = "s"}, "s"), "c");
  EXPECT_EQ(CodeFrom({.code = "c", .state = "other"}, "s").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(CodeFrom({.state = "s", .error = "access_denied"}, "s").status().code(),
            Code::kPermissionDenied);
  EXPECT_EQ(CodeFrom({.state = "s"}, "s").status().code(), Code::kInvalidArgument);
}

TEST(TokenTest, ACodeIsExchangedWithItsVerifierAndRefreshedKeepingTheRefreshToken) {
  const std::string verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  TokenStub stub([&](const std::map<std::string, std::string>& f) {
    if (f.at("client_id") != kClient.id || f.at("client_secret") != kClient.secret)
      return Error(401, "invalid_client");
    if (f.at("grant_type") == "authorization_code") {
      if (f.at("code") != "the-code" || f.at("redirect_uri") != "http://127.0.0.1:1/callback")
        return Error(400, "invalid_grant", "Bad Request");
      // The server checks the verifier against the challenge it was given.
      if (CodeChallengeS256(f.at("code_verifier")) != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        return Error(400, "invalid_grant", "code_verifier");
      return TokenAnswer("access-1", "refresh-1", 3599);
    }
    if (f.at("grant_type") == "refresh_token") {
      if (f.at("refresh_token") != "refresh-1") return Error(400, "invalid_grant", "Token has been expired or revoked.");
      return TokenAnswer("access-2", "", 3599);  // Google sends no new refresh token
    }
    return Error(400, "unsupported_grant_type");
  });
  FakeClock clock(FromUnixSeconds(1'800'000'000));
  http::Client http{http::ClientOptions{}};
  auto t = ExchangeCode(http, stub.endpoints(), kClient, "the-code", "http://127.0.0.1:1/callback",
                        verifier, clock);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->access_token, "access-1");
  EXPECT_EQ(t->refresh_token, "refresh-1");
  EXPECT_EQ(t->expires_at, clock.Now() + std::chrono::seconds(3599));
  EXPECT_EQ(stub.content_types().back(), "application/x-www-form-urlencoded");

  auto wrong = ExchangeCode(http, stub.endpoints(), kClient, "the-code", "http://127.0.0.1:1/callback",
                            "another-verifier-of-enough-length-0123456789abcdef", clock);
  EXPECT_TRUE(NeedsReauthorization(wrong.status())) << wrong.status().ToString();

  clock.Advance(std::chrono::seconds(4000));
  auto r = Refresh(http, stub.endpoints(), kClient, *t, clock);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->access_token, "access-2");
  EXPECT_EQ(r->refresh_token, "refresh-1");  // kept

  Tokens revoked = *t;
  revoked.refresh_token = "revoked";
  auto refused = Refresh(http, stub.endpoints(), kClient, revoked, clock);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(NeedsReauthorization(refused.status()));
  EXPECT_NE(refused.status().message().find("expired or revoked"), std::string::npos);
  // The token never appears in an error.
  EXPECT_EQ(refused.status().message().find("refresh-1"), std::string::npos);
}

TEST(TokenTest, ServerTroubleIsNotAReauthorization) {
  TokenStub stub([](const std::map<std::string, std::string>&) {
    return Error(503, "temporarily_unavailable");
  });
  FakeClock clock(FromUnixSeconds(1'800'000'000));
  http::ClientOptions o;
  o.retry.max_attempts = 1;
  http::Client http(o);
  auto r = Refresh(http, stub.endpoints(), kClient, {.access_token = "a", .refresh_token = "r"}, clock);
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_FALSE(NeedsReauthorization(r.status()));
}

TEST(DeviceTest, PollsUntilApprovedAndSlowsDownWhenAsked) {
  int polls = 0;
  TokenStub stub([&](const std::map<std::string, std::string>& f) {
    if (!f.contains("grant_type")) {  // the device authorization request
      EXPECT_EQ(f.at("scope"), "Calendars.ReadWrite offline_access");
      return http::ServerResponse::Json(
          200, json{{"device_code", "dev-1"}, {"user_code", "WDJB-MJHT"},
                    {"verification_url", "https://example.test/device"},  // Google's spelling
                    {"expires_in", 1800}, {"interval", 2}}
                   .dump());
    }
    EXPECT_EQ(f.at("grant_type"), "urn:ietf:params:oauth:grant-type:device_code");
    EXPECT_EQ(f.at("device_code"), "dev-1");
    ++polls;
    if (polls <= 2) return Error(400, "authorization_pending");
    if (polls == 3) return Error(400, "slow_down");
    return TokenAnswer("access-d", "refresh-d", 3600);
  });
  FakeClock clock(FromUnixSeconds(1'800'000'000));
  http::Client http{http::ClientOptions{}};
  ClientId public_client{"public-client", ""};
  auto d = StartDeviceAuthorization(http, stub.endpoints(), public_client,
                                    "Calendars.ReadWrite offline_access", clock);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->user_code, "WDJB-MJHT");
  EXPECT_EQ(d->verification_uri, "https://example.test/device");
  NoSleep sleeper;
  auto t = PollDeviceAuthorization(http, stub.endpoints(), public_client, *d, clock, sleeper);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->refresh_token, "refresh-d");
  ASSERT_EQ(sleeper.slept.size(), 4u);
  EXPECT_EQ(sleeper.slept[0], std::chrono::seconds(2));
  EXPECT_EQ(sleeper.slept[3], std::chrono::seconds(7));  // +5 s after slow_down (RFC 8628 3.5)
  for (const auto& f : stub.forms()) EXPECT_FALSE(f.contains("client_secret"));
}

TEST(DeviceTest, ARefusalOrAnExpiredCodeEndsThePolling) {
  TokenStub stub([](const std::map<std::string, std::string>& f) {
    if (f.at("device_code") == "denied") return Error(400, "access_denied");
    return Error(400, "expired_token");
  });
  FakeClock clock(FromUnixSeconds(1'800'000'000));
  http::Client http{http::ClientOptions{}};
  NoSleep sleeper;
  DeviceAuthorization d{.device_code = "denied", .expires_at = clock.Now() + std::chrono::hours(1)};
  EXPECT_EQ(PollDeviceAuthorization(http, stub.endpoints(), kClient, d, clock, sleeper).status().code(),
            Code::kPermissionDenied);
  d.device_code = "late";
  EXPECT_EQ(PollDeviceAuthorization(http, stub.endpoints(), kClient, d, clock, sleeper).status().code(),
            Code::kDeadlineExceeded);
}

struct RsaKey {
  std::string private_pem;
  EVP_PKEY* key = nullptr;
  RsaKey() {
    key = EVP_RSA_gen(2048);
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    private_pem.assign(data, static_cast<size_t>(len));
    BIO_free(bio);
  }
  ~RsaKey() { EVP_PKEY_free(key); }
  bool Verifies(const std::string& jwt) const {
    auto last = jwt.rfind('.');
    if (last == std::string::npos) return false;
    const std::string input = jwt.substr(0, last), sig = B64UrlDecode(jwt.substr(last + 1));
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
              EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                               reinterpret_cast<const unsigned char*>(input.data()),
                               input.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
  }
};

json Part(const std::string& jwt, int index) {
  size_t a = jwt.find('.'), b = jwt.find('.', a + 1);
  std::string part = index == 0 ? jwt.substr(0, a) : jwt.substr(a + 1, b - a - 1);
  return json::parse(B64UrlDecode(part), nullptr, false);
}

TEST(ServiceAccountTest, TheAssertionIsAnRs256JwtTheKeyVerifies) {
  RsaKey key;
  auto jwt = SignJwtRs256(R"({"iss":"a@b","sub":"u@example.test"})", key.private_pem);
  ASSERT_TRUE(jwt.ok()) << jwt.status().ToString();
  EXPECT_TRUE(key.Verifies(*jwt));
  EXPECT_EQ(Part(*jwt, 0)["alg"], "RS256");
  EXPECT_EQ(Part(*jwt, 1)["sub"], "u@example.test");
  std::string tampered = *jwt;
  tampered[tampered.find('.') + 3] ^= 1;
  EXPECT_FALSE(key.Verifies(tampered));
  EXPECT_EQ(SignJwtRs256("{}", "not a key").status().code(), Code::kInvalidArgument);
}

TEST(ServiceAccountTest, ATokenActsAsTheDelegatedUser) {
  RsaKey key;
  std::string token_url;
  TokenStub stub([&](const std::map<std::string, std::string>& f) {
    if (f.at("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer")
      return Error(400, "unsupported_grant_type");
    const std::string& jwt = f.at("assertion");
    if (!key.Verifies(jwt)) return Error(400, "invalid_grant", "Invalid JWT Signature.");
    json c = Part(jwt, 1);
    if (c["aud"] != token_url || c["iss"] != "sync@project.iam.example.test" ||
        c["sub"] != "alice@example.test" || c["exp"].get<int64_t>() - c["iat"].get<int64_t>() != 3600)
      return Error(400, "invalid_grant", "claims");
    return TokenAnswer("sa-access", "", 3600);
  });
  token_url = stub.endpoints().token;
  FakeClock clock(FromUnixSeconds(1'800'000'000));
  http::Client http{http::ClientOptions{}};
  ServiceAccount sa{"sync@project.iam.example.test", key.private_pem, token_url};
  auto t = ServiceAccountToken(http, sa, "https://www.googleapis.com/auth/calendar",
                               "alice@example.test", clock);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->access_token, "sa-access");
  EXPECT_TRUE(t->refresh_token.empty());
}

TEST(TokenSourceTest, RefreshesBeforeExpiryAndAfterA401AndStaysRefusedOnceRefused) {
  FakeClock clock(FromUnixSeconds(1'800'000'000));
  int refreshes = 0;
  bool revoke = false;
  std::vector<Tokens> persisted;
  TokenSource source(
      Tokens{"a0", "r0", "Bearer", "", clock.Now() + std::chrono::seconds(600)},
      [&](const Tokens& current) -> Result<Tokens> {
        if (revoke) return Status::Unauthenticated("needs re-authorization: invalid_grant");
        ++refreshes;
        return Tokens{"a" + std::to_string(refreshes), "r" + std::to_string(refreshes), "Bearer",
                      "", clock.Now() + std::chrono::seconds(3600)};
      },
      [&](const Tokens& t) {
        persisted.push_back(t);
        return Status::Ok();
      },
      clock);
  EXPECT_EQ(*source.AccessToken(), "a0");
  clock.Advance(std::chrono::seconds(550));  // within the 60 s margin
  EXPECT_EQ(*source.AccessToken(), "a1");
  ASSERT_EQ(persisted.size(), 1u);
  EXPECT_EQ(persisted[0].refresh_token, "r1");  // a rotated refresh token is stored
  source.Invalidate("a0");                      // an old token's 401: nothing to do
  EXPECT_EQ(*source.AccessToken(), "a1");
  source.Invalidate("a1");
  EXPECT_EQ(*source.AccessToken(), "a2");
  revoke = true;
  source.Invalidate("a2");
  auto refused = source.AccessToken();
  EXPECT_TRUE(NeedsReauthorization(refused.status()));
  revoke = false;  // the server is not asked again: only the user can mend it
  EXPECT_TRUE(NeedsReauthorization(source.AccessToken().status()));
  EXPECT_EQ(refreshes, 2);
}

TEST(TokenSourceTest, AnApplicationsRefusedGrantIsAskedAgainAfterTheRetryTime) {
  FakeClock clock(FromUnixSeconds(1'800'000'000));
  int asked = 0;
  bool refuse = true;  // e.g. admin consent not granted yet in the identity provider
  TokenSource source(
      Tokens{},
      [&](const Tokens&) -> Result<Tokens> {
        ++asked;
        if (refuse) return Status::Unauthenticated("needs re-authorization: unauthorized_client");
        return Tokens{"app-1", "", "Bearer", "", clock.Now() + std::chrono::seconds(3600)};
      },
      TokenSource::Persist{}, clock, std::chrono::seconds(60), kRetryRefusedAppGrant);
  EXPECT_TRUE(NeedsReauthorization(source.AccessToken().status()));
  refuse = false;  // the admin grants consent
  clock.Advance(kRetryRefusedAppGrant - std::chrono::seconds(1));
  EXPECT_TRUE(NeedsReauthorization(source.AccessToken().status()));
  EXPECT_EQ(asked, 1);  // not asked again within the retry time
  clock.Advance(std::chrono::seconds(1));
  auto token = source.AccessToken();
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(*token, "app-1");
  EXPECT_EQ(asked, 2);
}

TEST(LoopbackTest, TheBrowsersRedirectIsTakenAndOtherRequestsWait) {
  auto receiver = LoopbackReceiver::Start();
  ASSERT_TRUE(receiver.ok()) << receiver.status().ToString();
  const std::string uri = (*receiver)->redirect_uri();
  ASSERT_TRUE(uri.starts_with("http://127.0.0.1:")) << uri;
  std::thread browser([uri] {
    http::ClientOptions o;
    o.retry.max_attempts = 1;
    http::Client client(o);
    const std::string base = uri.substr(0, uri.find("/callback"));
    auto icon = client.Send({.url = base + "/favicon.ico"});
    EXPECT_TRUE(icon.ok() && icon->status == 404);
    auto page = client.Send({.url = uri + "?state=s%20t&code=4%2F0Ab&scope=x"});
    EXPECT_TRUE(page.ok() && page->status == 200);
    EXPECT_NE(page->body.find("authorized"), std::string::npos);
  });
  auto r = (*receiver)->Wait(std::chrono::seconds(20));
  browser.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->code, "4/0Ab");
  EXPECT_EQ(r->state, "s t");
  EXPECT_TRUE(r->error.empty());

  auto quiet = LoopbackReceiver::Start();
  ASSERT_TRUE(quiet.ok());
  EXPECT_EQ((*quiet)->Wait(std::chrono::milliseconds(200)).status().code(),
            Code::kDeadlineExceeded);
}

}  // namespace
}  // namespace tandem::oauth
