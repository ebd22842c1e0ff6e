#include "api/auth.h"

#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace tandem::api {

namespace {

constexpr std::string_view kBadLogin = "wrong login or password";

// `v` starts with `scheme_lower` ("bearer ") in any case, followed by more.
bool StartsWithScheme(std::string_view v, std::string_view scheme_lower) {
  return v.size() > scheme_lower.size() &&
         std::equal(scheme_lower.begin(), scheme_lower.end(), v.begin(), [](char a, char b) {
           return a == std::tolower(static_cast<unsigned char>(b));
         });
}

// How long a validated session is trusted without asking the store again.
constexpr Duration kCacheFreshness = std::chrono::seconds(10);
// How long a verified Basic login and password are trusted without argon2id.
constexpr Duration kBasicCacheFreshness = std::chrono::seconds(60);

}  // namespace

Result<std::string> HashPassword(std::string_view password, const PasswordCost& cost) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialize");
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(), cost.opslimit,
                            cost.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::ResourceExhausted("password hashing ran out of memory");
  }
  return std::string(out.data());
}

bool VerifyPassword(std::string_view encoded_hash, std::string_view password) {
  if (encoded_hash.empty() || encoded_hash.size() >= crypto_pwhash_STRBYTES) return false;
  std::array<char, crypto_pwhash_STRBYTES> h{};
  std::copy(encoded_hash.begin(), encoded_hash.end(), h.begin());
  return crypto_pwhash_str_verify(h.data(), password.data(), password.size()) == 0;
}

std::string TokenHash(std::string_view token) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(token.data()),
                     token.size());
  std::array<char, crypto_hash_sha256_BYTES * 2 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  return std::string(hex.data(), crypto_hash_sha256_BYTES * 2);
}

Authenticator::Authenticator(store::Store* store, const Clock* clock, Random* random,
                             Duration session_lifetime, PasswordCost cost)
    : store_(store),
      clock_(clock),
      random_(random),
      session_lifetime_(session_lifetime),
      cost_(cost) {
  basic_key_ = random_->Hex(16);
  auto dummy = HashPassword(random_->Hex(16), cost_);
  if (dummy.ok()) dummy_hash_ = *dummy;
}

Result<std::string> Authenticator::Hash(std::string_view password) {
  hashing_.acquire();
  auto h = HashPassword(password, cost_);
  hashing_.release();
  return h;
}

Result<LoginResult> Authenticator::Login(std::string_view login, std::string_view password) {
  auto user = store_->GetUserByLogin(login);
  if (!user.ok() && !user.status().Is(Code::kNotFound)) return user.status();
  hashing_.acquire();
  bool good = VerifyPassword(user.ok() ? user->password_hash : dummy_hash_, password);
  hashing_.release();
  if (!user.ok() || !good || user->disabled) return Status::Unauthenticated(std::string(kBadLogin));

  LoginResult result;
  result.token = random_->Hex(32);
  result.user = *user;
  store::Session session;
  session.token_hash = TokenHash(result.token);
  session.user_id = user->id;
  session.created = clock_->Now();
  session.expires = session.created + session_lifetime_;
  result.expires = session.expires;
  TANDEM_RETURN_IF_ERROR(store_->CreateSession(session));
  if (hooks_.logged_in) hooks_.logged_in(result.user, result.expires);
  return result;
}

Result<Caller> Authenticator::Authenticate(std::optional<std::string_view> authorization) {
  if (!authorization) return Status::Unauthenticated("missing Authorization: Bearer <token>");
  std::string_view v = *authorization;
  constexpr std::string_view kScheme = "bearer ";
  if (!StartsWithScheme(v, kScheme)) {
    return Status::Unauthenticated("Authorization must be 'Bearer <token>'");
  }
  std::string_view token = v.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.size() != 64) return Status::Unauthenticated("invalid or expired token");
  std::string hash = TokenHash(token);
  Instant now = clock_->Now();
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(hash);
    if (it != cache_.end()) {
      if (now < it->second.fresh_until && now < it->second.expires) return it->second.caller;
      cache_.erase(it);
    }
  }
  auto session = store_->GetSession(hash);
  if (!session.ok()) {
    if (session.status().Is(Code::kNotFound)) {
      return Status::Unauthenticated("invalid or expired token");
    }
    return session.status();
  }
  if (session->expires <= now) return Status::Unauthenticated("invalid or expired token");
  auto user = store_->GetUser(session->user_id);
  if (!user.ok()) {
    if (user.status().Is(Code::kNotFound))
      return Status::Unauthenticated("invalid or expired token");
    return user.status();
  }
  if (user->disabled) return Status::Unauthenticated("invalid or expired token");
  Caller caller;
  caller.user = std::move(*user);
  caller.viewer.user_id = caller.user.id;
  caller.viewer.admin = caller.user.role == model::Role::kAdmin;
  caller.token_hash = hash;
  {
    std::lock_guard lock(mu_);
    if (cache_.size() > 10000) cache_.clear();  // bound memory under token churn
    cache_[hash] = Cached{caller, session->expires, now + kCacheFreshness};
  }
  return caller;
}

Status Authenticator::Logout(const Caller& caller) {
  {
    std::lock_guard lock(mu_);
    cache_.erase(caller.token_hash);
  }
  TANDEM_RETURN_IF_ERROR(store_->DeleteSession(caller.token_hash));
  if (hooks_.logged_out) hooks_.logged_out(caller.user.id);
  return Status::Ok();
}

