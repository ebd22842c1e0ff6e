#include "store/sqlite/sqlite_store.h"

#include <fmt/format.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>
#include <unordered_map>

#include "store/sqlite/change_log.h"
#include "store/sqlite/record_rows.h"
#include "store/sqlite/schema.h"

namespace tandem::store::sqlite {
namespace {

constexpr size_t kMaxIdBytes = 255;
constexpr int kMaxListLimit = 1000;
constexpr int kMaxChangesLimit = 10000;
// Open ends of a time range, far enough from the int64 limits that subtracting
// the longest activity span cannot overflow.
constexpr int64_t kFarPastMicros = std::numeric_limits<int64_t>::min() / 4;
constexpr int64_t kFarFutureMicros = std::numeric_limits<int64_t>::max() / 4;

std::string_view Singular(model::EntityType entity) {
  switch (entity) {
    case model::EntityType::kUser:
      return "user";
    case model::EntityType::kAccount:
      return "account";
    case model::EntityType::kContact:
      return "contact";
    case model::EntityType::kOpportunity:
      return "opportunity";
    case model::EntityType::kActivity:
      return "activity";
  }
  return "record";
}

Status CheckId(std::string_view id) {
  if (id.size() > kMaxIdBytes) {
    return Status::InvalidArgument(fmt::format("id: longer than {} bytes", kMaxIdBytes));
  }
  return Status::Ok();
}

template <typename T>
Status CheckRecord(const T& r) {
  TANDEM_RETURN_IF_ERROR(model::Validate(r));
  if (r.meta.owner_id.empty()) return Status::InvalidArgument("owner_id: must not be empty");
  return CheckId(r.meta.id);
}

// Raises the bound used by time-overlap queries (see schema.h).
Status NoteActivitySpan(Database& db, const model::Activity& a) {
  if (RecordRow<model::Activity>::IsSeries(a)) return Status::Ok();
  TANDEM_ASSIGN_OR_RETURN(
      Statement stmt,
      db.PrepareCached("UPDATE meta SET value = ?1 WHERE key = 'max_activity_span_us' "
                       "AND value < ?1"));
  stmt.BindInt64(1, ToUnixMicros(a.end) - ToUnixMicros(a.start));
  return stmt.Run();
}

template <typename T>
Status AfterWrite(Database& db, const T& r) {
  if constexpr (std::is_same_v<T, model::Activity>) return NoteActivitySpan(db, r);
  return Status::Ok();
}

template <typename T>
Result<T> ReadRecord(const Statement& stmt) {
  T r;
  ReadMeta(stmt, &r.meta);
  TANDEM_RETURN_IF_ERROR(RecordRow<T>::Read(stmt, kMetaColumnCount, &r));
  return r;
}

// --- users

constexpr std::string_view kUserColumns =
    "id, login, display_name, email, role, password_hash, disabled, created, modified, version, "
    "time_zone";

void BindUser(Statement& stmt, const model::User& u) {
  stmt.BindText(1, u.id)
      .BindText(2, u.login)
      .BindText(3, u.display_name)
      .BindText(4, u.email)
      .BindText(5, model::RoleName(u.role))
      .BindText(6, u.password_hash)
      .BindBool(7, u.disabled)
      .BindInt64(8, ToUnixMicros(u.created))
      .BindInt64(9, ToUnixMicros(u.modified))
      .BindInt64(10, u.version)
      .BindText(11, u.time_zone);
}

Result<model::User> ReadUser(const Statement& stmt) {
  model::User u;
  u.id = stmt.Text(0);
  u.login = stmt.Text(1);
  u.display_name = stmt.Text(2);
  u.email = stmt.Text(3);
  auto role = model::ParseRole(stmt.TextView(4));
  if (!role.ok()) return Status::Corruption("stored role: " + role.status().message());
  u.role = *role;
  u.password_hash = stmt.Text(5);
  u.disabled = stmt.Bool(6);
  u.created = FromUnixMicros(stmt.Int64(7));
  u.modified = FromUnixMicros(stmt.Int64(8));
  u.version = stmt.Int64(9);
  u.time_zone = stmt.Text(10);
  return u;
}

std::string SelectUserSql(std::string_view where) {
  return fmt::format("SELECT {} FROM users {}", kUserColumns, where);
}

Result<model::User> QueryOneUser(Database& db, std::string_view where, std::string_view key,
                                 std::string_view what) {
  TANDEM_ASSIGN_OR_RETURN(Statement stmt, db.PrepareCached(SelectUserSql(where)));
  stmt.BindText(1, key);
  TANDEM_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Status::NotFound(fmt::format("user with {} '{}' does not exist", what, key));
  return ReadUser(stmt);
}

// Version check shared by every update and delete.
Status CheckExpectedVersion(model::EntityType entity, std::string_view id, int64_t current,
                            std::optional<int64_t> expected) {
  if (expected && *expected != current) {
    return Status::PreconditionFailed(
        fmt::format("{} {} is at version {}, not {}", Singular(entity), id, current, *expected));
  }
  return Status::Ok();
}

template <typename T>
Audience AudienceOfRecord(const T& r) {
  if constexpr (std::is_same_v<T, model::Activity>) return AudienceOf(r.meta, r.is_private);
  return AudienceOf(r.meta, false);
}

}  // namespace

SqliteStore::SqliteStore(const SqliteOptions& options, std::unique_ptr<DatabasePool> pool)
    : clock_(options.clock),
      ids_(options.ids),
      series_end_(options.series_end),
      pool_(std::move(pool)) {}

template <typename T>
void SqliteStore::BindOwn(Statement& stmt, const T& r) const {
  using Row = RecordRow<T>;
  if constexpr (std::is_same_v<T, model::Activity>) {
    std::optional<int64_t> series_end;
    if (Row::IsSeries(r)) {
      series_end = Row::kEndlessSeries;
      if (series_end_) {
        if (std::optional<Instant> last = series_end_(r))
          series_end = std::min(Row::kEndlessSeries, ToUnixMicros(*last));
      }
    }
    Row::Bind(stmt, kMetaColumnCount + 1, r, series_end);
  } else {
    Row::Bind(stmt, kMetaColumnCount + 1, r);
  }
}

Status SqliteStore::RaiseSequence(Database& db, model::Activity* r) const {
  TANDEM_ASSIGN_OR_RETURN(
      Statement current,
      db.PrepareCached("SELECT start_at, end_at, all_day, time_zone, rrule, exdates, rdates, "
                       "cancelled, sequence FROM activities WHERE id = ?1"));
  current.BindText(1, r->meta.id);
  TANDEM_ASSIGN_OR_RETURN(bool found, current.Step());
  if (!found) return Status::Ok();
  const int64_t stored = current.Int64(8);
  // RFC 5545 3.8.7.4: the sequence grows when start, end, recurrence or status change.
  const bool rescheduled =
      current.Int64(0) != ToUnixMicros(r->start) || current.Int64(1) != ToUnixMicros(r->end) ||
      current.Bool(2) != r->all_day || current.TextView(3) != r->time_zone ||
      current.TextView(4) != r->rrule || current.Bool(7) != r->cancelled ||
      current.TextView(5) != RecordRow<model::Activity>::InstantsText(r->exdates) ||
      current.TextView(6) != RecordRow<model::Activity>::InstantsText(r->rdates);
  current.Reset();
  r->sequence = std::max(r->sequence, rescheduled ? stored + 1 : stored);
  return Status::Ok();
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteOptions& options) {
  if (options.clock == nullptr) return Status::InvalidArgument("SqliteOptions.clock is required");
  if (options.ids == nullptr) return Status::InvalidArgument("SqliteOptions.ids is required");
  TANDEM_ASSIGN_OR_RETURN(auto pool, DatabasePool::Open({.path = options.path,
                                                         .busy_timeout_ms = options.busy_timeout_ms,
                                                         .max_readers = 4,
                                                         .clock = options.clock}));
  std::unique_ptr<SqliteStore> store(new SqliteStore(options, std::move(pool)));
  TANDEM_RETURN_IF_ERROR(store->Initialize());
  return store;
}

Status SqliteStore::Initialize() {
  auto w = pool_->Write();
  TANDEM_RETURN_IF_ERROR(ApplyMigrations(*w, kCrmComponent, CrmMigrations()));
  {
    TANDEM_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*w));
    TANDEM_ASSIGN_OR_RETURN(
        Statement insert,
        w->Prepare(
            "INSERT INTO meta(key, value) VALUES ('epoch', ?1) ON CONFLICT(key) DO NOTHING"));
    insert.BindText(1, ids_->NewId());
    TANDEM_RETURN_IF_ERROR(insert.Run());
    TANDEM_RETURN_IF_ERROR(tx.Commit());
  }
  TANDEM_ASSIGN_OR_RETURN(Statement epoch,
                          w->Prepare("SELECT value FROM meta WHERE key = 'epoch'"));
  TANDEM_ASSIGN_OR_RETURN(bool row, epoch.Step());
  if (!row) return Status::Corruption("meta has no epoch");
  epoch_ = epoch.Text(0);
  TANDEM_ASSIGN_OR_RETURN(schema_version_, AppliedSchemaVersion(*w, kCrmComponent));
  return Status::Ok();
}

