#include "api/api.h"

#include <spdlog/spdlog.h>

#include <charconv>

#include "api/errors.h"
#include "api/mutations.h"
#include "api/policy.h"
#include "api/record_checks.h"
#include "ical/ical.h"
#include "model/data_groups.h"
#include "model/json.h"

namespace tandem::api {

using http::ServerRequest;
using http::ServerResponse;
using model::Json;

namespace {

// --- per-entity access to the store

template <typename T>
struct Entity;

template <>
struct Entity<model::Account> {
  static constexpr model::EntityType kType = model::EntityType::kAccount;
  static constexpr std::string_view kSingular = "account";
  static Result<model::Account> Get(store::Store& s, std::string_view id) {
    return s.GetAccount(id);
  }
  static Result<store::Page<model::Account>> List(store::Store& s, const store::ListOptions& o) {
    return s.ListAccounts(o);
  }
  static bool IsPrivate(const model::Account&) { return false; }
};

template <>
struct Entity<model::Contact> {
  static constexpr model::EntityType kType = model::EntityType::kContact;
  static constexpr std::string_view kSingular = "contact";
  static Result<model::Contact> Get(store::Store& s, std::string_view id) {
    return s.GetContact(id);
  }
  static Result<store::Page<model::Contact>> List(store::Store& s, const store::ListOptions& o) {
    return s.ListContacts(o);
  }
  static bool IsPrivate(const model::Contact&) { return false; }
};

template <>
struct Entity<model::Opportunity> {
  static constexpr model::EntityType kType = model::EntityType::kOpportunity;
  static constexpr std::string_view kSingular = "opportunity";
  static Result<model::Opportunity> Get(store::Store& s, std::string_view id) {
    return s.GetOpportunity(id);
  }
  static Result<store::Page<model::Opportunity>> List(store::Store& s,
                                                      const store::ListOptions& o) {
    return s.ListOpportunities(o);
  }
  static bool IsPrivate(const model::Opportunity&) { return false; }
};

template <>
struct Entity<model::Activity> {
  static constexpr model::EntityType kType = model::EntityType::kActivity;
  static constexpr std::string_view kSingular = "activity";
  static Result<model::Activity> Get(store::Store& s, std::string_view id) {
    return s.GetActivity(id);
  }
  static Result<store::Page<model::Activity>> List(store::Store& s, const store::ListOptions& o) {
    return s.ListActivities(o);
  }
  static bool IsPrivate(const model::Activity& a) { return a.is_private; }
};

template <typename T>
bool MayAccess(const Caller& c, const T& record) {
  return policy::CanRead(c.viewer, record);
}

Status NotFoundStatus(std::string_view what, std::string_view id) {
  return Status::NotFound(fmt::format("{} {} does not exist", what, id));
}

Result<Json> ParseBody(const ServerRequest& r) {
  if (r.body.empty()) return Status::InvalidArgument("body: a JSON object is required");
  Json j = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("body: malformed JSON");
  if (!j.is_object()) return Status::InvalidArgument("body: must be a JSON object");
  return j;
}

// If-Match: nullopt when absent or "*".
Result<std::optional<int64_t>> IfMatch(const ServerRequest& r) {
  auto h = r.Header("If-Match");
  if (!h) return std::optional<int64_t>();
  auto v = model::ParseIfMatch(*h);
  if (!v.ok()) return Status::InvalidArgument("If-Match: " + v.status().message());
  return *v;
}

Result<int> ParseLimit(const ServerRequest& r, int def, int max) {
  auto q = r.Query("limit");
  if (!q) return def;
  int v = 0;
  auto [p, ec] = std::from_chars(q->data(), q->data() + q->size(), v);
  if (ec != std::errc() || p != q->data() + q->size() || v < 1 || v > max) {
    return Status::InvalidArgument(fmt::format("limit: must be an integer from 1 to {}", max));
  }
  return v;
}

ServerResponse WithETag(ServerResponse r, int64_t version) {
  r.SetHeader("ETag", model::ETagOf(version));
  return r;
}

// Time-range lists give each series' occurrences inside the range, at most this
// many per series and page (docs/API.md).
constexpr size_t kMaxOccurrencesPerSeries = 2000;
// Open ends of a range: the years 1 and 9999.
const Instant kEarliest = FromUnixSeconds(int64_t{-62135596800});
const Instant kLatest = FromUnixSeconds(int64_t{253402300799});

// Appends the activity's occurrences overlapping [from, to) as list items: the
// record with the occurrence's start and end (and an override's texts), without
// ical_extra, plus "occurrence": {"recurrence_id", "overridden"}. A single activity
// is appended as it is. Through ical::Expand, the one expansion every time-range
// view shares. `a` is changed meanwhile and restored.
void AppendOccurrences(model::Activity& a, Instant from, Instant to, std::string* out,
                       bool* first) {
  auto item = [&] {
    if (!*first) *out += ',';
    *first = false;
  };
  if (a.rrule.empty() && a.rdates.empty()) {
    item();
    model::AppendJson(a, out);
    return;
  }
  Result<std::vector<ical::Occurrence>> occurrences =
      ical::Expand(a, from, to, kMaxOccurrencesPerSeries);
  if (!occurrences.ok()) {
    // Stored before rules were checked on write: listed as it is, so it is not lost.
    spdlog::warn("activity {}: cannot expand its series: {}", a.meta.id,
                 occurrences.status().ToString());
    item();
    model::AppendJson(a, out);
    return;
  }
  const Instant start = a.start, end = a.end;
  std::string extra = std::move(a.ical_extra);
  a.ical_extra.clear();
  for (const ical::Occurrence& o : *occurrences) {
    item();
    a.start = o.start;
    a.end = o.end;
    if (o.changed) {
      model::Activity changed = a;
      changed.subject = o.changed->subject;
      changed.location = o.changed->location;
      changed.description = o.changed->description;
      model::AppendJson(changed, out);
    } else {
      model::AppendJson(a, out);
    }
    out->pop_back();  // the closing brace
    *out += ",\"occurrence\":{\"recurrence_id\":";
    model::AppendJsonString(FormatRfc3339(o.recurrence_id), out);
    *out += o.overridden ? ",\"overridden\":true}}" : ",\"overridden\":false}}";
  }
  a.start = start;
  a.end = end;
  a.ical_extra = std::move(extra);
}

}  // namespace

struct RestApi::Impl {
  ApiOptions options;
  store::Store& store;
  Authenticator auth;

