#include "providers/graph/provider.h"

#include <fmt/format.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "providers/graph/graph_calendar.h"

namespace tandem::providers::graph {
namespace {

using nlohmann::json;

http::ClientOptions Http(const sync::ProviderContext& context) {
  http::ClientOptions h;
  h.ca_file = context.ca_file;  // the endpoints are the administrator's, not the user's
  return h;
}

// "mailbox/calendar id", "mailbox" or "calendar id" -> (mailbox, calendar id).
std::pair<std::string, std::string> Split(const std::string& location) {
  const size_t slash = location.find('/');
  const std::string head = location.substr(0, slash);
  if (head.find('@') != std::string::npos)
    return {head, slash == std::string::npos ? "" : location.substr(slash + 1)};
  return {"", location == "primary" ? "" : location};
}

// The calendars of a mailbox the token may write to, the default (or the one
// `location` names) first.
Result<std::vector<sync::CalendarChoice>> ListCalendars(oauth::TokenSource& source,
                                                        const std::string& api_base,
                                                        const http::ClientOptions& options,
                                                        const std::string& location) {
  auto [mailbox, wanted] = Split(location);
  const std::string root = mailbox.empty() ? "/me" : "/users/" + oauth::PercentEncode(mailbox);
  const std::string prefix = mailbox.empty() ? "" : mailbox + "/";
  http::Client http(options);
  std::vector<sync::CalendarChoice> out;
  std::string next = api_base + root + "/calendars?$top=100";
  for (int guard = 0; !next.empty() && guard < 100; ++guard) {
    http::Request req;
    req.url = next;
    req.headers.Set("Accept", "application/json");
    TANDEM_ASSIGN_OR_RETURN(http::Response r, oauth::SendWithBearer(http, std::move(req), oauth::BearerFrom(source)));
    if (r.status == 401) return Status::Unauthenticated("Microsoft refused the authorization");
    if (r.status == 403 || r.status == 404)
      return Status::PermissionDenied(
          mailbox.empty() ? std::string("Microsoft Graph refused access to the calendars")
                          : "Microsoft Graph refused access to the calendars of " + mailbox +
                                " (is the mailbox shared with you, or the application allowed?)");
    if (r.status != 200)
      return Status::Unavailable(fmt::format("Microsoft Graph answered {} to the calendar list", r.status));
    json j = json::parse(r.body, nullptr, false);
    if (!j.is_object()) return Status::Corruption("Microsoft Graph: the calendar list is not JSON");
    for (const auto& c : j.value("value", json::array())) {
      if (!c.is_object() || !c.contains("id") || !c["id"].is_string()) continue;
      if (!c.value("canEdit", true)) continue;  // Tandem writes to the calendar
      const std::string id = c["id"].get<std::string>();
      sync::CalendarChoice choice{prefix + id, c.value("name", id), true};
      if (id == wanted || (wanted.empty() && c.value("isDefaultCalendar", false))) {
        out.insert(out.begin(), choice);
      } else {
        out.push_back(choice);
      }
    }
    next = j.value("@odata.nextLink", "");
  }
  return out;
}

std::unique_ptr<sync::CalendarSide> OpenSide(std::shared_ptr<oauth::TokenSource> source,
                                             const std::string& api_base, const std::string& location,
                                             http::ClientOptions options) {
  auto [mailbox, calendar] = Split(location);
  GraphCalendarOptions go;
  go.api_base = api_base;
  go.mailbox = mailbox;
  go.calendar_id = calendar;
  go.http = std::move(options);
  go.access_token = [source] { return source->AccessToken(); };
  go.token_rejected = [source](const std::string& t) { source->Invalidate(t); };
  return std::unique_ptr<sync::CalendarSide>(new GraphCalendar(std::move(go)));
}

class OutlookProvider final : public sync::Provider {
 public:
  explicit OutlookProvider(GraphProviderOptions o) : o_(std::move(o)) {
    const std::string base = o_.login_base + "/" + o_.tenant + "/oauth2/v2.0";
    endpoints_ = {base + "/authorize", base + "/token", base + "/devicecode"};
  }
  std::string_view name() const override { return "outlook"; }
  std::string_view description() const override {
    return "an Outlook or Exchange calendar (Microsoft 365, Outlook.com), yours or one shared with you";
  }
  sync::CredentialKind credential_kind() const override { return sync::CredentialKind::kOAuth; }
  bool uses_device_code() const override { return true; }

  Result<sync::DeviceCode> StartDeviceAuthorization(const sync::ProviderContext& context) override {
    if (o_.client_id.empty())
      return Status::InvalidArgument(
          "provider: Outlook is not set up on this server ([microsoft] client_id in tandemd's config)");
    http::Client http(Http(context));
    TANDEM_ASSIGN_OR_RETURN(oauth::DeviceAuthorization d,
                            oauth::StartDeviceAuthorization(http, endpoints_, {o_.client_id, ""},
                                                            o_.scope, clock_));
    return sync::DeviceCode{d.device_code, d.user_code, d.verification_uri,
                            fmt::format("To let Tandem reach your calendar, open {} and enter the code {}",
                                        d.verification_uri, d.user_code),
                            d.interval, d.expires_at};
  }