// ---------------------------------------------------------------- users

Result<model::User> SqliteStore::CreateUser(model::User u) {
  TANDEM_RETURN_IF_ERROR(model::Validate(u));
  TANDEM_RETURN_IF_ERROR(CheckId(u.id));
  if (u.id.empty()) u.id = ids_->NewId();
  u.created = u.modified = clock_->Now();
  u.version = 1;
  auto w = pool_->Write();
  TANDEM_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*w));
  {
    TANDEM_ASSIGN_OR_RETURN(Statement taken,
                            w->PrepareCached("SELECT 1 FROM users WHERE login = ?1"));
    taken.BindText(1, u.login);
    TANDEM_ASSIGN_OR_RETURN(bool exists, taken.Step());
    if (exists) return Status::AlreadyExists(fmt::format("login '{}' is taken", u.login));
  }
  TANDEM_ASSIGN_OR_RETURN(
      Statement insert,
      w->PrepareCached(fmt::format("INSERT INTO users({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                                   "?9, ?10, ?11)",
                                   kUserColumns)));
  BindUser(insert, u);
  Status inserted = insert.Run();
  if (inserted.code() == Code::kAlreadyExists) {
    return Status::AlreadyExists(fmt::format("user {} already exists", u.id));
  }
  TANDEM_RETURN_IF_ERROR(inserted);
  TANDEM_RETURN_IF_ERROR(tx.Commit());
  return u;
}

