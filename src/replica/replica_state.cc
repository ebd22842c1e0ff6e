#include "replica/replica_state.h"

#include <fmt/format.h>

#include "model/json.h"

#include <set>

namespace tandem::replica {

using store::sqlite::Database;
using store::sqlite::Migration;
using store::sqlite::Statement;
using store::sqlite::Transaction;

namespace {

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "replica tables", R"sql(
CREATE TABLE replica_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE replica_records (
  entity TEXT NOT NULL, id TEXT NOT NULL,
  server_version INTEGER NOT NULL, generation INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (entity, id)) WITHOUT ROWID;
CREATE INDEX replica_records_generation ON replica_records(generation);
CREATE TABLE replica_outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  mutation_id TEXT NOT NULL UNIQUE,
  entity TEXT NOT NULL, record_id TEXT NOT NULL, op TEXT NOT NULL,
  fields TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL);
CREATE INDEX replica_outbox_record ON replica_outbox(entity, record_id, state);
CREATE INDEX replica_outbox_state ON replica_outbox(state, seq);
CREATE TABLE replica_conflicts (
  entity TEXT NOT NULL, record_id TEXT NOT NULL, mutation_id TEXT NOT NULL,
  mine TEXT NOT NULL, theirs TEXT NOT NULL, theirs_version INTEGER,
  detected INTEGER NOT NULL,
  PRIMARY KEY (entity, record_id));
)sql"},
  };
  return kMigrations;
}

std::string Name(model::EntityType e) { return std::string(model::EntityName(e)); }

Result<Mutation> ReadMutation(const Statement& s) {
  // seq, mutation_id, entity, record_id, op, fields, state, attempts, last_error, created
  Mutation m;
  m.seq = s.Int64(0);
  m.mutation_id = s.Text(1);
  TANDEM_ASSIGN_OR_RETURN(m.entity, model::ParseEntityName(s.TextView(2)));
  m.record_id = s.Text(3);
  TANDEM_ASSIGN_OR_RETURN(m.op, ParseMutationOp(s.TextView(4)));
  m.fields = Json::parse(s.TextView(5), nullptr, /*allow_exceptions=*/false);
  if (m.fields.is_discarded()) return Status::Corruption("outbox fields of " + m.mutation_id);
  std::string state = s.Text(6);
  m.state = state == "pending"    ? OutboxState::kPending
            : state == "conflict" ? OutboxState::kConflict
                                  : OutboxState::kFailed;
  m.attempts = static_cast<int>(s.Int64(7));
  m.last_error = s.Text(8);
  m.created = FromUnixMicros(s.Int64(9));
  return m;
}

constexpr std::string_view kMutationColumns =
    "seq, mutation_id, entity, record_id, op, fields, state, attempts, last_error, created";

}  // namespace

std::string_view MutationOpName(MutationOp op) {
  switch (op) {
    case MutationOp::kCreate: return "create";
    case MutationOp::kUpdate: return "update";
    case MutationOp::kDelete: return "delete";
  }
  return "update";
}

Result<MutationOp> ParseMutationOp(std::string_view s) {
  if (s == "create") return MutationOp::kCreate;
  if (s == "update") return MutationOp::kUpdate;
  if (s == "delete") return MutationOp::kDelete;
  return Status::InvalidArgument(fmt::format("op: unknown mutation op '{}'", s));
}

std::string_view OutboxStateName(OutboxState s) {
  switch (s) {
    case OutboxState::kPending: return "pending";
    case OutboxState::kConflict: return "conflict";
    case OutboxState::kFailed: return "failed";
  }
  return "pending";
}

Result<std::unique_ptr<ReplicaState>> ReplicaState::Open(store::sqlite::DatabasePool& pool,
                                                         const Clock& clock) {
  {
    auto w = pool.Write();
    TANDEM_RETURN_IF_ERROR(store::sqlite::ApplyMigrations(*w, "replica", Migrations()));
  }
  return std::unique_ptr<ReplicaState>(new ReplicaState(pool, clock));
}

Result<std::optional<std::string>> ReplicaState::GetMeta(std::string_view key) {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_.Read());
  TANDEM_ASSIGN_OR_RETURN(Statement s, r->PrepareCached("SELECT value FROM replica_meta WHERE key = ?1"));
  s.BindText(1, key);
  TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(s.Text(0));
}

