// tandemd: the Tandem server. Composition root: reads the configuration, opens the
// store, bootstraps the first admin, optionally fills demo data, serves the REST
// API until SIGTERM/SIGINT, then stops gracefully (in-flight requests finish, the
// database is closed cleanly). Exit codes: 0 ok, 1 runtime failure, 2 usage/config.
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "api/api.h"
#include "apps/calendar_sync.h"
#include "davserver/dav_server.h"
#include "apps/sync_routes.h"
#include "core/credential_vault.h"
#include "core/data_dir.h"
#include "apps/config.h"
#ifdef TANDEM_WITH_REPLICA
#include "apps/cli/secret_input.h"
#endif
#include "apps/demo_data.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/random.h"
#include "http/address_policy.h"
#include "http/server.h"
#include "ical/ical.h"
#include "store/store.h"
#ifdef TANDEM_WITH_REPLICA
#include "replica/replica_main.h"
#endif

namespace tandem::apps {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

// Creates the first admin when the user table is empty. Prints a generated
// password once, on stderr, when the configuration gives none.
Status BootstrapAdmin(store::Store& store, const DaemonConfig& config, Random& random,
                      const api::PasswordCost& cost) {
  TANDEM_ASSIGN_OR_RETURN(int64_t users, store.CountUsers());
  if (users > 0) return Status::Ok();
  std::string password = config.admin_password;
  bool generated = password.empty();
  if (generated) password = random.Hex(12);
  model::User admin;
  admin.login = config.admin_login;
  admin.display_name = "Administrator";
  admin.role = model::Role::kAdmin;
  TANDEM_ASSIGN_OR_RETURN(admin.password_hash, api::HashPassword(password, cost));
  TANDEM_RETURN_IF_ERROR(store.CreateUser(admin).status());
  if (generated) {
    std::fprintf(stderr,
                 "\n*** First start: created admin user '%s' with the one-time password:\n"
                 "***   %s\n"
                 "*** It is shown only this once. Log in and change it.\n\n",
                 admin.login.c_str(), password.c_str());
    std::fflush(stderr);
  } else {
    spdlog::info("created admin user '{}' from the configuration", admin.login);
  }
  return Status::Ok();
}

// The zone for floating times of users who set none: the configured one, else
// the server's own (TZ, /etc/timezone, the /etc/localtime link), else UTC.
Result<std::string> DefaultZone(const DaemonConfig& config) {
  if (!config.time_zone.empty()) {
    Result<std::string> name = ical::ResolveZoneName(config.time_zone);
    if (!name.ok()) return Status::InvalidArgument("time_zone: " + name.status().message());
    return name;
  }
  std::vector<std::string> candidates;
  if (const char* tz = std::getenv("TZ"); tz != nullptr && *tz != '\0')
    candidates.emplace_back(tz[0] == ':' ? tz + 1 : tz);
  if (std::ifstream f("/etc/timezone"); f) {
    std::string line;
    if (std::getline(f, line)) candidates.push_back(line);
  }
  std::error_code ec;
  std::filesystem::path link = std::filesystem::read_symlink("/etc/localtime", ec);
  if (!ec) {
    std::string target = link.string();
    if (size_t at = target.find("zoneinfo/"); at != std::string::npos)
      candidates.push_back(target.substr(at + 9));
  }
  for (const std::string& c : candidates) {
    Result<std::string> name = ical::ResolveZoneName(c);
    if (name.ok()) return name;
  }
  return std::string("UTC");
}

int Run(const DaemonConfig& config, const sigset_t& signals) {
  // The data folder is the server user's alone: 0700, its files 0600.
  std::vector<std::string> narrowed;
  if (Status s = SecureDataDir(config.data_dir, &narrowed); !s.ok()) {
    spdlog::error("data directory {}: {}", config.data_dir, s.message());
    return kExitRuntime;
  }
  for (const auto& line : narrowed)
    spdlog::warn("data directory {}: narrowed {} (other users could read it)", config.data_dir, line);
  SystemClock clock;
  SecureRandom random;
  IdGenerator ids(clock, random);
  std::string db_path = (std::filesystem::path(config.data_dir) / "tandem.db").string();
  auto zone = DefaultZone(config);
  if (!zone.ok()) {
    spdlog::error("{}", zone.status().ToString());
    return kExitUsage;
  }
  spdlog::info("floating calendar times of users without a time zone are read in {}", *zone);
  auto store = store::OpenSqliteStore(
      {.path = db_path, .clock = &clock, .ids = &ids, .series_end = &ical::SeriesEnd});
  if (!store.ok()) {
    spdlog::error("cannot open database {}: {}", db_path, store.status().ToString());
    return kExitRuntime;
  }
  const api::PasswordCost cost = api::PasswordCost::Interactive();
  if (Status s = BootstrapAdmin(**store, config, random, cost); !s.ok()) {
    spdlog::error("cannot create the admin user: {}", s.ToString());
    return kExitRuntime;
  }
  if (config.demo) {
    auto empty = StoreHasNoRecords(**store);
    if (!empty.ok()) {
      spdlog::error("cannot inspect the database: {}", empty.status().ToString());
      return kExitRuntime;
    }
    if (*empty) {
      auto demo = CreateDemoData(**store, clock, cost);
      if (!demo.ok()) {
        spdlog::error("cannot create demo data: {}", demo.status().ToString());
        return kExitRuntime;
      }
      spdlog::info("created demo data; log in as demo / demo");
    }
  }

  api::ApiOptions api_options;
  api_options.store = store->get();
  api_options.clock = &clock;
  api_options.random = &random;
  api_options.session_lifetime = std::chrono::hours(config.session_hours);
  api_options.tombstone_retention = std::chrono::hours(24 * config.tombstone_days);
  api_options.password_cost = cost;
  api::RestApi rest(api_options);
  http::Router router;
  rest.Register(&router);

  // Calendar sync (S6, S7, S15, S16): external credentials sealed under a server
  // key kept beside the database (0600) or given in TANDEM_SECRET_KEY.
  const char* env_key = std::getenv("TANDEM_SECRET_KEY");
  std::string key_file = config.secret_key_file.empty()
                             ? (std::filesystem::path(config.data_dir) / "secret.key").string()
                             : config.secret_key_file;
  auto vault = CredentialVault::Open({.key_file = key_file, .key_from_env = env_key ? env_key : ""},
                                     random);
  if (!vault.ok()) {
    spdlog::error("calendar credentials: {}", vault.status().ToString());
    return kExitRuntime;
  }
  auto* sqlite_store = dynamic_cast<store::sqlite::SqliteStore*>(store->get());
  CalendarSyncOptions sync_options;
  sync_options.store = sqlite_store;
  sync_options.clock = &clock;
  sync_options.ids = &ids;
  sync_options.random = &random;
  sync_options.vault = &*vault;
  sync_options.database_path = db_path;
  sync_options.workers = config.sync_workers;
  sync_options.ca_file = config.sync_ca_file;
  {
    std::vector<std::string> classes = config.sync_calendar_addresses;
    if (config.demo) classes.push_back("loopback");  // the demo pairs with calendars on this machine
    auto policy = http::ParseAddressPolicy(classes);
    if (!policy.ok()) {
      spdlog::error("[sync] {}", policy.status().message());
      return kExitRuntime;
    }
    sync_options.user_addresses = *policy;
    spdlog::info("calendar sync: users' calendars may be at {} addresses (admins': any)",
                 policy->Describe());
  }
  sync_options.default_zone = *zone;
  sync_options.google.client = {config.google_client_id, config.google_client_secret};
  sync_options.google.endpoints.authorization = config.google_auth_url;
  sync_options.google.endpoints.token = config.google_token_url;
  sync_options.google.api_base = config.google_api_base;
  if (!config.google_service_account_key_file.empty()) {
    std::ifstream in(config.google_service_account_key_file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto account = in ? providers::google::ReadServiceAccountKey(text)
                      : Result<oauth::ServiceAccount>(Status::NotFound("cannot be read"));
    if (!account.ok()) {
      // The message names the field, never the key's text.
      spdlog::error("[google] service_account_key_file {}: {}", config.google_service_account_key_file,
                    account.status().message());
      return kExitUsage;
    }
    providers::google::WorkspaceProviderOptions w;
    w.account = std::move(*account);
    w.api_base = config.google_api_base;
    spdlog::info("Google Workspace: mailboxes reachable through service account {}", w.account.client_email);
    sync_options.google_workspace = std::move(w);
  }
  sync_options.outlook.client_id = config.microsoft_client_id;
  sync_options.outlook.tenant = config.microsoft_tenant;
  sync_options.outlook.login_base = config.microsoft_login_base;
  sync_options.outlook.api_base = config.microsoft_api_base;
  if (!config.microsoft_app_client_id.empty()) {
    std::ifstream in(config.microsoft_app_secret_file);
    std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r' || secret.back() == ' '))
      secret.pop_back();
    if (config.microsoft_app_secret_file.empty() || !in || secret.empty() ||
        config.microsoft_app_tenant.empty()) {
      spdlog::error("[microsoft] app_client_id needs app_tenant and app_secret_file (a readable file "
                    "holding the application's secret)");
      return kExitUsage;
    }
    providers::graph::GraphAppOptions app;
    app.login_base = config.microsoft_login_base;
    app.tenant = config.microsoft_app_tenant;
    app.client = {config.microsoft_app_client_id, secret};
    app.api_base = config.microsoft_api_base;
    spdlog::info("Outlook: mailboxes of tenant {} reachable through application {}", app.tenant,
                 app.client.id);
    sync_options.outlook_app = std::move(app);
  }
  sync_options.node_name = config.sync_node_name;
  sync_options.lease_ttl = std::chrono::seconds(config.sync_lease_seconds);
  sync_options.schedule.server_job = config.sync_server_job;
  sync_options.schedule.user_interval = std::chrono::minutes(config.sync_interval_minutes);
  sync_options.schedule.server_interval = std::chrono::minutes(config.sync_interval_minutes);
  auto calendar_sync = CalendarSync::Start(sync_options);
  if (!calendar_sync.ok()) {
    spdlog::error("cannot start the calendar sync: {}", calendar_sync.status().ToString());
    return kExitRuntime;
  }
  RegisterSyncRoutes(&router, &rest.authenticator(), calendar_sync->get(), &clock);
  // CalDAV for the users' own calendar programs (C11), beside the REST API.
  davserver::DavServer dav({.store = store->get(),
                            .state = &(*calendar_sync)->state(),
                            .authenticator = &rest.authenticator(),
                            .ids = &ids,
                            .clock = &clock,
                            .default_zone = *zone});
  dav.Register(&router);
  CalendarSync* sync_ptr = calendar_sync->get();
  rest.authenticator().SetSessionHooks(
      {.logged_in = [sync_ptr](const model::User& u,
                               Instant expires) { sync_ptr->UserLoggedIn(u.id, expires); },
       .logged_out = [sync_ptr](const std::string& id) { sync_ptr->UserLoggedOut(id); }});

  auto listen = ParseListen(config.listen);  // validated before
  http::ServerOptions server_options;
  server_options.address = listen->address;
  server_options.port = listen->port;
  server_options.threads = config.threads;
  server_options.body_limit = static_cast<size_t>(config.body_limit_bytes);
  api::RestApi::ConfigureServer(&server_options);
  auto server = http::Server::Start(server_options, std::move(router));
  if (!server.ok()) {
    spdlog::error("{}", server.status().ToString());
    return kExitRuntime;
  }
  spdlog::info("tandemd {} listening on {}:{} (data in {})", TANDEM_VERSION, listen->address,
               (*server)->port(), config.data_dir);

  // The main thread waits for a signal and runs housekeeping every minute.
  if (Status s = rest.Maintain(); !s.ok()) spdlog::warn("housekeeping: {}", s.ToString());
  for (;;) {
    timespec timeout{60, 0};
    int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("received {}, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      break;
    }
    if (Status s = rest.Maintain(); !s.ok()) spdlog::warn("housekeeping: {}", s.ToString());
  }
  (*server)->Stop(std::chrono::seconds(10));  // no new requests
  // Runs in progress finish, none start; callers waiting for a run get its
  // result or "shutting down", so the server's last answers can go out.
  (*calendar_sync)->Stop();
  (*server)->Wait();
  spdlog::info("stopped");
  return kExitOk;
}

int Main(int argc, char** argv) {
  CLI::App app{"tandemd: the Tandem CRM server", "tandemd"};
  std::string config_file;
  std::string listen, data_dir, log_level;
  int threads = -1;
  bool demo = false;
  app.add_option("--config", config_file, "TOML configuration file")->check(CLI::ExistingFile);
  app.add_option("--listen", listen, "ADDR:PORT to listen on (default 127.0.0.1:8480)");
  app.add_option("--data-dir", data_dir, "directory of the database (tandem.db)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical, off");
  app.add_option("--threads", threads, "HTTP worker threads (0 = one per core)")
      ->check(CLI::Range(0, 256));
  app.add_flag("--demo", demo, "create a demo user (demo/demo) and demo data in an empty database");
#ifdef TANDEM_WITH_REPLICA
  std::string replica_of, replica_login, replica_password_file;
  app.add_option("--replica-of", replica_of,
                 "run as the offline client of this server URL (local API, default port 8481)");
  app.add_option("--login", replica_login, "with --replica-of: login on the server (first start)");
  app.add_option("--password-file", replica_password_file,
                 "with --replica-of: read the server password from this file (first start); "
                 "else TANDEM_PASSWORD, a no-echo prompt, or stdin (never an argument)");
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }

  DaemonConfig config;
#ifdef TANDEM_WITH_REPLICA
  if (!replica_of.empty() && listen.empty()) config.listen = "127.0.0.1:8481";
#endif
  if (!config_file.empty()) {
    if (Status s = LoadConfigFile(config_file, &config); !s.ok()) {
      std::cerr << "tandemd: " << s.message() << "\n";
      return kExitUsage;
    }
  }
  if (!listen.empty()) config.listen = listen;
  if (!data_dir.empty()) config.data_dir = data_dir;
  if (!log_level.empty()) config.log_level = log_level;
  if (threads >= 0) config.threads = threads;
  if (demo) config.demo = true;
  if (Status s = Validate(config); !s.ok()) {
    std::cerr << "tandemd: " << s.message() << "\n";
    return kExitUsage;
  }
  auto level = spdlog::level::from_str(config.log_level);
  if (level == spdlog::level::off && config.log_level != "off") {
    std::cerr << "tandemd: log_level: unknown level '" << config.log_level << "'\n";
    return kExitUsage;
  }
  spdlog::set_level(level);

  // Block the stop signals before any thread starts, so only sigtimedwait sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Files tandemd creates (databases, their -wal/-shm, keys) are its own user's only.
  umask(0077);
  // glibc gives every thread its own heap arena; with short-lived large response
  // buffers that multiplies resident memory. Two arenas are plenty for our workers.
  mallopt(M_ARENA_MAX, 2);
#ifdef TANDEM_WITH_REPLICA
  if (!replica_of.empty()) {
    replica::ReplicaOptions r;
    r.server_url = replica_of;
    r.data_dir = config.data_dir;
    r.login = replica_login;
    if (!replica_password_file.empty()) {
      auto password = cli::ReadSecretFile(replica_password_file);
      if (!password.ok()) {
        std::cerr << "tandemd: --password-file: " << password.status().message() << "\n";
        return kExitUsage;
      }
      r.password = *password;
    } else if (const char* env = std::getenv("TANDEM_PASSWORD"); env != nullptr && *env != '\0') {
      r.password = env;
    } else if (!replica_login.empty()) {
      // A first start with a login and no password yet: ask for it.
      auto password = isatty(STDIN_FILENO)
                          ? cli::PromptSecretOnTerminal("Password of " + replica_login + " at " +
                                                        replica_of + ": ")
                          : cli::ReadSecretLine(std::cin);
      if (!password.ok()) {
        std::cerr << "tandemd: the password of " << replica_login << ": "
                  << password.status().message()
                  << " (give it with --password-file, TANDEM_PASSWORD, the prompt or stdin)\n";
        return kExitUsage;
      }
      r.password = *password;
    }
    auto listen_address = ParseListen(config.listen);  // validated above
    r.listen_address = listen_address->address;
    r.port = listen_address->port;
    if (config.threads > 0) r.threads = config.threads;
    return replica::RunReplica(r, signals);
  }
#endif
  return Run(config, signals);
}

}  // namespace
}  // namespace tandem::apps

int main(int argc, char** argv) { return tandem::apps::Main(argc, argv); }