Result<model::User> SqliteStore::GetUser(std::string_view id) {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_->Read());
  return QueryOneUser(*r, "WHERE id = ?1", id, "id");
}

Result<model::User> SqliteStore::GetUserByLogin(std::string_view login) {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_->Read());
  return QueryOneUser(*r, "WHERE login = ?1", login, "login");
}

Result<std::vector<model::User>> SqliteStore::ListUsers() {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_->Read());
  TANDEM_ASSIGN_OR_RETURN(Statement stmt, r->PrepareCached(SelectUserSql("ORDER BY login")));
  std::vector<model::User> users;
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    TANDEM_ASSIGN_OR_RETURN(model::User u, ReadUser(stmt));
    users.push_back(std::move(u));
  }
  return users;
}

Result<model::User> SqliteStore::UpdateUser(model::User u,
                                            std::optional<int64_t> expected_version) {
  TANDEM_RETURN_IF_ERROR(model::Validate(u));
  auto w = pool_->Write();
  TANDEM_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*w));
  TANDEM_ASSIGN_OR_RETURN(model::User current, QueryOneUser(*w, "WHERE id = ?1", u.id, "id"));
  TANDEM_RETURN_IF_ERROR(
      CheckExpectedVersion(model::EntityType::kUser, u.id, current.version, expected_version));
  u.created = current.created;
  u.modified = clock_->Now();
  u.version = current.version + 1;
  TANDEM_ASSIGN_OR_RETURN(
      Statement update,
      w->PrepareCached("UPDATE users SET login = ?2, display_name = ?3, email = ?4, role = ?5, "
                       "password_hash = ?6, disabled = ?7, modified = ?9, version = ?10, "
                       "time_zone = ?11 "
                       "WHERE id = ?1"));
  BindUser(update, u);
  Status updated = update.Run();
  if (updated.code() == Code::kAlreadyExists) {
    return Status::AlreadyExists(fmt::format("login '{}' is taken", u.login));
  }
  TANDEM_RETURN_IF_ERROR(updated);
  TANDEM_RETURN_IF_ERROR(tx.Commit());
  return u;
}

Status SqliteStore::DeleteUser(std::string_view id) {
  auto w = pool_->Write();
  TANDEM_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*w));
  TANDEM_ASSIGN_OR_RETURN(model::User current, QueryOneUser(*w, "WHERE id = ?1", id, "id"));
  TANDEM_ASSIGN_OR_RETURN(
      Statement owned,
      w->PrepareCached("SELECT (SELECT count(*) FROM accounts WHERE owner_id = ?1)"
                       " + (SELECT count(*) FROM contacts WHERE owner_id = ?1)"
                       " + (SELECT count(*) FROM opportunities WHERE owner_id = ?1)"
                       " + (SELECT count(*) FROM activities WHERE owner_id = ?1)"));
  owned.BindText(1, id);
  TANDEM_ASSIGN_OR_RETURN(bool row, owned.Step());
  int64_t count = row ? owned.Int64(0) : 0;
  if (count > 0) {
    return Status::Conflict(
        fmt::format("user {} ({}) still owns {} records; reassign or delete them first", id,
                    current.login, count));
  }
  owned.Reset();
  TANDEM_ASSIGN_OR_RETURN(Statement remove, w->PrepareCached("DELETE FROM users WHERE id = ?1"));
  remove.BindText(1, id);
  TANDEM_RETURN_IF_ERROR(remove.Run());
  return tx.Commit();
}

Result<int64_t> SqliteStore::CountUsers() {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_->Read());
  TANDEM_ASSIGN_OR_RETURN(Statement stmt, r->PrepareCached("SELECT count(*) FROM users"));
  TANDEM_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Int64(0) : int64_t{0};
}

// ---------------------------------------------------------------- sessions

