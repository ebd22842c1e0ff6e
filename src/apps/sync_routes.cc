#include "apps/sync_routes.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "api/errors.h"
#include "api/policy.h"
#include "ical/ical.h"

namespace tandem::apps {
namespace {

using model::Json;
using http::ServerRequest;
using http::ServerResponse;

std::string OptTime(const std::optional<Instant>& t) { return t ? FormatRfc3339(*t) : ""; }

Json OptionsJson(const store::PairOptions& o) {
  return Json{{"window_days_back", o.window_days_back},
              {"window_days_ahead", o.window_days_ahead},
              {"skip_private", o.skip_private},
              {"reminders", store::ReminderHandlingName(o.reminders)},
              {"multi_day", store::MultiDayHandlingName(o.multi_day)},
              {"conflict", store::ConflictPolicyName(o.conflict)},
              {"deletion_limit", o.deletion_limit}};
}

Status MergeOptions(const Json& j, store::PairOptions* o) {
  if (!j.is_object()) return Status::InvalidArgument("options: must be an object");
  auto int_field = [&](const char* name, int* out) -> Status {
    if (!j.contains(name)) return Status::Ok();
    if (!j[name].is_number_integer())
      return Status::InvalidArgument(fmt::format("options.{}: must be an integer", name));
    *out = j[name].get<int>();
    return Status::Ok();
  };
  auto enum_field = [&](const char* name, auto parse, auto* out) -> Status {
    if (!j.contains(name)) return Status::Ok();
    if (!j[name].is_string())
      return Status::InvalidArgument(fmt::format("options.{}: must be a string", name));
    auto v = parse(j[name].get<std::string>());
    if (!v.ok()) return Status::InvalidArgument("options." + v.status().message());
    *out = *v;
    return Status::Ok();
  };
  TANDEM_RETURN_IF_ERROR(int_field("window_days_back", &o->window_days_back));
  TANDEM_RETURN_IF_ERROR(int_field("window_days_ahead", &o->window_days_ahead));
  TANDEM_RETURN_IF_ERROR(int_field("deletion_limit", &o->deletion_limit));
  if (j.contains("skip_private")) {
    if (!j["skip_private"].is_boolean())
      return Status::InvalidArgument("options.skip_private: must be true or false");
    o->skip_private = j["skip_private"].get<bool>();
  }
  TANDEM_RETURN_IF_ERROR(enum_field("reminders", &store::ParseReminderHandling, &o->reminders));
  TANDEM_RETURN_IF_ERROR(enum_field("multi_day", &store::ParseMultiDayHandling, &o->multi_day));
  TANDEM_RETURN_IF_ERROR(enum_field("conflict", &store::ParseConflictPolicy, &o->conflict));
  if (Status s = sync::ValidatePairOptions(*o); !s.ok())
    return Status::InvalidArgument("options." + s.message());
  return Status::Ok();
}

Json ScheduleJson(const scheduler::PairTimer* t) {
  if (!t) return nullptr;
  return Json{{"next_run", OptTime(t->Due())},
              {"last_run", OptTime(t->last_run)},
              {"last_outcome", !t->last_outcome ? ""
                               : *t->last_outcome == scheduler::RunOutcome::kSucceeded ? "ok"
                                                                                       : "failed"},
              {"last_error", t->last_error},
              {"consecutive_failures", t->consecutive_failures},
              {"failing", t->failing},
              {"running", t->running}};
}

Json PairJson(const store::SyncPair& p, const scheduler::PairTimer* timer) {
  return Json{{"id", p.id},
              {"user_id", p.user_id},
              {"provider", p.provider},
              {"calendar", p.calendar},
              {"has_credentials", !p.credential_ref.empty()},
              {"options", OptionsJson(p.options)},
              {"identity", p.identity},
              {"initialized", OptTime(p.initialized)},
              {"last_run", OptTime(p.last_run)},
              {"created", FormatRfc3339(p.created)},
              {"schedule", ScheduleJson(timer)}};
}

Json ReportJson(const sync::RunReport& r) {
  Json errors = Json::array();
  for (const auto& e : r.errors)
    errors.push_back({{"action", e.action}, {"target", e.target}, {"uid", e.uid},
                      {"crm_id", e.crm_id}, {"external_href", e.external_href},
                      {"summary", e.summary}, {"error", e.error}});
  return Json{{"pair_id", r.pair_id},
              {"run_id", r.run_id},
              {"dry_run", r.dry_run},
              {"initialization", r.initialization},
              {"refusal", r.refusal ? Json(*r.refusal) : Json(nullptr)},
              {"unreachable", r.unreachable ? Json(*r.unreachable) : Json(nullptr)},
              {"left", r.left},
              {"crm_changes", r.crm_changes},
              {"external_changes", r.external_changes},
              {"applied", r.applied},
              {"planned", r.planned},
              {"deferred", r.deferred},
              {"errors", errors},
              {"warnings", r.warnings},
              {"plan", r.plan},
              {"summary", r.Summary()}};
}

// What a user reads of a log entry beside the two iCalendar texts: the event
// ("title" and "start" of the later version) and, for an update, each changed
// field before and after.
void DescribeLogEntry(const store::SyncLogEntry& e, Json& j) {
  auto before = e.before.empty() ? Result<ical::Event>(Status::NotFound(""))
                                 : ical::ParseEvent(e.before, ical::MapOptions{});
  auto after = e.after.empty() ? Result<ical::Event>(Status::NotFound(""))
                               : ical::ParseEvent(e.after, ical::MapOptions{});
  const ical::Event* shown = after.ok() ? &*after : before.ok() ? &*before : nullptr;
  j["title"] = shown ? Json(shown->activity.subject) : Json(nullptr);
  j["start"] = shown ? Json(FormatRfc3339(shown->activity.start)) : Json(nullptr);
  Json changes = Json::array();
  if (before.ok() && after.ok())
    for (const auto& c : ical::DescribeChanges(before->activity, after->activity))
      changes.push_back({{"field", c.field}, {"before", c.before}, {"after", c.after}});
  j["changes"] = changes;
}

Json LogJson(const store::SyncLogEntry& e) {
  Json j{{"id", e.id},         {"run_id", e.run_id}, {"at", FormatRfc3339(e.at)},
         {"action", e.action}, {"target", e.target}, {"uid", e.uid},
         {"crm_id", e.crm_id}, {"external_href", e.external_href},
         {"before", e.before}, {"after", e.after}, {"reason", e.reason}, {"error", e.error}};
  DescribeLogEntry(e, j);
  return j;
}

Json RunJson(const store::SyncRun& r) {
  return Json{{"id", r.id}, {"started", FormatRfc3339(r.started)}, {"finished", OptTime(r.finished)},
              {"dry_run", r.dry_run}, {"outcome", r.outcome}};
}

Json TrashJson(const store::TrashEntry& t) {
  return Json{{"id", t.id},           {"pair_id", t.pair_id},   {"activity_id", t.activity_id},
              {"uid", t.uid},         {"subject", t.subject},   {"start", FormatRfc3339(t.start)},
              {"deleted_at", FormatRfc3339(t.deleted_at)}, {"restored_at", OptTime(t.restored_at)},
              {"ical", t.ical}};
}

bool QueryTrue(const ServerRequest& r, std::string_view name) {
  auto v = r.Query(name);
  return v && (*v == "true" || *v == "1" || *v == "yes");
}

Result<int> QueryLimit(const ServerRequest& r, int fallback) {
  auto v = r.Query("limit");
  if (!v) return fallback;
  int n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size() || n < 1 || n > 1000)
    return Status::InvalidArgument("limit: must be a whole number from 1 to 1000");
  return n;
}

class SyncRoutes {
 public:
  SyncRoutes(api::Authenticator* auth, CalendarSync* sync, const Clock* clock)
      : auth_(auth), sync_(sync), clock_(clock) {}