Status ReplicaState::SetMeta(std::string_view key, std::string_view value) {
  auto w = pool_.Write();
  TANDEM_ASSIGN_OR_RETURN(Statement s, w->PrepareCached(
      "INSERT INTO replica_meta(key, value) VALUES (?1, ?2) "
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
  return s.BindText(1, key).BindText(2, value).Run();
}

Result<std::optional<int64_t>> ReplicaState::ServerVersion(model::EntityType e,
                                                           std::string_view id) {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_.Read());
  TANDEM_ASSIGN_OR_RETURN(Statement s, r->PrepareCached(
      "SELECT server_version FROM replica_records WHERE entity = ?1 AND id = ?2"));
  s.BindText(1, model::EntityName(e)).BindText(2, id);
  TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(s.Int64(0));
}

namespace {
Status UpsertTracked(Database& db, model::EntityType e, std::string_view id, int64_t version,
                     int64_t generation) {
  TANDEM_ASSIGN_OR_RETURN(Statement s, db.PrepareCached(
      "INSERT INTO replica_records(entity, id, server_version, generation) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT(entity, id) DO UPDATE SET server_version = excluded.server_version, "
      "generation = excluded.generation"));
  return s.BindText(1, model::EntityName(e)).BindText(2, id).BindInt64(3, version)
      .BindInt64(4, generation).Run();
}
Status DeleteTracked(Database& db, model::EntityType e, std::string_view id) {
  TANDEM_ASSIGN_OR_RETURN(Statement s, db.PrepareCached(
      "DELETE FROM replica_records WHERE entity = ?1 AND id = ?2"));
  return s.BindText(1, model::EntityName(e)).BindText(2, id).Run();
}
Status SetTheirs(Database& db, model::EntityType e, std::string_view id, const Json& theirs,
                 std::optional<int64_t> theirs_version) {
  TANDEM_ASSIGN_OR_RETURN(Statement s, db.PrepareCached(
      "UPDATE replica_conflicts SET theirs = ?3, theirs_version = ?4 "
      "WHERE entity = ?1 AND record_id = ?2"));
  return s.BindText(1, model::EntityName(e)).BindText(2, id).BindText(3, theirs.dump())
      .BindOptionalInt64(4, theirs_version).Run();
}
}  // namespace

Status ReplicaState::SetServerVersion(model::EntityType e, std::string_view id, int64_t version,
                                      int64_t generation) {
  auto w = pool_.Write();
  return UpsertTracked(*w, e, id, version, generation);
}

Status ReplicaState::Untrack(model::EntityType e, std::string_view id) {
  auto w = pool_.Write();
  return DeleteTracked(*w, e, id);
}

Result<std::vector<std::pair<model::EntityType, std::string>>> ReplicaState::TrackedBefore(
    int64_t generation) {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_.Read());
  TANDEM_ASSIGN_OR_RETURN(Statement s, r->Prepare(
      "SELECT entity, id FROM replica_records WHERE generation < ?1"));
  s.BindInt64(1, generation);
  std::vector<std::pair<model::EntityType, std::string>> out;
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    TANDEM_ASSIGN_OR_RETURN(auto e, model::ParseEntityName(s.TextView(0)));
    out.emplace_back(e, s.Text(1));
  }
  return out;
}

Result<int64_t> ReplicaState::TrackedCount() {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_.Read());
  TANDEM_ASSIGN_OR_RETURN(Statement s, r->Prepare("SELECT count(*) FROM replica_records"));
  TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int64(0) : 0;
}

Status ReplicaState::Enqueue(const Mutation& m) {
  auto w = pool_.Write();
  TANDEM_ASSIGN_OR_RETURN(Statement s, w->PrepareCached(
      "INSERT INTO replica_outbox(mutation_id, entity, record_id, op, fields, state, created) "
      "VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)"));
  return s.BindText(1, m.mutation_id).BindText(2, model::EntityName(m.entity))
      .BindText(3, m.record_id).BindText(4, MutationOpName(m.op)).BindText(5, m.fields.dump())
      .BindInt64(6, ToUnixMicros(clock_.Now())).Run();
}

Status ReplicaState::Remove(std::string_view mutation_id) {
  auto w = pool_.Write();
  TANDEM_ASSIGN_OR_RETURN(Statement s, w->PrepareCached(
      "DELETE FROM replica_outbox WHERE mutation_id = ?1"));
  return s.BindText(1, mutation_id).Run();
}

