#include "apps/calendar_sync.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <future>
#include <map>
#include <set>

#include "http/client.h"
#include "oauth/oauth.h"
#include "providers/caldav/provider.h"
#include "providers/vdir/provider.h"
#include "store/sqlite/sync_state_sqlite.h"

namespace tandem::apps {

using nlohmann::json;

Result<std::unique_ptr<CalendarSync>> CalendarSync::Start(const CalendarSyncOptions& o) {
  if (!o.store || !o.clock || !o.ids || !o.random || !o.vault || o.database_path.empty())
    return Status::InvalidArgument("CalendarSync: a required option is missing");
  std::unique_ptr<CalendarSync> cs(new CalendarSync(o));
  TANDEM_ASSIGN_OR_RETURN(cs->state_, store::sqlite::OpenSqliteSyncState(
                                          {.pool = &o.store->pool(), .clock = o.clock, .ids = o.ids}));
  // The calendar kinds this server offers: one registration each.
  cs->catalog_.Add(providers::caldav::MakeProvider());
  cs->catalog_.Add(providers::vdir::MakeProvider());
  cs->catalog_.Add(providers::google::MakeProvider(o.google));
  cs->catalog_.Add(providers::graph::MakeProvider(o.outlook));
  if (o.outlook_app) cs->catalog_.Add(providers::graph::MakeAppProvider(*o.outlook_app));
  if (o.google_workspace) cs->catalog_.Add(providers::google::MakeWorkspaceProvider(*o.google_workspace));
  CalendarSync* self = cs.get();
  for (const sync::Provider* p : cs->catalog_.All()) {
    cs->providers_.Register(std::string(p->name()), [self](const store::SyncPair& pair) {
      return self->OpenPair(pair);
    });
  }
  cs->service_ = std::make_unique<sync::SyncService>(sync::SyncServiceOptions{
      .store = o.store, .state = cs->state_.get(), .providers = &cs->providers_,
      .clock = o.clock, .ids = o.ids, .default_zone = o.default_zone});

  TANDEM_ASSIGN_OR_RETURN(cs->lease_db_, store::sqlite::Database::Open({.path = o.database_path}));
  TANDEM_RETURN_IF_ERROR(scheduler::PairLeases::Migrate(*cs->lease_db_));
  std::string node = o.node_name;
  if (node.empty()) {
    char host[256] = {};
    node = gethostname(host, sizeof host - 1) == 0 && host[0] ? host : "localhost";
  }
  cs->leases_ = std::make_unique<scheduler::PairLeases>(
      *cs->lease_db_, scheduler::PairLeases::MakeHolder(node, static_cast<int>(getpid()), o.random->Hex(4)));

  scheduler::LeaseHooks hooks;
  hooks.acquire = [self](const std::string& id) -> Result<scheduler::LeaseAnswer> {
    std::lock_guard lock(self->lease_mu_);
    TANDEM_ASSIGN_OR_RETURN(auto state,
                            self->leases_->Acquire(id, self->o_.clock->Now(), self->o_.lease_ttl));
    if (state.took_over_dead)
      spdlog::info("sync pair {}: took over the lease of a process of this node that is gone", id);
    return scheduler::LeaseAnswer{state.acquired, state.Describe()};
  };
  hooks.release = [self](const std::string& id) {
    std::lock_guard lock(self->lease_mu_);
    if (Status s = self->leases_->Release(id); !s.ok())
      spdlog::warn("sync pair {}: releasing the lease: {}", id, s.ToString());
  };
  cs->runner_ = std::make_unique<scheduler::SyncRunner>(
      scheduler::SyncSchedule(o.schedule, *o.random), *o.clock,
      [self](const std::string& id) { return self->RunPair(id); }, std::move(hooks),
      scheduler::SyncRunner::Options{.workers = o.workers});

  TANDEM_ASSIGN_OR_RETURN(auto pairs, cs->state_->ListPairs(""));
  for (const auto& p : pairs) {
    cs->runner_->AddPair(p.id, p.user_id, true);
    cs->known_pairs_.insert(p.id);
  }
  cs->runner_->Start();
  cs->watcher_ = std::thread([self] { self->WatchFeed(); });
  spdlog::info("calendar sync: {} pair(s), server job {}, {} worker(s), lease holder {}",
               pairs.size(), o.schedule.server_job ? "on" : "off", o.workers,
               cs->leases_->holder());
  return cs;
}

CalendarSync::~CalendarSync() { Stop(); }

void CalendarSync::Stop() {
  if (stopping_.exchange(true)) return;
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
  background_.join();  // discoveries and dry runs in progress finish
  if (runner_) runner_->Stop();
}

Result<std::string> CalendarSync::Seal(const sync::Credential& c) const {
  json j = json::object();
  for (const auto& [k, v] : c) j[k] = v;
  return o_.vault->Seal(j.dump());
}

Result<sync::Credential> CalendarSync::CredentialOf(const std::string& credential_ref) const {
  if (credential_ref.empty()) return sync::Credential{};
  TANDEM_ASSIGN_OR_RETURN(std::string plain, o_.vault->Unseal(credential_ref));
  json j = json::parse(plain, nullptr, false);
  if (!j.is_object()) return Status::Corruption("stored calendar credentials are damaged");
  sync::Credential out;
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) return Status::Corruption("stored calendar credentials are damaged");
    out[k] = v.get<std::string>();
  }
  return out;
}