  using Body = std::function<ServerResponse(const api::Caller&, const ServerRequest&)>;

  http::Handler Authed(Body body) {
    return [this, body](const ServerRequest& r) -> ServerResponse {
      auto caller = auth_->Authenticate(r.Header("Authorization"));
      if (!caller.ok()) return Refused(caller.status());
      return body(*caller, r);
    };
  }

  // Routes whose work is slow (a sync run, discovery on a remote server): the
  // handler returns at once and answers through the Responder when it is done.
  using DeferredBody =
      std::function<void(const api::Caller&, const ServerRequest&, http::Responder)>;
  http::DeferredHandler AuthedDeferred(DeferredBody body) {
    return [this, body](const ServerRequest& r, http::Responder respond) {
      auto caller = auth_->Authenticate(r.Header("Authorization"));
      if (!caller.ok()) return respond(Refused(caller.status()));
      body(*caller, r, std::move(respond));
    };
  }

  static ServerResponse Refused(const Status& s) {
    return api::ErrorResponse(s).SetHeader("WWW-Authenticate", "Bearer realm=\"tandem\"");
  }

  // The pair, when the caller may use it; NotFound otherwise (no existence leak).
  Result<store::SyncPair> OwnPair(const api::Caller& c, const std::string& id) {
    auto p = sync_->service().GetPair(id);
    if (!p.ok() || !api::policy::CanUsePair(c.viewer, p->user_id))
      return Status::NotFound("no sync pair " + id);
    return p;
  }

