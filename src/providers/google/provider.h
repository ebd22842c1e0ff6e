// The Google Calendar provider for the catalog (sync/provider.h): a user's
// Google calendar, reached with OAuth 2.0 (authorization code + PKCE, a loopback
// redirect; refresh tokens sealed like passwords). Every endpoint and the client
// id/secret come from tandemd's [google] configuration, so tests point them at a
// local fake.
#pragma once

#include <memory>
#include <string>

#include "oauth/oauth.h"
#include "sync/provider.h"

namespace tandem::providers::google {

struct GoogleProviderOptions {
  oauth::Endpoints endpoints{"https://accounts.google.com/o/oauth2/v2/auth",
                             "https://oauth2.googleapis.com/token", ""};
  oauth::ClientId client;  // from the Google Cloud console (a desktop app client)
  std::string api_base = "https://www.googleapis.com/calendar/v3";
  std::string scope = "https://www.googleapis.com/auth/calendar";
};

std::unique_ptr<sync::Provider> MakeProvider(GoogleProviderOptions options);

}  // namespace tandem::providers::google
