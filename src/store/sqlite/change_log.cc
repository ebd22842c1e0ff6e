#include "store/sqlite/change_log.h"

#include <fmt/format.h>

#include <algorithm>

#include "store/sqlite/schema.h"

namespace tandem::store::sqlite {
namespace {

constexpr std::string_view kOpUpsert = "upsert";
constexpr std::string_view kOpDelete = "delete";

Status RemoveRow(Database& db, model::EntityType entity, std::string_view id,
                 std::string_view owner_id) {
  TANDEM_ASSIGN_OR_RETURN(
      Statement stmt,
      db.PrepareCached("DELETE FROM changes WHERE entity = ?1 AND id = ?2 AND owner_id = ?3"));
  stmt.BindText(1, model::EntityName(entity)).BindText(2, id).BindText(3, owner_id);
  return stmt.Run();
}

Status AppendRow(Database& db, model::EntityType entity, std::string_view id, std::string_view op,
                 std::string_view owner_id, bool departure, Audience audience, Instant at,
                 std::string_view origin) {
  TANDEM_ASSIGN_OR_RETURN(
      Statement stmt,
      db.PrepareCached(
          "INSERT INTO changes(entity, id, op, owner_id, departure, audience, at, origin) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
  stmt.BindText(1, model::EntityName(entity))
      .BindText(2, id)
      .BindText(3, op)
      .BindText(4, owner_id)
      .BindBool(5, departure)
      .BindInt64(6, static_cast<int64_t>(audience))
      .BindInt64(7, ToUnixMicros(at))
      .BindText(8, origin);
  return stmt.Run().WithContext("append to change log");
}

// The widest audience any logged version of (entity, id) had; kOwner when none.
Result<Audience> WidestLogged(Database& db, model::EntityType entity, std::string_view id) {
  TANDEM_ASSIGN_OR_RETURN(
      Statement stmt,
      db.PrepareCached("SELECT max(audience) FROM changes WHERE entity = ?1 AND id = ?2"));
  stmt.BindText(1, model::EntityName(entity)).BindText(2, id);
  TANDEM_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row || stmt.IsNull(0)) return Audience::kOwner;
  int64_t v = stmt.Int64(0);
  return static_cast<Audience>(std::clamp<int64_t>(v, 0, 2));
}

Result<int64_t> ReadMetaInt(Database& db, std::string_view key) {
  TANDEM_ASSIGN_OR_RETURN(Statement stmt,
                          db.PrepareCached("SELECT value FROM meta WHERE key = ?1"));
  stmt.BindText(1, key);
  TANDEM_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Status::Corruption(fmt::format("meta has no '{}'", key));
  return stmt.Int64(0);
}

}  // namespace

Status LogUpsert(Database& db, model::EntityType entity, std::string_view id,
                 std::string_view owner_id, std::optional<std::string_view> previous_owner_id,
                 Audience audience, Instant at, std::string_view origin) {
  TANDEM_ASSIGN_OR_RETURN(Audience logged, WidestLogged(db, entity, id));
  Audience widest = std::max(logged, audience);
  if (previous_owner_id && *previous_owner_id != owner_id) {
    TANDEM_RETURN_IF_ERROR(RemoveRow(db, entity, id, *previous_owner_id));
    TANDEM_RETURN_IF_ERROR(AppendRow(db, entity, id, kOpDelete, *previous_owner_id,
                                     /*departure=*/true, widest, at, origin));
  }
  TANDEM_RETURN_IF_ERROR(RemoveRow(db, entity, id, owner_id));
  return AppendRow(db, entity, id, kOpUpsert, owner_id, /*departure=*/false, widest, at, origin);
}

Status LogDelete(Database& db, model::EntityType entity, std::string_view id,
                 std::string_view owner_id, Instant at, std::string_view origin) {
  // Departure rows of earlier owners stay: they still tell those owners' readers
  // to drop the record.
  TANDEM_ASSIGN_OR_RETURN(Audience widest, WidestLogged(db, entity, id));
  TANDEM_RETURN_IF_ERROR(RemoveRow(db, entity, id, owner_id));
  return AppendRow(db, entity, id, kOpDelete, owner_id, /*departure=*/false, widest, at, origin);
}

Result<int64_t> ReadLatestSeq(Database& db) {
  TANDEM_ASSIGN_OR_RETURN(
      Statement stmt,
      db.PrepareCached("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'),"
                       " 0)"));
  TANDEM_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return int64_t{0};
  return stmt.Int64(0);
}

Result<int64_t> ReadPrunedThrough(Database& db) { return ReadMetaInt(db, kMetaPrunedThrough); }

Result<ChangeBatch> ReadChanges(Database& db, int64_t after_seq, int limit,
                                const ChangeFilter& filter) {
  TANDEM_ASSIGN_OR_RETURN(int64_t pruned_through, ReadPrunedThrough(db));
  // A reader at 0 holds nothing, so it needs no tombstones: the feed from 0 lists
  // every live record (an initial fill that resumes from its cursor, C3).
  if (after_seq > 0 && after_seq < pruned_through) {
    return Status::ResyncRequired(
        fmt::format("cursor {} is older than the retained change log (tombstones through {} "
                    "were pruned); start again with a full listing",
                    after_seq, pruned_through));
  }
  TANDEM_ASSIGN_OR_RETURN(int64_t latest, ReadLatestSeq(db));

  // Four fixed shapes, one per filter combination, so each has its index.
  // Departure tombstones are only for readers that filter by owner.
  std::string sql = "SELECT seq, entity, id, op, owner_id, at, origin, audience FROM changes ";
  if (filter.entity && filter.owner_id) {
    sql += "WHERE owner_id = ?5 AND entity = ?4 AND seq > ?1 AND seq <= ?2";
  } else if (filter.owner_id) {
    sql += "WHERE owner_id = ?5 AND seq > ?1 AND seq <= ?2";
  } else if (filter.entity) {
    sql += "WHERE entity = ?4 AND seq > ?1 AND seq <= ?2 AND departure = 0";
  } else {
    sql += "WHERE seq > ?1 AND seq <= ?2 AND departure = 0";
  }
  if (filter.viewer) {
    // api::policy::CanSeeInFeed in SQL: the viewer owns the row, its widest
    // audience included them, or they owned the record before (their departure
    // row; the unique (entity, id, owner_id) index answers).
    sql +=
        " AND (owner_id = ?6 OR audience = 2 OR (?7 = 1 AND audience = 1) OR EXISTS "
        "(SELECT 1 FROM changes AS former WHERE former.entity = changes.entity AND "
        "former.id = changes.id AND former.owner_id = ?6))";
  }
  sql += " ORDER BY seq LIMIT ?3";
  TANDEM_ASSIGN_OR_RETURN(Statement stmt, db.PrepareCached(sql));
  stmt.BindInt64(1, after_seq).BindInt64(2, latest).BindInt64(3, int64_t{limit} + 1);
  if (filter.entity) stmt.BindText(4, model::EntityName(*filter.entity));
  if (filter.owner_id) stmt.BindText(5, *filter.owner_id);
  if (filter.viewer) stmt.BindText(6, filter.viewer->user_id).BindBool(7, filter.viewer->admin);

  ChangeBatch batch;
  batch.changes.reserve(std::min(limit, 1024));
  while (true) {
    TANDEM_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    if (static_cast<int>(batch.changes.size()) == limit) {
      batch.more = true;
      break;
    }
    Change change;
    change.seq = stmt.Int64(0);
    auto entity = model::ParseEntityName(stmt.TextView(1));
    if (!entity.ok()) return Status::Corruption("change log: " + entity.status().message());
    change.entity = *entity;
    change.id = stmt.Text(2);
    change.op = stmt.TextView(3) == kOpDelete ? ChangeOp::kDelete : ChangeOp::kUpsert;
    change.owner_id = stmt.Text(4);
    change.at = FromUnixMicros(stmt.Int64(5));
    change.origin = stmt.Text(6);
    change.widest_audience = static_cast<Audience>(std::clamp<int64_t>(stmt.Int64(7), 0, 2));
    batch.changes.push_back(std::move(change));
  }
  // Without a cut the reader has seen everything up to `latest`, matching or not.
  batch.next_seq = batch.more ? batch.changes.back().seq : std::max(after_seq, latest);
  return batch;
}

Result<int> PruneTombstoneRows(Database& db, Instant older_than) {
  TANDEM_ASSIGN_OR_RETURN(
      Statement highest,
      db.PrepareCached("SELECT max(seq), count(*) FROM changes WHERE op = 'delete' AND at < ?1"));
  highest.BindInt64(1, ToUnixMicros(older_than));
  TANDEM_ASSIGN_OR_RETURN(bool row, highest.Step());
  if (!row || highest.IsNull(0)) return 0;
  int64_t max_seq = highest.Int64(0);
  int count = static_cast<int>(highest.Int64(1));
  highest.Reset();

  TANDEM_ASSIGN_OR_RETURN(Statement remove,
                          db.PrepareCached("DELETE FROM changes WHERE op = 'delete' AND at < ?1"));
  remove.BindInt64(1, ToUnixMicros(older_than));
  TANDEM_RETURN_IF_ERROR(remove.Run());

  TANDEM_ASSIGN_OR_RETURN(
      Statement raise,
      db.PrepareCached("UPDATE meta SET value = max(value, ?1) WHERE key = 'pruned_through'"));
  raise.BindInt64(1, max_seq);
  TANDEM_RETURN_IF_ERROR(raise.Run());
  return count;
}

}  // namespace tandem::store::sqlite