  const scheduler::PairTimer* Timer(const std::vector<scheduler::PairTimer>& timers,
                                    const std::string& id) {
    for (const auto& t : timers)
      if (t.pair_id == id) return &t;
    return nullptr;
  }

  ServerResponse ListPairs(const api::Caller& c, const ServerRequest& r) {
    bool all = api::policy::CanSeeAllPairs(c.viewer) && QueryTrue(r, "all");
    auto pairs = sync_->service().ListPairs(all ? "" : c.user.id);
    if (!pairs.ok()) return api::ErrorResponse(pairs.status());
    auto timers = sync_->runner().Status();
    Json items = Json::array();
    for (const auto& p : *pairs) items.push_back(PairJson(p, Timer(timers, p.id)));
    return api::JsonResponse(200, Json{{"items", items}});
  }

  void AddPair(const api::Caller& c, const ServerRequest& r, http::Responder respond) {
    Json j = Json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return respond(api::ErrorResponse(Status::InvalidArgument("body: must be a JSON object")));
    auto text = [&j](const char* name) -> Result<std::string> {
      if (!j.contains(name) || j[name].is_null()) return std::string();
      if (!j[name].is_string())
        return Status::InvalidArgument(fmt::format("{}: must be a string", name));
      return j[name].get<std::string>();
    };
    sync::NewSyncPair pair;
    pair.user_id = c.user.id;
    auto user_id = text("user_id"), provider = text("provider"), calendar = text("calendar"),
         user = text("user"), password = text("password"), authorization = text("authorization");
    for (const auto* f : {&user_id, &provider, &calendar, &user, &password, &authorization})
      if (!f->ok()) return respond(api::ErrorResponse(f->status()));
    if (!user_id->empty()) pair.user_id = *user_id;
    if (Status s = api::policy::CanCreatePair(c.viewer, pair.user_id, false, *provider); !s.ok())
      return respond(api::ErrorResponse(s));
    pair.provider = *provider;
    pair.calendar = *calendar;
    const sync::Provider* kind = sync_->catalog().Find(pair.provider);
    if (kind == nullptr)
      return respond(api::ErrorResponse(
          Status::InvalidArgument("provider: must be one of " + sync_->catalog().Names())));
    if (pair.calendar.empty() && kind->credential_kind() == sync::CredentialKind::kOAuth)
      pair.calendar = "primary";  // the account's own calendar
    if (pair.calendar.empty())
      return respond(api::ErrorResponse(
          Status::InvalidArgument("calendar: the calendar URL or folder is required")));
    // A provider that reaches the server's own resources (a vdir folder): admins only.
    if (Status s = api::policy::CanCreatePair(c.viewer, pair.user_id, kind->admin_only(),
                                              fmt::format("{} ({})", kind->description(),
                                                          kind->name()));
        !s.ok())
      return respond(api::ErrorResponse(s));
    if (kind->credential_kind() == sync::CredentialKind::kOAuth) {
      if (authorization->empty())
        return respond(api::ErrorResponse(Status::InvalidArgument(
            "authorization: " + pair.provider + " needs an authorization (POST /api/v1/sync/oauth/start)")));
      auto credential = sync_->TakeAuthorized(*authorization, pair.user_id, pair.provider);
      if (!credential.ok()) return respond(api::ErrorResponse(credential.status()));
      auto sealed = sync_->Seal(*credential);
      if (!sealed.ok()) return respond(api::ErrorResponse(sealed.status()));
      pair.credential_ref = *sealed;
    } else if (!user->empty() || !password->empty()) {
      auto sealed = sync_->Seal({{"user", *user}, {"password", *password}});
      if (!sealed.ok()) return respond(api::ErrorResponse(sealed.status()));
      pair.credential_ref = *sealed;
    }
    if (j.contains("options")) {
      if (Status s = MergeOptions(j["options"], &pair.options); !s.ok())
        return respond(api::ErrorResponse(s));
    }
    // ?init=true initializes at once (S13) and answers with its report too.
    bool init = QueryTrue(r, "init");
    std::string login = c.user.login;
    sync_->AddPair(pair, init, [init, login, respond](Result<store::SyncPair> added,
                                                      Result<sync::RunReport> report) {
      if (!added.ok()) return respond(api::ErrorResponse(added.status()));
      spdlog::info("sync pair {} added by {} ({} {})", added->id, login, added->provider,
                   added->calendar);
      Json body = PairJson(*added, nullptr);
      if (init) {
        body["initialization"] =
            report.ok() ? ReportJson(*report)
                        : Json{{"error", std::string(CodeName(report.status().code()))},
                               {"message", report.status().message()}};
      }
      respond(api::JsonResponse(201, body).SetHeader("Location", "/api/v1/sync/pairs/" + added->id));
    });
  }