  explicit Impl(ApiOptions o)
      : options(o),
        store(*o.store),
        auth(o.store, o.clock, o.random, o.session_lifetime, o.password_cost) {}

  using AuthedHandler = std::function<ServerResponse(const ServerRequest&, const Caller&)>;

  http::Handler Authed(AuthedHandler h) {
    return [this, h = std::move(h)](const ServerRequest& r) {
      auto caller = auth.Authenticate(r.Header("Authorization"));
      if (!caller.ok()) return ErrorResponse(caller.status());
      return h(r, *caller);
    };
  }

  // --- records

  template <typename T>
  ServerResponse RecordResponse(int status, const T& record) {
    return WithETag(JsonResponse(status, model::ToJson(record)), record.meta.version);
  }

  // The policy's "does this owner exist" question, answered by the store.
  auto UserExists() {
    return [this](const std::string& id) { return store.GetUser(id).ok(); };
  }

  template <typename T>
  Result<T> GetVisible(const Caller& c, std::string_view id) {
    auto rec = Entity<T>::Get(store, id);
    if (!rec.ok()) {
      if (rec.status().Is(Code::kNotFound)) return NotFoundStatus(Entity<T>::kSingular, id);
      return rec.status();
    }
    if (!MayAccess(c, *rec)) return NotFoundStatus(Entity<T>::kSingular, id);
    return rec;
  }

  template <typename T>
  ServerResponse Stale(const T& current) {
    auto r = ErrorResponse(
        Status::PreconditionFailed(fmt::format("{} {} is at version {}", Entity<T>::kSingular,
                                               current.meta.id, current.meta.version)),
        Json{{"current", model::ToJson(current)}});
    return WithETag(std::move(r), current.meta.version);
  }

  void LogWrite(std::string_view what, const std::string& id, std::string_view verb,
                const Caller& c, int64_t version) {
    spdlog::info("{} {} {} by {} (version {})", what, id, verb, c.user.login, version);
  }