sync::ProviderContext CalendarSync::ContextFor(const std::string& user_id) const {
  return sync::ProviderContext{.check_address = AddressCheckFor(user_id), .ca_file = o_.ca_file};
}

Result<CalendarSync::AuthorizationStart> CalendarSync::StartAuthorization(
    const std::string& provider_name, const std::string& user_id, const std::string& redirect_uri) {
  sync::Provider* provider = catalog_.Find(provider_name);
  if (provider == nullptr)
    return Status::InvalidArgument("provider: must be one of " + catalog_.Names());
  if (provider->credential_kind() != sync::CredentialKind::kOAuth)
    return Status::InvalidArgument("provider: " + provider_name + " takes a password, not an authorization");
  // The browser comes back to the user's own machine, never elsewhere.
  if (!redirect_uri.starts_with("http://127.0.0.1:") && !redirect_uri.starts_with("http://[::1]:") &&
      !redirect_uri.starts_with("http://localhost:"))
    return Status::InvalidArgument("redirect_uri: must be a loopback address (http://127.0.0.1:PORT/...)");
  const std::string verifier = oauth::MakeCodeVerifier(*o_.random);
  const std::string state = oauth::MakeState(*o_.random);
  TANDEM_ASSIGN_OR_RETURN(std::string url, provider->AuthorizationUrl(
                                               redirect_uri, state, oauth::CodeChallengeS256(verifier)));
  std::lock_guard lock(auth_mu_);
  const Instant now = o_.clock->Now();
  std::erase_if(pending_auth_, [now](const auto& kv) { return kv.second.expires <= now; });
  pending_auth_[state] = PendingAuthorization{user_id, provider_name, verifier, redirect_uri,
                                              now + std::chrono::minutes(10)};
  return AuthorizationStart{url, state};
}

void CalendarSync::FinishAuthorization(const std::string& state, const std::string& code,
                                       const std::string& user_id, AuthorizedDone done) {
  PendingAuthorization pending;
  {
    std::lock_guard lock(auth_mu_);
    auto it = pending_auth_.find(state);
    if (it == pending_auth_.end() || it->second.user_id != user_id ||
        it->second.expires <= o_.clock->Now()) {
      return done(Status::NotFound(
          "state: no authorization of yours is waiting under it (it takes 10 minutes at most); start again"));
    }
    pending = it->second;
    pending_auth_.erase(it);
  }
  boost::asio::post(background_, [this, pending, code, user_id, done = std::move(done)] {
    sync::Provider* provider = catalog_.Find(pending.provider);
    auto credential = provider->FinishAuthorization(code, pending.redirect_uri, pending.verifier,
                                                    ContextFor(user_id));
    if (!credential.ok()) return done(credential.status());
    auto sealed = Seal(*credential);
    if (!sealed.ok()) return done(sealed.status());
    const std::string handle = o_.random->Hex(16);
    {
      std::lock_guard lock(auth_mu_);
      const Instant now = o_.clock->Now();
      std::erase_if(authorized_, [now](const auto& kv) { return kv.second.expires <= now; });
      authorized_[handle] =
          Authorized{user_id, pending.provider, *sealed, now + std::chrono::minutes(10)};
    }
    spdlog::info("calendar authorization for {} granted to user {}", pending.provider, user_id);
    done(handle);
  });
}

