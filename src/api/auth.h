// Passwords (argon2id via libsodium crypto_pwhash_str) and bearer sessions.
//
// A session token is 32 random bytes as hex; the store keeps only its SHA-256
// (libsodium crypto_hash_sha256), so a leaked database yields no usable token.
// Authenticate caches a valid session for a few seconds to spare the database
// on every request; Logout and user changes invalidate the cache at once.
//
// Thread safety: Authenticator is safe for concurrent use. At most two password
// hashes run at a time (each holds `memlimit` bytes).
#pragma once

#include <functional>

#include <cstdint>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/random.h"
#include "core/status.h"
#include "model/entities.h"
#include "store/store.h"

namespace tandem::api {

// argon2id cost. Interactive: 2 passes over 19 MiB (OWASP's argon2id minimum),
// about 30-60 ms on one core; Fast is for tests only.
struct PasswordCost {
  unsigned long long opslimit = 2;
  size_t memlimit = 19u << 20;
  static PasswordCost Interactive() { return {}; }
  static PasswordCost Fast() { return {1, 8u << 10}; }
};

// The encoded argon2id string ("$argon2id$v=19$m=...").
Result<std::string> HashPassword(std::string_view password, const PasswordCost& cost);
bool VerifyPassword(std::string_view encoded_hash, std::string_view password);
// SHA-256 of a bearer token, lowercase hex.
std::string TokenHash(std::string_view token);

struct Caller {
  model::User user;
  store::Viewer viewer;
  std::string token_hash;
};

struct LoginResult {
  std::string token;
  Instant expires{};
  model::User user;
};

class Authenticator {
 public:
  Authenticator(store::Store* store, const Clock* clock, Random* random, Duration session_lifetime,
                PasswordCost cost);

  // Unauthenticated with the same message for an unknown login, a wrong password
  // and a disabled user; an unknown login still costs one hash verification.
  Result<LoginResult> Login(std::string_view login, std::string_view password);
  // `authorization` is the Authorization header value ("Bearer <hex>").
  // Unauthenticated when missing, malformed, unknown, expired or revoked.
  Result<Caller> Authenticate(std::optional<std::string_view> authorization);
  // HTTP Basic, for calendar and contacts programs (CalDAV/CardDAV): the CRM
  // login and password; a "Bearer <token>" value is taken as Authenticate does.
  // A verified login and password are remembered for a minute (under a keyed
  // hash, never in clear), so a phone's many requests do not each pay argon2id;
  // ForgetUser ends that at once. Unauthenticated as Login for a bad login;
  // ResourceExhausted after kBasicFailureLimit failures for one login within
  // kBasicFailureWindow: further attempts for it are refused unchecked until
  // the oldest failure leaves the window (a guessing program gets nowhere).
  static constexpr int kBasicFailureLimit = 5;
  static constexpr Duration kBasicFailureWindow = std::chrono::minutes(5);
  Result<Caller> AuthenticateBasic(std::optional<std::string_view> authorization);
  Status Logout(const Caller& caller);

  // Per-device app passwords, for HTTP Basic only (a phone's or a calendar
  // program's; the REST login takes the user's own password). Create returns the
  // password, shown once: 4 groups of 4 letters and digits (~82 bits), stored
  // argon2id-hashed. Revoke ends its use at once (the Basic cache is dropped).
  // AuthenticateBasic accepts the login password or any of the user's app passwords.
  // Names: 1 to 64 letters, digits, '.', '_', '-' (InvalidArgument otherwise).
  Result<std::string> CreateAppPassword(const model::User& user, std::string_view name);
  Status RevokeAppPassword(const model::User& user, std::string_view name);
  // Drops cached sessions of this user (after a role change, disabling, deletion).
  void ForgetUser(std::string_view user_id);

  Result<std::string> Hash(std::string_view password);

  // Session events for whoever schedules per-user work (the calendar sync runs
  // right after login and while a session lasts, S6). Set before serving.
  struct SessionHooks {
    std::function<void(const model::User& user, Instant expires)> logged_in;
    std::function<void(const std::string& user_id)> logged_out;
  };
  void SetSessionHooks(SessionHooks hooks) { hooks_ = std::move(hooks); }

 private:
  struct Cached {
    Caller caller;
    Instant expires{};
    Instant fresh_until{};
  };
  store::Store* store_;
  const Clock* clock_;
  Random* random_;
  Duration session_lifetime_;
  PasswordCost cost_;
  std::string dummy_hash_;  // verified against for unknown logins
  std::counting_semaphore<2> hashing_{2};
  std::mutex mu_;
  std::unordered_map<std::string, Cached> cache_;  // by token hash
  std::string basic_key_;                          // keys the Basic cache's hashes
  std::unordered_map<std::string, Cached> basic_cache_;           // by keyed hash
  std::unordered_map<std::string, std::vector<Instant>> failures_;  // by login, lower case
  SessionHooks hooks_;
};

}  // namespace tandem::api