  template <typename T>
  ServerResponse Create(const ServerRequest& r, const Caller& c) {
    auto body = ParseBody(r);
    if (!body.ok()) return ErrorResponse(body.status());
    T rec;
    Status merged = model::MergeJson(*body, &rec);
    if (!merged.ok()) return ErrorResponse(merged);
    if (Status checked = CheckRecord(rec); !checked.ok()) return ErrorResponse(checked);
    if (rec.meta.owner_id.empty()) rec.meta.owner_id = c.user.id;
    if (Status allowed = policy::CanCreate(c.viewer, rec, UserExists()); !allowed.ok())
      return ErrorResponse(allowed);
    auto created = store.Create(std::move(rec));
    if (!created.ok()) return ErrorResponse(created.status());
    LogWrite(Entity<T>::kSingular, created->meta.id, "created", c, created->meta.version);
    return RecordResponse(201, *created)
        .SetHeader("Location", fmt::format("/api/v1/{}/{}", model::EntityName(Entity<T>::kType),
                                           created->meta.id));
  }

  template <typename T>
  ServerResponse Read(const ServerRequest& r, const Caller& c) {
    auto rec = GetVisible<T>(c, r.PathParam("id"));
    if (!rec.ok()) return ErrorResponse(rec.status());
    return RecordResponse(200, *rec);
  }

  template <typename T>
  ServerResponse Update(const ServerRequest& r, const Caller& c) {
    auto if_match = IfMatch(r);
    if (!if_match.ok()) return ErrorResponse(if_match.status());
    auto body = ParseBody(r);
    if (!body.ok()) return ErrorResponse(body.status());
    const std::string& id = r.PathParam("id");
    // Without If-Match the write is unconditional: a concurrent writer between our
    // read and our write makes us merge again onto the newer record.
    for (int attempt = 0;; ++attempt) {
      auto current = GetVisible<T>(c, id);
      if (!current.ok()) return ErrorResponse(current.status());
      if (*if_match && **if_match != current->meta.version) return Stale(*current);
      T rec = *current;
      Status merged = model::MergeJson(*body, &rec);
      if (!merged.ok()) return ErrorResponse(merged);
      if (Status checked = CheckRecord(rec); !checked.ok()) return ErrorResponse(checked);
      if (Status allowed = policy::CanWrite(c.viewer, *current, rec, UserExists());
          !allowed.ok())
        return ErrorResponse(allowed);
      auto updated = store.Update(std::move(rec), current->meta.version);
      if (updated.ok()) {
        LogWrite(Entity<T>::kSingular, id, "updated", c, updated->meta.version);
        return RecordResponse(200, *updated);
      }
      if (!updated.status().Is(Code::kPreconditionFailed)) return ErrorResponse(updated.status());
      if (*if_match || attempt >= 5) {
        auto now = GetVisible<T>(c, id);
        if (!now.ok()) return ErrorResponse(now.status());
        return Stale(*now);
      }
    }
  }

  template <typename T>
  ServerResponse Remove(const ServerRequest& r, const Caller& c) {
    auto if_match = IfMatch(r);
    if (!if_match.ok()) return ErrorResponse(if_match.status());
    const std::string& id = r.PathParam("id");
    auto current = GetVisible<T>(c, id);
    if (!current.ok()) return ErrorResponse(current.status());
    if (*if_match && **if_match != current->meta.version) return Stale(*current);
    Status deleted =
        store.Delete(Entity<T>::kType, id,
                     *if_match ? std::optional<int64_t>(current->meta.version) : std::nullopt);
    if (deleted.Is(Code::kPreconditionFailed)) {
      auto now = GetVisible<T>(c, id);
      if (!now.ok()) return ErrorResponse(now.status());
      return Stale(*now);
    }
    if (deleted.Is(Code::kNotFound)) return ErrorResponse(NotFoundStatus(Entity<T>::kSingular, id));
    if (!deleted.ok()) return ErrorResponse(deleted);
    LogWrite(Entity<T>::kSingular, id, "deleted", c, current->meta.version);
    return ServerResponse::Empty(204);
  }