Result<CalendarSync::DeviceStart> CalendarSync::StartDeviceAuthorization(const std::string& provider_name,
                                                                       const std::string& user_id) {
  sync::Provider* provider = catalog_.Find(provider_name);
  if (provider == nullptr)
    return Status::InvalidArgument("provider: must be one of " + catalog_.Names());
  if (!provider->uses_device_code())
    return Status::InvalidArgument("provider: " + provider_name +
                                   " takes no device code (POST /api/v1/sync/oauth/start)");
  TANDEM_ASSIGN_OR_RETURN(sync::DeviceCode code, provider->StartDeviceAuthorization(ContextFor(user_id)));
  // The device code is a bearer secret until approved: kept sealed.
  TANDEM_ASSIGN_OR_RETURN(std::string sealed, Seal({{"device_code", code.device_code}}));
  const std::string state = oauth::MakeState(*o_.random);
  const Instant now = o_.clock->Now();
  const Instant expires = code.expires > now ? code.expires : now + std::chrono::minutes(15);
  {
    std::lock_guard lock(auth_mu_);
    std::erase_if(pending_device_, [now](const auto& kv) { return kv.second.expires <= now; });
    pending_device_[state] = PendingDevice{user_id, provider_name, sealed, expires};
  }
  return DeviceStart{state,
                     code.user_code,
                     code.verification_uri,
                     code.message,
                     static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(code.interval).count()),
                     static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(expires - now).count())};
}

void CalendarSync::PollDeviceAuthorization(const std::string& state, const std::string& user_id,
                                           DevicePolled done) {
  PendingDevice pending;
  {
    std::lock_guard lock(auth_mu_);
    auto it = pending_device_.find(state);
    if (it == pending_device_.end() || it->second.user_id != user_id ||
        it->second.expires <= o_.clock->Now())
      return done(Status::NotFound("state: no device sign-in of yours is waiting under it; start again"), false);
    pending = it->second;
  }
  boost::asio::post(background_, [this, state, pending, user_id, done = std::move(done)] {
    auto code = CredentialOf(pending.sealed_code);
    if (!code.ok()) return done(code.status(), false);
    sync::Provider* provider = catalog_.Find(pending.provider);
    bool slow_down = false;
    auto credential = provider->PollDeviceAuthorization((*code)["device_code"], ContextFor(user_id), &slow_down);
    if (!credential.ok()) {
      std::lock_guard lock(auth_mu_);
      pending_device_.erase(state);  // refused or expired: start again
      return done(credential.status(), false);
    }
    if (!credential->has_value()) return done(std::optional<std::string>(), slow_down);
    auto sealed = Seal(**credential);
    if (!sealed.ok()) return done(sealed.status(), false);
    const std::string handle = o_.random->Hex(16);
    {
      std::lock_guard lock(auth_mu_);
      pending_device_.erase(state);
      const Instant now = o_.clock->Now();
      std::erase_if(authorized_, [now](const auto& kv) { return kv.second.expires <= now; });
      authorized_[handle] = Authorized{user_id, pending.provider, *sealed, now + std::chrono::minutes(10)};
    }
    spdlog::info("calendar authorization for {} granted to user {} (device code)", pending.provider, user_id);
    done(std::optional<std::string>(handle), false);
  });
}

