#include "providers/google/provider.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <map>
#include <mutex>

#include "providers/google/google_calendar.h"

namespace tandem::providers::google {
namespace {

using nlohmann::json;

oauth::Tokens TokensOf(const sync::Credential& c) { return oauth::TokensFromMap(c); }
sync::Credential CredentialOf(const oauth::Tokens& t) { return oauth::TokensToMap(t); }

http::ClientOptions Http(const sync::ProviderContext& context) {
  http::ClientOptions h;
  h.ca_file = context.ca_file;  // the endpoints are the administrator's, not the user's
  return h;
}

// The calendars of calendarList Tandem may write to, the one `location` names
// (or the primary one) first; each location prefixed by `prefix`.
Result<std::vector<sync::CalendarChoice>> ListCalendars(oauth::TokenSource& source,
                                                        const std::string& api_base,
                                                        const http::ClientOptions& options,
                                                        const std::string& location,
                                                        const std::string& prefix) {
  http::Client http(options);
  std::vector<sync::CalendarChoice> out;
  std::string page;
  for (int guard = 0; guard < 100; ++guard) {
    http::Request req;
    req.url = api_base + "/users/me/calendarList?maxResults=250" +
              (page.empty() ? "" : "&pageToken=" + oauth::PercentEncode(page));
    TANDEM_ASSIGN_OR_RETURN(http::Response r, oauth::SendWithBearer(http, std::move(req), oauth::BearerFrom(source)));
    if (r.status == 401) return Status::Unauthenticated("Google refused the authorization");
    if (r.status == 403) return Status::PermissionDenied("Google refused access to the calendar list");
    if (r.status != 200)
      return Status::Unavailable(fmt::format("Google Calendar answered {} to the calendar list", r.status));
    json j = json::parse(r.body, nullptr, false);
    if (!j.is_object()) return Status::Corruption("Google Calendar: the calendar list is not JSON");
    for (const auto& c : j.value("items", json::array())) {
      if (!c.is_object() || !c.contains("id") || !c["id"].is_string()) continue;
      const std::string id = c["id"].get<std::string>();
      std::string shown = c.value("summaryOverride", c.value("summary", id));
      const bool primary = c.value("primary", false);
      const std::string role = c.value("accessRole", "owner");
      if (role != "owner" && role != "writer") continue;  // Tandem writes to the calendar
      sync::CalendarChoice choice{prefix + id, shown, true};
      if (prefix + id == location || id == location ||
          (primary && (location.empty() || location == "primary" || location + "/" == prefix))) {
        out.insert(out.begin(), choice);
      } else {
        out.push_back(choice);
      }
    }
    page = j.value("nextPageToken", "");
    if (page.empty()) break;
  }
  return out;
}

std::unique_ptr<sync::CalendarSide> OpenSide(std::shared_ptr<oauth::TokenSource> source,
                                             const std::string& api_base,
                                             const std::string& calendar_id,
                                             http::ClientOptions options) {
  GoogleCalendarOptions go;
  go.api_base = api_base;
  go.calendar_id = calendar_id.empty() ? "primary" : calendar_id;
  go.http = std::move(options);
  go.access_token = [source] { return source->AccessToken(); };
  go.token_rejected = [source](const std::string& t) { source->Invalidate(t); };
  return std::unique_ptr<sync::CalendarSide>(new GoogleCalendar(std::move(go)));
}

class GoogleProvider final : public sync::Provider {
 public:
  explicit GoogleProvider(GoogleProviderOptions o) : o_(std::move(o)) {}
  std::string_view name() const override { return "google"; }
  std::string_view description() const override { return "a Google calendar (Google Workspace, Gmail)"; }
  sync::CredentialKind credential_kind() const override { return sync::CredentialKind::kOAuth; }

  Result<std::string> AuthorizationUrl(const std::string& redirect_uri, const std::string& state,
                                       const std::string& code_challenge) override {
    if (o_.client.id.empty())
      return Status::InvalidArgument(
          "provider: Google is not set up on this server ([google] client_id in tandemd's config)");
    return oauth::AuthorizationUrl(o_.endpoints, o_.client,
                                   {.redirect_uri = redirect_uri,
                                    .scope = o_.scope,
                                    .state = state,
                                    .code_challenge = code_challenge,
                                    .extra = {{"access_type", "offline"}, {"prompt", "consent"}}});
  }

  Result<sync::Credential> FinishAuthorization(const std::string& code,
                                               const std::string& redirect_uri,
                                               const std::string& code_verifier,
                                               const sync::ProviderContext& context) override {
    http::Client http(Http(context));
    TANDEM_ASSIGN_OR_RETURN(oauth::Tokens t, oauth::ExchangeCode(http, o_.endpoints, o_.client, code,
                                                                 redirect_uri, code_verifier, clock_));
    if (t.refresh_token.empty())
      return Status::InvalidArgument(
          "authorization: Google gave no refresh token (remove Tandem's access in your Google "
          "account's security settings and authorize again)");
    return CredentialOf(t);
  }

  Result<std::vector<sync::CalendarChoice>> Discover(const std::string& location,
                                                     const sync::Credential& credential,
                                                     const sync::ProviderContext& context) override {
    auto source = Source(credential, context, /*persist=*/false);
    return ListCalendars(*source, o_.api_base, Http(context), location, "");
  }

  Result<std::unique_ptr<sync::CalendarSide>> Open(const std::string& location,
                                                   const sync::Credential& credential,
                                                   const sync::ProviderContext& context) override {
    return OpenSide(Source(credential, context, /*persist=*/true), o_.api_base, location,
                    Http(context));
  }