Status SqliteStore::CreateSession(const Session& s) {
  if (s.token_hash.empty()) return Status::InvalidArgument("token_hash: must not be empty");
  if (s.user_id.empty()) return Status::InvalidArgument("user_id: must not be empty");
  auto w = pool_->Write();
  TANDEM_ASSIGN_OR_RETURN(
      Statement insert,
      w->PrepareCached(
          "INSERT INTO sessions(token_hash, user_id, created, expires) VALUES (?1, ?2, ?3, ?4)"));
  insert.BindText(1, s.token_hash)
      .BindText(2, s.user_id)
      .BindInt64(3, ToUnixMicros(s.created))
      .BindInt64(4, ToUnixMicros(s.expires));
  Status status = insert.Run();
  if (status.code() == Code::kNotFound) {
    return Status::NotFound(fmt::format("user {} does not exist", s.user_id));
  }
  if (status.code() == Code::kAlreadyExists) return Status::AlreadyExists("session exists");
  return status;
}

Result<Session> SqliteStore::GetSession(std::string_view token_hash) {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_->Read());
  TANDEM_ASSIGN_OR_RETURN(
      Statement stmt, r->PrepareCached("SELECT token_hash, user_id, created, expires FROM sessions "
                                       "WHERE token_hash = ?1"));
  stmt.BindText(1, token_hash);
  TANDEM_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Status::NotFound("no such session");
  Session s;
  s.token_hash = stmt.Text(0);
  s.user_id = stmt.Text(1);
  s.created = FromUnixMicros(stmt.Int64(2));
  s.expires = FromUnixMicros(stmt.Int64(3));
  return s;
}

Status SqliteStore::DeleteSession(std::string_view token_hash) {
  auto w = pool_->Write();
  TANDEM_ASSIGN_OR_RETURN(Statement remove,
                          w->PrepareCached("DELETE FROM sessions WHERE token_hash = ?1"));
  remove.BindText(1, token_hash);
  TANDEM_RETURN_IF_ERROR(remove.Run());
  if (w->ChangedRows() == 0) return Status::NotFound("no such session");
  return Status::Ok();
}

Result<int> SqliteStore::DeleteExpiredSessions(Instant now) {
  auto w = pool_->Write();
  TANDEM_ASSIGN_OR_RETURN(Statement remove,
                          w->PrepareCached("DELETE FROM sessions WHERE expires <= ?1"));
  remove.BindInt64(1, ToUnixMicros(now));
  TANDEM_RETURN_IF_ERROR(remove.Run());
  return static_cast<int>(w->ChangedRows());
}

// ---------------------------------------------------------------- app passwords

Status SqliteStore::CreateAppPassword(const AppPassword& p) {
  if (p.name.empty() || p.name.size() > 100) return Status::InvalidArgument("name: 1 to 100 characters");
  if (p.hash.empty()) return Status::InvalidArgument("hash: must not be empty");
  auto w = pool_->Write();
  TANDEM_ASSIGN_OR_RETURN(Statement insert,
                          w->PrepareCached("INSERT INTO app_passwords(user_id, name, hash, created) "
                                           "VALUES (?1, ?2, ?3, ?4)"));
  insert.BindText(1, p.user_id).BindText(2, p.name).BindText(3, p.hash).BindInt64(4, ToUnixMicros(p.created));
  Status status = insert.Run();
  if (status.code() == Code::kNotFound) return Status::NotFound(fmt::format("user {} does not exist", p.user_id));
  if (status.code() == Code::kAlreadyExists) {
    return Status::AlreadyExists(fmt::format("an app password named '{}' exists; revoke it first", p.name));
  }
  return status;
}

Result<std::vector<AppPassword>> SqliteStore::ListAppPasswords(std::string_view user_id) {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_->Read());
  TANDEM_ASSIGN_OR_RETURN(Statement stmt,
                          r->PrepareCached("SELECT user_id, name, hash, created FROM app_passwords "
                                           "WHERE user_id = ?1 ORDER BY name"));
  stmt.BindText(1, user_id);
  std::vector<AppPassword> out;
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    out.push_back({stmt.Text(0), stmt.Text(1), stmt.Text(2), FromUnixMicros(stmt.Int64(3))});
  }
  return out;
}

Status SqliteStore::DeleteAppPassword(std::string_view user_id, std::string_view name) {
  auto w = pool_->Write();
  TANDEM_ASSIGN_OR_RETURN(Statement remove,
                          w->PrepareCached("DELETE FROM app_passwords WHERE user_id = ?1 AND name = ?2"));
  remove.BindText(1, user_id).BindText(2, name);
  TANDEM_RETURN_IF_ERROR(remove.Run());
  if (w->ChangedRows() == 0) return Status::NotFound(fmt::format("no app password named '{}'", name));
  return Status::Ok();
}

// ---------------------------------------------------------------- CRM records

template <typename T>
Status SqliteStore::PrepareNew(T* r, Instant now) {
  TANDEM_RETURN_IF_ERROR(CheckRecord(*r));
  if (r->meta.id.empty()) r->meta.id = ids_->NewId();
  r->meta.created = r->meta.modified = now;
  r->meta.version = 1;
  return Status::Ok();
}

