// The change log of the SQLite store (table `changes`, see schema.h): written in
// the transaction of every CRM write, read by ChangesSince. Internal to the
// SQLite store; every function runs on the connection it is given and must be
// called inside that connection's open transaction (writes: IMMEDIATE).
#pragma once

#include <optional>
#include <string_view>

#include "store/sqlite/database.h"
#include "store/store.h"

namespace tandem::store::sqlite {

// After a create or update of (entity, id), now owned by `owner_id` and
// addressed to `audience`. When the record moved from `previous_owner_id`, that
// owner gets a departure tombstone. The rows keep the widest audience the record
// has had (Change::widest_audience).
Status LogUpsert(Database& db, model::EntityType entity, std::string_view id,
                 std::string_view owner_id, std::optional<std::string_view> previous_owner_id,
                 Audience audience, Instant at, std::string_view origin = {});

// After a delete of (entity, id) owned by `owner_id`: its row becomes a tombstone.
Status LogDelete(Database& db, model::EntityType entity, std::string_view id,
                 std::string_view owner_id, Instant at, std::string_view origin = {});

// The highest sequence number ever handed out; 0 when none.
Result<int64_t> ReadLatestSeq(Database& db);

// Tombstones at or below this sequence may have been pruned.
Result<int64_t> ReadPrunedThrough(Database& db);

// REQUIRES: inside a transaction, so the latest sequence and the rows agree.
Result<ChangeBatch> ReadChanges(Database& db, int64_t after_seq, int limit,
                                const ChangeFilter& filter);

// Deletes tombstones with at < older_than and raises pruned_through.
Result<int> PruneTombstoneRows(Database& db, Instant older_than);

}  // namespace tandem::store::sqlite
