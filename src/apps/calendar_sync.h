// CalendarSync: the running calendar synchronization of tandemd. Wires the sync
// engine (SyncService) to the providers of its catalog (sync/provider.h), seals the
// external credentials (S16), and drives the runs in the background (S6, S7, S15):
// a SyncRunner over a SyncSchedule, a cross-process lease per pair, and a watcher
// of the CRM change feed that requests a debounced push when a user's activities
// change.
//
// Thread-safe. Start() registers every stored pair with the schedule.
#pragma once

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/credential_vault.h"
#include "core/ids.h"
#include "http/address_policy.h"
#include "http/client.h"
#include "providers/google/provider.h"
#include "providers/graph/provider.h"
#include "scheduler/pair_lease.h"
#include "scheduler/sync_runner.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sync_state.h"
#include "sync/provider.h"
#include "sync/sync_service.h"

namespace tandem::apps {

struct CalendarSyncOptions {
  store::sqlite::SqliteStore* store = nullptr;  // REQUIRED
  const Clock* clock = nullptr;                 // REQUIRED
  IdGenerator* ids = nullptr;                   // REQUIRED
  Random* random = nullptr;                     // REQUIRED
  const CredentialVault* vault = nullptr;       // REQUIRED
  std::string database_path;                    // REQUIRED: for the lease connection
  scheduler::ScheduleOptions schedule;
  int workers = 2;
  std::string ca_file;  // extra CA bundle for CalDAV servers with a private CA
  // Where a non-admin's calendar may be (checked on every connection, redirects
  // included); an admin's pairs may reach any address.
  http::AddressPolicy user_addresses;
  std::string default_zone = "UTC";  // floating times of users without a zone
  // A run's lease: short, renewed every third of it while the run lasts; a
  // process that dies leaves it for at most this long (a restarted process of
  // the same node takes it at once).
  Duration lease_ttl = std::chrono::seconds(60);
  std::string node_name;  // empty: the host name
  Duration feed_poll = std::chrono::seconds(1);
  // How often the pairs are re-read from the database, so pairs added or removed
  // through another tandemd on the same database are scheduled here too.
  Duration pair_refresh = std::chrono::seconds(5);
  // The Google provider's OAuth client and endpoints ([google] in the config).
  providers::google::GoogleProviderOptions google;
  // Set: the "google-workspace" provider ([google] service_account_key_file).
  std::optional<providers::google::WorkspaceProviderOptions> google_workspace;
  // The Outlook provider ([microsoft]); outlook-app when an application secret is set.
  providers::graph::GraphProviderOptions outlook;
  std::optional<providers::graph::GraphAppOptions> outlook_app;
};

class CalendarSync {
 public:
  static Result<std::unique_ptr<CalendarSync>> Start(const CalendarSyncOptions& options);
  ~CalendarSync();
  void Stop();

  sync::SyncService& service() { return *service_; }
  // The sync state (UIDs and CalDAV names of activities are kept there too).
  store::SyncStateStore& state() { return *state_; }
  scheduler::SyncRunner& runner() { return *runner_; }

  // The calendar kinds this server offers (sync/provider.h).
  const sync::ProviderCatalog& catalog() const { return catalog_; }

  // The sealed form kept in SyncPair::credential_ref (whatever the kind).
  Result<std::string> Seal(const sync::Credential& credential) const;

  // S8: the calendars at `location` a user may pair with, found (and the
  // credentials checked) on a background thread; `done` gets them there.
  using DiscoverDone = std::function<void(Result<std::vector<sync::CalendarChoice>>)>;

  // OAuth providers: the page to open (authorization code + PKCE; the verifier
  // stays here, bound to the user, for 10 minutes), then the code the browser
  // brought back to `redirect_uri` (a loopback address on the user's machine)
  // exchanged on a background thread for a credential, kept sealed-in-memory
  // under a handle for 10 minutes, which a pair (or a discovery) names.
  struct AuthorizationStart {
    std::string url;
    std::string state;
  };
  Result<AuthorizationStart> StartAuthorization(const std::string& provider,
                                                const std::string& user_id,
                                                const std::string& redirect_uri);
  using AuthorizedDone = std::function<void(Result<std::string> handle)>;
  void FinishAuthorization(const std::string& state, const std::string& code,
                           const std::string& user_id, AuthorizedDone done);
  // OAuth providers signed in with a device code (Microsoft): what to show the
  // user, under a state bound to them for as long as the code lives; then polls
  // (the caller keeps the service's interval): a handle like FinishAuthorization's
  // once approved, nullopt while pending.
  struct DeviceStart {
    std::string state, user_code, verification_uri, message;
    int interval_seconds = 5;
    int expires_in_seconds = 900;
  };
  Result<DeviceStart> StartDeviceAuthorization(const std::string& provider, const std::string& user_id);
  // `slow_down`: the service asked to poll less often (5 s more, RFC 8628).
  using DevicePolled = std::function<void(Result<std::optional<std::string>> handle, bool slow_down)>;
  void PollDeviceAuthorization(const std::string& state, const std::string& user_id, DevicePolled done);
  // The credential of a handle (NotFound: unknown, expired, another user's, or
  // another provider's); Take forgets it.
  Result<sync::Credential> PeekAuthorized(const std::string& handle, const std::string& user_id,
                                          const std::string& provider);
  Result<sync::Credential> TakeAuthorized(const std::string& handle, const std::string& user_id,
                                          const std::string& provider);
  // Replaces a pair's credential (sealed).
  Status SetCredential(const std::string& pair_id, const sync::Credential& credential) const;
  void Discover(const std::string& provider, const std::string& location,
                const sync::Credential& credential, const std::string& user_id,
                DiscoverDone done);