  template <typename T>
  ServerResponse List(const ServerRequest& r, const Caller& c) {
    store::ListOptions o;
    auto limit = ParseLimit(r, 100, 1000);
    if (!limit.ok()) return ErrorResponse(limit.status());
    o.limit = *limit;
    o.page_after = std::string(r.Query("page_after").value_or(""));
    if (auto owner = r.Query("owner")) {
      if (owner->empty())
        return ErrorResponse(Status::InvalidArgument("owner: must be 'me' or a user id"));
      o.owner_id = *owner == "me" ? c.user.id : std::string(*owner);
    }
    for (auto [name, target] : {std::pair{"from", &o.from}, std::pair{"to", &o.to}}) {
      auto q = r.Query(name);
      if (!q) continue;
      if (Entity<T>::kType != model::EntityType::kActivity) {
        return ErrorResponse(Status::InvalidArgument(
            fmt::format("{}: only activities can be filtered by time", name)));
      }
      auto t = ParseRfc3339(*q);
      if (!t.ok())
        return ErrorResponse(
            Status::InvalidArgument(fmt::format("{}: {}", name, t.status().message())));
      *target = *t;
    }
    bool expand = o.from || o.to;
    if (auto q = r.Query("expand")) {
      if (*q != "true" && *q != "false")
        return ErrorResponse(Status::InvalidArgument("expand: must be true or false"));
      expand = expand && *q == "true";
    }
    o.viewer = c.viewer;
    auto page = Entity<T>::List(store, o);
    if (!page.ok()) return ErrorResponse(page.status());
    // Written as text straight from the records (no Json tree): the hot path.
    std::string out = "{\"items\":[";
    bool first = true;
    for (size_t i = 0; i < page->items.size(); ++i) {
      if constexpr (std::is_same_v<T, model::Activity>) {
        if (expand) {
          AppendOccurrences(page->items[i], o.from.value_or(kEarliest), o.to.value_or(kLatest),
                            &out, &first);
          continue;
        }
      }
      if (!first) out += ',';
      first = false;
      model::AppendJson(page->items[i], &out);
    }
    out += "],\"next_page_after\":";
    model::AppendJsonString(page->next_page_after, &out);
    out += '}';
    return ServerResponse::Json(200, std::move(out));
  }

  template <typename T>
  void AddRecordRoutes(http::Router* router) {
    std::string base = fmt::format("/api/v1/{}", model::EntityName(Entity<T>::kType));
    std::string one = base + "/{id}";
    router->Add("GET", base, Authed([this](auto& r, auto& c) { return List<T>(r, c); }));
    router->Add("POST", base, Authed([this](auto& r, auto& c) { return Create<T>(r, c); }));
    router->Add("GET", one, Authed([this](auto& r, auto& c) { return Read<T>(r, c); }));
    router->Add("PUT", one, Authed([this](auto& r, auto& c) { return Update<T>(r, c); }));
    router->Add("PATCH", one, Authed([this](auto& r, auto& c) { return Update<T>(r, c); }));
    router->Add("DELETE", one, Authed([this](auto& r, auto& c) { return Remove<T>(r, c); }));
  }

  // --- users

  ServerResponse UserResponse(int status, const model::User& u) {
    return WithETag(JsonResponse(status, model::ToJson(u)), u.version);
  }

  Status RequireAdmin(const Caller& c) { return policy::CanManageUsers(c.viewer); }

  ServerResponse CreateUser(const ServerRequest& r, const Caller& c) {
    if (Status s = RequireAdmin(c); !s.ok()) return ErrorResponse(s);
    auto body = ParseBody(r);
    if (!body.ok()) return ErrorResponse(body.status());
    model::User u;
    if (Status s = model::MergeJson(*body, &u); !s.ok()) return ErrorResponse(s);
    if (Status s = CheckRecord(&u); !s.ok()) return ErrorResponse(s);
    auto pw = body->find("password");
    if (pw == body->end() || !pw->is_string() || pw->get<std::string>().empty()) {
      return ErrorResponse(Status::InvalidArgument("password: must be a non-empty string"));
    }
    auto hash = auth.Hash(pw->get<std::string>());
    if (!hash.ok()) return ErrorResponse(hash.status());
    u.password_hash = *hash;
    auto created = store.CreateUser(std::move(u));
    if (!created.ok()) return ErrorResponse(created.status());
    LogWrite("user", created->id, "created", c, created->version);
    return UserResponse(201, *created).SetHeader("Location", "/api/v1/users/" + created->id);
  }

  ServerResponse ReadUser(const ServerRequest& r, const Caller& c) {
    const std::string& id = r.PathParam("id");
    if (Status s = policy::CanReadUser(c.viewer, id); !s.ok()) return ErrorResponse(s);
    auto u = store.GetUser(id);
    if (!u.ok()) return ErrorResponse(u.status());
    return UserResponse(200, *u);
  }