  ServerResponse Providers(const api::Caller&, const ServerRequest&) {
    Json items = Json::array();
    for (const sync::Provider* p : sync_->catalog().All()) {
      items.push_back({{"name", std::string(p->name())},
                       {"description", std::string(p->description())},
                       {"credentials", std::string(sync::CredentialKindName(p->credential_kind()))},
                       {"admin_only", p->admin_only()},
                       {"device_code", p->uses_device_code()}});
    }
    return api::JsonResponse(200, Json{{"items", items}});
  }

  // S8: the calendars a user may pair with at a location, for a chooser.
  void Discover(const api::Caller& c, const ServerRequest& r, http::Responder respond) {
    Json j = Json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return respond(api::ErrorResponse(Status::InvalidArgument("body: must be a JSON object")));
    std::map<std::string, std::string> f;
    for (const char* name : {"provider", "calendar", "user", "password", "user_id", "authorization"}) {
      if (!j.contains(name) || j[name].is_null()) continue;
      if (!j[name].is_string())
        return respond(api::ErrorResponse(
            Status::InvalidArgument(fmt::format("{}: must be a string", name))));
      f[name] = j[name].get<std::string>();
    }
    const std::string user_id = f["user_id"].empty() ? c.user.id : f["user_id"];
    if (Status s = api::policy::CanCreatePair(c.viewer, user_id, false, f["provider"]); !s.ok())
      return respond(api::ErrorResponse(s));
    const sync::Provider* kind = sync_->catalog().Find(f["provider"]);
    if (kind == nullptr)
      return respond(api::ErrorResponse(
          Status::InvalidArgument("provider: must be one of " + sync_->catalog().Names())));
    if (Status s = api::policy::CanCreatePair(c.viewer, user_id, kind->admin_only(),
                                              std::string(kind->name()));
        !s.ok())
      return respond(api::ErrorResponse(s));
    sync::Credential credential;
    if (kind->credential_kind() == sync::CredentialKind::kOAuth) {
      auto authorized = sync_->PeekAuthorized(f["authorization"], user_id, f["provider"]);
      if (!authorized.ok()) return respond(api::ErrorResponse(authorized.status()));
      credential = *authorized;
    } else if (f["calendar"].empty()) {
      return respond(api::ErrorResponse(
          Status::InvalidArgument("calendar: the server, account or calendar URL is required")));
    } else if (!f["user"].empty() || !f["password"].empty()) {
      credential = {{"user", f["user"]}, {"password", f["password"]}};
    }
    sync_->Discover(f["provider"], f["calendar"], credential, user_id,
                    [respond](Result<std::vector<sync::CalendarChoice>> found) {
                      if (!found.ok()) return respond(api::ErrorResponse(found.status()));
                      Json items = Json::array();
                      for (const auto& ch : *found)
                        items.push_back({{"calendar", ch.location},
                                         {"display_name", ch.display_name},
                                         {"has_events", ch.has_events}});
                      respond(api::JsonResponse(200, Json{{"items", items}}));
                    });
  }

