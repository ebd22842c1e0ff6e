#include "api/mutations.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/errors.h"
#include "api/policy.h"
#include "api/record_checks.h"
#include "model/json.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/database.h"

namespace tandem::api {

using nlohmann::json;
using store::sqlite::Statement;

namespace {

const std::vector<store::sqlite::Migration>& Migrations() {
  static const std::vector<store::sqlite::Migration> kMigrations = {
      {1, "mutation log", R"sql(
CREATE TABLE mutation_log (
  user_id TEXT NOT NULL, mutation_id TEXT NOT NULL, result TEXT NOT NULL,
  applied_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, mutation_id)) WITHOUT ROWID;
CREATE INDEX mutation_log_applied ON mutation_log(applied_at);
)sql"},
  };
  return kMigrations;
}

// Per-entity access to the store, so one template serves the four record types.
Result<model::Account> Fetch(store::Store& s, std::string_view id, model::Account*) {
  return s.GetAccount(id);
}
Result<model::Contact> Fetch(store::Store& s, std::string_view id, model::Contact*) {
  return s.GetContact(id);
}
Result<model::Opportunity> Fetch(store::Store& s, std::string_view id, model::Opportunity*) {
  return s.GetOpportunity(id);
}
Result<model::Activity> Fetch(store::Store& s, std::string_view id, model::Activity*) {
  return s.GetActivity(id);
}
// The policy's "does this owner exist" question, answered by the store.
auto UserExists(store::Store& s) {
  return [&s](const std::string& id) { return s.GetUser(id).ok(); };
}

struct Incoming {
  std::string id;
  model::EntityType entity;
  std::string record_id;
  std::string op;
  std::optional<int64_t> base_version;
  json fields;
};

json Outcome(const Incoming& m, std::string_view outcome) {
  return json{{"id", m.id}, {"outcome", outcome}, {"record", nullptr}, {"version", nullptr},
              {"current", nullptr}};
}

json Failure(const Incoming& m, const Status& s) {
  bool transient = s.Is(Code::kUnavailable) || s.Is(Code::kInternal) ||
                   s.Is(Code::kDeadlineExceeded) || s.Is(Code::kResourceExhausted);
  json r = Outcome(m, transient ? "retry" : "rejected");
  r["error"] = CodeName(s.code());
  r["message"] = s.message();
  return r;
}

json Applied(const Incoming& m, const json& record) {
  json r = Outcome(m, "applied");
  if (!record.is_null()) {
    r["record"] = record;
    r["version"] = record["version"];
  }
  return r;
}

json Conflicted(const Incoming& m, const json& current) {
  json r = Outcome(m, "conflict");
  r["current"] = current;
  r["error"] = "Conflict";
  r["message"] = current.is_null()
                     ? "the record was deleted on the server"
                     : fmt::format("the record is at version {}, the change was based on {}",
                                   current["version"].get<int64_t>(),
                                   m.base_version.value_or(0));
  return r;
}

template <typename T>
json ApplyTyped(store::Store& store, const store::Viewer& viewer, const Incoming& m) {
  T* tag = nullptr;
  if (m.op == "create") {
    T r{};
    if (Status s = model::MergeJson(m.fields, &r); !s.ok()) return Failure(m, s);
    if (Status s = CheckRecord(r); !s.ok()) return Failure(m, s);
    r.meta.id = m.record_id;
    if (r.meta.owner_id.empty()) r.meta.owner_id = viewer.user_id;
    if (Status s = policy::CanCreate(viewer, r, UserExists(store)); !s.ok()) return Failure(m, s);
    auto created = store.Create(std::move(r));
    if (created.ok()) return Applied(m, model::ToJson(*created));
    if (created.status().Is(Code::kAlreadyExists)) {
      // A replay whose first attempt wrote the record but not the log row.
      auto existing = Fetch(store, m.record_id, tag);
      if (existing.ok() && policy::CanRead(viewer, *existing)) {
        return Applied(m, model::ToJson(*existing));
      }
    }
    return Failure(m, created.status());
  }

  auto current = Fetch(store, m.record_id, tag);
  if (!current.ok()) {
    if (!current.status().Is(Code::kNotFound)) return Failure(m, current.status());
    if (m.op == "delete") return Applied(m, nullptr);  // already gone: the goal holds
    if (m.base_version) return Conflicted(m, nullptr);
    return Failure(m, current.status());
  }
  if (!policy::CanRead(viewer, *current)) {
    return Failure(m, Status::NotFound(fmt::format("{} {} does not exist",
                                                   model::EntityName(m.entity), m.record_id)));
  }

  if (m.op == "delete") {
    if (m.base_version && *m.base_version != current->meta.version) {
      return Conflicted(m, model::ToJson(*current));
    }
    Status s = store.Delete(m.entity, m.record_id, current->meta.version);
    if (s.Is(Code::kPreconditionFailed)) {
      auto now = Fetch(store, m.record_id, tag);
      return Conflicted(m, now.ok() ? model::ToJson(*now) : json(nullptr));
    }
    if (!s.ok() && !s.Is(Code::kNotFound)) return Failure(m, s);
    return Applied(m, nullptr);
  }

  // update
  T next = *current;
  if (Status s = model::MergeJson(m.fields, &next); !s.ok()) return Failure(m, s);
  if (Status s = CheckRecord(next); !s.ok()) return Failure(m, s);
  if (Status s = policy::CanWrite(viewer, *current, next, UserExists(store)); !s.ok())
    return Failure(m, s);
  if (m.base_version && *m.base_version != current->meta.version) {
    // A replay whose first attempt wrote the record but not the log row: the
    // fields are already in place.
    if (model::ToJson(next) == model::ToJson(*current)) return Applied(m, model::ToJson(*current));
    return Conflicted(m, model::ToJson(*current));
  }
  auto updated = store.Update(std::move(next), current->meta.version);
  if (updated.ok()) return Applied(m, model::ToJson(*updated));
  if (updated.status().Is(Code::kPreconditionFailed)) {
    auto now = Fetch(store, m.record_id, tag);
    return Conflicted(m, now.ok() ? model::ToJson(*now) : json(nullptr));
  }
  return Failure(m, updated.status());
}

Result<Incoming> ParseIncoming(const json& j, size_t index) {
  auto where = [&](std::string_view field) { return fmt::format("mutations[{}].{}", index, field); };
  if (!j.is_object()) return Status::InvalidArgument(fmt::format("mutations[{}]: must be an object", index));
  Incoming m;
  for (const char* key : {"id", "entity", "record_id", "op"}) {
    if (!j.contains(key) || !j[key].is_string() || j[key].get<std::string>().empty()) {
      return Status::InvalidArgument(where(key) + ": must be a non-empty string");
    }
  }
  m.id = j["id"].get<std::string>();
  auto entity = model::ParseEntityName(j["entity"].get<std::string>());
  if (!entity.ok() || *entity == model::EntityType::kUser) {
    return Status::InvalidArgument(where("entity") + ": must be a CRM record collection");
  }
  m.entity = *entity;
  m.record_id = j["record_id"].get<std::string>();
  if (m.record_id.size() > 255) return Status::InvalidArgument(where("record_id") + ": too long");
  m.op = j["op"].get<std::string>();
  if (m.op != "create" && m.op != "update" && m.op != "delete") {
    return Status::InvalidArgument(where("op") + ": must be create, update or delete");
  }
  if (j.contains("base_version") && !j["base_version"].is_null()) {
    if (!j["base_version"].is_number_integer()) {
      return Status::InvalidArgument(where("base_version") + ": must be an integer or null");
    }
    m.base_version = j["base_version"].get<int64_t>();
  }
  if (j.contains("fields") && !j["fields"].is_null() && !j["fields"].is_object())
    return Status::InvalidArgument(where("fields") + ": must be an object");
  m.fields = j.contains("fields") && j["fields"].is_object() ? j["fields"] : json::object();
  return m;
}

}  // namespace

