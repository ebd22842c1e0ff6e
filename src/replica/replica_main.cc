#include "core/data_dir.h"
#include "model/json_fields.h"
#include "replica/replica_main.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <thread>

#include "api/api.h"
#include "api/errors.h"
#include "core/clock.h"
#include "core/credential_vault.h"
#include "core/ids.h"
#include "core/random.h"
#include "http/server.h"
#include "ical/ical.h"
#include "model/json.h"
#include "replica/connectivity.h"
#include "replica/doctor.h"
#include "replica/http_replication_server.h"
#include "replica/local_records.h"
#include "replica/recording_store.h"
#include "replica/replica_state.h"
#include "replica/replicator.h"
#include "store/sqlite/sqlite_store.h"

namespace tandem::replica {

using http::ServerRequest;
using http::ServerResponse;

struct LocalReplica::Impl {
  ReplicaOptions options;
  SystemClock clock;
  SecureRandom random;
  IdGenerator ids{clock, random};
  std::unique_ptr<store::sqlite::SqliteStore> local;
  std::unique_ptr<ReplicaState> state;
  std::optional<CredentialVault> vault;
  std::unique_ptr<HttpReplicationServer> server;
  std::unique_ptr<Connectivity> link;
  std::unique_ptr<Replicator> replicator;
  std::unique_ptr<RecordingStore> recording;
  std::unique_ptr<api::RestApi> rest;
  std::unique_ptr<http::Server> http;
  std::string user_id;
  std::string server_version;

  std::mutex mu;
  std::condition_variable wake;
  bool write_pending = false;
  bool stopping = false;
  std::string last_error;
  Instant last_sync{};
  FillProgress progress;
  std::thread sync_thread;