  // Admins change any user; a user changes their own display_name, email and
  // password, nothing else.
  ServerResponse UpdateUser(const ServerRequest& r, const Caller& c) {
    if (Status s = policy::CanReadUser(c.viewer, r.PathParam("id")); !s.ok())
      return ErrorResponse(s);
    auto if_match = IfMatch(r);
    if (!if_match.ok()) return ErrorResponse(if_match.status());
    auto body = ParseBody(r);
    if (!body.ok()) return ErrorResponse(body.status());
    const std::string& id = r.PathParam("id");
    auto current = store.GetUser(id);
    if (!current.ok()) return ErrorResponse(current.status());
    if (*if_match && **if_match != current->version) {
      return WithETag(ErrorResponse(Status::PreconditionFailed(fmt::format(
                                        "user {} is at version {}", id, current->version)),
                                    Json{{"current", model::ToJson(*current)}}),
                      current->version);
    }
    model::User u = *current;
    if (Status s = model::MergeJson(*body, &u); !s.ok()) return ErrorResponse(s);
    if (Status s = CheckRecord(&u); !s.ok()) return ErrorResponse(s);
    if (Status s = policy::CanChangeUser(c.viewer, *current, u); !s.ok()) return ErrorResponse(s);
    if (auto pw = body->find("password"); pw != body->end()) {
      if (!pw->is_string() || pw->get<std::string>().empty()) {
        return ErrorResponse(Status::InvalidArgument("password: must be a non-empty string"));
      }
      auto hash = auth.Hash(pw->get<std::string>());
      if (!hash.ok()) return ErrorResponse(hash.status());
      u.password_hash = *hash;
    }
    auto updated = store.UpdateUser(std::move(u), *if_match ? *if_match : std::optional<int64_t>());
    if (!updated.ok()) return ErrorResponse(updated.status());
    auth.ForgetUser(id);
    LogWrite("user", id, "updated", c, updated->version);
    return UserResponse(200, *updated);
  }

  ServerResponse DeleteUser(const ServerRequest& r, const Caller& c) {
    if (Status s = RequireAdmin(c); !s.ok()) return ErrorResponse(s);
    const std::string& id = r.PathParam("id");
    if (id == c.user.id) return ErrorResponse(Status::Conflict("you cannot delete yourself"));
    Status s = store.DeleteUser(id);
    if (!s.ok()) return ErrorResponse(s);
    auth.ForgetUser(id);
    spdlog::info("user {} deleted by {}", id, c.user.login);
    return ServerResponse::Empty(204);
  }

  ServerResponse ListUsers(const ServerRequest&, const Caller& c) {
    if (Status s = RequireAdmin(c); !s.ok()) return ErrorResponse(s);
    auto users = store.ListUsers();
    if (!users.ok()) return ErrorResponse(users.status());
    Json items = Json::array();
    for (const auto& u : *users) items.push_back(model::ToJson(u));
    return JsonResponse(200, Json{{"items", std::move(items)}, {"next_page_after", ""}});
  }

  // --- sessions

  ServerResponse Login(const ServerRequest& r) {
    auto body = ParseBody(r);
    if (!body.ok()) return ErrorResponse(body.status());
    auto login = body->find("login");
    auto password = body->find("password");
    if (login == body->end() || !login->is_string()) {
      return ErrorResponse(Status::InvalidArgument("login: must be a string"));
    }
    if (password == body->end() || !password->is_string()) {
      return ErrorResponse(Status::InvalidArgument("password: must be a string"));
    }
    auto result = auth.Login(login->get<std::string>(), password->get<std::string>());
    if (!result.ok()) {
      spdlog::info("login failed for '{}' from {}", login->get<std::string>(), r.remote_address);
      return ErrorResponse(result.status());
    }
    spdlog::info("user {} logged in from {}", result->user.login, r.remote_address);
    return JsonResponse(200, Json{{"token", result->token},
                                  {"expires", FormatRfc3339(result->expires)},
                                  {"user", model::ToJson(result->user)}});
  }