template <typename T>
Status SqliteStore::InsertRecord(Database& db, const T& r) {
  using Row = RecordRow<T>;
  static const std::string kSql = InsertRecordSql<T>();
  TANDEM_ASSIGN_OR_RETURN(Statement insert, db.PrepareCached(kSql));
  BindMeta(insert, r.meta);
  BindOwn(insert, r);
  Status status = insert.Run();
  if (status.code() == Code::kAlreadyExists) {
    return Status::AlreadyExists(
        fmt::format("{} {} already exists", Singular(Row::kEntity), r.meta.id));
  }
  TANDEM_RETURN_IF_ERROR(status);
  TANDEM_RETURN_IF_ERROR(AfterWrite(db, r));
  return LogUpsert(db, Row::kEntity, r.meta.id, r.meta.owner_id, std::nullopt, AudienceOfRecord(r),
                   r.meta.modified, r.meta.origin);
}

template <typename T>
Result<T> SqliteStore::CreateRecord(T r) {
  TANDEM_RETURN_IF_ERROR(PrepareNew(&r, clock_->Now()));
  auto w = pool_->Write();
  TANDEM_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*w));
  TANDEM_RETURN_IF_ERROR(InsertRecord(*w, r));
  TANDEM_RETURN_IF_ERROR(tx.Commit());
  r.meta.origin.clear();  // the write's, not the record's
  return r;
}

Result<std::vector<model::Activity>> SqliteStore::CreateActivities(
    std::vector<model::Activity> records) {
  Instant now = clock_->Now();
  for (auto& r : records) TANDEM_RETURN_IF_ERROR(PrepareNew(&r, now));
  auto w = pool_->Write();
  TANDEM_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*w));
  for (const auto& r : records) TANDEM_RETURN_IF_ERROR(InsertRecord(*w, r));
  TANDEM_RETURN_IF_ERROR(tx.Commit());
  return records;
}

Result<int64_t> SqliteStore::ImportActivities(const std::function<bool(model::Activity*)>& next) {
  Instant now = clock_->Now();
  auto w = pool_->Write();
  TANDEM_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*w));
  int64_t count = 0;
  model::Activity r;
  while (next(&r)) {
    TANDEM_RETURN_IF_ERROR(PrepareNew(&r, now).WithContext(fmt::format("record {}", count)));
    TANDEM_RETURN_IF_ERROR(InsertRecord(*w, r));
    ++count;
    r = model::Activity();
  }
  TANDEM_RETURN_IF_ERROR(tx.Commit());
  return count;
}

template <typename T>
Status SqliteStore::PutIn(Database& db, T r, bool likely_present, Instant now) {
  if (likely_present) {
    Status updated = UpdateIn(db, &r, std::nullopt);
    if (!updated.Is(Code::kNotFound)) return updated;
  }
  TANDEM_RETURN_IF_ERROR(PrepareNew(&r, now));
  Status inserted = InsertRecord(db, r);
  if (!inserted.Is(Code::kAlreadyExists)) return inserted;
  return UpdateIn(db, &r, std::nullopt);  // UpdateIn sets version, created, modified again
}

Status SqliteStore::ApplyWrites(std::vector<RecordWrite> writes,
                                const std::function<Status(Database&)>& also) {
  Instant now = clock_->Now();
  auto w = pool_->Write();
  TANDEM_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*w));
  for (RecordWrite& write : writes) {
    Status s = std::visit(
        [&](auto& r) -> Status {
          using T = std::decay_t<decltype(r)>;
          if constexpr (std::is_same_v<T, std::monostate>) {
            Status removed;
            switch (write.entity) {
              case model::EntityType::kAccount:
                removed = DeleteIn<model::Account>(*w, write.id, std::nullopt);
                break;
              case model::EntityType::kContact:
                removed = DeleteIn<model::Contact>(*w, write.id, std::nullopt);
                break;
              case model::EntityType::kOpportunity:
                removed = DeleteIn<model::Opportunity>(*w, write.id, std::nullopt);
                break;
              case model::EntityType::kActivity:
                removed = DeleteIn<model::Activity>(*w, write.id, std::nullopt);
                break;
              case model::EntityType::kUser:
                return Status::InvalidArgument("users are not records");
            }
            return removed.Is(Code::kNotFound) ? Status::Ok() : removed;
          } else {
            return PutIn(*w, std::move(r), write.likely_present, now);
          }
        },
        write.record);
    TANDEM_RETURN_IF_ERROR(s.WithContext(fmt::format("{} {}", Singular(write.entity), write.id)));
  }
  if (also) TANDEM_RETURN_IF_ERROR(also(*w));
  return tx.Commit();
}