  Status Open();
  Status SetUpUser();
  void SyncLoop();
  void Wake() {
    {
      std::lock_guard lock(mu);
      write_pending = true;
    }
    wake.notify_all();
  }
  Result<api::Caller> Authenticate(const ServerRequest& r) {
    return rest->authenticator().Authenticate(r.Header("Authorization"));
  }
  void AddRoutes(http::Router* router);
  Json StatusJson();
};

namespace {
Json ParseBody(const ServerRequest& r) { return Json::parse(r.body, nullptr, false); }
}  // namespace

Status LocalReplica::Impl::Open() {
  namespace fs = std::filesystem;
  std::vector<std::string> narrowed;
  TANDEM_RETURN_IF_ERROR(SecureDataDir(options.data_dir, &narrowed));
  for (const auto& line : narrowed)
    spdlog::warn("data directory {}: narrowed {} (other users could read it)", options.data_dir, line);
  std::string db_path = (fs::path(options.data_dir) / "replica.db").string();
  auto opened = store::sqlite::SqliteStore::Open(
      {.path = db_path, .clock = &clock, .ids = &ids, .series_end = &ical::SeriesEnd});
  if (!opened.ok()) return opened.status().WithContext("opening " + db_path);
  local = std::move(opened).value();
  TANDEM_ASSIGN_OR_RETURN(state, ReplicaState::Open(local->pool(), clock));

  TANDEM_ASSIGN_OR_RETURN(auto known_url, state->GetMeta("server_url"));
  if (known_url && *known_url != options.server_url) {
    return Status::InvalidArgument(fmt::format(
        "{} replicates {}, not {}; use another --data-dir", options.data_dir, *known_url,
        options.server_url));
  }
  auto v = CredentialVault::Open({.key_file = (fs::path(options.data_dir) / "secret.key").string()},
                                 random);
  if (!v.ok()) return v.status().WithContext("opening the key file");
  vault.emplace(std::move(v).value());

  std::string login = options.login;
  std::string password = options.password;
  if (login.empty()) {
    TANDEM_ASSIGN_OR_RETURN(auto stored, state->GetMeta("login"));
    login = stored.value_or("");
  }
  if (password.empty()) {
    TANDEM_ASSIGN_OR_RETURN(auto sealed, state->GetMeta("password"));
    if (sealed) {
      TANDEM_ASSIGN_OR_RETURN(password, vault->Unseal(*sealed));
    }
  }
  if (login.empty() || password.empty()) {
    return Status::InvalidArgument("the first start needs the login and password of the server");
  }
  std::string token;
  if (auto sealed = state->GetMeta("token"); sealed.ok() && sealed->has_value()) {
    auto t = vault->Unseal(**sealed);
    if (t.ok()) token = *t;
  }
  HttpServerOptions so;
  so.base_url = options.server_url;
  while (!so.base_url.empty() && so.base_url.back() == '/') so.base_url.pop_back();
  so.login = login;
  so.password = password;
  so.token = token;
  so.clock = &clock;
  so.on_token = [this](const std::string& t) {
    auto sealed = vault->Seal(t);
    if (sealed.ok()) (void)state->SetMeta("token", *sealed);
  };
  server = std::make_unique<HttpReplicationServer>(std::move(so));
  link = std::make_unique<Connectivity>(clock);
  return Status::Ok();
}

Status LocalReplica::Impl::SetUpUser() {
  TANDEM_ASSIGN_OR_RETURN(auto known_user, state->GetMeta("user_id"));
  auto info = server->Info();
  if (info.ok()) {
    server_version = info->server_version;
    std::string_view ours = TANDEM_VERSION;
    if (info->server_version.substr(0, info->server_version.rfind('.')) !=
        ours.substr(0, ours.rfind('.'))) {
      spdlog::warn("replica: client version {} differs from server version {} (C9)", ours,
                   info->server_version);
    }
  }
  bool new_password = !options.password.empty();
  if (known_user && !new_password) {
    user_id = *known_user;
    return Status::Ok();
  }
  // First start (or new credentials): the server must say who we are.
  auto answer = server->Login();
  if (!answer.ok()) {
    if (known_user && (answer.status().Is(Code::kUnavailable) ||
                       answer.status().Is(Code::kDeadlineExceeded))) {
      user_id = *known_user;  // offline start with a known user
      return Status::Ok();
    }
    return answer.status().WithContext("logging in to " + options.server_url);
  }
  model::User user;
  TANDEM_RETURN_IF_ERROR(model::FromServerJson((*answer)["user"], &user));
  if (known_user && *known_user != user.id) {
    return Status::InvalidArgument("this data directory belongs to another user");
  }
  api::PasswordCost cost =
      options.fast_password_hash ? api::PasswordCost::Fast() : api::PasswordCost::Interactive();
  TANDEM_ASSIGN_OR_RETURN(user.password_hash, api::HashPassword(options.password, cost));
  auto existing = local->GetUser(user.id);
  if (existing.ok()) {
    TANDEM_RETURN_IF_ERROR(local->UpdateUser(user, std::nullopt).status());
  } else {
    TANDEM_RETURN_IF_ERROR(local->CreateUser(user).status());
  }
  TANDEM_ASSIGN_OR_RETURN(std::string sealed, vault->Seal(options.password));
  TANDEM_RETURN_IF_ERROR(state->SetMeta("password", sealed));
  TANDEM_RETURN_IF_ERROR(state->SetMeta("login", user.login));
  TANDEM_RETURN_IF_ERROR(state->SetMeta("server_url", options.server_url));
  TANDEM_RETURN_IF_ERROR(state->SetMeta("user_id", user.id));
  user_id = user.id;
  return Status::Ok();
}

void LocalReplica::Impl::SyncLoop() {
  while (true) {
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      write_pending = false;
    }
    auto r = replicator->SyncOnce();
    {
      std::lock_guard lock(mu);
      if (r.ok()) {
        last_sync = clock.Now();
        last_error.clear();
      } else if (!r.status().Is(Code::kUnavailable) || last_error != r.status().ToString()) {
        if (!r.status().Is(Code::kUnavailable) && !r.status().Is(Code::kDeadlineExceeded)) {
          spdlog::warn("replica sync: {}", r.status().ToString());
        }
        last_error = r.status().ToString();
      }
    }
    Duration wait = std::chrono::duration_cast<Duration>(options.poll_interval);
    if (link->state() == LinkState::kOffline) {
      wait = std::max<Duration>(link->NextProbe() - clock.Now(), std::chrono::milliseconds(50));
      // Short waits offline so that a sleep (clock jump) is noticed soon.
      wait = std::min<Duration>(wait, std::chrono::seconds(1));
    }
    std::unique_lock lock(mu);
    wake.wait_for(lock, wait, [this] { return stopping || write_pending; });
    if (stopping) return;
  }
}

