// OAuth 2.0 client (RFC 6749) for the calendar providers that need it (Google,
// Microsoft Graph):
//   - authorization code with PKCE (RFC 7636, S256) and a loopback redirect on
//     127.0.0.1 (loopback.h), what Google allows installed apps;
//   - the device authorization grant (RFC 8628), for Microsoft;
//   - refresh, keeping the refresh token when the server sends none, and a
//     refused refresh (invalid_grant: revoked, expired, a "testing" app after 7
//     days) said as "needs re-authorization" (NeedsReauthorization);
//   - the JWT bearer grant (RFC 7523) with an RS256 assertion signed by OpenSSL,
//     for a Google service account with domain-wide delegation (the server job).
// Every endpoint and the client id/secret come from the caller (config), so
// tests point them at local fakes. Token answers are JSON (RFC 6749 5.1, 5.2).
// Nothing here logs a token or a secret; errors carry the server's error code and
// description only.
//
// Thread safety: the functions are reentrant (each takes its own http::Client);
// TokenSource is thread-safe.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/random.h"
#include "core/status.h"
#include "http/client.h"

namespace tandem::oauth {

struct Endpoints {
  std::string authorization;         // e.g. https://accounts.google.com/o/oauth2/v2/auth
  std::string token;                 // e.g. https://oauth2.googleapis.com/token
  std::string device_authorization;  // RFC 8628; empty when the service has none
};

struct ClientId {
  std::string id;
  std::string secret;  // empty for a public client
};

struct Tokens {
  std::string access_token;
  std::string refresh_token;  // empty when the grant gives none (service accounts)
  std::string token_type = "Bearer";
  std::string scope;
  Instant expires_at{};
};

// Tokens as the string map a pair's sealed credential holds, and back.
std::map<std::string, std::string> TokensToMap(const Tokens& t);
Tokens TokensFromMap(const std::map<std::string, std::string>& m);

// --- PKCE (RFC 7636)
// 64 characters of the unreserved set, from 48 random bytes.
std::string MakeCodeVerifier(Random& random);
// BASE64URL(SHA-256(verifier)), no padding.
std::string CodeChallengeS256(std::string_view verifier);
// An opaque value to bind a redirect to the request that caused it.
std::string MakeState(Random& random);

struct AuthorizationRequest {
  std::string redirect_uri;
  std::string scope;
  std::string state;
  std::string code_challenge;  // S256
  // Provider-specific parameters (Google: access_type=offline, prompt=consent).
  std::vector<std::pair<std::string, std::string>> extra;
};
// The URL the user opens in a browser.
std::string AuthorizationUrl(const Endpoints& endpoints, const ClientId& client,
                             const AuthorizationRequest& request);

// The redirect's query as parsed: the code, or the error the server sent.
struct Redirect {
  std::string code;
  std::string state;
  std::string error;              // "access_denied", ...
  std::string error_description;
};
// Checks the state and the error of a redirect: InvalidArgument for a foreign
// state, PermissionDenied when the user refused.
Result<std::string> CodeFrom(const Redirect& redirect, std::string_view expected_state);

// --- token endpoint
Result<Tokens> ExchangeCode(http::Client& http, const Endpoints& endpoints, const ClientId& client,
                            std::string_view code, std::string_view redirect_uri,
                            std::string_view code_verifier, const Clock& clock);
// A refresh; the answer's refresh token replaces the old one when it has one.
Result<Tokens> Refresh(http::Client& http, const Endpoints& endpoints, const ClientId& client,
                       const Tokens& current, const Clock& clock);
// True for a refusal that only the user can mend by authorizing again
// (invalid_grant, invalid_client, unauthorized_client, a revoked token).
bool NeedsReauthorization(const Status& s);

// --- device authorization grant (RFC 8628)
struct DeviceAuthorization {
  std::string device_code;
  std::string user_code;
  std::string verification_uri;
  std::string verification_uri_complete;  // may be empty
  Duration interval = std::chrono::seconds(5);
  Instant expires_at{};
};
Result<DeviceAuthorization> StartDeviceAuthorization(http::Client& http, const Endpoints& endpoints,
                                                     const ClientId& client, std::string_view scope,
                                                     const Clock& clock);
// Polls until the user approved (tokens), refused (PermissionDenied) or the code
// expired (DeadlineExceeded); slows down when asked (slow_down: +5 s).
Result<Tokens> PollDeviceAuthorization(http::Client& http, const Endpoints& endpoints,
                                       const ClientId& client, const DeviceAuthorization& device,
                                       const Clock& clock, http::Sleeper& sleeper);

// One poll of the token endpoint: the tokens once approved, nullopt while
// pending (*slow_down set when the server asked to poll less often),
// PermissionDenied when refused, DeadlineExceeded when the code expired.
Result<std::optional<Tokens>> PollDeviceOnce(http::Client& http, const Endpoints& endpoints,
                                             const ClientId& client, std::string_view device_code,
                                             const Clock& clock, bool* slow_down);

// --- client credentials grant (RFC 6749 4.4): an application's own token
// (Microsoft Graph application access for the server job).
Result<Tokens> ClientCredentialsToken(http::Client& http, const Endpoints& endpoints,
                                      const ClientId& client, std::string_view scope,
                                      const Clock& clock);

// --- service accounts: JWT bearer grant (RFC 7523), RS256
struct ServiceAccount {
  std::string client_email;     // the JWT's iss
  std::string private_key_pem;  // PKCS#8 or PKCS#1 RSA key
  std::string token_uri;        // the JWT's aud and where it is sent
};
// header.claims.signature, each base64url; InvalidArgument for a bad key.
Result<std::string> SignJwtRs256(std::string_view claims_json, std::string_view private_key_pem);
// A token acting as `subject` (domain-wide delegation; empty: the account itself).
Result<Tokens> ServiceAccountToken(http::Client& http, const ServiceAccount& account,
                                   std::string_view scope, std::string_view subject,
                                   const Clock& clock);

// --- calling an API with a bearer token
struct BearerCall {
  std::function<Result<std::string>()> access_token;              // REQUIRED
  std::function<void(const std::string& rejected)> token_rejected;  // after a 401
  // A throttled answer, retried after ThrottleWait (429 always; the API's own
  // rate-limit answers besides).
  std::function<bool(const http::Response&)> throttled;
  int attempts = 5;  // for throttled answers
  http::Sleeper* sleeper = nullptr;  // null: real sleep
  Random* random = nullptr;          // jitter; null: a fixed fraction
};
// Sends `request` with "Authorization: Bearer <token>": a 401 tells
// token_rejected and the request goes once more with a fresh token (then the
// 401 is the answer); a throttled answer waits (Retry-After honoured, backoff
// doubling, jitter) and goes again, up to `attempts`. `*sent` counts requests.
Result<http::Response> SendWithBearer(http::Client& client, http::Request request,
                                      const BearerCall& call, int64_t* sent = nullptr);

class TokenSource;
// A BearerCall whose tokens come from `source` (a 401 invalidates the token it
// refused, so the retry refreshes). `source` must outlive the call.
BearerCall BearerFrom(TokenSource& source);

// application/x-www-form-urlencoded (also for query strings).
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);
// One value percent-encoded: everything but RFC 3986's unreserved characters.
std::string PercentEncode(std::string_view s);

