#include "oauth/oauth.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>

namespace tandem::oauth {
namespace {

using nlohmann::json;

constexpr std::string_view kReauthorize = "needs re-authorization";

std::string Base64Url(std::string_view bytes) {
  if (sodium_init() < 0) return "";
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

// The token endpoint's error answer (RFC 6749 5.2) as a Status.
Status TokenError(const http::Response& r, std::string_view what) {
  json j = json::parse(r.body, nullptr, false);
  std::string error, description;
  if (j.is_object()) {
    if (j.contains("error") && j["error"].is_string()) error = j["error"].get<std::string>();
    if (j.contains("error_description") && j["error_description"].is_string())
      description = j["error_description"].get<std::string>();
  }
  const std::string said = error.empty() ? fmt::format("HTTP {}", r.status)
                           : description.empty() ? error
                                                 : fmt::format("{} ({})", error, description);
  if (error == "invalid_grant" || error == "invalid_client" || error == "unauthorized_client" ||
      (error.empty() && r.status == 401)) {
    return Status::Unauthenticated(
        fmt::format("{}: the authorization server refused {}: {}; authorize Tandem again",
                    kReauthorize, what, said));
  }
  if (r.status == 429) return Status::ResourceExhausted(fmt::format("{}: rate limited: {}", what, said));
  if (r.status >= 500) return Status::Unavailable(fmt::format("{}: the authorization server answered {}", what, said));
  return Status::InvalidArgument(fmt::format("{}: {}", what, said));
}

Result<Tokens> ParseTokens(const http::Response& r, const Clock& clock, std::string_view what) {
  if (r.status < 200 || r.status > 299) return TokenError(r, what);
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("access_token") || !j["access_token"].is_string())
    return Status::Corruption(fmt::format("{}: the token answer holds no access_token", what));
  Tokens t;
  t.access_token = j["access_token"].get<std::string>();
  if (j.contains("refresh_token") && j["refresh_token"].is_string())
    t.refresh_token = j["refresh_token"].get<std::string>();
  if (j.contains("token_type") && j["token_type"].is_string())
    t.token_type = j["token_type"].get<std::string>();
  if (j.contains("scope") && j["scope"].is_string()) t.scope = j["scope"].get<std::string>();
  int64_t expires_in = 3600;
  if (j.contains("expires_in")) {
    // Some servers send it as a string.
    if (j["expires_in"].is_number_integer()) {
      expires_in = j["expires_in"].get<int64_t>();
    } else if (j["expires_in"].is_string()) {
      expires_in = std::atoll(j["expires_in"].get<std::string>().c_str());
    }
  }
  t.expires_at = clock.Now() + std::chrono::seconds(std::max<int64_t>(expires_in, 0));
  return t;
}

Result<http::Response> PostForm(http::Client& http, const std::string& url,
                                const std::vector<std::pair<std::string, std::string>>& fields) {
  http::Request req;
  req.method = "POST";
  req.url = url;
  req.headers.Set("Content-Type", "application/x-www-form-urlencoded");
  req.headers.Set("Accept", "application/json");
  req.body = FormEncode(fields);
  return http.Send(req);
}

void AddClient(std::vector<std::pair<std::string, std::string>>& fields, const ClientId& client) {
  fields.emplace_back("client_id", client.id);
  if (!client.secret.empty()) fields.emplace_back("client_secret", client.secret);
}

}  // namespace

std::string PercentEncode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += PercentEncode(k) + "=" + PercentEncode(v);
  }
  return out;
}

Result<http::Response> SendWithBearer(http::Client& client, http::Request request,
                                      const BearerCall& call, int64_t* sent) {
  if (!call.access_token) return Status::InvalidArgument("no access token source");
  bool refreshed = false;
  Duration backoff = std::chrono::seconds(1);
  for (int attempt = 1;; ++attempt) {
    TANDEM_ASSIGN_OR_RETURN(std::string token, call.access_token());
    request.headers.Set("Authorization", "Bearer " + token);
    if (sent) ++*sent;
    TANDEM_ASSIGN_OR_RETURN(http::Response r, client.Send(request));
    if (r.status == 401 && !refreshed) {
      // An expired or revoked access token: refreshed once, then it is the grant.
      if (call.token_rejected) call.token_rejected(token);
      refreshed = true;
      continue;
    }
    const bool throttled = r.status == 429 || (call.throttled && call.throttled(r));
    if (throttled && attempt < call.attempts) {
      http::Pause(call.sleeper, http::ThrottleWait(r.headers, backoff, call.random));
      backoff *= 2;
      continue;
    }
    return r;
  }
}