  // --- app passwords of the caller (CalDAV/CardDAV devices)
  ServerResponse ListAppPasswords(const Caller& c) {
    auto list = store.ListAppPasswords(c.user.id);
    if (!list.ok()) return ErrorResponse(list.status());
    Json items = Json::array();
    for (const store::AppPassword& p : *list) {
      items.push_back(Json{{"name", p.name}, {"created", FormatRfc3339(p.created)}});
    }
    return JsonResponse(200, Json{{"items", items}});
  }
  ServerResponse CreateAppPassword(const ServerRequest& r, const Caller& c) {
    auto body = ParseBody(r);
    if (!body.ok()) return ErrorResponse(body.status());
    auto name = body->find("name");
    if (name == body->end() || !name->is_string()) {
      return ErrorResponse(Status::InvalidArgument("name: must be a string"));
    }
    auto password = auth.CreateAppPassword(c.user, name->get<std::string>());
    if (!password.ok()) return ErrorResponse(password.status());
    // The password is in this answer only; it is never logged or shown again.
    return JsonResponse(201, Json{{"name", name->get<std::string>()}, {"password", *password}});
  }
  ServerResponse RevokeAppPassword(const ServerRequest& r, const Caller& c) {
    Status s = auth.RevokeAppPassword(c.user, r.PathParam("name"));
    if (!s.ok()) return ErrorResponse(s);
    return ServerResponse::Empty(204);
  }

