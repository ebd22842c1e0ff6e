// ReplicaState: the offline client's own tables, kept in the same SQLite file as
// the local copy of the CRM records (component "replica" of ApplyMigrations).
//
//   replica_meta       key/value: server URL, user, feed cursor, fill progress,
//                      data groups, resync generation.
//   replica_records    per replicated record: the server version the local copy
//                      was derived from (the base of the next local edit).
//   replica_outbox     local writes waiting to be pushed, in order, each with a
//                      client-generated mutation id; state pending / conflict /
//                      failed (C8: a failed row is kept per record, the queue
//                      goes on).
//   replica_conflicts  both versions of a record edited on both sides.
//
// Thread safety: safe for concurrent use (every call takes a pool connection).
// REQUIRES: the caller holds no lease of the same pool while calling.
// Errors: the SQLite layer's (Unavailable, Corruption, Internal); NotFound where
// a method says so.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "model/entities.h"
#include "store/sqlite/database_pool.h"

namespace tandem::replica {

using Json = nlohmann::json;

enum class MutationOp { kCreate, kUpdate, kDelete };
std::string_view MutationOpName(MutationOp op);
Result<MutationOp> ParseMutationOp(std::string_view s);

enum class OutboxState { kPending, kConflict, kFailed };
std::string_view OutboxStateName(OutboxState s);

struct Mutation {
  int64_t seq = 0;  // queue order
  std::string mutation_id;
  model::EntityType entity = model::EntityType::kActivity;
  std::string record_id;
  MutationOp op = MutationOp::kUpdate;
  Json fields = Json::object();  // create/update: the record's fields as the user wrote them
  OutboxState state = OutboxState::kPending;
  int attempts = 0;
  std::string last_error;
  Instant created{};
};

struct RecordConflict {
  model::EntityType entity = model::EntityType::kActivity;
  std::string record_id;
  std::string mutation_id;           // the local write that met the conflict
  Json mine;                         // the local fields
  Json theirs;                       // the server's record; null when deleted there
  std::optional<int64_t> theirs_version;
  Instant detected{};
};

class ReplicaState {
 public:
  // Applies the "replica" migrations to the pool's database.
  static Result<std::unique_ptr<ReplicaState>> Open(store::sqlite::DatabasePool& pool,
                                                    const Clock& clock);

  // The schema version of component "replica".
  static constexpr int kSchemaVersion = 1;

  // --- meta
  Result<std::optional<std::string>> GetMeta(std::string_view key);
  Status SetMeta(std::string_view key, std::string_view value);

  // --- tracked records
  // The server version the local copy derives from; nullopt when not tracked
  // (never pulled, or created locally and not pushed yet).
  Result<std::optional<int64_t>> ServerVersion(model::EntityType e, std::string_view id);
  Status SetServerVersion(model::EntityType e, std::string_view id, int64_t version,
                          int64_t generation);
  Status Untrack(model::EntityType e, std::string_view id);
  // Tracked records whose generation is below `generation` (not seen by the
  // latest full pull).
  Result<std::vector<std::pair<model::EntityType, std::string>>> TrackedBefore(int64_t generation);
  Result<int64_t> TrackedCount();
  // The tracked server versions of many records at once (one query); records
  // not tracked are absent. Keyed by TrackingKey.
  Result<std::unordered_map<std::string, int64_t>> ServerVersions(
      const std::vector<std::pair<model::EntityType, std::string_view>>& records);
  static std::string TrackingKey(model::EntityType e, std::string_view id);
  // One page of the pull: the tracked versions it set, the records it dropped,
  // the newer server versions of conflicted records ("theirs"), and the feed
  // cursor after it.
  struct TheirsUpdate {
    model::EntityType entity;
    std::string id;
    Json theirs;  // null: deleted there
    std::optional<int64_t> version;
  };
  struct PageTracking {
    std::vector<std::tuple<model::EntityType, std::string, int64_t>> versions;
    std::vector<std::pair<model::EntityType, std::string>> untracked;
    std::vector<TheirsUpdate> theirs;
  };
  // In ONE transaction of its own.
  Status CommitPage(const PageTracking& tracking, int64_t generation, std::string_view cursor);
  // Inside the caller's transaction on `writer` (the pool's writer connection,
  // e.g. SqliteStore::ApplyWrites' `also`), so the page's local record writes
  // and its cursor commit together.
  static Status CommitPageIn(store::sqlite::Database& writer, const PageTracking& tracking,
                             int64_t generation, std::string_view cursor);

  // --- outbox
  // Appends a mutation (state pending). Its mutation_id must be new.
  Status Enqueue(const Mutation& m);
  // Removes a mutation (a local write that did not happen after all).
  Status Remove(std::string_view mutation_id);
  // The oldest pending mutations, at most one per record (so every mutation in a
  // batch has its base known before it is sent), at most `limit`.
  Result<std::vector<Mutation>> NextBatch(int limit);
  // True when the record has a pending or conflicted mutation: the pull must not
  // overwrite its local copy.
  Result<bool> HasOutstanding(model::EntityType e, std::string_view id);
  // The server applied it (or had already): gone from the queue; the record's
  // server version becomes `version` (nullopt: the record no longer exists).
  Status MarkApplied(const Mutation& m, std::optional<int64_t> version, int64_t generation);
  // MarkApplied for many mutations in ONE transaction.
  Status MarkAppliedAll(const std::vector<std::pair<const Mutation*, std::optional<int64_t>>>& applied,
                        int64_t generation);
  // A permanent failure (C8): kept with its error, out of the queue.
  Status MarkFailed(std::string_view mutation_id, std::string_view error);
  // A failed mutation goes back to the queue (doctor fix), attempts reset.
  Status Requeue(std::string_view mutation_id);
  // A transient failure: stays pending, attempts + 1.
  Status NoteAttempt(std::string_view mutation_id, std::string_view error);
  Result<std::vector<Mutation>> ListOutbox(std::optional<OutboxState> state = std::nullopt);
  Result<int64_t> PendingCount();

  // --- conflicts
  // Records the conflict and moves the mutation (and every later pending one of
  // the same record) to state conflict.
  Status RecordConflictFor(const Mutation& m, const Json& theirs,
                           std::optional<int64_t> theirs_version);
  Result<std::vector<RecordConflict>> ListConflicts();
  Result<RecordConflict> GetConflict(model::EntityType e, std::string_view id);  // NotFound
  // Drops the conflict and its conflicted mutations.
  Status DropConflict(model::EntityType e, std::string_view id);
  // A newer server version arrived for a conflicted record: it becomes "theirs".
  Status UpdateConflictTheirs(model::EntityType e, std::string_view id, const Json& theirs,
                              std::optional<int64_t> theirs_version);
  // Records with a pending or conflicted mutation (the pull leaves them alone).
  Result<std::vector<std::pair<model::EntityType, std::string>>> OutstandingRecords();

 private:
  ReplicaState(store::sqlite::DatabasePool& pool, const Clock& clock)
      : pool_(pool), clock_(clock) {}
  store::sqlite::DatabasePool& pool_;
  const Clock& clock_;
};

}  // namespace tandem::replica
