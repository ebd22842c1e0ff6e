// SqliteStore: the Store (store.h) over one SQLite database.
//
// Writes go through the pool's single writer connection, each in one IMMEDIATE
// transaction holding the record row and its change-log rows (change_log.h);
// reads use reader connections and run concurrently with a write (WAL). The
// database is migrated on open (component "crm", schema.h).
//
// Decisions this implementation makes where store.h leaves room:
// - Logins are unique case-insensitively, and GetUserByLogin ignores case.
// - DeleteUser refuses with Conflict while the user owns CRM records (reassign or
//   delete them first); the user's sessions go with the user.
// - owner_id must be non-empty; it is not checked against users (an offline
//   replica holds records whose owners it does not replicate).
// - A given id on Create is kept when non-empty (at most 255 bytes).
// - Users are not in the change feed; CRM records are.
// - When a record moves to another owner, a feed filtered by the old owner gets a
//   kDelete change for it (owner_id = the old owner): the record left that
//   reader's data (C4). Unfiltered and entity-only feeds do not show these.
// - Time-range lists: a series (rrule or rdates set) matches when its first
//   instance starts before `to` and its stored series end (SqliteOptions::
//   series_end, computed on every write) lies after `from`; callers that need
//   exact instances expand the rule.
// - GetActivities returns the found activities in the order of the ids asked for.
//
// Thread safety: safe for concurrent use from many threads.
#pragma once

#include <functional>
#include <memory>
#include <variant>

#include "store/sqlite/database_pool.h"
#include "store/store.h"

namespace tandem::store::sqlite {

class SqliteStore final : public Store {
 public:
  // Opens (creating when missing) and migrates the database. InvalidArgument when
  // the clock or id generator is missing.
  static Result<std::unique_ptr<SqliteStore>> Open(const SqliteOptions& options);

  // The connections, for modules that keep their own tables in this database
  // (sync state, replica outbox): they apply their own migrations with their own
  // component name. Writes through pool().Write() are serialized with the store's.
  DatabasePool& pool() { return *pool_; }

  // Creates many activities in ONE transaction (all or nothing): bulk import and
  // benchmarks. Same rules as Create for each.
  Result<std::vector<model::Activity>> CreateActivities(std::vector<model::Activity> records);
  // The same for a stream too large to hold in memory: `next` fills its argument
  // and returns true, or returns false at the end. Returns how many were created.
  Result<int64_t> ImportActivities(const std::function<bool(model::Activity*)>& next);

  // One write of a replicated record (the offline client's pull): the record as
  // the server has it, kept under its id and created when missing or replaced
  // when present (version, created and modified are this store's own), or its
  // removal (std::monostate; a missing record is fine). Writes are logged in the
  // change feed like any other.
  struct RecordWrite {
    model::EntityType entity = model::EntityType::kActivity;
    std::string id;
    std::variant<std::monostate, model::Account, model::Contact, model::Opportunity,
                 model::Activity>
        record;
    bool likely_present = false;  // which of insert / update to try first
  };
  // Applies `writes` in order, then `also` on the writer connection, in ONE
  // transaction: all or nothing. `also` (may be empty) writes the caller's own
  // tables of this database (the replica's cursor); it must not take pool().Write().
  Status ApplyWrites(std::vector<RecordWrite> writes,
                     const std::function<Status(Database&)>& also);

  std::string Epoch() const override { return epoch_; }
  int SchemaVersion() const override { return schema_version_; }

  Result<model::User> CreateUser(model::User u) override;
  Result<model::User> GetUser(std::string_view id) override;
  Result<model::User> GetUserByLogin(std::string_view login) override;
  Result<std::vector<model::User>> ListUsers() override;
  Result<model::User> UpdateUser(model::User u, std::optional<int64_t> expected_version) override;
  Status DeleteUser(std::string_view id) override;
  Result<int64_t> CountUsers() override;

  Status CreateSession(const Session& s) override;
  Result<Session> GetSession(std::string_view token_hash) override;
  Status DeleteSession(std::string_view token_hash) override;
  Result<int> DeleteExpiredSessions(Instant now) override;
  Status CreateAppPassword(const AppPassword& p) override;
  Result<std::vector<AppPassword>> ListAppPasswords(std::string_view user_id) override;
  Status DeleteAppPassword(std::string_view user_id, std::string_view name) override;

  Result<model::Account> Create(model::Account r) override;
  Result<model::Contact> Create(model::Contact r) override;
  Result<model::Opportunity> Create(model::Opportunity r) override;
  Result<model::Activity> Create(model::Activity r) override;

  Result<model::Account> Update(model::Account r, std::optional<int64_t> expected) override;
  Result<model::Contact> Update(model::Contact r, std::optional<int64_t> expected) override;
  Result<model::Opportunity> Update(model::Opportunity r, std::optional<int64_t> expected) override;
  Result<model::Activity> Update(model::Activity r, std::optional<int64_t> expected) override;

  Result<model::Account> GetAccount(std::string_view id) override;
  Result<model::Contact> GetContact(std::string_view id) override;
  Result<model::Opportunity> GetOpportunity(std::string_view id) override;
  Result<model::Activity> GetActivity(std::string_view id) override;
  Result<std::vector<model::Activity>> GetActivities(const std::vector<std::string>& ids) override;

  Result<Page<model::Account>> ListAccounts(const ListOptions& o) override;
  Result<Page<model::Contact>> ListContacts(const ListOptions& o) override;
  Result<Page<model::Opportunity>> ListOpportunities(const ListOptions& o) override;
  Result<Page<model::Activity>> ListActivities(const ListOptions& o) override;

  Status Delete(model::EntityType entity, std::string_view id, std::optional<int64_t> expected,
                std::string_view origin = {}) override;

  Result<ChangeBatch> ChangesSince(int64_t after_seq, int limit,
                                   const ChangeFilter& filter) override;
  Result<int64_t> LatestSeq() override;
  Result<int> PruneTombstones(Instant older_than) override;

 private:
  SqliteStore(const SqliteOptions& options, std::unique_ptr<DatabasePool> pool);
  Status Initialize();

  template <typename T>
  Status PrepareNew(T* r, Instant now);
  template <typename T>
  Status InsertRecord(Database& db, const T& r);
  template <typename T>
  Result<T> CreateRecord(T r);
  template <typename T>
  Result<T> UpdateRecord(T r, std::optional<int64_t> expected);
  // The bodies of Update / Delete / a replicated write inside the caller's transaction.
  template <typename T>
  Status UpdateIn(Database& db, T* r, std::optional<int64_t> expected);
  template <typename T>
  Status DeleteIn(Database& db, std::string_view id, std::optional<int64_t> expected,
                  std::string_view origin = {});
  template <typename T>
  Status PutIn(Database& db, T r, bool likely_present, Instant now);
  template <typename T>
  Result<T> GetRecord(std::string_view id);
  template <typename T>
  Result<Page<T>> ListRecords(const ListOptions& o);
  template <typename T>
  Status DeleteRecord(std::string_view id, std::optional<int64_t> expected, std::string_view origin);

  // Binds a record's own columns (the activity's series end included).
  template <typename T>
  void BindOwn(Statement& stmt, const T& r) const;
  // Activities: the SEQUENCE rule (model::Activity::sequence) against the stored row.
  Status RaiseSequence(Database& db, model::Activity* r) const;

  const Clock* clock_;
  IdGenerator* ids_;
  std::function<std::optional<Instant>(const model::Activity&)> series_end_;
  std::unique_ptr<DatabasePool> pool_;
  std::string epoch_;
  int schema_version_ = 0;
};

}  // namespace tandem::store::sqlite