  // OAuth providers: the page to open, for a redirect to the caller's machine.
  ServerResponse OAuthStart(const api::Caller& c, const ServerRequest& r) {
    Json j = Json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return api::ErrorResponse(Status::InvalidArgument("body: must be a JSON object"));
    for (const char* name : {"provider", "redirect_uri"})
      if (!j.contains(name) || !j[name].is_string())
        return api::ErrorResponse(Status::InvalidArgument(fmt::format("{}: must be a string", name)));
    auto started = sync_->StartAuthorization(j["provider"].get<std::string>(), c.user.id,
                                             j["redirect_uri"].get<std::string>());
    if (!started.ok()) return api::ErrorResponse(started.status());
    return api::JsonResponse(200, Json{{"authorization_url", started->url}, {"state", started->state}});
  }

  // The code the browser brought back: a handle to the credential, for a pair.
  void OAuthFinish(const api::Caller& c, const ServerRequest& r, http::Responder respond) {
    Json j = Json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return respond(api::ErrorResponse(Status::InvalidArgument("body: must be a JSON object")));
    for (const char* name : {"state", "code"})
      if (!j.contains(name) || !j[name].is_string())
        return respond(api::ErrorResponse(
            Status::InvalidArgument(fmt::format("{}: must be a string", name))));
    sync_->FinishAuthorization(j["state"].get<std::string>(), j["code"].get<std::string>(),
                               c.user.id, [respond](Result<std::string> handle) {
                                 if (!handle.ok()) return respond(api::ErrorResponse(handle.status()));
                                 respond(api::JsonResponse(200, Json{{"authorization", *handle}}));
                               });
  }

  // Device-code providers: the code to show the user, then polls until approved.
  ServerResponse DeviceStart(const api::Caller& c, const ServerRequest& r) {
    Json j = Json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return api::ErrorResponse(Status::InvalidArgument("body: must be a JSON object"));
    if (!j.contains("provider") || !j["provider"].is_string())
      return api::ErrorResponse(Status::InvalidArgument("provider: must be a string"));
    auto started = sync_->StartDeviceAuthorization(j["provider"].get<std::string>(), c.user.id);
    if (!started.ok()) return api::ErrorResponse(started.status());
    return api::JsonResponse(200, Json{{"state", started->state},
                                       {"user_code", started->user_code},
                                       {"verification_uri", started->verification_uri},
                                       {"message", started->message},
                                       {"interval", started->interval_seconds},
                                       {"expires_in", started->expires_in_seconds}});
  }

  void DevicePoll(const api::Caller& c, const ServerRequest& r, http::Responder respond) {
    Json j = Json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return respond(api::ErrorResponse(Status::InvalidArgument("body: must be a JSON object")));
    if (!j.contains("state") || !j["state"].is_string())
      return respond(api::ErrorResponse(Status::InvalidArgument("state: must be a string")));
    sync_->PollDeviceAuthorization(j["state"].get<std::string>(), c.user.id,
                                   [respond](Result<std::optional<std::string>> handle, bool slow_down) {
                                     if (!handle.ok()) return respond(api::ErrorResponse(handle.status()));
                                     if (!handle->has_value())
                                       return respond(api::JsonResponse(
                                           202, Json{{"pending", true}, {"slow_down", slow_down}}));
                                     respond(api::JsonResponse(200, Json{{"authorization", **handle}}));
                                   });
  }

  ServerResponse GetPair(const api::Caller& c, const ServerRequest& r) {
    auto p = OwnPair(c, r.PathParam("id"));
    if (!p.ok()) return api::ErrorResponse(p.status());
    auto timers = sync_->runner().Status();
    return api::JsonResponse(200, PairJson(*p, Timer(timers, p->id)));
  }

  ServerResponse PatchPair(const api::Caller& c, const ServerRequest& r) {
    auto p = OwnPair(c, r.PathParam("id"));
    if (!p.ok()) return api::ErrorResponse(p.status());
    Json j = Json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return api::ErrorResponse(Status::InvalidArgument("body: must be a JSON object"));
    store::PairOptions options = p->options;
    if (j.contains("options")) {
      if (Status s = MergeOptions(j["options"], &options); !s.ok()) return api::ErrorResponse(s);
    }
    if (j.contains("authorization")) {
      // Authorized again (tandem sync pair reauth): the new credential replaces the old.
      if (!j["authorization"].is_string())
        return api::ErrorResponse(Status::InvalidArgument("authorization: must be a string"));
      auto credential =
          sync_->TakeAuthorized(j["authorization"].get<std::string>(), p->user_id, p->provider);
      if (!credential.ok()) return api::ErrorResponse(credential.status());
      if (Status s = sync_->SetCredential(p->id, *credential); !s.ok()) return api::ErrorResponse(s);
      spdlog::info("sync pair {} authorized again by {}", p->id, c.user.login);
    }
    if (Status s = sync_->service().UpdateOptions(p->id, options); !s.ok())
      return api::ErrorResponse(s);
    return GetPair(c, r);
  }

