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

// "google-workspace": the calendars of a Google Workspace domain's mailboxes,
// reached by the server job through a service account with domain-wide
// delegation (JWT bearer grant, RS256), nobody signed in (S7, S17). Pairing is
// for admins (the key opens every mailbox of the domain); the pair's location is
// "mailbox" (its primary calendar) or "mailbox/calendar id". No credential is
// stored with the pair: the key stays in the server's configuration.
struct WorkspaceProviderOptions {
  oauth::ServiceAccount account;  // from the key file Google gives (JSON)
  std::string api_base = "https://www.googleapis.com/calendar/v3";
  std::string scope = "https://www.googleapis.com/auth/calendar";
};

// The service account of a Google key file: {"type": "service_account",
// "client_email", "private_key", "token_uri"}. InvalidArgument naming what is
// missing; the key is checked by signing a test assertion.
Result<oauth::ServiceAccount> ReadServiceAccountKey(const std::string& json_text);

std::unique_ptr<sync::Provider> MakeWorkspaceProvider(WorkspaceProviderOptions options);

}  // namespace tandem::providers::google