Result<sync::Credential> CalendarSync::PeekAuthorized(const std::string& handle,
                                                      const std::string& user_id,
                                                      const std::string& provider) {
  std::string sealed;
  {
    std::lock_guard lock(auth_mu_);
    auto it = authorized_.find(handle);
    if (it == authorized_.end() || it->second.user_id != user_id ||
        it->second.provider != provider || it->second.expires <= o_.clock->Now())
      return Status::NotFound("authorization: unknown or expired; authorize again");
    sealed = it->second.sealed;
  }
  return CredentialOf(sealed);
}

Result<sync::Credential> CalendarSync::TakeAuthorized(const std::string& handle,
                                                      const std::string& user_id,
                                                      const std::string& provider) {
  TANDEM_ASSIGN_OR_RETURN(sync::Credential c, PeekAuthorized(handle, user_id, provider));
  std::lock_guard lock(auth_mu_);
  authorized_.erase(handle);
  return c;
}

std::function<Status(std::string_view)> CalendarSync::AddressCheckFor(
    const std::string& user_id) const {
  auto user = o_.store->GetUser(user_id);
  http::AddressPolicy policy = o_.user_addresses;
  if (user.ok() && user->role == model::Role::kAdmin) policy.allow_all = true;
  return [policy](std::string_view ip) { return policy.Check(ip); };
}

Result<std::unique_ptr<sync::CalendarSide>> CalendarSync::OpenPair(
    const store::SyncPair& pair) const {
  sync::Provider* provider = catalog_.Find(pair.provider);
  if (provider == nullptr)
    return Status::InvalidArgument(fmt::format("sync pair {}: unknown provider {} (this server has {})",
                                               pair.id, pair.provider, catalog_.Names()));
  auto credential = CredentialOf(pair.credential_ref);
  if (!credential.ok()) return credential.status().WithContext("sync pair " + pair.id);
  sync::ProviderContext context = ContextFor(pair.user_id);
  const std::string pair_id = pair.id;
  context.save_credential = [this, pair_id](const sync::Credential& renewed) -> Status {
    spdlog::info("sync pair {}: storing its renewed calendar authorization", pair_id);
    return SetCredential(pair_id, renewed);
  };
  return provider->Open(pair.calendar, *credential, context);
}

Status CalendarSync::SetCredential(const std::string& pair_id,
                                   const sync::Credential& credential) const {
  TANDEM_ASSIGN_OR_RETURN(std::string sealed, Seal(credential));
  return state_->SetCredential(pair_id, sealed);
}

// The calendar server's refusals said where the user looks: the address policy
// as it is (nothing of the server's), a refused login as the calendar's
// credentials (a 401 here would read as "log in to Tandem again").
Status CalendarSync::DiscoveryError(const Status& s, const std::string& location) {
  if (http::IsAddressRefusal(s)) return Status::PermissionDenied("calendar: " + s.message());
  if (s.Is(Code::kUnauthenticated) || s.Is(Code::kPermissionDenied)) {
    return Status::InvalidArgument("password: the calendar server at " + location +
                                   " refused the login; check the calendar user name and password");
  }
  if (s.Is(Code::kNotFound) || s.Is(Code::kInvalidArgument)) return s;
  return s.WithContext("cannot reach the calendar " + location);
}

Result<std::vector<sync::CalendarChoice>> CalendarSync::DiscoverNow(
    const std::string& provider_name, const std::string& location,
    const sync::Credential& credential, const std::string& user_id) {
  sync::Provider* provider = catalog_.Find(provider_name);
  if (provider == nullptr)
    return Status::InvalidArgument("provider: must be one of " + catalog_.Names());
  auto found = provider->Discover(location, credential, ContextFor(user_id));
  if (!found.ok()) return DiscoveryError(found.status(), location);
  return found;
}

void CalendarSync::Discover(const std::string& provider, const std::string& location,
                            const sync::Credential& credential, const std::string& user_id,
                            DiscoverDone done) {
  boost::asio::post(background_, [this, provider, location, credential, user_id,
                                  done = std::move(done)] {
    if (stopping_) return done(Status::Unavailable("the server is shutting down"));
    done(DiscoverNow(provider, location, credential, user_id));
  });
}

