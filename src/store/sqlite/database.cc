#include "store/sqlite/database.h"

#include <fmt/format.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <unistd.h>

#include <mutex>
#include <utility>

namespace tandem::store::sqlite {

Status StatusFromSqlite(int rc, std::string_view context, std::string_view detail) {
  std::string message = fmt::format("{}: {}", context, sqlite3_errstr(rc));
  if (!detail.empty()) message += fmt::format(" ({})", detail);
  switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_ROWID:
      return Status::AlreadyExists(std::move(message));
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return Status::NotFound(std::move(message));
    default:
      break;
  }
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
      return Status::InvalidArgument(std::move(message));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(std::move(message));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(std::move(message));
    case SQLITE_FULL:
    case SQLITE_TOOBIG:
    case SQLITE_NOMEM:
      return Status::ResourceExhausted(std::move(message));
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
      return Status::Unavailable(std::move(message));
    default:
      return Status::Internal(std::move(message));
  }
}

// ---------------------------------------------------------------- Statement

Statement::Statement(sqlite3_stmt* stmt, Database* cache_owner)
    : stmt_(stmt), cache_owner_(cache_owner) {}

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      cache_owner_(std::exchange(other.cache_owner_, nullptr)),
      bind_error_(other.bind_error_),
      bind_error_index_(other.bind_error_index_) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    Release();
    stmt_ = std::exchange(other.stmt_, nullptr);
    cache_owner_ = std::exchange(other.cache_owner_, nullptr);
    bind_error_ = other.bind_error_;
    bind_error_index_ = other.bind_error_index_;
  }
  return *this;
}

Statement::~Statement() { Release(); }