  // --- change feed (changes.cc)
  ServerResponse Changes(const ServerRequest& r, const Caller& c);
};

RestApi::RestApi(ApiOptions options) : impl_(std::make_unique<Impl>(options)) {}
RestApi::~RestApi() = default;

Authenticator& RestApi::authenticator() { return impl_->auth; }

void RestApi::ConfigureServer(http::ServerOptions* server_options) {
  server_options->error_response = [](int status, std::string_view message) {
    Json body{{"error", ErrorNameOfHttpStatus(status)}, {"message", message}};
    return JsonResponse(status, body);
  };
}

void RestApi::Register(http::Router* router) {
  Impl* impl = impl_.get();
  router->SetNotFound([](const ServerRequest& r) {
    return ErrorResponse(Status::NotFound("no route for " + r.path));
  });
  router->SetMethodNotAllowed([](const ServerRequest& r, const std::string& allowed) {
    Json body{{"error", "MethodNotAllowed"},
              {"message", fmt::format("{} is not allowed here; use {}", r.method, allowed)}};
    return JsonResponse(405, body).SetHeader("Allow", allowed);
  });

  router->Add("GET", "/healthz", [](const ServerRequest&) {
    return JsonResponse(200, Json{{"status", "ok"}});
  });
  router->Add("GET", "/api/v1/version", [impl](const ServerRequest&) {
    return JsonResponse(200, Json{{"server_version", TANDEM_VERSION},
                                  {"api", 1},
                                  {"schema", impl->store.SchemaVersion()}});
  });
  router->Add("POST", "/api/v1/login", [impl](const ServerRequest& r) { return impl->Login(r); });
  router->Add("POST", "/api/v1/logout", impl->Authed([impl](auto&, const Caller& c) {
    Status s = impl->auth.Logout(c);
    if (!s.ok()) return ErrorResponse(s);
    return ServerResponse::Empty(204);
  }));
  router->Add("GET", "/api/v1/me", impl->Authed([impl](auto&, const Caller& c) {
    return impl->UserResponse(200, c.user);
  }));

  router->Add("GET", "/api/v1/me/app-passwords",
              impl->Authed([impl](auto&, auto& c) { return impl->ListAppPasswords(c); }));
  router->Add("POST", "/api/v1/me/app-passwords",
              impl->Authed([impl](auto& r, auto& c) { return impl->CreateAppPassword(r, c); }));
  router->Add("DELETE", "/api/v1/me/app-passwords/{name}",
              impl->Authed([impl](auto& r, auto& c) { return impl->RevokeAppPassword(r, c); }));

  router->Add("GET", "/api/v1/users",
              impl->Authed([impl](auto& r, auto& c) { return impl->ListUsers(r, c); }));
  router->Add("POST", "/api/v1/users",
              impl->Authed([impl](auto& r, auto& c) { return impl->CreateUser(r, c); }));
  router->Add("GET", "/api/v1/users/{id}",
              impl->Authed([impl](auto& r, auto& c) { return impl->ReadUser(r, c); }));
  router->Add("PUT", "/api/v1/users/{id}",
              impl->Authed([impl](auto& r, auto& c) { return impl->UpdateUser(r, c); }));
  router->Add("PATCH", "/api/v1/users/{id}",
              impl->Authed([impl](auto& r, auto& c) { return impl->UpdateUser(r, c); }));
  router->Add("DELETE", "/api/v1/users/{id}",
              impl->Authed([impl](auto& r, auto& c) { return impl->DeleteUser(r, c); }));

  impl->AddRecordRoutes<model::Account>(router);
  impl->AddRecordRoutes<model::Contact>(router);
  impl->AddRecordRoutes<model::Opportunity>(router);
  impl->AddRecordRoutes<model::Activity>(router);

  router->Add("GET", "/api/v1/changes",
              impl->Authed([impl](auto& r, auto& c) { return impl->Changes(r, c); }));
  RegisterMutationRoutes(router, &impl->store, &impl->auth, impl->options.clock);
}

Status RestApi::Maintain() {
  Instant now = impl_->options.clock->Now();
  auto pruned = impl_->store.PruneTombstones(now - impl_->options.tombstone_retention);
  if (!pruned.ok()) return pruned.status();
  if (*pruned > 0) spdlog::info("pruned {} tombstones", *pruned);
  auto expired = impl_->store.DeleteExpiredSessions(now);
  if (!expired.ok()) return expired.status();
  return Status::Ok();
}

// --- change feed

namespace {

// A cursor handed out in the middle of a scoped pull from the beginning (a first
// fill) ends with this: the pages after it are still part of that fill.
constexpr std::string_view kFillSuffix = ".fill";

// "<epoch>.<seq>[.fill]"; the epoch names the database so a cursor of another
// one is refused.
Result<int64_t> ParseCursor(std::string_view cursor, std::string_view epoch, bool* fill) {
  *fill = cursor.size() > kFillSuffix.size() &&
          cursor.substr(cursor.size() - kFillSuffix.size()) == kFillSuffix;
  if (*fill) cursor.remove_suffix(kFillSuffix.size());
  size_t dot = cursor.rfind('.');
  if (dot == std::string_view::npos) return Status::InvalidArgument("since: malformed cursor");
  std::string_view seq_text = cursor.substr(dot + 1);
  int64_t seq = 0;
  auto [p, ec] = std::from_chars(seq_text.data(), seq_text.data() + seq_text.size(), seq);
  if (ec != std::errc() || p != seq_text.data() + seq_text.size() || seq < 0) {
    return Status::InvalidArgument("since: malformed cursor");
  }
  if (cursor.substr(0, dot) != epoch) {
    return Status::ResyncRequired(
        "since: the cursor belongs to another database; pull again from the start");
  }
  return seq;
}

}  // namespace

ServerResponse RestApi::Impl::Changes(const ServerRequest& r, const Caller& c) {
  std::string epoch = store.Epoch();
  int64_t after = 0;
  bool fill = true;  // a pull from the beginning, or a later page of one
  if (auto since = r.Query("since"); since && !since->empty()) {
    auto seq = ParseCursor(*since, epoch, &fill);
    if (!seq.ok()) return ErrorResponse(seq.status());
    after = *seq;
  }
  auto limit = ParseLimit(r, 1000, 10000);
  if (!limit.ok()) return ErrorResponse(limit.status());
  store::ChangeFilter filter;
  // Only records the caller may have seen at some time (policy::CanSeeInFeed):
  // one they can no longer read comes as a "remove", one never visible to them
  // not at all.
  filter.viewer = c.viewer;
  if (auto entity = r.Query("entity"); entity && !entity->empty()) {
    auto type = model::ParseEntityName(*entity);
    if (!type.ok() || *type == model::EntityType::kUser) {
      return ErrorResponse(Status::InvalidArgument(
          "entity: must be accounts, contacts, opportunities or activities"));
    }
    filter.entity = *type;
  }
  // The client's data groups (C4): records outside them do not cross the wire.
  // An incremental reader gets "remove" for a changed record that is (now) out
  // of scope; a reader filling from the beginning holds nothing, so it gets
  // neither those nor tombstones (its cursor says so until the fill ends).
  std::optional<model::DataGroups> scope;
  if (auto text = r.Query("scope"); text && !text->empty()) {
    Json j = Json::parse(*text, nullptr, false);
    if (j.is_discarded()) return ErrorResponse(Status::InvalidArgument("scope: not valid JSON"));
    auto groups = model::DataGroupsFromJson(j);
    if (!groups.ok()) {
      return ErrorResponse(Status::InvalidArgument("scope: " + groups.status().message()));
    }
    scope = std::move(*groups);
    bool mine_only = true;
    for (auto e : {model::EntityType::kAccount, model::EntityType::kContact,
                   model::EntityType::kOpportunity, model::EntityType::kActivity}) {
      const auto& f = scope->For(e);
      if (f.enabled && !f.mine_only) mine_only = false;
    }
    // Only the caller's own records: the owner index answers, and a record that
    // moved to another owner arrives as a delete.
    if (mine_only) filter.owner_id = c.user.id;
  }
  const bool from_start = fill && scope.has_value();
  const Instant now = options.clock->Now();
  auto batch = store.ChangesSince(after, *limit, filter);
  if (!batch.ok()) return ErrorResponse(batch.status());

  // Activities in one query; the other kinds one by one (they change less often).
  std::vector<std::string> activity_ids;
  for (const auto& ch : batch->changes) {
    if (ch.op == store::ChangeOp::kUpsert && ch.entity == model::EntityType::kActivity) {
      activity_ids.push_back(ch.id);
    }
  }
  std::unordered_map<std::string, model::Activity> activities;
  if (!activity_ids.empty()) {
    auto got = store.GetActivities(activity_ids);
    if (!got.ok()) return ErrorResponse(got.status());
    for (auto& a : *got) activities.emplace(a.meta.id, std::move(a));
  }

  // Written as text entry by entry, straight from the records: a page of
  // thousands of records never exists as one JSON tree in memory. Keys in byte
  // order, as Json::dump wrote them before.
  std::string out = "{\"changes\":[";
  out.reserve(256 + batch->changes.size() * 700);
  std::string record;  // one record's JSON text, empty when not visible or out of scope
  bool first = true;
  for (const auto& ch : batch->changes) {
    std::string_view op;
    if (ch.op == store::ChangeOp::kDelete) {
      if (scope && from_start) continue;
      op = "delete";
    } else {
      record.clear();
      Status failure;
      auto append = [&](const auto& rec) {
        if (!MayAccess(c, rec)) return;
        if (scope && !model::InScope(*scope, rec, c.user.id, now)) return;
        if (!scope || scope->For(ch.entity).excluded_fields.empty()) {
          model::AppendJson(rec, &record);
        } else {
          Json j = model::ToJson(rec);
          for (const auto& field : scope->For(ch.entity).excluded_fields) j.erase(field);
          record = j.dump();
        }
      };
      auto visible = [&](const auto& rec) {
        if (rec.ok()) {
          append(*rec);
        } else if (!rec.status().Is(Code::kNotFound)) {
          failure = rec.status();
        }
      };
      switch (ch.entity) {
        case model::EntityType::kActivity: {
          auto it = activities.find(ch.id);
          if (it != activities.end()) append(it->second);
          break;
        }
        case model::EntityType::kAccount:
          visible(store.GetAccount(ch.id));
          break;
        case model::EntityType::kContact:
          visible(store.GetContact(ch.id));
          break;
        case model::EntityType::kOpportunity:
          visible(store.GetOpportunity(ch.id));
          break;
        case model::EntityType::kUser:
          break;
      }
      if (!failure.ok()) return ErrorResponse(failure);
      if (record.empty() && scope && from_start) continue;
      // "remove": not visible to this caller, out of its scope, or deleted meanwhile.
      op = record.empty() ? "remove" : "upsert";
    }
    if (!first) out += ',';
    first = false;
    out += "{\"entity\":";
    model::AppendJsonString(model::EntityName(ch.entity), &out);
    out += ",\"id\":";
    model::AppendJsonString(ch.id, &out);
    out += ",\"op\":\"";
    out += op;
    out += '"';
    if (!record.empty() && op == "upsert") {
      out += ",\"record\":";
      out += record;
    }
    out += ",\"seq\":";
    out += std::to_string(ch.seq);
    out += '}';
  }
  out += "],\"next\":";
  out += Json(fmt::format("{}.{}{}", epoch, batch->next_seq,
                          from_start && batch->more ? kFillSuffix : std::string_view()))
             .dump();
  out += ",\"more\":";
  out += batch->more ? "true" : "false";
  out += "}";
  return ServerResponse::Json(200, std::move(out));
}

}  // namespace tandem::api