Result<std::vector<Mutation>> ReplicaState::NextBatch(int limit) {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_.Read());
  // Over-fetch a little: later mutations of a record already in the batch wait.
  TANDEM_ASSIGN_OR_RETURN(Statement s, r->Prepare(fmt::format(
      "SELECT {} FROM replica_outbox WHERE state = 'pending' ORDER BY seq LIMIT ?1",
      kMutationColumns)));
  s.BindInt64(1, static_cast<int64_t>(limit) * 2);
  std::vector<Mutation> out;
  std::set<std::pair<std::string, std::string>> seen;
  while (static_cast<int>(out.size()) < limit) {
    TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    TANDEM_ASSIGN_OR_RETURN(Mutation m, ReadMutation(s));
    // Stop at the first repeat: a record's later write must wait for the answer
    // to its earlier one, and nothing may overtake it.
    if (!seen.insert({Name(m.entity), m.record_id}).second) break;
    out.push_back(std::move(m));
  }
  return out;
}

Result<bool> ReplicaState::HasOutstanding(model::EntityType e, std::string_view id) {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_.Read());
  TANDEM_ASSIGN_OR_RETURN(Statement s, r->PrepareCached(
      "SELECT 1 FROM replica_outbox WHERE entity = ?1 AND record_id = ?2 "
      "AND state IN ('pending', 'conflict') LIMIT 1"));
  s.BindText(1, model::EntityName(e)).BindText(2, id);
  return s.Step();
}

Status ReplicaState::MarkApplied(const Mutation& m, std::optional<int64_t> version,
                                 int64_t generation) {
  auto w = pool_.Write();
  TANDEM_ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*w));
  TANDEM_ASSIGN_OR_RETURN(Statement s, w->PrepareCached(
      "DELETE FROM replica_outbox WHERE mutation_id = ?1"));
  TANDEM_RETURN_IF_ERROR(s.BindText(1, m.mutation_id).Run());
  if (version) {
    TANDEM_RETURN_IF_ERROR(UpsertTracked(*w, m.entity, m.record_id, *version, generation));
  } else {
    TANDEM_RETURN_IF_ERROR(DeleteTracked(*w, m.entity, m.record_id));
  }
  return tx.Commit();
}

Status ReplicaState::MarkAppliedAll(
    const std::vector<std::pair<const Mutation*, std::optional<int64_t>>>& applied,
    int64_t generation) {
  if (applied.empty()) return Status::Ok();
  auto w = pool_.Write();
  TANDEM_ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*w));
  for (const auto& [m, version] : applied) {
    TANDEM_ASSIGN_OR_RETURN(Statement s, w->PrepareCached(
        "DELETE FROM replica_outbox WHERE mutation_id = ?1"));
    TANDEM_RETURN_IF_ERROR(s.BindText(1, m->mutation_id).Run());
    if (version) {
      TANDEM_RETURN_IF_ERROR(UpsertTracked(*w, m->entity, m->record_id, *version, generation));
    } else {
      TANDEM_RETURN_IF_ERROR(DeleteTracked(*w, m->entity, m->record_id));
    }
  }
  return tx.Commit();
}

Status ReplicaState::MarkFailed(std::string_view mutation_id, std::string_view error) {
  auto w = pool_.Write();
  TANDEM_ASSIGN_OR_RETURN(Statement s, w->PrepareCached(
      "UPDATE replica_outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2 "
      "WHERE mutation_id = ?1"));
  return s.BindText(1, mutation_id).BindText(2, error).Run();
}

Status ReplicaState::Requeue(std::string_view mutation_id) {
  auto w = pool_.Write();
  TANDEM_ASSIGN_OR_RETURN(Statement s, w->PrepareCached(
      "UPDATE replica_outbox SET state = 'pending', attempts = 0 "
      "WHERE mutation_id = ?1 AND state = 'failed'"));
  return s.BindText(1, mutation_id).Run();
}

Status ReplicaState::NoteAttempt(std::string_view mutation_id, std::string_view error) {
  auto w = pool_.Write();
  TANDEM_ASSIGN_OR_RETURN(Statement s, w->PrepareCached(
      "UPDATE replica_outbox SET attempts = attempts + 1, last_error = ?2 WHERE mutation_id = ?1"));
  return s.BindText(1, mutation_id).BindText(2, error).Run();
}