template <typename T>
Status SqliteStore::UpdateIn(Database& db, T* rec, std::optional<int64_t> expected) {
  using Row = RecordRow<T>;
  T& r = *rec;
  if (r.meta.id.empty()) return Status::InvalidArgument("id: must not be empty");
  TANDEM_RETURN_IF_ERROR(CheckRecord(r));
  Database* w = &db;
  static const std::string kCurrentSql =
      fmt::format("SELECT owner_id, created, version FROM {} WHERE id = ?1", Row::kTable);
  TANDEM_ASSIGN_OR_RETURN(Statement current, w->PrepareCached(kCurrentSql));
  current.BindText(1, r.meta.id);
  TANDEM_ASSIGN_OR_RETURN(bool found, current.Step());
  if (!found) {
    return Status::NotFound(fmt::format("{} {} does not exist", Singular(Row::kEntity), r.meta.id));
  }
  std::string previous_owner = current.Text(0);
  Instant created = FromUnixMicros(current.Int64(1));
  int64_t version = current.Int64(2);
  current.Reset();
  TANDEM_RETURN_IF_ERROR(CheckExpectedVersion(Row::kEntity, r.meta.id, version, expected));

  r.meta.created = created;
  r.meta.modified = clock_->Now();
  r.meta.version = version + 1;
  if constexpr (std::is_same_v<T, model::Activity>) TANDEM_RETURN_IF_ERROR(RaiseSequence(*w, &r));
  static const std::string kUpdateSql = UpdateRecordSql<T>();
  TANDEM_ASSIGN_OR_RETURN(Statement update, w->PrepareCached(kUpdateSql));
  BindMeta(update, r.meta);
  BindOwn(update, r);
  TANDEM_RETURN_IF_ERROR(update.Run());
  TANDEM_RETURN_IF_ERROR(AfterWrite(*w, r));
  TANDEM_RETURN_IF_ERROR(LogUpsert(*w, Row::kEntity, r.meta.id, r.meta.owner_id,
                                   std::string_view(previous_owner), AudienceOfRecord(r),
                                   r.meta.modified, r.meta.origin));
  return Status::Ok();
}

template <typename T>
Result<T> SqliteStore::UpdateRecord(T r, std::optional<int64_t> expected) {
  auto w = pool_->Write();
  TANDEM_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*w));
  TANDEM_RETURN_IF_ERROR(UpdateIn(*w, &r, expected));
  TANDEM_RETURN_IF_ERROR(tx.Commit());
  r.meta.origin.clear();  // the write's, not the record's
  return r;
}

template <typename T>
Result<T> SqliteStore::GetRecord(std::string_view id) {
  using Row = RecordRow<T>;
  static const std::string kSql = SelectRecordSql<T>() + " WHERE id = ?1";
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_->Read());
  TANDEM_ASSIGN_OR_RETURN(Statement stmt, r->PrepareCached(kSql));
  stmt.BindText(1, id);
  TANDEM_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row)
    return Status::NotFound(fmt::format("{} {} does not exist", Singular(Row::kEntity), id));
  return ReadRecord<T>(stmt);
}

template <typename T>
Result<Page<T>> SqliteStore::ListRecords(const ListOptions& o) {
  constexpr bool kIsActivity = std::is_same_v<T, model::Activity>;
  if (o.limit < 1 || o.limit > kMaxListLimit) {
    return Status::InvalidArgument(fmt::format("limit: must be 1..{}", kMaxListLimit));
  }
  bool time_range = o.from.has_value() || o.to.has_value();
  if (time_range && !kIsActivity) {
    return Status::InvalidArgument("from/to: only activities can be listed by time");
  }
  if (o.from && o.to && *o.from > *o.to) {
    return Status::InvalidArgument("to: must not be before from");
  }
  // Fixed fragments chosen by which options are set; values are parameters:
  // ?1 page_after, ?2 owner, ?3 viewer, ?4 viewer is admin, ?5 from, ?6 to, ?7 limit.
  std::string sql = SelectRecordSql<T>() + " WHERE id > ?1";
  // With a time range the owner condition sits inside the range subqueries, where
  // it selects the (owner_id, start_at) indexes.
  if (o.owner_id && !time_range) sql += " AND owner_id = ?2";
  if (o.viewer) {
    // MayAccess (store.cc) in SQL.
    sql += kIsActivity ? " AND (owner_id = ?3 OR (is_private = 0 AND (shared = 1 OR ?4 = 1)))"
                       : " AND (owner_id = ?3 OR shared = 1 OR ?4 = 1)";
  }
  if (time_range) {
    // Overlap of [start, end) with [from, to); zero-length activities at `from`
    // count. A single activity that overlaps starts no earlier than
    // from - (longest span), which bounds the index range; a series matches when
    // its stored end lies after `from` and it starts before `to`. Each branch has
    // its own index; the id list they produce is walked in id order for the page.
    std::string_view owner = o.owner_id ? " AND owner_id = ?2" : "";
    sql +=
        " AND id IN (SELECT id FROM activities WHERE start_at < ?6 AND start_at >= ?5 - "
        "(SELECT value FROM meta WHERE key = 'max_activity_span_us') AND "
        "(end_at > ?5 OR start_at = ?5) AND series_end IS NULL";
    sql += owner;
    sql +=
        " UNION ALL SELECT id FROM activities WHERE series_end IS NOT NULL AND "
        "series_end >= ?5 AND start_at < ?6";
    sql += owner;
    sql += ")";
  }
  sql += " ORDER BY id LIMIT ?7";

  TANDEM_ASSIGN_OR_RETURN(auto r, pool_->Read());
  TANDEM_ASSIGN_OR_RETURN(Statement stmt, r->PrepareCached(sql));
  stmt.BindText(1, o.page_after);
  if (o.owner_id) stmt.BindText(2, *o.owner_id);
  if (o.viewer) stmt.BindText(3, o.viewer->user_id).BindBool(4, o.viewer->admin);
  if (time_range) {
    stmt.BindInt64(5, o.from ? ToUnixMicros(*o.from) : kFarPastMicros)
        .BindInt64(6, o.to ? ToUnixMicros(*o.to) : kFarFutureMicros);
  }
  stmt.BindInt64(7, int64_t{o.limit} + 1);

  Page<T> page;
  page.items.reserve(static_cast<size_t>(o.limit));
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    if (static_cast<int>(page.items.size()) == o.limit) {
      page.next_page_after = page.items.back().meta.id;
      break;
    }
    // Decoded in place: no intermediate record to move.
    T& item = page.items.emplace_back();
    ReadMeta(stmt, &item.meta);
    TANDEM_RETURN_IF_ERROR(RecordRow<T>::Read(stmt, kMetaColumnCount, &item));
  }
  return page;
}

