// Provider: one kind of external calendar (CalDAV, a vdir folder, later Google
// and Microsoft Graph) as the rest of Tandem sees it. Each provider folder under
// src/providers implements one and exposes a function that makes it; the
// composition root (apps/calendar_sync.cc) registers them, and the REST routes,
// the CLI and pair creation ask the registry: nothing outside a provider's
// folder names a provider.
//
// A provider declares its name, its credential kind, whether only admins may
// pair with it, how it finds a user's calendars (a list to choose from, S8; it
// checks the credentials on the way), and how it opens the CalendarSide of a
// pair. Credentials reach it unsealed, as named fields; the composition root
// seals them (S16) whatever their kind.
//
// Thread safety: implementations are stateless or thread-safe; Discover and Open
// run on background threads. Header-only, so a provider needs no sync library.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "sync/calendar_side.h"

namespace tandem::sync {

enum class CredentialKind {
  kNone,      // nothing to give (a folder on the server)
  kPassword,  // "user" and "password"
  kOAuth,     // OAuth 2.0 tokens, refreshed by Tandem
};

inline std::string_view CredentialKindName(CredentialKind kind) {
  switch (kind) {
    case CredentialKind::kNone:
      return "none";
    case CredentialKind::kPassword:
      return "password";
    case CredentialKind::kOAuth:
      return "oauth";
  }
  return "none";
}

// Named fields: {"user", "password"} for kPassword; the token fields for kOAuth.
using Credential = std::map<std::string, std::string>;

// What the composition root gives a provider for one user's calendar.
struct ProviderContext {
  // The outbound address policy for this user (admins: any address); every
  // connection, redirects included, must pass it.
  std::function<Status(std::string_view ip)> check_address;
  std::string ca_file;  // extra CA bundle (a private CA), may be empty
  // Stores a credential the provider renewed (a rotated refresh token), sealed
  // as the pair's; null where there is no pair yet (discovery).
  std::function<Status(const Credential&)> save_credential;
};

// A calendar the user may pair with.
struct CalendarChoice {
  std::string location;  // what the pair stores: a URL, a folder, a calendar id
  std::string display_name;
  bool has_events = true;  // holds events (not only tasks)
};

// What a user is shown to let Tandem in with a device code (RFC 8628).
struct DeviceCode {
  std::string device_code;  // stays on the server
  std::string user_code;
  std::string verification_uri;
  std::string message;  // the service's own words, when it gives them
  Duration interval = std::chrono::seconds(5);
  Instant expires{};
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual std::string_view name() const = 0;         // "caldav"
  virtual std::string_view description() const = 0;  // one line for a chooser
  virtual CredentialKind credential_kind() const = 0;
  // True when pairing reaches the server's own resources (a folder on its disk).
  virtual bool admin_only() const { return false; }
  // The calendars at `location` (a server, account or calendar URL, a folder),
  // the one `location` names first when it names one. Unauthenticated or
  // PermissionDenied when the calendar server refuses the credentials; the
  // address policy's refusal as it is (http::IsAddressRefusal).
  virtual Result<std::vector<CalendarChoice>> Discover(const std::string& location,
                                                       const Credential& credential,
                                                       const ProviderContext& context) = 0;
  // The calendar of a pair (its location as Discover gave it).
  virtual Result<std::unique_ptr<CalendarSide>> Open(const std::string& location,
                                                     const Credential& credential,
                                                     const ProviderContext& context) = 0;

  // kOAuth only: the page the user opens to let Tandem in (authorization code
  // with PKCE, redirected to `redirect_uri` on the user's machine), and the
  // credential its code gives.
  virtual Result<std::string> AuthorizationUrl(const std::string& /*redirect_uri*/,
                                               const std::string& /*state*/,
                                               const std::string& /*code_challenge*/) {
    return Status::InvalidArgument(std::string(name()) + " takes no authorization");
  }
  virtual Result<Credential> FinishAuthorization(const std::string& /*code*/,
                                                 const std::string& /*redirect_uri*/,
                                                 const std::string& /*code_verifier*/,
                                                 const ProviderContext& /*context*/) {
    return Status::InvalidArgument(std::string(name()) + " takes no authorization");
  }

  // kOAuth by a device code instead (Microsoft): the code to show, then one
  // poll: the credential once approved, nullopt while pending (*slow_down when
  // the service asked to poll less often), PermissionDenied when refused,
  // DeadlineExceeded when expired.
  virtual bool uses_device_code() const { return false; }
  virtual Result<DeviceCode> StartDeviceAuthorization(const ProviderContext& /*context*/) {
    return Status::InvalidArgument(std::string(name()) + " takes no device code");
  }
  virtual Result<std::optional<Credential>> PollDeviceAuthorization(
      const std::string& /*device_code*/, const ProviderContext& /*context*/, bool* /*slow_down*/) {
    return Status::InvalidArgument(std::string(name()) + " takes no device code");
  }
};

// The providers a process knows, by name. Filled before it is shared.
class ProviderCatalog {
 public:
  void Add(std::unique_ptr<Provider> provider) {
    std::string name(provider->name());
    providers_[std::move(name)] = std::move(provider);
  }
  Provider* Find(std::string_view name) const {  // nullptr when unknown
    auto it = providers_.find(name);
    return it == providers_.end() ? nullptr : it->second.get();
  }
  std::vector<const Provider*> All() const {  // by name
    std::vector<const Provider*> out;
    for (const auto& [name, p] : providers_) out.push_back(p.get());
    return out;
  }
  std::string Names() const {  // "caldav, vdir"
    std::string out;
    for (const auto& [name, p] : providers_) out += (out.empty() ? "" : ", ") + name;
    return out;
  }

 private:
  std::map<std::string, std::unique_ptr<Provider>, std::less<>> providers_;
};

}  // namespace tandem::sync
