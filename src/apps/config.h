// tandemd's configuration: defaults, overlaid by the TOML file (--config), overlaid
// by command-line flags. Pure data plus parsing; no I/O beyond reading the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>
#include <string_view>

#include "core/status.h"

namespace tandem::apps {

struct DaemonConfig {
  std::string listen = "127.0.0.1:8480";  // ADDR:PORT
  std::string data_dir = ".";             // tandem.db lives here
  std::string log_level = "info";         // trace, debug, info, warn, error, critical, off
  int threads = 0;                        // HTTP workers; 0 = one per core
  int session_hours = 12;                 // [auth] session_hours
  int tombstone_days = 30;                // [feed] tombstone_days
  std::string admin_login = "admin";      // [admin] login
  std::string admin_password;             // [admin] password; empty = generate once
  int64_t body_limit_bytes = 1 << 20;     // [http] body_limit_bytes
  bool demo = false;                      // --demo / demo = true
  // time_zone: the zone in which floating calendar times (no zone given) of users
  // without their own time_zone are read; empty = the server's zone (TZ,
  // /etc/timezone, /etc/localtime), else UTC.
  std::string time_zone;
  // [sync]: the calendar sync (S6, S7).
  bool sync_server_job = false;           // [sync] server_job: run every pair on a schedule (S7)
  int sync_interval_minutes = 10;         // [sync] interval_minutes (per-user and server job)
  int sync_workers = 2;                   // [sync] workers: runs at once
  std::string sync_ca_file;               // [sync] ca_file: extra CA bundle for CalDAV servers
  // [sync] calendar_addresses: the address classes a non-admin's calendar may be
  // at (public, private, loopback, link-local, all); --demo adds loopback.
  std::vector<std::string> sync_calendar_addresses = {"public", "private"};
  std::string secret_key_file;            // [sync] secret_key_file (default <data_dir>/secret.key)
  // [sync] node_name: this node's name in pair leases ("running on node ...");
  // empty = the host name. Processes of one node recognize each other's dead
  // leases (a restarted tandemd takes its pairs back at once).
  std::string sync_node_name;
  int sync_lease_seconds = 60;            // [sync] lease_seconds: a run's lease, renewed while it lasts
  // [google]: the Google Calendar provider's OAuth client (a "desktop app" client
  // of the Google Cloud console) and, for tests, its endpoints.
  std::string google_client_id;                                                   // [google] client_id
  std::string google_client_secret;                                               // [google] client_secret
  std::string google_auth_url = "https://accounts.google.com/o/oauth2/v2/auth";   // [google] auth_url
  std::string google_token_url = "https://oauth2.googleapis.com/token";           // [google] token_url
  std::string google_api_base = "https://www.googleapis.com/calendar/v3";         // [google] api_base
  // A Workspace service account's JSON key with domain-wide delegation: offers the
  // "google-workspace" provider (admins pair any mailbox of the domain; the server
  // job syncs it with nobody signed in). Empty: not offered.
  std::string google_service_account_key_file;  // [google] service_account_key_file
  // [microsoft]: the Outlook provider. client_id: a public client (device code
  // sign-in) of an app registration; tenant: "common", "organizations" or the
  // directory id. app_client_id / app_secret_file / app_tenant: application
  // access (client credentials) for the server job ("outlook-app"); the secret
  // is read from a file, never from the command line.
  std::string microsoft_client_id;                                        // [microsoft] client_id
  std::string microsoft_tenant = "common";                                // [microsoft] tenant
  std::string microsoft_login_base = "https://login.microsoftonline.com";  // [microsoft] login_base
  std::string microsoft_api_base = "https://graph.microsoft.com/v1.0";    // [microsoft] api_base
  std::string microsoft_app_client_id;                                    // [microsoft] app_client_id
  std::string microsoft_app_secret_file;                                  // [microsoft] app_secret_file
  std::string microsoft_app_tenant;                                       // [microsoft] app_tenant
};

// Reads a TOML file onto `*config` (only the keys present). Keys: listen, data_dir,
// log_level, threads, demo, time_zone, [auth] session_hours, [feed] tombstone_days, [admin]
// login / password, [http] body_limit_bytes, [sync] server_job / interval_minutes /
// workers / ca_file / secret_key_file / node_name / lease_seconds, [google] client_id /
// client_secret / auth_url / token_url / api_base / service_account_key_file, [microsoft] client_id / tenant / login_base /
// api_base / app_client_id / app_secret_file / app_tenant. InvalidArgument naming the key (or
// the parse error with its line) when the file is unreadable or wrong.
Status LoadConfigFile(const std::string& path, DaemonConfig* config);

struct ListenAddress {
  std::string address;
  uint16_t port = 0;
};
// "127.0.0.1:8480", "[::1]:8480", "0.0.0.0:0". InvalidArgument when malformed.
Result<ListenAddress> ParseListen(std::string_view text);

// InvalidArgument for values out of range (threads < 0, session_hours < 1, ...).
Status Validate(const DaemonConfig& config);

}  // namespace tandem::apps