 private:
  std::shared_ptr<oauth::TokenSource> Source(const sync::Credential& credential,
                                             const sync::ProviderContext& context, bool persist) {
    auto endpoints = o_.endpoints;
    auto client = o_.client;
    auto http_options = Http(context);
    const Clock* clock = &clock_;
    oauth::TokenSource::Persist save;
    if (persist && context.save_credential) {
      // Stored at once: the next run needs no refresh, a rotated refresh token
      // is never lost (the run's own end leaves the credential alone).
      save = [store = context.save_credential](const oauth::Tokens& fresh) {
        return store(CredentialOf(fresh));
      };
    }
    return std::make_shared<oauth::TokenSource>(
        TokensOf(credential),
        [endpoints, client, http_options, clock](const oauth::Tokens& current) {
          http::Client http(http_options);
          return oauth::Refresh(http, endpoints, client, current, *clock);
        },
        std::move(save), clock_);
  }

  GoogleProviderOptions o_;
  SystemClock clock_;
};

class WorkspaceProvider final : public sync::Provider {
 public:
  explicit WorkspaceProvider(WorkspaceProviderOptions o) : o_(std::move(o)) {}
  std::string_view name() const override { return "google-workspace"; }
  std::string_view description() const override {
    return "a Google Workspace mailbox's calendar, through the server's service account";
  }
  sync::CredentialKind credential_kind() const override { return sync::CredentialKind::kNone; }
  bool admin_only() const override { return true; }

  Result<std::vector<sync::CalendarChoice>> Discover(const std::string& location,
                                                     const sync::Credential&,
                                                     const sync::ProviderContext& context) override {
    TANDEM_ASSIGN_OR_RETURN(auto where, Split(location));
    return ListCalendars(*Source(where.first, context), o_.api_base, Http(context), location,
                         where.first + "/");
  }

  Result<std::unique_ptr<sync::CalendarSide>> Open(const std::string& location,
                                                   const sync::Credential&,
                                                   const sync::ProviderContext& context) override {
    TANDEM_ASSIGN_OR_RETURN(auto where, Split(location));
    return OpenSide(Source(where.first, context), o_.api_base, where.second, Http(context));
  }

 private:
  // "mailbox[/calendar id]" -> (mailbox, calendar id or "primary").
  static Result<std::pair<std::string, std::string>> Split(const std::string& location) {
    const size_t slash = location.find('/');
    std::string mailbox = location.substr(0, slash);
    std::string calendar = slash == std::string::npos ? "primary" : location.substr(slash + 1);
    if (mailbox.find('@') == std::string::npos || mailbox.front() == '@' || mailbox.back() == '@')
      return Status::InvalidArgument(
          "calendar: a mailbox of the Workspace domain (user@domain), optionally /calendar id");
    if (calendar.empty()) calendar = "primary";
    return std::make_pair(std::move(mailbox), std::move(calendar));
  }

  // One token source per mailbox, shared by its runs: a token lasts an hour,
  // and the server job does not ask Google for one per pair and run.
  std::shared_ptr<oauth::TokenSource> Source(const std::string& mailbox,
                                             const sync::ProviderContext& context) {
    std::lock_guard lock(mu_);
    auto& slot = sources_[mailbox];
    if (!slot) {
      auto account = o_.account;
      auto scope = o_.scope;
      auto http_options = Http(context);
      const Clock* clock = &clock_;
      slot = std::make_shared<oauth::TokenSource>(
          oauth::Tokens{},
          [account, scope, mailbox, http_options, clock](const oauth::Tokens&) {
            http::Client http(http_options);
            return oauth::ServiceAccountToken(http, account, scope, mailbox, *clock);
          },
          oauth::TokenSource::Persist{}, clock_, std::chrono::seconds(60), oauth::kRetryRefusedAppGrant);
    }
    return slot;
  }

  WorkspaceProviderOptions o_;
  SystemClock clock_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<oauth::TokenSource>> sources_;
};

}  // namespace

std::unique_ptr<sync::Provider> MakeProvider(GoogleProviderOptions options) {
  return std::make_unique<GoogleProvider>(std::move(options));
}

}  // namespace tandem::providers::google

namespace tandem::providers::google {

Result<oauth::ServiceAccount> ReadServiceAccountKey(const std::string& json_text) {
  json j = json::parse(json_text, nullptr, false);
  if (!j.is_object()) return Status::InvalidArgument("service account key: not a JSON object");
  if (j.contains("type") && j["type"] != "service_account")
    return Status::InvalidArgument("service account key: \"type\" is not \"service_account\"");
  oauth::ServiceAccount a;
  for (auto [key, into] : {std::pair{"client_email", &a.client_email},
                           std::pair{"private_key", &a.private_key_pem},
                           std::pair{"token_uri", &a.token_uri}}) {
    if (!j.contains(key) || !j[key].is_string() || j[key].get<std::string>().empty())
      return Status::InvalidArgument(fmt::format("service account key: \"{}\" is missing", key));
    *into = j[key].get<std::string>();
  }
  if (auto signed_ = oauth::SignJwtRs256("{}", a.private_key_pem); !signed_.ok())
    return Status::InvalidArgument("service account key: \"private_key\" is not a usable RSA key");
  return a;
}

std::unique_ptr<sync::Provider> MakeWorkspaceProvider(WorkspaceProviderOptions options) {
  return std::make_unique<WorkspaceProvider>(std::move(options));
}

}  // namespace tandem::providers::google