  // Adds a pair and schedules it (its first run initializes it, S13). Discovery
  // and the check of the credentials run on a background thread; `done` gets the
  // pair. With `initialize_now` the initialization runs first (its report is the
  // second argument), and no scheduled run races it. `done` runs on a
  // background thread, never inside this call.
  using AddDone = std::function<void(Result<store::SyncPair>, Result<sync::RunReport>)>;
  void AddPair(const sync::NewSyncPair& pair, bool initialize_now, AddDone done);
  Status RemovePair(const std::string& pair_id);

  // Session events from the API (S6).
  void UserLoggedIn(const std::string& user_id, Instant session_expires);
  void UserLoggedOut(const std::string& user_id);

  // One scheduled run: initializes a pair that never was, else syncs it.
  scheduler::PairRunResult RunPair(const std::string& pair_id);

  struct RunRequest {
    bool dry_run = false;  // plan only; runs at once, writes nothing
    bool force = false;    // past the mass-deletion guard
    bool initialize = false;  // S13/S14: (re-)initialize, e.g. after an identity change
  };
  // S15: runs the pair now (after a run in progress here) and gives `done` its
  // report, on a background thread. A pair that another process runs at the
  // moment gives Conflict at once, naming the node and since when.
  using RunDone = std::function<void(Result<sync::RunReport>)>;
  void RunNow(const std::string& pair_id, const RunRequest& request, RunDone done);
  // The blocking form (tests and tools; never on an HTTP worker).
  Result<sync::RunReport> RunNowAndWait(const std::string& pair_id, const RunRequest& request);

  // This process's lease holder id ("<node>/<pid>/<random>").
  const std::string& lease_holder() const { return leases_->holder(); }

 private:
  explicit CalendarSync(const CalendarSyncOptions& options) : o_(options) {}
  // The address policy of `user_id`'s calendars (admins: any address).
  std::function<Status(std::string_view)> AddressCheckFor(const std::string& user_id) const;
  sync::ProviderContext ContextFor(const std::string& user_id) const;
  Result<std::unique_ptr<sync::CalendarSide>> OpenPair(const store::SyncPair& pair) const;
  // The credential sealed in a pair's credential_ref (none when empty); Corruption
  // when the sealed text is not an object of strings.
  Result<sync::Credential> CredentialOf(const std::string& credential_ref) const;
  static Status DiscoveryError(const Status& s, const std::string& location);
  static Result<sync::RunReport> CalendarRefusal(const std::string& pair_id,
                                                 Result<sync::RunReport> report);
  Result<std::vector<sync::CalendarChoice>> DiscoverNow(const std::string& provider,
                                                        const std::string& location,
                                                        const sync::Credential& credential,
                                                        const std::string& user_id);
  Result<store::SyncPair> AddPairNow(const sync::NewSyncPair& pair, bool run_at_once);
  void WatchFeed();
  void RenewLeases();
  void ExpireSessions();
  void RefreshPairs();
  std::set<std::string> known_pairs_;  // touched by the watcher thread and AddPair/RemovePair
  std::mutex known_mu_;

  CalendarSyncOptions o_;
  std::unique_ptr<store::SyncStateStore> state_;
  sync::ProviderCatalog catalog_;
  sync::ProviderRegistry providers_;  // opens pairs for the service, through catalog_
  std::unique_ptr<sync::SyncService> service_;
  std::unique_ptr<store::sqlite::Database> lease_db_;
  std::mutex lease_mu_;
  std::unique_ptr<scheduler::PairLeases> leases_;
  std::unique_ptr<scheduler::SyncRunner> runner_;
  // Discovery and dry runs: network work that no HTTP worker waits for.
  boost::asio::thread_pool background_{2};
  Instant next_renewal_{};

  std::mutex flags_mu_;
  std::set<std::string> force_next_, init_next_;                  // guarded by flags_mu_
  std::map<std::string, Result<sync::RunReport>> last_reports_;  // guarded by flags_mu_

  struct PendingAuthorization {
    std::string user_id, provider, verifier, redirect_uri;
    Instant expires{};
  };
  struct Authorized {
    std::string user_id, provider, sealed;
    Instant expires{};
  };
  struct PendingDevice {
    std::string user_id, provider, sealed_code;
    Instant expires{};
  };
  std::map<std::string, PendingDevice> pending_device_;  // by state; guarded by auth_mu_
  std::mutex auth_mu_;
  std::map<std::string, PendingAuthorization> pending_auth_;  // by state; guarded by auth_mu_
  std::map<std::string, Authorized> authorized_;              // by handle; guarded by auth_mu_

  std::mutex sessions_mu_;
  std::map<std::string, Instant> session_expiry_;  // user -> latest known expiry

  std::atomic<bool> stopping_{false};
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  std::thread watcher_;
};

}  // namespace tandem::apps
