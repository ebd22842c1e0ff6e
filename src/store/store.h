// Store: the CRM's persistent state behind one interface (SQLite now; PostgreSQL next).
//
// Every write runs in one transaction that also bumps the record's version and
// appends (seq, entity, id, op, owner) to the change log (SPEC A4). The change
// log keeps one row per record, at the sequence of its latest write; deletions
// leave tombstone rows that are pruned after a retention period. A cursor older
// than the pruned range yields ResyncRequired, never a silent gap.
//
// Thread safety: implementations are safe for concurrent use from many threads.
// Errors: NotFound for unknown ids; PreconditionFailed when `expected_version` is
// set and differs (the message names the current version); AlreadyExists for a
// duplicate login or id; InvalidArgument from model::Validate; Unavailable/Internal
// for database failures.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/status.h"
#include "model/entities.h"

namespace tandem::store {

// Who is asking; list queries return only what this viewer may read.
struct Viewer {
  std::string user_id;
  bool admin = false;
};

// Who a record is addressed to, from its own fields: its owner alone (a private
// activity, whatever `shared` says), its owner and the admins (not shared), or
// everyone (shared). Who may do what with it is decided by one policy,
// api/policy.h; the store's list and change-feed SQL mirror that policy and are
// property-tested against it (src/api/policy_test.cc).
enum class Audience : int { kOwner = 0, kOwnerAndAdmins = 1, kEveryone = 2 };
Audience AudienceOf(const model::RecordMeta& meta, bool is_private_activity);

struct ListOptions {
  int limit = 100;                       // 1..1000
  std::string page_after;                // keyset: the id after which the page starts
  std::optional<std::string> owner_id;   // only records of this owner
  std::optional<Viewer> viewer;          // only records this viewer may access
  // Activities only: those overlapping [from, to) (start < to && end > from;
  // zero-length activities at `from` count). Either end may be left open. A
  // series (rrule or rdates set) matches when it starts before `to` and its last
  // occurrence may end after `from` (SqliteOptions::series_end): callers that
  // need the exact occurrences expand it (ical::Expand).
  std::optional<Instant> from;
  std::optional<Instant> to;
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_page_after;  // empty when this is the last page
};

enum class ChangeOp { kUpsert, kDelete };

struct Change {
  int64_t seq = 0;
  model::EntityType entity = model::EntityType::kActivity;
  std::string id;
  ChangeOp op = ChangeOp::kUpsert;
  std::string owner_id;
  Instant at{};
  std::string origin;  // RecordMeta::origin of the write ("" for a user's)
  // The widest audience the record has had in any of its versions (a record
  // once shared stays "seen by everyone" in the log after it turned private).
  Audience widest_audience = Audience::kEveryone;
};

struct ChangeFilter {
  std::optional<model::EntityType> entity;
  // Only changes of this owner's records. A record that moved from this owner to
  // another arrives here as a kDelete (owner_id = this owner): it left the
  // reader's data (C4). Feeds without an owner filter never show those.
  std::optional<std::string> owner_id;
  // Only changes of records this viewer may ever have seen: records they own or
  // owned, or whose widest audience included them (api::policy::CanSeeInFeed).
  // A record never visible to the viewer never appears, not even as a delete.
  std::optional<Viewer> viewer;
};

struct ChangeBatch {
  std::vector<Change> changes;  // ascending seq
  int64_t next_seq = 0;         // pass as after_seq to continue
  bool more = false;            // true when `limit` cut the batch
};

struct Session {
  std::string token_hash;  // SHA-256 of the bearer token, hex; the token itself is never stored
  std::string user_id;
  Instant created{};
  Instant expires{};
};

// A per-device password (a phone's, a laptop's calendar program) for HTTP Basic
// on the CalDAV/CardDAV server: revocable on its own, never the login password.
struct AppPassword {
  std::string user_id;
  std::string name;  // unique per user ("phone", "thunderbird")
  std::string hash;  // argon2id, libsodium's encoded string; the password itself is never stored
  Instant created{};
};

class Store {
 public:
  virtual ~Store() = default;

  // Random id chosen when the database was created; part of every feed cursor so a
  // client notices a restored or replaced server.
  virtual std::string Epoch() const = 0;
  // The schema version after migrations.
  virtual int SchemaVersion() const = 0;