void Authenticator::ForgetUser(std::string_view user_id) {
  std::lock_guard lock(mu_);
  std::erase_if(cache_, [&](const auto& kv) { return kv.second.caller.user.id == user_id; });
  std::erase_if(basic_cache_,
                [&](const auto& kv) { return kv.second.caller.user.id == user_id; });
}

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<Caller> Authenticator::AuthenticateBasic(std::optional<std::string_view> authorization) {
  if (!authorization) return Status::Unauthenticated("missing Authorization: Basic credentials");
  if (StartsWithScheme(*authorization, "bearer ")) return Authenticate(authorization);
  if (!StartsWithScheme(*authorization, "basic ")) {
    return Status::Unauthenticated("Authorization must be 'Basic <credentials>'");
  }
  std::string_view b64 = authorization->substr(6);
  while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
  while (!b64.empty() && b64.back() == ' ') b64.remove_suffix(1);
  if (b64.empty() || b64.size() > 1024) return Status::Unauthenticated(std::string(kBadLogin));
  std::string decoded(b64.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(decoded.data()), decoded.size(),
                        b64.data(), b64.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return Status::Unauthenticated("Authorization: Basic credentials are not base64");
  }
  decoded.resize(len);
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos) return Status::Unauthenticated(std::string(kBadLogin));
  const std::string login = decoded.substr(0, colon);
  const std::string_view password = std::string_view(decoded).substr(colon + 1);

  std::array<unsigned char, 32> digest{};
  crypto_generichash(digest.data(), digest.size(), reinterpret_cast<const unsigned char*>(decoded.data()),
                     decoded.size(), reinterpret_cast<const unsigned char*>(basic_key_.data()),
                     basic_key_.size());
  const std::string key(reinterpret_cast<const char*>(digest.data()), digest.size());
  const std::string login_key = Lower(login);
  const Instant now = clock_->Now();
  {
    std::lock_guard lock(mu_);
    auto it = basic_cache_.find(key);
    if (it != basic_cache_.end()) {
      if (now < it->second.fresh_until) return it->second.caller;
      basic_cache_.erase(it);
    }
    auto f = failures_.find(login_key);
    if (f != failures_.end()) {
      std::erase_if(f->second, [&](Instant t) { return t + kBasicFailureWindow <= now; });
      if (static_cast<int>(f->second.size()) >= kBasicFailureLimit) {
        const auto wait = std::chrono::duration_cast<std::chrono::seconds>(
            f->second.front() + kBasicFailureWindow - now);
        return Status::ResourceExhausted(fmt::format(
            "too many failed logins for this user; try again in {} s", wait.count() + 1));
      }
      if (f->second.empty()) failures_.erase(f);
    }
  }
  auto user = store_->GetUserByLogin(login);
  if (!user.ok() && !user.status().Is(Code::kNotFound)) return user.status();
  hashing_.acquire();
  bool good = VerifyPassword(user.ok() ? user->password_hash : dummy_hash_, password);
  hashing_.release();
  if (!good && user.ok() && !user->disabled) {
    auto app = store_->ListAppPasswords(user->id);
    if (!app.ok()) return app.status();
    for (const store::AppPassword& p : *app) {
      hashing_.acquire();
      good = VerifyPassword(p.hash, password);
      hashing_.release();
      if (good) break;
    }
  }
  if (!user.ok() || !good || user->disabled) {
    std::lock_guard lock(mu_);
    if (failures_.size() > 10000) failures_.clear();  // bound memory under login churn
    failures_[login_key].push_back(now);
    return Status::Unauthenticated(std::string(kBadLogin));
  }
  Caller caller;
  caller.user = std::move(*user);
  caller.viewer.user_id = caller.user.id;
  caller.viewer.admin = caller.user.role == model::Role::kAdmin;
  {
    std::lock_guard lock(mu_);
    failures_.erase(login_key);
    if (basic_cache_.size() > 10000) basic_cache_.clear();
    basic_cache_[key] = Cached{caller, now + kBasicCacheFreshness, now + kBasicCacheFreshness};
  }
  return caller;
}

Result<std::string> Authenticator::CreateAppPassword(const model::User& user, std::string_view name) {
  const bool name_ok = !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
  if (!name_ok) return Status::InvalidArgument("name: 1 to 64 letters, digits, '.', '_' or '-'");
  // No 0/o, 1/l/i: read off one screen and typed into another.
  static constexpr std::string_view kAlphabet = "abcdefghjkmnpqrstuvwxyz23456789";
  std::array<uint8_t, 16> raw{};
  std::string password;
  for (;;) {
    random_->Fill(raw);
    password.clear();
    bool unbiased = true;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] >= 248) unbiased = false;  // 248 = 8 * 31: keeps every letter equally likely
      if (i > 0 && i % 4 == 0) password += '-';
      password += kAlphabet[raw[i] % kAlphabet.size()];
    }
    if (unbiased) break;
  }
  TANDEM_ASSIGN_OR_RETURN(std::string hash, Hash(password));
  store::AppPassword p{user.id, std::string(name), std::move(hash), clock_->Now()};
  TANDEM_RETURN_IF_ERROR(store_->CreateAppPassword(p));
  spdlog::info("user {} added app password '{}'", user.login, name);
  return password;
}

Status Authenticator::RevokeAppPassword(const model::User& user, std::string_view name) {
  TANDEM_RETURN_IF_ERROR(store_->DeleteAppPassword(user.id, name));
  ForgetUser(user.id);
  spdlog::info("user {} revoked app password '{}'", user.login, name);
  return Status::Ok();
}

}  // namespace tandem::api