BearerCall BearerFrom(TokenSource& source) {
  BearerCall call;
  call.access_token = [&source] { return source.AccessToken(); };
  call.token_rejected = [&source](const std::string& t) { source.Invalidate(t); };
  return call;
}

std::map<std::string, std::string> TokensToMap(const Tokens& t) {
  return {{"access_token", t.access_token},
          {"refresh_token", t.refresh_token},
          {"scope", t.scope},
          {"expires_at", std::to_string(ToUnixSeconds(t.expires_at))}};
}

Tokens TokensFromMap(const std::map<std::string, std::string>& m) {
  auto get = [&m](const char* k) {
    auto it = m.find(k);
    return it == m.end() ? std::string() : it->second;
  };
  Tokens t;
  t.access_token = get("access_token");
  t.refresh_token = get("refresh_token");
  t.scope = get("scope");
  t.expires_at = FromUnixSeconds(std::atoll(get("expires_at").c_str()));
  return t;
}

std::string MakeCodeVerifier(Random& random) {
  std::string bytes(48, '\0');
  random.Fill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size()));
  return Base64Url(bytes);  // 64 characters of [A-Za-z0-9-_]
}

std::string CodeChallengeS256(std::string_view verifier) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(verifier.data()),
                     verifier.size());
  return Base64Url(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string MakeState(Random& random) { return random.Hex(16); }

std::string AuthorizationUrl(const Endpoints& endpoints, const ClientId& client,
                             const AuthorizationRequest& request) {
  std::vector<std::pair<std::string, std::string>> q = {
      {"response_type", "code"},
      {"client_id", client.id},
      {"redirect_uri", request.redirect_uri},
      {"scope", request.scope},
      {"state", request.state},
      {"code_challenge", request.code_challenge},
      {"code_challenge_method", "S256"}};
  for (const auto& e : request.extra) q.push_back(e);
  const char sep = endpoints.authorization.find('?') == std::string::npos ? '?' : '&';
  return endpoints.authorization + sep + FormEncode(q);
}

Result<std::string> CodeFrom(const Redirect& redirect, std::string_view expected_state) {
  if (redirect.state != expected_state)
    return Status::InvalidArgument("the authorization answer is not for this request (state)");
  if (!redirect.error.empty()) {
    const std::string said = redirect.error_description.empty()
                                 ? redirect.error
                                 : redirect.error + " (" + redirect.error_description + ")";
    if (redirect.error == "access_denied")
      return Status::PermissionDenied("the authorization was refused: " + said);
    return Status::InvalidArgument("the authorization failed: " + said);
  }
  if (redirect.code.empty()) return Status::InvalidArgument("the authorization answer holds no code");
  return redirect.code;
}

Result<Tokens> ExchangeCode(http::Client& http, const Endpoints& endpoints, const ClientId& client,
                            std::string_view code, std::string_view redirect_uri,
                            std::string_view code_verifier, const Clock& clock) {
  std::vector<std::pair<std::string, std::string>> f = {{"grant_type", "authorization_code"},
                                                        {"code", std::string(code)},
                                                        {"redirect_uri", std::string(redirect_uri)},
                                                        {"code_verifier", std::string(code_verifier)}};
  AddClient(f, client);
  TANDEM_ASSIGN_OR_RETURN(http::Response r, PostForm(http, endpoints.token, f));
  return ParseTokens(r, clock, "the authorization code");
}

Result<Tokens> Refresh(http::Client& http, const Endpoints& endpoints, const ClientId& client,
                       const Tokens& current, const Clock& clock) {
  if (current.refresh_token.empty())
    return Status::Unauthenticated(
        fmt::format("{}: there is no refresh token; authorize Tandem again", kReauthorize));
  std::vector<std::pair<std::string, std::string>> f = {{"grant_type", "refresh_token"},
                                                        {"refresh_token", current.refresh_token}};
  AddClient(f, client);
  TANDEM_ASSIGN_OR_RETURN(http::Response r, PostForm(http, endpoints.token, f));
  TANDEM_ASSIGN_OR_RETURN(Tokens t, ParseTokens(r, clock, "the refresh token"));
  if (t.refresh_token.empty()) t.refresh_token = current.refresh_token;
  if (t.scope.empty()) t.scope = current.scope;
  return t;
}

bool NeedsReauthorization(const Status& s) {
  return s.Is(Code::kUnauthenticated) && s.message().find(kReauthorize) != std::string::npos;
}

Result<DeviceAuthorization> StartDeviceAuthorization(http::Client& http, const Endpoints& endpoints,
                                                     const ClientId& client, std::string_view scope,
                                                     const Clock& clock) {
  if (endpoints.device_authorization.empty())
    return Status::InvalidArgument("this service offers no device authorization");
  std::vector<std::pair<std::string, std::string>> f = {{"scope", std::string(scope)}};
  AddClient(f, client);
  TANDEM_ASSIGN_OR_RETURN(http::Response r, PostForm(http, endpoints.device_authorization, f));
  if (r.status < 200 || r.status > 299) return TokenError(r, "the device authorization");
  json j = json::parse(r.body, nullptr, false);
  auto text = [&j](const char* name) {
    return j.is_object() && j.contains(name) && j[name].is_string() ? j[name].get<std::string>()
                                                                    : std::string();
  };
  DeviceAuthorization d;
  d.device_code = text("device_code");
  d.user_code = text("user_code");
  // RFC 8628 says verification_uri; Google's answer says verification_url.
  d.verification_uri = text("verification_uri").empty() ? text("verification_url")
                                                         : text("verification_uri");
  d.verification_uri_complete = text("verification_uri_complete");
  if (d.device_code.empty() || d.user_code.empty() || d.verification_uri.empty())
    return Status::Corruption("the device authorization answer lacks device_code, user_code or "
                              "verification_uri");
  int64_t expires_in = 900, interval = 5;
  if (j.contains("expires_in") && j["expires_in"].is_number_integer())
    expires_in = j["expires_in"].get<int64_t>();
  if (j.contains("interval") && j["interval"].is_number_integer())
    interval = std::max<int64_t>(1, j["interval"].get<int64_t>());
  d.interval = std::chrono::seconds(interval);
  d.expires_at = clock.Now() + std::chrono::seconds(expires_in);
  return d;
}

Result<std::optional<Tokens>> PollDeviceOnce(http::Client& http, const Endpoints& endpoints,
                                             const ClientId& client, std::string_view device_code,
                                             const Clock& clock, bool* slow_down) {
  if (slow_down) *slow_down = false;
  std::vector<std::pair<std::string, std::string>> f = {
      {"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
      {"device_code", std::string(device_code)}};
  AddClient(f, client);
  TANDEM_ASSIGN_OR_RETURN(http::Response r, PostForm(http, endpoints.token, f));
  if (r.status >= 200 && r.status <= 299) {
    TANDEM_ASSIGN_OR_RETURN(Tokens t, ParseTokens(r, clock, "the device code"));
    return std::optional<Tokens>(std::move(t));
  }
  json j = json::parse(r.body, nullptr, false);
  const std::string error = j.is_object() && j.contains("error") && j["error"].is_string()
                                ? j["error"].get<std::string>()
                                : "";
  if (error == "authorization_pending") return std::optional<Tokens>();
  if (error == "slow_down") {
    if (slow_down) *slow_down = true;
    return std::optional<Tokens>();
  }
  if (error == "access_denied" || error == "authorization_declined")
    return Status::PermissionDenied("the authorization was refused on the device page");
  if (error == "expired_token" || error == "code_expired")
    return Status::DeadlineExceeded("the device code expired before it was approved; start again");
  return TokenError(r, "the device code");
}

Result<Tokens> PollDeviceAuthorization(http::Client& http, const Endpoints& endpoints,
                                       const ClientId& client, const DeviceAuthorization& device,
                                       const Clock& clock, http::Sleeper& sleeper) {
  Duration interval = device.interval;
  for (;;) {
    if (clock.Now() >= device.expires_at)
      return Status::DeadlineExceeded("the device code expired before it was approved; start again");
    sleeper.SleepFor(interval);
    bool slow_down = false;
    TANDEM_ASSIGN_OR_RETURN(std::optional<Tokens> t,
                            PollDeviceOnce(http, endpoints, client, device.device_code, clock, &slow_down));
    if (t) return std::move(*t);
    if (slow_down) interval += std::chrono::seconds(5);
  }
}

Result<Tokens> ClientCredentialsToken(http::Client& http, const Endpoints& endpoints,
                                      const ClientId& client, std::string_view scope,
                                      const Clock& clock) {
  if (client.secret.empty())
    return Status::InvalidArgument("client credentials: the application's secret is not configured");
  std::vector<std::pair<std::string, std::string>> f = {{"grant_type", "client_credentials"},
                                                        {"scope", std::string(scope)}};
  AddClient(f, client);
  TANDEM_ASSIGN_OR_RETURN(http::Response r, PostForm(http, endpoints.token, f));
  return ParseTokens(r, clock, "the application's credentials");
}

Result<std::string> SignJwtRs256(std::string_view claims_json, std::string_view private_key_pem) {
  const std::string input =
      Base64Url(R"({"alg":"RS256","typ":"JWT"})") + "." + Base64Url(claims_json);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())), &BIO_free);
  if (!bio) return Status::Internal("BIO_new_mem_buf failed");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA)
    return Status::InvalidArgument("private_key: not an RSA private key in PEM form");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1)
    return Status::Internal("RS256 signing failed");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1)
    return Status::Internal("RS256 signing failed");
  sig.resize(len);
  return input + "." + Base64Url(sig);
}