void CalendarSync::AddPair(const sync::NewSyncPair& requested, bool initialize_now,
                           AddDone done) {
  boost::asio::post(background_, [this, requested, initialize_now, done = std::move(done)] {
    auto added = AddPairNow(requested, /*run_at_once=*/!initialize_now);
    if (!added.ok() || !initialize_now) {
      done(std::move(added), Status::Unavailable("not initialized yet"));
      return;
    }
    store::SyncPair pair = *added;
    RunNow(pair.id, RunRequest{.initialize = true},
           [pair, done](Result<sync::RunReport> report) { done(pair, std::move(report)); });
  });
}

// Discovery, the check of the credentials, and the stored pair (no run).
Result<store::SyncPair> CalendarSync::AddPairNow(const sync::NewSyncPair& requested,
                                                 bool run_at_once) {
  if (stopping_) return Status::Unavailable("the server is shutting down");
  sync::NewSyncPair pair = requested;
  if (auto user = o_.store->GetUser(pair.user_id); !user.ok()) {
    if (user.status().Is(Code::kNotFound))
      return Status::InvalidArgument("user_id: no such user " + pair.user_id);
    return user.status();
  }
  // Discovery checks the credentials before anything is stored, and turns a
  // server, principal or home URL into the calendar (the one it names, else the
  // first with events).
  TANDEM_ASSIGN_OR_RETURN(sync::Credential credential, CredentialOf(pair.credential_ref));
  TANDEM_ASSIGN_OR_RETURN(std::vector<sync::CalendarChoice> found,
                          DiscoverNow(pair.provider, pair.calendar, credential, pair.user_id));
  const sync::CalendarChoice* chosen = nullptr;
  for (const auto& c : found) {
    if (c.has_events) {
      chosen = &c;
      break;
    }
  }
  if (!chosen) return Status::NotFound("calendar: no calendar with events found at " + pair.calendar);
  if (found.size() > 1 && chosen->location != pair.calendar)
    spdlog::info("sync pair: {} has {} calendars; using {} ({})", pair.calendar, found.size(),
                 chosen->location, chosen->display_name);
  pair.calendar = chosen->location;
  TANDEM_ASSIGN_OR_RETURN(auto added, service_->AddPair(pair));
  {
    std::lock_guard lock(known_mu_);
    known_pairs_.insert(added.id);
  }
  // Its first run is the initialization: at once, unless the caller runs it.
  runner_->AddPair(added.id, added.user_id, true, run_at_once);
  spdlog::info("sync pair {} added for user {}: {} {}", added.id, added.user_id, added.provider,
               added.calendar);
  return added;
}

Status CalendarSync::RemovePair(const std::string& pair_id) {
  {
    std::lock_guard lock(known_mu_);
    known_pairs_.erase(pair_id);
  }
  runner_->RemovePair(pair_id);
  return service_->RemovePair(pair_id);
}

void CalendarSync::UserLoggedIn(const std::string& user_id, Instant session_expires) {
  {
    std::lock_guard lock(sessions_mu_);
    Instant& e = session_expiry_[user_id];
    if (session_expires > e) e = session_expires;
  }
  runner_->UserLoggedIn(user_id);
}

void CalendarSync::UserLoggedOut(const std::string& user_id) {
  {
    std::lock_guard lock(sessions_mu_);
    session_expiry_.erase(user_id);
  }
  runner_->UserLoggedOut(user_id);
}