Json LocalReplica::Impl::StatusJson() {
  Json j;
  j["state"] = LinkStateName(link->state());
  j["server_url"] = options.server_url;
  j["user_id"] = user_id;
  j["client_version"] = TANDEM_VERSION;
  j["server_version"] = server_version;
  j["pending"] = state->PendingCount().value_or(-1);
  auto failed = state->ListOutbox(OutboxState::kFailed);
  j["failed"] = failed.ok() ? static_cast<int64_t>(failed->size()) : -1;
  auto conflicts = state->ListConflicts();
  j["conflicts"] = conflicts.ok() ? static_cast<int64_t>(conflicts->size()) : -1;
  j["tracked_records"] = state->TrackedCount().value_or(-1);
  j["full_pull_in_progress"] = replicator->FullPullInProgress();
  std::lock_guard lock(mu);
  j["fill"] = {{"records", progress.records}, {"pages", progress.pages}, {"done", progress.done}};
  j["last_sync"] = last_sync == Instant{} ? Json(nullptr) : Json(FormatRfc3339(last_sync));
  j["last_error"] = last_error;
  return j;
}

void LocalReplica::Impl::AddRoutes(http::Router* router) {
  auto authed = [this](std::function<ServerResponse(const ServerRequest&)> h) {
    return [this, h = std::move(h)](const ServerRequest& r) {
      auto caller = Authenticate(r);
      if (!caller.ok()) return api::ErrorResponse(caller.status());
      return h(r);
    };
  };
  router->Add("GET", "/api/v1/replica/status", authed([this](const ServerRequest&) {
    return api::JsonResponse(200, StatusJson());
  }));
  router->Add("GET", "/api/v1/replica/data-groups", authed([this](const ServerRequest&) {
    return api::JsonResponse(200, ToJson(replicator->data_groups()));
  }));
  router->Add("PUT", "/api/v1/replica/data-groups", authed([this](const ServerRequest& r) {
    Json body = ParseBody(r);
    if (body.is_discarded()) return api::ErrorResponse(Status::InvalidArgument("body: not valid JSON"));
    auto groups = model::DataGroupsFromJson(body);
    if (!groups.ok()) return api::ErrorResponse(groups.status());
    if (Status s = replicator->SetDataGroups(*groups); !s.ok()) return api::ErrorResponse(s);
    Wake();
    return api::JsonResponse(200, ToJson(*groups));
  }));
  router->Add("GET", "/api/v1/replica/outbox", authed([this](const ServerRequest&) {
    auto list = state->ListOutbox();
    if (!list.ok()) return api::ErrorResponse(list.status());
    Json items = Json::array();
    for (const auto& m : *list) {
      items.push_back({{"mutation_id", m.mutation_id}, {"entity", model::EntityName(m.entity)},
                       {"record_id", m.record_id}, {"op", MutationOpName(m.op)},
                       {"state", OutboxStateName(m.state)}, {"attempts", m.attempts},
                       {"error", m.last_error}, {"created", FormatRfc3339(m.created)}});
    }
    return api::JsonResponse(200, Json{{"items", items}});
  }));
  router->Add("GET", "/api/v1/replica/doctor", authed([this](const ServerRequest& r) {
    DoctorOptions o;
    o.server = server.get();
    o.state = state.get();
    o.pool = &local->pool();
    o.clock = &clock;
    o.data_dir = options.data_dir;
    o.fix = r.Query("fix").value_or("") == "1";
    auto checks = RunDoctor(o);
    if (o.fix) Wake();
    return api::JsonResponse(200, ToJson(checks));
  }));
  router->Add("POST", "/api/v1/replica/sync", authed([this](const ServerRequest&) {
    auto report = replicator->SyncOnce();
    if (!report.ok()) return api::ErrorResponse(report.status());
    return api::JsonResponse(200, Json{{"pulled", report->pulled}, {"pushed", report->pushed},
                                       {"conflicts", report->conflicts},
                                       {"rejected", report->rejected}});
  }));
  router->Add("GET", "/api/v1/conflicts", authed([this](const ServerRequest&) {
    auto list = state->ListConflicts();
    if (!list.ok()) return api::ErrorResponse(list.status());
    Json items = Json::array();
    for (const auto& c : *list) {
      auto mine = GetLocal(*local, c.entity, c.record_id);
      items.push_back({{"entity", model::EntityName(c.entity)}, {"id", c.record_id},
                       {"mine", mine.ok() ? *mine : Json(nullptr)},
                       {"mine_changes", c.mine}, {"theirs", c.theirs},
                       {"theirs_version", c.theirs_version ? Json(*c.theirs_version) : Json(nullptr)},
                       {"detected", FormatRfc3339(c.detected)}});
    }
    return api::JsonResponse(200, Json{{"items", items}});
  }));
  router->Add("POST", "/api/v1/conflicts/{entity}/{id}", authed([this](const ServerRequest& r) {
    auto entity = model::ParseEntityName(r.PathParam("entity"));
    if (!entity.ok() || *entity == model::EntityType::kUser) {
      return api::ErrorResponse(Status::NotFound("no such collection"));
    }
    Json body = ParseBody(r);
    if (!body.is_object()) return api::ErrorResponse(Status::InvalidArgument("body: must be a JSON object"));
    auto resolution = model::StringField(body, "resolution");
    if (!resolution.ok()) return api::ErrorResponse(resolution.status());
    auto fields = model::ObjectField(body, "fields");
    if (!fields.ok()) return api::ErrorResponse(fields.status());
    auto how = ParseResolution(*resolution);
    if (!how.ok()) return api::ErrorResponse(how.status());
    Status s = replicator->Resolve(*entity, r.PathParam("id"), *how, *fields);
    if (!s.ok()) return api::ErrorResponse(s);
    Wake();
    return api::JsonResponse(200, Json{{"resolved", r.PathParam("id")},
                                       {"resolution", body["resolution"]}});
  }));
}