Result<Tokens> ServiceAccountToken(http::Client& http, const ServiceAccount& account,
                                   std::string_view scope, std::string_view subject,
                                   const Clock& clock) {
  const int64_t now = ToUnixSeconds(clock.Now());
  json claims = {{"iss", account.client_email},
                 {"scope", std::string(scope)},
                 {"aud", account.token_uri},
                 {"iat", now},
                 {"exp", now + 3600}};
  if (!subject.empty()) claims["sub"] = std::string(subject);
  TANDEM_ASSIGN_OR_RETURN(std::string jwt, SignJwtRs256(claims.dump(), account.private_key_pem));
  TANDEM_ASSIGN_OR_RETURN(
      http::Response r,
      PostForm(http, account.token_uri,
               {{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"}, {"assertion", jwt}}));
  return ParseTokens(r, clock, "the service account's assertion");
}

TokenSource::TokenSource(Tokens tokens, Refresher refresh, Persist persist, const Clock& clock,
                         Duration margin, Duration retry_refused_after)
    : tokens_(std::move(tokens)),
      refresh_(std::move(refresh)),
      persist_(std::move(persist)),
      clock_(clock),
      margin_(margin),
      retry_refused_after_(retry_refused_after) {}

Result<std::string> TokenSource::AccessToken() {
  std::lock_guard lock(mu_);
  if (refused_) {
    const bool retry = retry_refused_after_ > Duration::zero() &&
                       clock_.Now() >= refused_at_ + retry_refused_after_;
    if (!retry) return *refused_;
    refused_.reset();
  }
  const bool expiring = clock_.Now() + margin_ >= tokens_.expires_at;
  if (!stale_ && !expiring && !tokens_.access_token.empty()) return tokens_.access_token;
  Result<Tokens> fresh = refresh_(tokens_);
  if (!fresh.ok()) {
    if (NeedsReauthorization(fresh.status())) {
      refused_ = fresh.status();
      refused_at_ = clock_.Now();
    }
    return fresh.status();
  }
  tokens_ = std::move(*fresh);
  stale_ = false;
  if (persist_) {
    // A rotated refresh token that is not stored is lost for good: say so.
    if (Status s = persist_(tokens_); !s.ok())
      return s.WithContext("storing the refreshed calendar authorization");
  }
  return tokens_.access_token;
}

void TokenSource::Invalidate(std::string_view rejected_token) {
  std::lock_guard lock(mu_);
  if (rejected_token == tokens_.access_token) stale_ = true;
}

}  // namespace tandem::oauth
