// The Microsoft Graph providers for the catalog (sync/provider.h):
//   "outlook"      a user's own Outlook / Exchange calendar, or one another
//                  mailbox shared with them (S8), signed in with a device code
//                  (RFC 8628; refresh tokens sealed like passwords);
//   "outlook-app"  any mailbox of the tenant through an app registration's
//                  client credentials, for the server job with nobody signed
//                  in (S7, S17); admins only.
// A pair's location: "calendar id" (the signed-in user's), "mailbox" (its
// default calendar) or "mailbox/calendar id". Every endpoint, the client ids
// and the app's secret come from tandemd's [microsoft] configuration, so tests
// point them at a local fake.
#pragma once

#include <memory>
#include <string>

#include "oauth/oauth.h"
#include "sync/provider.h"

namespace tandem::providers::graph {

struct GraphProviderOptions {
  std::string login_base = "https://login.microsoftonline.com";
  std::string tenant = "common";
  std::string client_id;  // a public client (device code) of an app registration
  std::string api_base = "https://graph.microsoft.com/v1.0";
  std::string scope = "offline_access Calendars.ReadWrite Calendars.ReadWrite.Shared";
};

struct GraphAppOptions {
  std::string login_base = "https://login.microsoftonline.com";
  std::string tenant;  // the directory (tenant) id
  oauth::ClientId client;  // the app registration's id and secret
  std::string api_base = "https://graph.microsoft.com/v1.0";
  std::string scope = "https://graph.microsoft.com/.default";
};

std::unique_ptr<sync::Provider> MakeProvider(GraphProviderOptions options);
std::unique_ptr<sync::Provider> MakeAppProvider(GraphAppOptions options);

}  // namespace tandem::providers::graph