  ServerResponse DeletePair(const api::Caller& c, const ServerRequest& r) {
    auto p = OwnPair(c, r.PathParam("id"));
    if (!p.ok()) return api::ErrorResponse(p.status());
    if (Status s = sync_->RemovePair(p->id); !s.ok()) return api::ErrorResponse(s);
    spdlog::info("sync pair {} removed by {}", p->id, c.user.login);
    return ServerResponse::Empty(204);
  }

  void Run(const api::Caller& c, const ServerRequest& r, bool init, http::Responder respond) {
    auto p = OwnPair(c, r.PathParam("id"));
    if (!p.ok()) return respond(api::ErrorResponse(p.status()));
    CalendarSync::RunRequest req{.dry_run = QueryTrue(r, "dry_run"),
                                 .force = QueryTrue(r, "force"),
                                 .initialize = init};
    sync_->RunNow(p->id, req, [respond](Result<sync::RunReport> report) {
      if (!report.ok()) return respond(api::ErrorResponse(report.status()));
      respond(api::JsonResponse(200, ReportJson(*report)));
    });
  }

  ServerResponse Log(const api::Caller& c, const ServerRequest& r) {
    auto p = OwnPair(c, r.PathParam("id"));
    if (!p.ok()) return api::ErrorResponse(p.status());
    auto limit = QueryLimit(r, 100);
    if (!limit.ok()) return api::ErrorResponse(limit.status());
    auto log = sync_->service().SyncLog(p->id, *limit);
    if (!log.ok()) return api::ErrorResponse(log.status());
    Json items = Json::array();
    for (const auto& e : *log) items.push_back(LogJson(e));
    return api::JsonResponse(200, Json{{"items", items}});
  }

  ServerResponse Runs(const api::Caller& c, const ServerRequest& r) {
    auto p = OwnPair(c, r.PathParam("id"));
    if (!p.ok()) return api::ErrorResponse(p.status());
    auto limit = QueryLimit(r, 20);
    if (!limit.ok()) return api::ErrorResponse(limit.status());
    auto runs = sync_->service().Runs(p->id, *limit);
    if (!runs.ok()) return api::ErrorResponse(runs.status());
    Json items = Json::array();
    for (const auto& e : *runs) items.push_back(RunJson(e));
    return api::JsonResponse(200, Json{{"items", items}});
  }

  ServerResponse SyncStatus(const api::Caller& c, const ServerRequest& r) {
    auto pairs = sync_->service().ListPairs(c.user.id);
    if (!pairs.ok()) return api::ErrorResponse(pairs.status());
    auto timers = sync_->runner().Status();
    Json items = Json::array();
    for (const auto& p : *pairs) {
      const scheduler::PairTimer* timer = Timer(timers, p.id);
      Json j = PairJson(p, timer);
      auto runs = sync_->service().Runs(p.id, 1);
      const store::SyncRun* last = runs.ok() && !runs->empty() ? &runs->front() : nullptr;
      std::string outcome = last ? last->outcome : "";
      // A run that failed before it could be recorded (the calendar refused the
      // login, was replaced, ...) is the last word, not the recorded run before it.
      const bool failed = timer && timer->last_outcome == scheduler::RunOutcome::kFailed;
      if (failed && (outcome.empty() || outcome == "ok" || outcome.starts_with("partial")))
        outcome = "failed";
      j["last_outcome"] = outcome;
      // The item errors of the last recorded run: what is still wrong.
      auto log = sync_->service().SyncLog(p.id, 200);
      Json item_errors = Json::array();
      if (log.ok() && last)
        for (const auto& e : *log)
          if (!e.error.empty() && e.run_id == last->id) item_errors.push_back(LogJson(e));
      j["item_errors"] = item_errors;
      items.push_back(j);
    }
    return api::JsonResponse(200, Json{{"items", items}});
  }