template <typename T>
Status SqliteStore::DeleteIn(Database& db, std::string_view id, std::optional<int64_t> expected,
                             std::string_view origin) {
  using Row = RecordRow<T>;
  Database* w = &db;
  static const std::string kCurrentSql =
      fmt::format("SELECT owner_id, version FROM {} WHERE id = ?1", Row::kTable);
  TANDEM_ASSIGN_OR_RETURN(Statement current, w->PrepareCached(kCurrentSql));
  current.BindText(1, id);
  TANDEM_ASSIGN_OR_RETURN(bool found, current.Step());
  if (!found)
    return Status::NotFound(fmt::format("{} {} does not exist", Singular(Row::kEntity), id));
  std::string owner = current.Text(0);
  int64_t version = current.Int64(1);
  current.Reset();
  TANDEM_RETURN_IF_ERROR(CheckExpectedVersion(Row::kEntity, id, version, expected));
  static const std::string kDeleteSql = fmt::format("DELETE FROM {} WHERE id = ?1", Row::kTable);
  TANDEM_ASSIGN_OR_RETURN(Statement remove, w->PrepareCached(kDeleteSql));
  remove.BindText(1, id);
  TANDEM_RETURN_IF_ERROR(remove.Run());
  return LogDelete(*w, Row::kEntity, id, owner, clock_->Now(), origin);
}

template <typename T>
Status SqliteStore::DeleteRecord(std::string_view id, std::optional<int64_t> expected,
                                 std::string_view origin) {
  auto w = pool_->Write();
  TANDEM_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*w));
  TANDEM_RETURN_IF_ERROR(DeleteIn<T>(*w, id, expected, origin));
  return tx.Commit();
}

Result<model::Account> SqliteStore::Create(model::Account r) { return CreateRecord(std::move(r)); }
Result<model::Contact> SqliteStore::Create(model::Contact r) { return CreateRecord(std::move(r)); }
Result<model::Opportunity> SqliteStore::Create(model::Opportunity r) {
  return CreateRecord(std::move(r));
}
Result<model::Activity> SqliteStore::Create(model::Activity r) {
  return CreateRecord(std::move(r));
}

Result<model::Account> SqliteStore::Update(model::Account r, std::optional<int64_t> expected) {
  return UpdateRecord(std::move(r), expected);
}
Result<model::Contact> SqliteStore::Update(model::Contact r, std::optional<int64_t> expected) {
  return UpdateRecord(std::move(r), expected);
}
Result<model::Opportunity> SqliteStore::Update(model::Opportunity r,
                                               std::optional<int64_t> expected) {
  return UpdateRecord(std::move(r), expected);
}
Result<model::Activity> SqliteStore::Update(model::Activity r, std::optional<int64_t> expected) {
  return UpdateRecord(std::move(r), expected);
}

Result<model::Account> SqliteStore::GetAccount(std::string_view id) {
  return GetRecord<model::Account>(id);
}
Result<model::Contact> SqliteStore::GetContact(std::string_view id) {
  return GetRecord<model::Contact>(id);
}
Result<model::Opportunity> SqliteStore::GetOpportunity(std::string_view id) {
  return GetRecord<model::Opportunity>(id);
}
Result<model::Activity> SqliteStore::GetActivity(std::string_view id) {
  return GetRecord<model::Activity>(id);
}