LocalReplica::LocalReplica(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LocalReplica::~LocalReplica() { Stop(); }

uint16_t LocalReplica::port() const { return impl_->http ? impl_->http->port() : 0; }

void LocalReplica::Stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->sync_thread.joinable()) impl_->sync_thread.join();
  if (impl_->http) {
    impl_->http->Stop(std::chrono::seconds(5));
    impl_->http->Wait();
    impl_->http.reset();
  }
}

Result<std::unique_ptr<LocalReplica>> LocalReplica::Start(const ReplicaOptions& options) {
  if (options.server_url.empty() || options.data_dir.empty()) {
    return Status::InvalidArgument("the server URL and the data directory are required");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  TANDEM_RETURN_IF_ERROR(impl->Open());
  TANDEM_RETURN_IF_ERROR(impl->SetUpUser());
  Impl* p = impl.get();
  ReplicatorOptions ro;
  ro.local = p->local.get();
  ro.state = p->state.get();
  ro.server = p->server.get();
  ro.link = p->link.get();
  ro.clock = &p->clock;
  ro.ids = &p->ids;
  ro.user_id = p->user_id;
  ro.page_size = options.page_size;
  ro.push_batch = options.push_batch;
  ro.on_progress = [p](const FillProgress& fp) {
    {
      std::lock_guard lock(p->mu);
      p->progress = fp;
    }
    if (fp.done) {
      spdlog::info("replica: full pull done, {} changes in {} pages", fp.records, fp.pages);
    } else if (fp.pages % 10 == 1) {
      spdlog::info("replica: filling, {} changes so far", fp.records);
    }
  };
  TANDEM_ASSIGN_OR_RETURN(p->replicator, Replicator::Open(std::move(ro)));
  p->recording = std::make_unique<RecordingStore>(RecordingStoreOptions{
      .inner = p->local.get(), .state = p->state.get(), .ids = &p->ids,
      .apply_mutex = &p->replicator->apply_mutex(), .on_write = [p] { p->Wake(); }});

  api::ApiOptions ao;
  ao.store = p->recording.get();
  ao.clock = &p->clock;
  ao.random = &p->random;
  ao.password_cost =
      options.fast_password_hash ? api::PasswordCost::Fast() : api::PasswordCost::Interactive();
  p->rest = std::make_unique<api::RestApi>(ao);
  http::Router router;
  p->rest->Register(&router);
  p->AddRoutes(&router);
  http::ServerOptions so;
  so.address = options.listen_address;
  so.port = options.port;
  so.threads = options.threads;
  api::RestApi::ConfigureServer(&so);
  TANDEM_ASSIGN_OR_RETURN(p->http, http::Server::Start(so, std::move(router)));
  p->sync_thread = std::thread([p] { p->SyncLoop(); });
  spdlog::info("replica of {} serving on {}:{} (data in {})", options.server_url,
               options.listen_address, p->http->port(), options.data_dir);
  return std::unique_ptr<LocalReplica>(new LocalReplica(std::move(impl)));
}

int RunReplica(const ReplicaOptions& options, const sigset_t& signals) {
  auto replica = LocalReplica::Start(options);
  if (!replica.ok()) {
    spdlog::error("replica: {}", replica.status().ToString());
    return replica.status().Is(Code::kInvalidArgument) ? 2 : 1;
  }
  for (;;) {
    int sig = sigwaitinfo(&signals, nullptr);
    if (sig == SIGTERM || sig == SIGINT) break;
  }
  spdlog::info("replica: stopping");
  (*replica)->Stop();
  return 0;
}

}  // namespace tandem::replica