Result<std::vector<Mutation>> ReplicaState::ListOutbox(std::optional<OutboxState> state) {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_.Read());
  std::string sql = fmt::format("SELECT {} FROM replica_outbox", kMutationColumns);
  if (state) sql += " WHERE state = ?1";
  sql += " ORDER BY seq";
  TANDEM_ASSIGN_OR_RETURN(Statement s, r->Prepare(sql));
  if (state) s.BindText(1, OutboxStateName(*state));
  std::vector<Mutation> out;
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    TANDEM_ASSIGN_OR_RETURN(Mutation m, ReadMutation(s));
    out.push_back(std::move(m));
  }
  return out;
}

Result<int64_t> ReplicaState::PendingCount() {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_.Read());
  TANDEM_ASSIGN_OR_RETURN(Statement s, r->PrepareCached(
      "SELECT count(*) FROM replica_outbox WHERE state = 'pending'"));
  TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int64(0) : 0;
}

Status ReplicaState::RecordConflictFor(const Mutation& m, const Json& theirs,
                                       std::optional<int64_t> theirs_version) {
  auto w = pool_.Write();
  TANDEM_ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*w));
  TANDEM_ASSIGN_OR_RETURN(Statement ins, w->PrepareCached(
      "INSERT INTO replica_conflicts(entity, record_id, mutation_id, mine, theirs, "
      "theirs_version, detected) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
      "ON CONFLICT(entity, record_id) DO UPDATE SET mutation_id = excluded.mutation_id, "
      "mine = excluded.mine, theirs = excluded.theirs, theirs_version = excluded.theirs_version, "
      "detected = excluded.detected"));
  TANDEM_RETURN_IF_ERROR(ins.BindText(1, model::EntityName(m.entity)).BindText(2, m.record_id)
      .BindText(3, m.mutation_id).BindText(4, m.fields.dump()).BindText(5, theirs.dump())
      .BindOptionalInt64(6, theirs_version).BindInt64(7, ToUnixMicros(clock_.Now())).Run());
  TANDEM_ASSIGN_OR_RETURN(Statement up, w->PrepareCached(
      "UPDATE replica_outbox SET state = 'conflict' WHERE entity = ?1 AND record_id = ?2 "
      "AND state = 'pending'"));
  TANDEM_RETURN_IF_ERROR(up.BindText(1, model::EntityName(m.entity)).BindText(2, m.record_id).Run());
  return tx.Commit();
}

namespace {
Result<RecordConflict> ReadConflict(const Statement& s) {
  RecordConflict c;
  TANDEM_ASSIGN_OR_RETURN(c.entity, model::ParseEntityName(s.TextView(0)));
  c.record_id = s.Text(1);
  c.mutation_id = s.Text(2);
  c.mine = Json::parse(s.TextView(3), nullptr, false);
  c.theirs = Json::parse(s.TextView(4), nullptr, false);
  if (c.mine.is_discarded() || c.theirs.is_discarded()) {
    return Status::Corruption("conflict of " + c.record_id);
  }
  c.theirs_version = s.OptionalInt64(5);
  c.detected = FromUnixMicros(s.Int64(6));
  return c;
}
constexpr std::string_view kConflictColumns =
    "entity, record_id, mutation_id, mine, theirs, theirs_version, detected";
}  // namespace

Result<std::vector<RecordConflict>> ReplicaState::ListConflicts() {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_.Read());
  TANDEM_ASSIGN_OR_RETURN(Statement s, r->Prepare(fmt::format(
      "SELECT {} FROM replica_conflicts ORDER BY detected, record_id", kConflictColumns)));
  std::vector<RecordConflict> out;
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    TANDEM_ASSIGN_OR_RETURN(RecordConflict c, ReadConflict(s));
    out.push_back(std::move(c));
  }
  return out;
}

Result<RecordConflict> ReplicaState::GetConflict(model::EntityType e, std::string_view id) {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_.Read());
  TANDEM_ASSIGN_OR_RETURN(Statement s, r->Prepare(fmt::format(
      "SELECT {} FROM replica_conflicts WHERE entity = ?1 AND record_id = ?2", kConflictColumns)));
  s.BindText(1, model::EntityName(e)).BindText(2, id);
  TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::NotFound(fmt::format("no conflict for {} {}", model::EntityName(e), id));
  return ReadConflict(s);
}