Result<std::vector<model::Activity>> SqliteStore::GetActivities(
    const std::vector<std::string>& ids) {
  std::vector<model::Activity> out;
  if (ids.empty()) return out;
  // The ids travel as one bound JSON array parameter.
  nlohmann::json array = ids;
  static const std::string kSql =
      SelectRecordSql<model::Activity>() + " WHERE id IN (SELECT value FROM json_each(?1))";
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_->Read());
  TANDEM_ASSIGN_OR_RETURN(Statement stmt, r->PrepareCached(kSql));
  stmt.BindText(1, array.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  std::unordered_map<std::string, model::Activity> found;
  found.reserve(ids.size());
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    TANDEM_ASSIGN_OR_RETURN(model::Activity a, ReadRecord<model::Activity>(stmt));
    std::string id = a.meta.id;
    found.emplace(std::move(id), std::move(a));
  }
  out.reserve(found.size());
  for (const std::string& id : ids) {
    auto it = found.find(id);
    if (it == found.end()) continue;
    out.push_back(std::move(it->second));
    found.erase(it);  // an id asked for twice is returned once
  }
  return out;
}

Result<Page<model::Account>> SqliteStore::ListAccounts(const ListOptions& o) {
  return ListRecords<model::Account>(o);
}
Result<Page<model::Contact>> SqliteStore::ListContacts(const ListOptions& o) {
  return ListRecords<model::Contact>(o);
}
Result<Page<model::Opportunity>> SqliteStore::ListOpportunities(const ListOptions& o) {
  return ListRecords<model::Opportunity>(o);
}
Result<Page<model::Activity>> SqliteStore::ListActivities(const ListOptions& o) {
  return ListRecords<model::Activity>(o);
}

Status SqliteStore::Delete(model::EntityType entity, std::string_view id,
                           std::optional<int64_t> expected, std::string_view origin) {
  switch (entity) {
    case model::EntityType::kAccount:
      return DeleteRecord<model::Account>(id, expected, origin);
    case model::EntityType::kContact:
      return DeleteRecord<model::Contact>(id, expected, origin);
    case model::EntityType::kOpportunity:
      return DeleteRecord<model::Opportunity>(id, expected, origin);
    case model::EntityType::kActivity:
      return DeleteRecord<model::Activity>(id, expected, origin);
    case model::EntityType::kUser:
      break;
  }
  return Status::InvalidArgument("entity: Delete is for CRM records; use DeleteUser");
}

// ---------------------------------------------------------------- change feed

Result<ChangeBatch> SqliteStore::ChangesSince(int64_t after_seq, int limit,
                                              const ChangeFilter& filter) {
  if (limit < 1 || limit > kMaxChangesLimit) {
    return Status::InvalidArgument(fmt::format("limit: must be 1..{}", kMaxChangesLimit));
  }
  if (after_seq < 0) return Status::InvalidArgument("after_seq: must not be negative");
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_->Read());
  // One snapshot: the latest sequence and the rows must agree.
  TANDEM_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*r, Transaction::Mode::kDeferred));
  TANDEM_ASSIGN_OR_RETURN(ChangeBatch batch, ReadChanges(*r, after_seq, limit, filter));
  TANDEM_RETURN_IF_ERROR(tx.Commit());
  return batch;
}

Result<int64_t> SqliteStore::LatestSeq() {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_->Read());
  return ReadLatestSeq(*r);
}

Result<int> SqliteStore::PruneTombstones(Instant older_than) {
  auto w = pool_->Write();
  TANDEM_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*w));
  TANDEM_ASSIGN_OR_RETURN(int pruned, PruneTombstoneRows(*w, older_than));
  TANDEM_RETURN_IF_ERROR(tx.Commit());
  return pruned;
}

// Explicit instantiations: the batch writer calls these from a lambda above their
// definitions, where clang (unlike gcc) leaves the implicit instantiation out.
#define TANDEM_INSTANTIATE_WRITES(T)                                                       \
  template Status SqliteStore::UpdateIn<T>(Database&, T*, std::optional<int64_t>);       \
  template Status SqliteStore::DeleteIn<T>(Database&, std::string_view, std::optional<int64_t>, \
                                           std::string_view);
TANDEM_INSTANTIATE_WRITES(model::Account)
TANDEM_INSTANTIATE_WRITES(model::Contact)
TANDEM_INSTANTIATE_WRITES(model::Opportunity)
TANDEM_INSTANTIATE_WRITES(model::Activity)
#undef TANDEM_INSTANTIATE_WRITES

}  // namespace tandem::store::sqlite

namespace tandem::store {

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  TANDEM_ASSIGN_OR_RETURN(auto store, sqlite::SqliteStore::Open(options));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace tandem::store
