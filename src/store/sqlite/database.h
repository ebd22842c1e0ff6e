// A small RAII layer over the SQLite C API, shared by every module that keeps
// tables in Tandem's SQLite database (the CRM store, sync state, the replica).
//
//   Database     one connection: opened with WAL, foreign_keys=ON,
//                synchronous=NORMAL and a busy timeout.
//   Statement    a prepared statement; values only ever travel as bound
//                parameters (never build SQL text from values).
//   Transaction  BEGIN IMMEDIATE (or DEFERRED for a read snapshot); rolls back on
//                destruction unless committed.
//   ApplyMigrations  numbered schema steps per component, recorded in
//                schema_migrations(component, version, name, applied_at).
//   DatabasePool one writer connection and several reader connections (see
//                database_pool.h).
//
// Durability: with WAL and synchronous=NORMAL a commit survives a crash of the
// process; a power loss may lose the last commits, never the database's integrity.
//
// Thread safety: a Database and its Statements are NOT thread-safe; use one
// connection from one thread at a time (DatabasePool hands them out that way).
// Different connections to the same file may be used concurrently: WAL lets
// readers proceed while one writer writes; writers wait for each other up to the
// busy timeout.
//
// Errors (StatusFromSqlite): a UNIQUE/PRIMARY KEY violation -> AlreadyExists;
// a FOREIGN KEY violation -> NotFound (the referenced row is missing); other
// constraint violations -> InvalidArgument; BUSY/LOCKED -> Unavailable;
// CORRUPT/NOTADB -> Corruption; FULL/TOOBIG -> ResourceExhausted; the rest Internal.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace tandem::store::sqlite {

// Maps an SQLite result code (extended codes welcome) to a Status; `context`
// says what was being done ("insert activity").
Status StatusFromSqlite(int rc, std::string_view context, std::string_view detail = {});

class Database;

// A prepared statement. Parameters are 1-based, columns 0-based (as in SQLite).
// Bind* calls chain; a bind failure is remembered and reported by the next
// Step()/Run(). A Statement must not outlive its Database.
class Statement {
 public:
  Statement() = default;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& BindText(int index, std::string_view value);
  Statement& BindInt64(int index, int64_t value);
  Statement& BindDouble(int index, double value);
  Statement& BindBool(int index, bool value) { return BindInt64(index, value ? 1 : 0); }
  Statement& BindNull(int index);
  Statement& BindBlob(int index, std::span<const uint8_t> bytes);
  // The bytes of `bytes` as a BLOB (not TEXT): for opaque data kept in strings.
  Statement& BindBlob(int index, std::string_view bytes);
  // NULL when empty.
  Statement& BindOptionalInt64(int index, std::optional<int64_t> value);

  // Executes one step. true: a row is available through the column getters;
  // false: the statement is done.
  Result<bool> Step();
  // Steps until done, ignoring any rows (INSERT/UPDATE/DELETE).
  Status Run();
  // Makes the statement ready to run again: resets it and clears all bindings.
  void Reset();

  int ColumnCount() const;
  bool IsNull(int column) const;
  int64_t Int64(int column) const;
  double Double(int column) const;
  bool Bool(int column) const { return Int64(column) != 0; }
  std::string Text(int column) const;  // "" for NULL
  // Valid until the next Step()/Reset().
  std::string_view TextView(int column) const;
  std::string Blob(int column) const;  // "" for NULL
  std::optional<int64_t> OptionalInt64(int column) const;

  // The SQL text, for messages.
  std::string_view sql() const;
  bool valid() const { return stmt_ != nullptr; }

 private:
  friend class Database;
  Statement(sqlite3_stmt* stmt, Database* cache_owner);
  void Release();
  void NoteBindResult(int rc, int index);

  sqlite3_stmt* stmt_ = nullptr;
  // When set, the statement returns to this connection's cache instead of being
  // finalized.
  Database* cache_owner_ = nullptr;
  int bind_error_ = 0;
  int bind_error_index_ = 0;
};

