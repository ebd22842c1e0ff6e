#include "providers/google/provider.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "providers/google/google_calendar.h"

namespace tandem::providers::google {
namespace {

using nlohmann::json;

oauth::Tokens TokensOf(const sync::Credential& c) {
  auto get = [&c](const char* k) {
    auto it = c.find(k);
    return it == c.end() ? std::string() : it->second;
  };
  oauth::Tokens t;
  t.access_token = get("access_token");
  t.refresh_token = get("refresh_token");
  t.scope = get("scope");
  t.expires_at = FromUnixSeconds(std::atoll(get("expires_at").c_str()));
  return t;
}

sync::Credential CredentialOf(const oauth::Tokens& t) {
  return {{"access_token", t.access_token},
          {"refresh_token", t.refresh_token},
          {"scope", t.scope},
          {"expires_at", std::to_string(ToUnixSeconds(t.expires_at))}};
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
    http::Client http(Http(context));
    std::vector<sync::CalendarChoice> out;
    std::string page;
    for (int guard = 0; guard < 100; ++guard) {
      TANDEM_ASSIGN_OR_RETURN(std::string token, source->AccessToken());
      http::Request req;
      req.url = o_.api_base + "/users/me/calendarList?maxResults=250" +
                (page.empty() ? "" : "&pageToken=" + oauth::PercentEncode(page));
      req.headers.Set("Authorization", "Bearer " + token);
      TANDEM_ASSIGN_OR_RETURN(http::Response r, http.Send(req));
      if (r.status == 401) return Status::Unauthenticated("Google refused the authorization");
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
        sync::CalendarChoice choice{id, shown, true};
        if (id == location || (primary && (location.empty() || location == "primary"))) {
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

  Result<std::unique_ptr<sync::CalendarSide>> Open(const std::string& location,
                                                   const sync::Credential& credential,
                                                   const sync::ProviderContext& context) override {
    std::shared_ptr<oauth::TokenSource> source = Source(credential, context, /*persist=*/true);
    GoogleCalendarOptions go;
    go.api_base = o_.api_base;
    go.calendar_id = location.empty() ? "primary" : location;
    go.http = Http(context);
    go.access_token = [source] { return source->AccessToken(); };
    go.token_rejected = [source](const std::string& t) { source->Invalidate(t); };
    return std::unique_ptr<sync::CalendarSide>(new GoogleCalendar(std::move(go)));
  }

 private:
  http::ClientOptions Http(const sync::ProviderContext& context) const {
    http::ClientOptions h;
    h.ca_file = context.ca_file;  // the endpoints are the administrator's, not the user's
    return h;
  }

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

}  // namespace

std::unique_ptr<sync::Provider> MakeProvider(GoogleProviderOptions options) {
  return std::make_unique<GoogleProvider>(std::move(options));
}

}  // namespace tandem::providers::google
