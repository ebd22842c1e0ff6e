#include "providers/caldav/provider.h"

#include "http/client.h"
#include "providers/caldav/caldav_calendar.h"
#include "providers/caldav/discovery.h"

namespace tandem::providers::caldav {
namespace {

http::ClientOptions ClientFor(const sync::Credential& credential,
                              const sync::ProviderContext& context) {
  http::ClientOptions o;
  o.ca_file = context.ca_file;
  o.check_address = context.check_address;
  auto user = credential.find("user");
  auto password = credential.find("password");
  if (user != credential.end() || password != credential.end()) {
    o.auth = http::Auth::Basic(user != credential.end() ? user->second : "",
                               password != credential.end() ? password->second : "");
  }
  return o;
}

class CalDavProvider final : public sync::Provider {
 public:
  std::string_view name() const override { return "caldav"; }
  std::string_view description() const override {
    return "a calendar on a CalDAV server (Nextcloud, Radicale, iCloud, Fastmail, ...)";
  }
  sync::CredentialKind credential_kind() const override { return sync::CredentialKind::kPassword; }

  Result<std::vector<sync::CalendarChoice>> Discover(const std::string& location,
                                                     const sync::Credential& credential,
                                                     const sync::ProviderContext& context) override {
    http::Client client(ClientFor(credential, context));
    TANDEM_ASSIGN_OR_RETURN(DiscoveryResult found, caldav::Discover(client, location));
    std::vector<sync::CalendarChoice> out;
    for (const CalendarInfo& c : found.calendars) {
      sync::CalendarChoice choice{c.url, c.display_name, c.SupportsComponent("VEVENT")};
      // The calendar the location names comes first.
      if (c.url == location || c.url == location + "/") {
        out.insert(out.begin(), std::move(choice));
      } else {
        out.push_back(std::move(choice));
      }
    }
    return out;
  }

  Result<std::unique_ptr<sync::CalendarSide>> Open(const std::string& location,
                                                   const sync::Credential& credential,
                                                   const sync::ProviderContext& context) override {
    CalDavCalendarOptions co;
    co.calendar_url = location;
    co.http = ClientFor(credential, context);
    TANDEM_ASSIGN_OR_RETURN(auto cal, CalDavCalendar::Open(std::move(co)));
    return std::unique_ptr<sync::CalendarSide>(std::move(cal));
  }
};

}  // namespace

std::unique_ptr<sync::Provider> MakeProvider() { return std::make_unique<CalDavProvider>(); }

}  // namespace tandem::providers::caldav