  Result<std::optional<sync::Credential>> PollDeviceAuthorization(const std::string& device_code,
                                                                  const sync::ProviderContext& context,
                                                                  bool* slow_down) override {
    http::Client http(Http(context));
    TANDEM_ASSIGN_OR_RETURN(std::optional<oauth::Tokens> t,
                            oauth::PollDeviceOnce(http, endpoints_, {o_.client_id, ""}, device_code,
                                                  clock_, slow_down));
    if (!t) return std::optional<sync::Credential>();
    if (t->refresh_token.empty())
      return Status::InvalidArgument(
          "authorization: Microsoft gave no refresh token (the offline_access scope was refused)");
    return std::optional<sync::Credential>(oauth::TokensToMap(*t));
  }

  Result<std::vector<sync::CalendarChoice>> Discover(const std::string& location,
                                                     const sync::Credential& credential,
                                                     const sync::ProviderContext& context) override {
    auto source = Source(credential, context, /*persist=*/false);
    return ListCalendars(*source, o_.api_base, Http(context), location);
  }

  Result<std::unique_ptr<sync::CalendarSide>> Open(const std::string& location,
                                                   const sync::Credential& credential,
                                                   const sync::ProviderContext& context) override {
    return OpenSide(Source(credential, context, /*persist=*/true), o_.api_base, location, Http(context));
  }

 private:
  std::shared_ptr<oauth::TokenSource> Source(const sync::Credential& credential,
                                             const sync::ProviderContext& context, bool persist) {
    auto endpoints = endpoints_;
    oauth::ClientId client{o_.client_id, ""};
    auto http_options = Http(context);
    const Clock* clock = &clock_;
    oauth::TokenSource::Persist save;
    if (persist && context.save_credential) {
      // Microsoft rotates refresh tokens: each one is stored at once.
      save = [store = context.save_credential](const oauth::Tokens& fresh) {
        return store(oauth::TokensToMap(fresh));
      };
    }
    return std::make_shared<oauth::TokenSource>(
        oauth::TokensFromMap(credential),
        [endpoints, client, http_options, clock](const oauth::Tokens& current) {
          http::Client http(http_options);
          return oauth::Refresh(http, endpoints, client, current, *clock);
        },
        std::move(save), clock_);
  }

  GraphProviderOptions o_;
  oauth::Endpoints endpoints_;
  SystemClock clock_;
};

class AppProvider final : public sync::Provider {
 public:
  explicit AppProvider(GraphAppOptions o) : o_(std::move(o)) {
    endpoints_.token = o_.login_base + "/" + o_.tenant + "/oauth2/v2.0/token";
  }
  std::string_view name() const override { return "outlook-app"; }
  std::string_view description() const override {
    return "a mailbox's Outlook calendar, through the server's Microsoft application access";
  }
  sync::CredentialKind credential_kind() const override { return sync::CredentialKind::kNone; }
  bool admin_only() const override { return true; }

  Result<std::vector<sync::CalendarChoice>> Discover(const std::string& location,
                                                     const sync::Credential&,
                                                     const sync::ProviderContext& context) override {
    TANDEM_RETURN_IF_ERROR(CheckMailbox(location));
    return ListCalendars(*Source(context), o_.api_base, Http(context), location);
  }

  Result<std::unique_ptr<sync::CalendarSide>> Open(const std::string& location,
                                                   const sync::Credential&,
                                                   const sync::ProviderContext& context) override {
    TANDEM_RETURN_IF_ERROR(CheckMailbox(location));
    return OpenSide(Source(context), o_.api_base, location, Http(context));
  }

 private:
  static Status CheckMailbox(const std::string& location) {
    if (Split(location).first.empty())
      return Status::InvalidArgument("calendar: a mailbox (user@domain), optionally /calendar id");
    return Status::Ok();
  }

  // One application token for every mailbox and run (it lasts an hour).
  std::shared_ptr<oauth::TokenSource> Source(const sync::ProviderContext& context) {
    std::lock_guard lock(mu_);
    if (!source_) {
      auto endpoints = endpoints_;
      auto client = o_.client;
      auto scope = o_.scope;
      auto http_options = Http(context);
      const Clock* clock = &clock_;
      source_ = std::make_shared<oauth::TokenSource>(
          oauth::Tokens{},
          [endpoints, client, scope, http_options, clock](const oauth::Tokens&) {
            http::Client http(http_options);
            return oauth::ClientCredentialsToken(http, endpoints, client, scope, *clock);
          },
          oauth::TokenSource::Persist{}, clock_, std::chrono::seconds(60), oauth::kRetryRefusedAppGrant);
    }
    return source_;
  }

  GraphAppOptions o_;
  oauth::Endpoints endpoints_;
  SystemClock clock_;
  std::mutex mu_;
  std::shared_ptr<oauth::TokenSource> source_;
};

}  // namespace

std::unique_ptr<sync::Provider> MakeProvider(GraphProviderOptions options) {
  return std::make_unique<OutlookProvider>(std::move(options));
}

std::unique_ptr<sync::Provider> MakeAppProvider(GraphAppOptions options) {
  return std::make_unique<AppProvider>(std::move(options));
}

}  // namespace tandem::providers::graph