Result<std::unique_ptr<MutationLog>> MutationLog::Open(store::sqlite::DatabasePool& pool,
                                                       const Clock& clock) {
  {
    auto w = pool.Write();
    TANDEM_RETURN_IF_ERROR(store::sqlite::ApplyMigrations(*w, "mutations", Migrations()));
  }
  return std::unique_ptr<MutationLog>(new MutationLog(pool, clock));
}

Result<std::optional<json>> MutationLog::Find(std::string_view user_id,
                                              std::string_view mutation_id) {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_.Read());
  TANDEM_ASSIGN_OR_RETURN(Statement s, r->PrepareCached(
      "SELECT result FROM mutation_log WHERE user_id = ?1 AND mutation_id = ?2"));
  s.BindText(1, user_id).BindText(2, mutation_id);
  TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<json>();
  json j = json::parse(s.TextView(0), nullptr, false);
  if (j.is_discarded()) return Status::Corruption("mutation_log result of " + std::string(mutation_id));
  return std::optional<json>(std::move(j));
}

Status MutationLog::Remember(std::string_view user_id, std::string_view mutation_id,
                             const json& result) {
  auto w = pool_.Write();
  TANDEM_ASSIGN_OR_RETURN(Statement s, w->PrepareCached(
      "INSERT OR IGNORE INTO mutation_log(user_id, mutation_id, result, applied_at) "
      "VALUES (?1, ?2, ?3, ?4)"));
  return s.BindText(1, user_id).BindText(2, mutation_id).BindText(3, result.dump())
      .BindInt64(4, ToUnixMicros(clock_.Now())).Run();
}