// A valid access token whenever asked: refreshed when it expires within the
// margin, or after the API answered 401 (Invalidate). Refreshed tokens go to
// `persist` (sealed and stored by the caller; a rotated refresh token must not
// be lost). A refused refresh stays refused (NeedsReauthorization) until the
// user authorizes again, or, with `retry_refused_after` (an application's own
// grant: client credentials, a service account's assertion, which an admin mends
// in the identity provider, not in Tandem), until that long has passed.
// How long an application's refused grant is believed before it is asked again.
inline constexpr Duration kRetryRefusedAppGrant = std::chrono::minutes(5);

class TokenSource {
 public:
  using Refresher = std::function<Result<Tokens>(const Tokens& current)>;
  using Persist = std::function<Status(const Tokens& fresh)>;
  TokenSource(Tokens tokens, Refresher refresh, Persist persist, const Clock& clock,
              Duration margin = std::chrono::seconds(60),
              Duration retry_refused_after = Duration::zero());
  Result<std::string> AccessToken();
  void Invalidate(std::string_view rejected_token);

 private:
  std::mutex mu_;
  Tokens tokens_;
  Refresher refresh_;
  Persist persist_;
  const Clock& clock_;
  Duration margin_;
  Duration retry_refused_after_;
  bool stale_ = false;
  std::optional<Status> refused_;
  Instant refused_at_{};
};

}  // namespace tandem::oauth
