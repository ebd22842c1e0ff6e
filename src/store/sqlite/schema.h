// The CRM schema (component "crm" in schema_migrations).
//
// Times are INTEGER microseconds since the Unix epoch (UTC). Every CRM table
// starts with the record metadata columns (id, owner_id, shared, created,
// modified, version). owner_id is not a foreign key: an offline replica holds
// records whose owners it does not replicate; DeleteUser checks ownership instead.
//
// changes: one row per (record, owner): an 'upsert' row for the current owner at
// the sequence of the record's latest write; a 'delete' row (tombstone) when the
// record was deleted; and a 'delete' row with departure = 1 for an owner the record
// was moved away from, so that a feed filtered by that owner tells its reader to
// drop the record (C4). seq is AUTOINCREMENT: a number is never reused, even after
// the newest row was deleted and replaced.
#pragma once

#include <vector>

#include "store/sqlite/database.h"

namespace tandem::store::sqlite {

inline constexpr std::string_view kCrmComponent = "crm";

// Keys of the meta table.
inline constexpr std::string_view kMetaEpoch = "epoch";
inline constexpr std::string_view kMetaPrunedThrough = "pruned_through";
// The longest end - start of any non-recurring activity ever written; bounds the
// index range of a time-overlap query.
inline constexpr std::string_view kMetaMaxActivitySpan = "max_activity_span_us";

const std::vector<Migration>& CrmMigrations();

}  // namespace tandem::store::sqlite