Status MutationLog::RememberAll(std::string_view user_id,
                               const std::vector<std::pair<std::string, json>>& results) {
  if (results.empty()) return Status::Ok();
  auto w = pool_.Write();
  TANDEM_ASSIGN_OR_RETURN(auto tx, store::sqlite::Transaction::Begin(*w));
  int64_t now = ToUnixMicros(clock_.Now());
  for (const auto& [id, result] : results) {
    TANDEM_ASSIGN_OR_RETURN(Statement s, w->PrepareCached(
        "INSERT OR IGNORE INTO mutation_log(user_id, mutation_id, result, applied_at) "
        "VALUES (?1, ?2, ?3, ?4)"));
    TANDEM_RETURN_IF_ERROR(
        s.BindText(1, user_id).BindText(2, id).BindText(3, result.dump()).BindInt64(4, now).Run());
  }
  return tx.Commit();
}

Result<int> MutationLog::Prune(Instant older_than) {
  auto w = pool_.Write();
  TANDEM_ASSIGN_OR_RETURN(Statement s, w->Prepare("DELETE FROM mutation_log WHERE applied_at < ?1"));
  TANDEM_RETURN_IF_ERROR(s.BindInt64(1, ToUnixMicros(older_than)).Run());
  return static_cast<int>(w->ChangedRows());
}

Result<json> ApplyMutationBatch(store::Store& store, MutationLog& log, const store::Viewer& viewer,
                                const json& body) {
  if (!body.is_object() || !body.contains("mutations") || !body["mutations"].is_array()) {
    return Status::InvalidArgument("mutations: must be an array");
  }
  const json& list = body["mutations"];
  if (list.size() > static_cast<size_t>(kMaxMutationsPerBatch)) {
    return Status::InvalidArgument(fmt::format("mutations: at most {} per batch", kMaxMutationsPerBatch));
  }
  std::vector<Incoming> incoming;
  incoming.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    TANDEM_ASSIGN_OR_RETURN(Incoming m, ParseIncoming(list[i], i));
    incoming.push_back(std::move(m));
  }
  json results = json::array();
  std::vector<std::pair<std::string, json>> to_remember;
  for (const Incoming& m : incoming) {
    auto remembered = log.Find(viewer.user_id, m.id);
    if (!remembered.ok()) {
      results.push_back(Failure(m, remembered.status()));
      continue;
    }
    if (remembered->has_value()) {
      results.push_back(std::move(**remembered));
      continue;
    }
    json r;
    switch (m.entity) {
      case model::EntityType::kAccount: r = ApplyTyped<model::Account>(store, viewer, m); break;
      case model::EntityType::kContact: r = ApplyTyped<model::Contact>(store, viewer, m); break;
      case model::EntityType::kOpportunity:
        r = ApplyTyped<model::Opportunity>(store, viewer, m);
        break;
      default: r = ApplyTyped<model::Activity>(store, viewer, m); break;
    }
    if (r["outcome"] != "retry") to_remember.emplace_back(m.id, r);
    results.push_back(std::move(r));
  }
  if (Status s = log.RememberAll(viewer.user_id, to_remember); !s.ok()) {
    // The writes happened; a replay heals through the checks in ApplyTyped.
    spdlog::warn("mutation log: {}", s.ToString());
  }
  return json{{"results", std::move(results)}};
}

void RegisterMutationRoutes(http::Router* router, MutationRoutes routes) {
  router->Add("POST", "/api/v1/mutations", [routes](const http::ServerRequest& request) {
    auto viewer = routes.authenticate(request);
    if (!viewer.ok()) return routes.error(viewer.status());
    json body = json::parse(request.body, nullptr, false);
    if (body.is_discarded()) return routes.error(Status::InvalidArgument("body: not valid JSON"));
    auto results = ApplyMutationBatch(*routes.store, *routes.log, *viewer, body);
    if (!results.ok()) return routes.error(results.status());
    return http::ServerResponse::Json(200, results->dump());
  });
}

void RegisterMutationRoutes(http::Router* router, store::Store* store, Authenticator* auth,
                            const Clock* clock) {
  auto* sqlite_store = dynamic_cast<store::sqlite::SqliteStore*>(store);
  Status unavailable;
  std::shared_ptr<MutationLog> log;
  if (sqlite_store == nullptr) {
    unavailable = Status(Code::kUnavailable, "mutations: this store keeps no mutation log");
  } else if (auto opened = MutationLog::Open(sqlite_store->pool(), *clock); !opened.ok()) {
    unavailable = opened.status().WithContext("opening the mutation log");
  } else {
    log = std::move(opened).value();
  }
  if (!log) {
    int code = sqlite_store == nullptr ? 501 : 503;
    router->Add("POST", "/api/v1/mutations", [unavailable, code](const http::ServerRequest&) {
      http::ServerResponse r = ErrorResponse(unavailable);
      r.status = code;
      return r;
    });
    return;
  }
  MutationRoutes routes;
  routes.store = store;
  routes.log = log.get();
  routes.authenticate = [auth, log](const http::ServerRequest& r) -> Result<store::Viewer> {
    TANDEM_ASSIGN_OR_RETURN(Caller c, auth->Authenticate(r.Header("Authorization")));
    return c.viewer;
  };
  routes.error = [](const Status& s) { return ErrorResponse(s); };
  RegisterMutationRoutes(router, std::move(routes));
}

}  // namespace tandem::api