void Statement::Release() {
  if (stmt_ == nullptr) return;
  if (cache_owner_ != nullptr) {
    cache_owner_->ReturnToCache(stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
  stmt_ = nullptr;
  cache_owner_ = nullptr;
}

void Statement::NoteBindResult(int rc, int index) {
  if (rc != SQLITE_OK && bind_error_ == 0) {
    bind_error_ = rc;
    bind_error_index_ = index;
  }
}

Statement& Statement::BindText(int index, std::string_view value) {
  // An empty view may have no data pointer, which SQLite would bind as NULL:
  // text is always text.
  const char* data = value.data() != nullptr ? value.data() : "";
  NoteBindResult(
      sqlite3_bind_text64(stmt_, index, data, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
  return *this;
}

Statement& Statement::BindInt64(int index, int64_t value) {
  NoteBindResult(sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}

Statement& Statement::BindDouble(int index, double value) {
  NoteBindResult(sqlite3_bind_double(stmt_, index, value), index);
  return *this;
}

Statement& Statement::BindNull(int index) {
  NoteBindResult(sqlite3_bind_null(stmt_, index), index);
  return *this;
}

Statement& Statement::BindBlob(int index, std::span<const uint8_t> bytes) {
  // A zero-length blob, not NULL, for an empty span.
  NoteBindResult(
      sqlite3_bind_blob64(stmt_, index, bytes.empty() ? static_cast<const void*>("") : bytes.data(),
                          bytes.size(), SQLITE_TRANSIENT),
      index);
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  return BindBlob(index, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                  bytes.size()));
}

Statement& Statement::BindOptionalInt64(int index, std::optional<int64_t> value) {
  return value ? BindInt64(index, *value) : BindNull(index);
}

Result<bool> Statement::Step() {
  if (stmt_ == nullptr) return Status::Internal("step on an empty statement");
  if (bind_error_ != 0) {
    return StatusFromSqlite(bind_error_, "bind",
                            fmt::format("parameter {} of: {}", bind_error_index_, sql()));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // sqlite3_step returns the extended code with the v2 prepare interfaces.
  sqlite3* db = sqlite3_db_handle(stmt_);
  Status status = StatusFromSqlite(sqlite3_extended_errcode(db), "step", sqlite3_errmsg(db));
  sqlite3_reset(stmt_);  // so the statement can run again after an error
  return status;
}

Status Statement::Run() {
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) break;
  }
  sqlite3_reset(stmt_);
  return Status::Ok();
}

void Statement::Reset() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = 0;
  bind_error_index_ = 0;
}

int Statement::ColumnCount() const { return sqlite3_column_count(stmt_); }

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::Int64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::Double(int column) const { return sqlite3_column_double(stmt_, column); }

std::string_view Statement::TextView(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text),
          static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}

std::string Statement::Text(int column) const { return std::string(TextView(column)); }

std::string Statement::Blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  if (data == nullptr) return {};
  return std::string(static_cast<const char*>(data),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::optional<int64_t> Statement::OptionalInt64(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Int64(column);
}

std::string_view Statement::sql() const {
  const char* text = stmt_ == nullptr ? nullptr : sqlite3_sql(stmt_);
  return text == nullptr ? std::string_view() : std::string_view(text);
}

// ---------------------------------------------------------------- Database

Result<std::unique_ptr<Database>> Database::Open(const DatabaseOptions& options) {
  // A savepoint inside a batch (one record's writes, undone alone if it fails)
  // journals the pages it changes: ~75 KiB for an imported event. SQLite keeps
  // such statement journals in memory only up to 64 KiB and writes the rest to a
  // temporary file, which made a 10,000-event import write 750 MB there (20x
  // the database). Up to 4 MiB stays in memory. Must precede SQLite's
  // initialization (the first Open, in practice); refused and harmless after it.
  static std::once_flag configured;
  std::call_once(configured, [] { (void)sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, 4 << 20); });
  std::unique_ptr<Database> db(new Database(options));
  std::string path = options.path.empty() ? std::string(":memory:") : options.path;
  // NOMUTEX: a connection is used by one thread at a time (see header), so
  // SQLite's per-connection mutex is unnecessary.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (!options.path.empty() && options.path != ":memory:") {
    // The database holds customer data and sealed credentials: it is created
    // 0600 whatever the process's umask, and SQLite gives its -wal and -shm
    // files the database file's mode. An existing file keeps its mode (the
    // data folder check narrows a wider one and says so). O_EXCL: an existing
    // file is never opened here, because closing any descriptor of a database
    // file drops every POSIX lock this process holds on it, including those of
    // its other SQLite connections; a process whose locks vanished lets another
    // process believe it is the last one and reset the WAL under it.
    int fd = ::open(options.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
  }
  int rc = sqlite3_open_v2(path.c_str(), &db->db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string detail = db->db_ != nullptr ? sqlite3_errmsg(db->db_) : "";
    return StatusFromSqlite(rc, fmt::format("open {}", path), detail);
  }
  sqlite3_extended_result_codes(db->db_, 1);
  rc = sqlite3_busy_timeout(db->db_, options.busy_timeout_ms);
  if (rc != SQLITE_OK) return StatusFromSqlite(rc, "busy_timeout");
  // journal_mode=WAL is persistent in the file; an in-memory database answers
  // "memory" and stays so, which is fine.
  TANDEM_RETURN_IF_ERROR(
      db->Execute("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"));
  if (options.query_only) TANDEM_RETURN_IF_ERROR(db->Execute("PRAGMA query_only=ON;"));
  // The writer keeps up to 64 MiB of pages (SQLite's default is 2 MiB): a first
  // sync writes 10,000 activities, their change feed and sync rows in batches
  // whose indexes outgrow 2 MiB, and each page evicted is read again from the
  // file. Readers keep the default; the pages are allocated only when used.
  if (!options.query_only) TANDEM_RETURN_IF_ERROR(db->Execute("PRAGMA cache_size=-65536;"));
  return db;
}

Database::~Database() {
  for (auto& [sql, statements] : idle_statements_) {
    for (sqlite3_stmt* stmt : statements) sqlite3_finalize(stmt);
  }
  idle_statements_.clear();
  // Any statement still alive is a caller bug (it outlived its connection);
  // sqlite3_close_v2 keeps the handle until those are finalized.
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Status Database::Execute(std::string_view sql) {
  std::string text(sql);
  char* error = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string detail = error != nullptr ? error : "";
    sqlite3_free(error);
    return StatusFromSqlite(sqlite3_extended_errcode(db_), "execute", detail);
  }
  return Status::Ok();
}

Status Database::ExecuteCached(std::string_view sql) {
  TANDEM_ASSIGN_OR_RETURN(Statement stmt, PrepareCached(sql));
  return stmt.Run();
}

Result<Statement> Database::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return StatusFromSqlite(rc, "prepare", fmt::format("{}: {}", sqlite3_errmsg(db_), sql));
  }
  if (stmt == nullptr) return Status::InvalidArgument(fmt::format("no SQL statement in: {}", sql));
  return Statement(stmt, nullptr);
}

Result<Statement> Database::PrepareCached(std::string_view sql) {
  auto it = idle_statements_.find(std::string(sql));
  if (it != idle_statements_.end() && !it->second.empty()) {
    sqlite3_stmt* stmt = it->second.back();
    it->second.pop_back();
    return Statement(stmt, this);
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return StatusFromSqlite(rc, "prepare", fmt::format("{}: {}", sqlite3_errmsg(db_), sql));
  }
  if (stmt == nullptr) return Status::InvalidArgument(fmt::format("no SQL statement in: {}", sql));
  return Statement(stmt, this);
}

void Database::ReturnToCache(sqlite3_stmt* stmt) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  const char* text = sqlite3_sql(stmt);
  auto& idle = idle_statements_[text == nullptr ? std::string() : std::string(text)];
  // A handful of copies per SQL text covers nested use; more would only hoard memory.
  if (idle.size() >= 4) {
    sqlite3_finalize(stmt);
    return;
  }
  idle.push_back(stmt);
}

int64_t Database::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

int64_t Database::ChangedRows() const { return sqlite3_changes64(db_); }

bool Database::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

// ---------------------------------------------------------------- Transaction