  ServerResponse Trash(const api::Caller& c, const ServerRequest& r) {
    auto trash = sync_->service().Trash(c.user.id, QueryTrue(r, "include_restored"));
    if (!trash.ok()) return api::ErrorResponse(trash.status());
    Json items = Json::array();
    for (const auto& t : *trash) items.push_back(TrashJson(t));
    return api::JsonResponse(200, Json{{"items", items}});
  }

  ServerResponse Restore(const api::Caller& c, const ServerRequest& r) {
    int64_t id = 0;
    const std::string& text = r.PathParam("id");
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || p != text.data() + text.size())
      return api::ErrorResponse(Status::NotFound("no trash entry " + text));
    auto restored = sync_->service().RestoreTrash(c.user.id, id);
    if (!restored.ok()) return api::ErrorResponse(restored.status());
    spdlog::info("trash entry {} restored by {} as activity {}", id, c.user.login, *restored);
    return api::JsonResponse(200, Json{{"activity_id", *restored}});
  }

 private:
  api::Authenticator* auth_;
  CalendarSync* sync_;
  const Clock* clock_;
};

}  // namespace

void RegisterSyncRoutes(http::Router* router, api::Authenticator* auth, CalendarSync* sync,
                        const Clock* clock) {
  auto routes = std::make_shared<SyncRoutes>(auth, sync, clock);
  auto bind = [routes](ServerResponse (SyncRoutes::*m)(const api::Caller&, const ServerRequest&)) {
    return routes->Authed([routes, m](const api::Caller& c, const ServerRequest& r) {
      return ((*routes).*m)(c, r);
    });
  };
  router->Add("GET", "/api/v1/sync/pairs", bind(&SyncRoutes::ListPairs));
  router->AddDeferred("POST", "/api/v1/sync/pairs",
                      routes->AuthedDeferred([routes](const api::Caller& c, const ServerRequest& r,
                                                      http::Responder respond) {
                        routes->AddPair(c, r, std::move(respond));
                      }));
  router->Add("GET", "/api/v1/sync/providers", bind(&SyncRoutes::Providers));
  router->Add("POST", "/api/v1/sync/oauth/start", bind(&SyncRoutes::OAuthStart));
  router->AddDeferred("POST", "/api/v1/sync/oauth/finish",
                      routes->AuthedDeferred([routes](const api::Caller& c, const ServerRequest& r,
                                                      http::Responder respond) {
                        routes->OAuthFinish(c, r, std::move(respond));
                      }));
  router->Add("POST", "/api/v1/sync/oauth/device", bind(&SyncRoutes::DeviceStart));
  router->AddDeferred("POST", "/api/v1/sync/oauth/device/poll",
                      routes->AuthedDeferred([routes](const api::Caller& c, const ServerRequest& r,
                                                      http::Responder respond) {
                        routes->DevicePoll(c, r, std::move(respond));
                      }));
  router->AddDeferred("POST", "/api/v1/sync/discover",
                      routes->AuthedDeferred([routes](const api::Caller& c, const ServerRequest& r,
                                                      http::Responder respond) {
                        routes->Discover(c, r, std::move(respond));
                      }));
  router->Add("GET", "/api/v1/sync/pairs/{id}", bind(&SyncRoutes::GetPair));
  router->Add("PATCH", "/api/v1/sync/pairs/{id}", bind(&SyncRoutes::PatchPair));
  router->Add("DELETE", "/api/v1/sync/pairs/{id}", bind(&SyncRoutes::DeletePair));
  for (bool init : {false, true}) {
    router->AddDeferred("POST", init ? "/api/v1/sync/pairs/{id}/init" : "/api/v1/sync/pairs/{id}/run",
                        routes->AuthedDeferred([routes, init](const api::Caller& c,
                                                              const ServerRequest& r,
                                                              http::Responder respond) {
                          routes->Run(c, r, init, std::move(respond));
                        }));
  }
  router->Add("GET", "/api/v1/sync/pairs/{id}/log", bind(&SyncRoutes::Log));
  router->Add("GET", "/api/v1/sync/pairs/{id}/runs", bind(&SyncRoutes::Runs));
  router->Add("GET", "/api/v1/sync/status", bind(&SyncRoutes::SyncStatus));
  router->Add("GET", "/api/v1/trash", bind(&SyncRoutes::Trash));
  router->Add("POST", "/api/v1/trash/{id}/restore", bind(&SyncRoutes::Restore));
}

}  // namespace tandem::apps