  // --- users (A1). Create assigns id (when empty), created, modified, version 1.
  // Logins are unique ignoring case; GetUserByLogin ignores case. DeleteUser gives
  // Conflict while the user still owns CRM records, and removes their sessions.
  virtual Result<model::User> CreateUser(model::User u) = 0;
  virtual Result<model::User> GetUser(std::string_view id) = 0;
  virtual Result<model::User> GetUserByLogin(std::string_view login) = 0;
  virtual Result<std::vector<model::User>> ListUsers() = 0;
  virtual Result<model::User> UpdateUser(model::User u, std::optional<int64_t> expected_version) = 0;
  virtual Status DeleteUser(std::string_view id) = 0;
  virtual Result<int64_t> CountUsers() = 0;

  // --- sessions (bearer tokens)
  virtual Status CreateSession(const Session& s) = 0;
  virtual Result<Session> GetSession(std::string_view token_hash) = 0;  // NotFound if none
  virtual Status DeleteSession(std::string_view token_hash) = 0;
  virtual Result<int> DeleteExpiredSessions(Instant now) = 0;

  // --- app passwords. Create: AlreadyExists for a name the user has, NotFound
  // for an unknown user. List: the user's, by name. Delete: NotFound if none.
  // Deleting the user deletes theirs.
  virtual Status CreateAppPassword(const AppPassword& p) = 0;
  virtual Result<std::vector<AppPassword>> ListAppPasswords(std::string_view user_id) = 0;
  virtual Status DeleteAppPassword(std::string_view user_id, std::string_view name) = 0;

  // --- CRM records (A2). Create assigns id (when empty), created = modified = now,
  // version 1, and validates. Update replaces the record with the same id, keeps
  // `created`, sets modified = now, bumps version.
  virtual Result<model::Account> Create(model::Account r) = 0;
  virtual Result<model::Contact> Create(model::Contact r) = 0;
  virtual Result<model::Opportunity> Create(model::Opportunity r) = 0;
  virtual Result<model::Activity> Create(model::Activity r) = 0;

  virtual Result<model::Account> Update(model::Account r, std::optional<int64_t> expected) = 0;
  virtual Result<model::Contact> Update(model::Contact r, std::optional<int64_t> expected) = 0;
  virtual Result<model::Opportunity> Update(model::Opportunity r,
                                            std::optional<int64_t> expected) = 0;
  virtual Result<model::Activity> Update(model::Activity r, std::optional<int64_t> expected) = 0;

  virtual Result<model::Account> GetAccount(std::string_view id) = 0;
  virtual Result<model::Contact> GetContact(std::string_view id) = 0;
  virtual Result<model::Opportunity> GetOpportunity(std::string_view id) = 0;
  virtual Result<model::Activity> GetActivity(std::string_view id) = 0;
  // Many activities by id in one query (missing ids are left out).
  virtual Result<std::vector<model::Activity>> GetActivities(const std::vector<std::string>& ids) = 0;

  virtual Result<Page<model::Account>> ListAccounts(const ListOptions& o) = 0;
  virtual Result<Page<model::Contact>> ListContacts(const ListOptions& o) = 0;
  virtual Result<Page<model::Opportunity>> ListOpportunities(const ListOptions& o) = 0;
  virtual Result<Page<model::Activity>> ListActivities(const ListOptions& o) = 0;

  // Deletes a CRM record (not a user) and leaves a tombstone in the change log.
  // `origin` as RecordMeta::origin.
  virtual Status Delete(model::EntityType entity, std::string_view id,
                        std::optional<int64_t> expected, std::string_view origin = {}) = 0;

  // --- change feed (A4)
  // Changes with seq > after_seq, ascending, at most `limit` (1..10000).
  // ResyncRequired when after_seq is below the pruned range. after_seq = 0 (a
  // reader that holds nothing) is always accepted: the feed from 0 holds every
  // live record, so an initial fill can page through it and resume from its cursor.
  virtual Result<ChangeBatch> ChangesSince(int64_t after_seq, int limit,
                                           const ChangeFilter& filter) = 0;
  virtual Result<int64_t> LatestSeq() = 0;
  // Removes tombstones older than `older_than`; returns how many.
  virtual Result<int> PruneTombstones(Instant older_than) = 0;
};

struct SqliteOptions {
  std::string path;                 // database file; ":memory:" for a private in-memory one
  const Clock* clock = nullptr;     // REQUIRED
  IdGenerator* ids = nullptr;       // REQUIRED
  int busy_timeout_ms = 5000;
  // The last instant at which any occurrence of a recurring activity can end;
  // nullopt when the series has no end (the iCalendar layer's ical::SeriesEnd).
  // Kept per activity so that time-range lists select series by index. Unset:
  // every series is taken as endless (correct, only slower for old series).
  std::function<std::optional<Instant>(const model::Activity&)> series_end;
};

// Opens (creating when missing) and migrates the database.
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

}  // namespace tandem::store