struct DatabaseOptions {
  std::string path;  // a file, or ":memory:" for a private in-memory database
  int busy_timeout_ms = 5000;
  // Opens read-write but sets PRAGMA query_only (a reader connection of a pool).
  bool query_only = false;
  // Used for schema_migrations.applied_at; when null SQLite's own clock is used.
  const Clock* clock = nullptr;
};

// One SQLite connection. Not movable: Statements refer to it.
class Database {
 public:
  static Result<std::unique_ptr<Database>> Open(const DatabaseOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more SQL statements that take no parameters (schema, pragmas).
  Status Execute(std::string_view sql);
  // Runs one statement that takes no parameters through the statement cache
  // (transaction control run per record: SAVEPOINT, RELEASE).
  Status ExecuteCached(std::string_view sql);
  // A fresh prepared statement (finalized when destroyed).
  Result<Statement> Prepare(std::string_view sql);
  // A prepared statement reused across calls: it returns to a per-connection cache
  // (reset, bindings cleared) when destroyed. Use for statements run often.
  Result<Statement> PrepareCached(std::string_view sql);

  int64_t LastInsertRowId() const;
  // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  int64_t ChangedRows() const;
  bool InTransaction() const;

  const DatabaseOptions& options() const { return options_; }
  bool in_memory() const { return options_.path == ":memory:" || options_.path.empty(); }
  sqlite3* handle() { return db_; }

 private:
  friend class Statement;
  explicit Database(DatabaseOptions options) : options_(std::move(options)) {}
  void ReturnToCache(sqlite3_stmt* stmt);

  friend class Transaction;
  DatabaseOptions options_;
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, std::vector<sqlite3_stmt*>> idle_statements_;
  int savepoints_ = 0;  // Transactions nested inside an open one
};

// BEGIN ... COMMIT with rollback on destruction when not committed. Begun while
// the connection is already in a transaction (a DatabasePool batch), it is a
// SAVEPOINT of it: Commit releases the savepoint into the outer transaction,
// Rollback undoes only its own writes.
class Transaction {
 public:
  enum class Mode {
    kDeferred,   // for a consistent read snapshot
    kImmediate,  // for writes: takes the write lock up front (no upgrade deadlocks)
  };
  static Result<Transaction> Begin(Database& db, Mode mode = Mode::kImmediate);

  Transaction(Transaction&& other) noexcept : db_(other.db_), savepoint_(other.savepoint_) {
    other.db_ = nullptr;
  }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  Status Commit();
  Status Rollback();
  Database& db() { return *db_; }

 private:
  Transaction(Database* db, int savepoint) : db_(db), savepoint_(savepoint) {}
  Database* db_;       // null once committed or rolled back
  int savepoint_ = 0;  // 0: a top-level transaction; else the savepoint's number
};

// One numbered schema step of a component. Versions of a component start at 1
// and increase; a step's SQL may hold several statements and must not contain
// BEGIN/COMMIT (each step runs in its own transaction).
struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// Applies, in order and each in one IMMEDIATE transaction, the steps of
// `component` not yet recorded in schema_migrations. Idempotent: running it again
// applies nothing; safe when several processes open the database at once.
// InvalidArgument when versions are not strictly increasing from 1; Conflict when
// the database records a version newer than the newest given (a newer program
// wrote it); the SQL error of a failing step otherwise (that step is rolled back).
Status ApplyMigrations(Database& db, std::string_view component,
                       const std::vector<Migration>& migrations);

// The highest applied version of `component`; 0 when none.
Result<int> AppliedSchemaVersion(Database& db, std::string_view component);

// PRAGMA quick_check: OK for a sound database, Corruption naming the first problem
// otherwise (for diagnostics, C10). Reads the whole file: not for hot paths.
Status CheckIntegrity(Database& db);

}  // namespace tandem::store::sqlite