Status ReplicaState::DropConflict(model::EntityType e, std::string_view id) {
  auto w = pool_.Write();
  TANDEM_ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*w));
  TANDEM_ASSIGN_OR_RETURN(Statement a, w->PrepareCached(
      "DELETE FROM replica_conflicts WHERE entity = ?1 AND record_id = ?2"));
  TANDEM_RETURN_IF_ERROR(a.BindText(1, model::EntityName(e)).BindText(2, id).Run());
  TANDEM_ASSIGN_OR_RETURN(Statement b, w->PrepareCached(
      "DELETE FROM replica_outbox WHERE entity = ?1 AND record_id = ?2 AND state = 'conflict'"));
  TANDEM_RETURN_IF_ERROR(b.BindText(1, model::EntityName(e)).BindText(2, id).Run());
  return tx.Commit();
}

Status ReplicaState::CommitPage(const PageTracking& tracking, int64_t generation,
                                std::string_view cursor) {
  auto w = pool_.Write();
  TANDEM_ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*w));
  TANDEM_RETURN_IF_ERROR(CommitPageIn(*w, tracking, generation, cursor));
  return tx.Commit();
}

Status ReplicaState::CommitPageIn(Database& w, const PageTracking& tracking, int64_t generation,
                                  std::string_view cursor) {
  for (const auto& [e, id, version] : tracking.versions) {
    TANDEM_RETURN_IF_ERROR(UpsertTracked(w, e, id, version, generation));
  }
  for (const auto& [e, id] : tracking.untracked) TANDEM_RETURN_IF_ERROR(DeleteTracked(w, e, id));
  for (const TheirsUpdate& t : tracking.theirs) {
    TANDEM_RETURN_IF_ERROR(SetTheirs(w, t.entity, t.id, t.theirs, t.version));
  }
  TANDEM_ASSIGN_OR_RETURN(Statement s, w.PrepareCached(
      "INSERT INTO replica_meta(key, value) VALUES ('cursor', ?1) "
      "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
  return s.BindText(1, cursor).Run();
}

std::string ReplicaState::TrackingKey(model::EntityType e, std::string_view id) {
  std::string key(model::EntityName(e));
  key += '/';
  key += id;
  return key;
}

Result<std::unordered_map<std::string, int64_t>> ReplicaState::ServerVersions(
    const std::vector<std::pair<model::EntityType, std::string_view>>& records) {
  std::unordered_map<std::string, int64_t> out;
  if (records.empty()) return out;
  // The keys as one JSON array bound as a parameter: one query per page.
  std::string keys = "[";
  for (const auto& [e, id] : records) {
    if (keys.size() > 1) keys += ',';
    model::AppendJsonString(TrackingKey(e, id), &keys);
  }
  keys += ']';
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_.Read());
  TANDEM_ASSIGN_OR_RETURN(Statement s, r->PrepareCached(
      "SELECT r.entity, r.id, r.server_version FROM json_each(?1) AS k "
      "JOIN replica_records AS r ON r.entity = substr(k.value, 1, instr(k.value, '/') - 1) "
      "AND r.id = substr(k.value, instr(k.value, '/') + 1)"));
  s.BindText(1, keys);
  out.reserve(records.size());
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    std::string key = s.Text(0);
    key += '/';
    key += s.TextView(1);
    out.emplace(std::move(key), s.Int64(2));
  }
  return out;
}

Status ReplicaState::UpdateConflictTheirs(model::EntityType e, std::string_view id,
                                          const Json& theirs,
                                          std::optional<int64_t> theirs_version) {
  auto w = pool_.Write();
  return SetTheirs(*w, e, id, theirs, theirs_version);
}

Result<std::vector<std::pair<model::EntityType, std::string>>> ReplicaState::OutstandingRecords() {
  TANDEM_ASSIGN_OR_RETURN(auto r, pool_.Read());
  TANDEM_ASSIGN_OR_RETURN(Statement s, r->Prepare(
      "SELECT DISTINCT entity, record_id FROM replica_outbox WHERE state IN ('pending', 'conflict')"));
  std::vector<std::pair<model::EntityType, std::string>> out;
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    TANDEM_ASSIGN_OR_RETURN(auto e, model::ParseEntityName(s.TextView(0)));
    out.emplace_back(e, s.Text(1));
  }
  return out;
}

}  // namespace tandem::replica