void CalendarSync::ExpireSessions() {
  std::vector<std::string> gone;
  {
    std::lock_guard lock(sessions_mu_);
    Instant now = o_.clock->Now();
    for (auto it = session_expiry_.begin(); it != session_expiry_.end();) {
      if (it->second <= now) {
        gone.push_back(it->first);
        it = session_expiry_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& u : gone) runner_->UserLoggedOut(u);
}

scheduler::PairRunResult CalendarSync::RunPair(const std::string& pair_id) {
  auto pair = state_->GetPair(pair_id);
  if (!pair.ok()) return {scheduler::RunOutcome::kFailed, pair.status().ToString(), std::nullopt, ""};
  bool force = false, init = pair->identity.empty();
  {
    std::lock_guard lock(flags_mu_);
    force = force_next_.erase(pair_id) > 0;
    init = init_next_.erase(pair_id) > 0 || init;
  }
  auto report = CalendarRefusal(pair_id, init ? service_->Init(pair_id)
                                               : service_->RunNow(pair_id, false, force));
  {
    std::lock_guard lock(flags_mu_);
    last_reports_.insert_or_assign(pair_id, report);
  }
  if (!report.ok())
    return {scheduler::RunOutcome::kFailed, report.status().ToString(), std::nullopt, ""};
  const auto& t = report->seconds;
  spdlog::debug("sync pair {}: {:.3f} s (CRM listing {:.3f} s, calendar listing and digest {:.3f} s, "
                "plan {:.3f} s, writes {:.3f} s)",
                pair_id, t.total, t.crm, t.external, t.plan, t.apply);
  if (report->refusal)
    return {scheduler::RunOutcome::kFailed, "refused: " + *report->refusal, std::nullopt, ""};
  if (report->unreachable)  // retried as a failure; the next run goes on from here
    return {scheduler::RunOutcome::kFailed, report->Summary(), std::nullopt, ""};
  return {scheduler::RunOutcome::kSucceeded, "", std::nullopt,
          (init ? "initialized: " : "") + report->Summary()};
}

namespace {
std::string_view WithoutPrefix(std::string_view s, std::string_view prefix) {
  return s.starts_with(prefix) ? s.substr(prefix.size()) : s;
}
}  // namespace

// A calendar that refuses the pair's credentials is not the caller's Tandem
// session failing (a 401 to the CLI would read as "log in again"): said as the
// pair's, with what mends it.
Result<sync::RunReport> CalendarSync::CalendarRefusal(const std::string& pair_id,
                                                      Result<sync::RunReport> report) {
  if (report.ok() || !report.status().Is(Code::kUnauthenticated)) return report;
  if (oauth::NeedsReauthorization(report.status())) {
    // As a refused calendar password is (exit 1, not the CLI's "log in again").
    return Status::InvalidArgument(fmt::format(
        "authorization: sync pair {} needs re-authorization, nothing was changed ({}). Run "
        "`tandem sync pair reauth {}`",
        pair_id, WithoutPrefix(report.status().message(), "needs re-authorization: "), pair_id));
  }
  return Status::InvalidArgument(fmt::format(
      "password: sync pair {}: the calendar refused its credentials, nothing was changed ({})",
      pair_id, report.status().message()));
}

void CalendarSync::RunNow(const std::string& pair_id, const RunRequest& r, RunDone done) {
  auto pair = state_->GetPair(pair_id);
  if (!pair.ok()) return done(pair.status());
  if (r.dry_run) {
    // A plan only: it writes nothing, so it needs no lease; it reads the
    // calendar, so it runs on a background thread.
    bool init = r.initialize || pair->identity.empty();
    boost::asio::post(background_, [this, pair_id, init, force = r.force, done = std::move(done)] {
      done(CalendarRefusal(pair_id, init ? service_->Init(pair_id, true)
                                         : service_->RunNow(pair_id, true, force)));
    });
    return;
  }
  {
    std::lock_guard lock(flags_mu_);
    if (r.force) force_next_.insert(pair_id);
    if (r.initialize) init_next_.insert(pair_id);
  }
  auto on_result = [this, pair_id, done](const scheduler::PairRunResult& outcome) {
    std::unique_lock lock(flags_mu_);
    if (!outcome.ran) {
      force_next_.erase(pair_id);
      init_next_.erase(pair_id);
      lock.unlock();
      if (outcome.busy_elsewhere)
        return done(Status::Conflict("sync pair " + pair_id + " is " + outcome.error +
                                     "; its result will show in `tandem sync status`"));
      return done(Status::Unavailable("sync pair " + pair_id + ": " + outcome.error));
    }
    auto it = last_reports_.find(pair_id);
    if (it == last_reports_.end()) {
      lock.unlock();
      return done(Status::Unavailable("sync pair " + pair_id + ": " + outcome.error));
    }
    Result<sync::RunReport> report = it->second;
    lock.unlock();
    done(std::move(report));
  };
  if (Status s = runner_->RunNow(pair_id, std::move(on_result)); !s.ok()) {
    std::lock_guard lock(flags_mu_);
    force_next_.erase(pair_id);
    init_next_.erase(pair_id);
    done(s);
  }
}

Result<sync::RunReport> CalendarSync::RunNowAndWait(const std::string& pair_id,
                                                     const RunRequest& request) {
  auto promise = std::make_shared<std::promise<Result<sync::RunReport>>>();
  auto future = promise->get_future();
  RunNow(pair_id, request, [promise](Result<sync::RunReport> r) { promise->set_value(std::move(r)); });
  return future.get();
}

void CalendarSync::RenewLeases() {
  Instant now = o_.clock->Now();
  if (now < next_renewal_) return;
  next_renewal_ = now + o_.lease_ttl / 3;
  std::lock_guard lock(lease_mu_);
  if (auto n = leases_->RenewAll(now, o_.lease_ttl); !n.ok())
    spdlog::warn("calendar sync: renewing the leases of running pairs: {}", n.status().ToString());
}

void CalendarSync::RefreshPairs() {
  auto pairs = state_->ListPairs("");
  if (!pairs.ok()) {
    spdlog::warn("calendar sync: listing pairs: {}", pairs.status().ToString());
    return;
  }
  std::lock_guard lock(known_mu_);
  std::set<std::string> now;
  for (const auto& p : *pairs) {
    now.insert(p.id);
    if (!known_pairs_.count(p.id)) {
      runner_->AddPair(p.id, p.user_id, true);
      spdlog::info("calendar sync: pair {} of user {} scheduled here too", p.id, p.user_id);
    }
  }
  for (const auto& id : known_pairs_)
    if (!now.count(id)) runner_->RemovePair(id);
  known_pairs_ = std::move(now);
}

void CalendarSync::WatchFeed() {
  // Follows the CRM change feed; a user whose activities changed gets a
  // debounced push (S6). A sync run's own writes (origin "sync:<pair>") push to
  // the user's other pairs only: they came from that pair's calendar, and a run
  // triggered by them would only poll that calendar again.
  int64_t seq = o_.store->LatestSeq().value_or(0);
  Instant next_refresh = o_.clock->Now() + o_.pair_refresh;
  while (!stopping_) {
    {
      std::unique_lock lock(watch_mu_);
      watch_cv_.wait_for(lock, o_.feed_poll, [&] { return stopping_.load(); });
    }
    if (stopping_) return;
    RenewLeases();
    ExpireSessions();
    if (o_.clock->Now() >= next_refresh) {
      RefreshPairs();
      next_refresh = o_.clock->Now() + o_.pair_refresh;
    }
    store::ChangeFilter filter;
    filter.entity = model::EntityType::kActivity;
    for (;;) {
      auto batch = o_.store->ChangesSince(seq, 1000, filter);
      if (!batch.ok()) {
        if (batch.status().Is(Code::kResyncRequired)) seq = o_.store->LatestSeq().value_or(seq);
        else spdlog::warn("calendar sync: reading the change feed: {}", batch.status().ToString());
        break;
      }
      // owner -> the one pair that wrote all of its changes ("" when a user
      // wrote any, or several pairs did: every pair of the owner is pushed).
      std::map<std::string, std::string> owners;
      for (const auto& c : batch->changes) {
        std::string pair = c.origin.starts_with("sync:") ? c.origin.substr(5) : "";
        auto [it, fresh] = owners.emplace(c.owner_id, pair);
        if (!fresh && it->second != pair) it->second.clear();
      }
      seq = batch->next_seq;
      for (const auto& [owner, only_pair] : owners) runner_->CrmChanged(owner, only_pair);
      if (!batch->more) break;
    }
  }
}

}  // namespace tandem::apps