Result<Transaction> Transaction::Begin(Database& db, Mode mode) {
  if (db.InTransaction()) {
    int n = db.savepoints_ + 1;
    TANDEM_RETURN_IF_ERROR(db.ExecuteCached(fmt::format("SAVEPOINT nested_{}", n)));
    db.savepoints_ = n;
    return Transaction(&db, n);
  }
  TANDEM_RETURN_IF_ERROR(
      db.ExecuteCached(mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"));
  return Transaction(&db, 0);
}

Transaction::~Transaction() {
  if (db_ != nullptr) (void)Rollback();
}

Status Transaction::Commit() {
  if (db_ == nullptr) return Status::Internal("commit of a finished transaction");
  if (savepoint_ != 0) {
    Database* db = std::exchange(db_, nullptr);
    db->savepoints_ = savepoint_ - 1;
    // The outer transaction may have ended on its own (SQLite rolls back the
    // whole transaction after some errors): then there is nothing to release.
    if (!db->InTransaction()) return Status::Internal("the enclosing transaction was rolled back");
    return db->ExecuteCached(fmt::format("RELEASE nested_{}", savepoint_));
  }
  Status status = db_->ExecuteCached("COMMIT");
  if (!status.ok()) {
    // A failed COMMIT (e.g. BUSY) leaves the transaction open; roll it back so
    // the connection is usable again.
    (void)Rollback();
    return status;
  }
  db_ = nullptr;
  return status;
}

Status Transaction::Rollback() {
  if (db_ == nullptr) return Status::Ok();
  Database* db = std::exchange(db_, nullptr);
  if (savepoint_ != 0) db->savepoints_ = savepoint_ - 1;
  // SQLite may already have rolled back on its own (e.g. after SQLITE_FULL).
  if (!db->InTransaction()) return Status::Ok();
  if (savepoint_ != 0) {
    return db->Execute(fmt::format("ROLLBACK TO nested_{0}; RELEASE nested_{0}", savepoint_));
  }
  return db->Execute("ROLLBACK");
}

// ---------------------------------------------------------------- migrations

namespace {

constexpr std::string_view kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " component TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " applied_at TEXT NOT NULL,"
    " PRIMARY KEY (component, version)) WITHOUT ROWID;";

Status EnsureMigrationsTable(Database& db) { return db.Execute(kCreateMigrationsTable); }

}  // namespace

Result<int> AppliedSchemaVersion(Database& db, std::string_view component) {
  TANDEM_RETURN_IF_ERROR(EnsureMigrationsTable(db));
  TANDEM_ASSIGN_OR_RETURN(
      Statement stmt,
      db.Prepare("SELECT coalesce(max(version), 0) FROM schema_migrations WHERE component = ?1"));
  stmt.BindText(1, component);
  TANDEM_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return 0;
  return static_cast<int>(stmt.Int64(0));
}

Status CheckIntegrity(Database& db) {
  TANDEM_ASSIGN_OR_RETURN(Statement check, db.Prepare("PRAGMA quick_check"));
  TANDEM_ASSIGN_OR_RETURN(bool row, check.Step());
  if (!row) return Status::Internal("quick_check returned nothing");
  std::string first = check.Text(0);
  if (first == "ok") return Status::Ok();
  return Status::Corruption(fmt::format("database {}: {}", db.options().path, first));
}

Status ApplyMigrations(Database& db, std::string_view component,
                       const std::vector<Migration>& migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return Status::InvalidArgument(
          fmt::format("migrations of {}: expected version {} at position {}, got {}", component,
                      i + 1, i, migrations[i].version));
    }
  }
  TANDEM_RETURN_IF_ERROR(EnsureMigrationsTable(db));
  for (const Migration& step : migrations) {
    TANDEM_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(db, Transaction::Mode::kImmediate));
    // Re-read inside the write lock: another process may have applied it meanwhile.
    TANDEM_ASSIGN_OR_RETURN(int applied, AppliedSchemaVersion(db, component));
    if (applied > static_cast<int>(migrations.size())) {
      return Status::Conflict(
          fmt::format("schema of {} is at version {}, newer than this program knows ({})",
                      component, applied, migrations.size()));
    }
    if (applied >= step.version) continue;  // rolled back harmlessly: nothing written
    TANDEM_RETURN_IF_ERROR(db.Execute(step.sql).WithContext(
        fmt::format("migration {} {} ({})", component, step.version, step.name)));
    TANDEM_ASSIGN_OR_RETURN(
        Statement record,
        db.Prepare("INSERT INTO schema_migrations(component, version, name, applied_at) "
                   "VALUES (?1, ?2, ?3, coalesce(?4, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"));
    record.BindText(1, component).BindInt64(2, step.version).BindText(3, step.name);
    if (db.options().clock != nullptr) {
      record.BindText(4, FormatRfc3339(db.options().clock->Now()));
    }
    TANDEM_RETURN_IF_ERROR(record.Run());
    TANDEM_RETURN_IF_ERROR(tx.Commit());
  }
  if (migrations.empty()) return Status::Ok();
  // A database newer than this program is refused even when nothing was to apply.
  TANDEM_ASSIGN_OR_RETURN(int applied, AppliedSchemaVersion(db, component));
  if (applied > static_cast<int>(migrations.size())) {
    return Status::Conflict(
        fmt::format("schema of {} is at version {}, newer than this program knows ({})", component,
                    applied, migrations.size()));
  }
  return Status::Ok();
}

}  // namespace tandem::store::sqlite
