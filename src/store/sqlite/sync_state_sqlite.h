// SqliteSyncStateStore: the SyncStateStore (store/sync_state.h) in the CRM's
// SQLite database, under the migration component "sync". Status, intents,
// pending items, runs and log rows go with their pair (ON DELETE CASCADE); trash
// entries and CRM UIDs stay (they hold the user's data).
//
// Thread safety: safe for concurrent use (writes through the pool's writer).
#pragma once

#include <memory>

#include "core/clock.h"
#include "core/ids.h"
#include "store/sqlite/database_pool.h"
#include "store/sync_state.h"

namespace tandem::store::sqlite {

struct SyncStateOptions {
  DatabasePool* pool = nullptr;  // REQUIRED: usually SqliteStore::pool()
  const Clock* clock = nullptr;  // REQUIRED
  IdGenerator* ids = nullptr;    // REQUIRED: pair ids
};

// Applies the "sync" migrations and returns the store. InvalidArgument when an
// option is missing.
Result<std::unique_ptr<SyncStateStore>> OpenSqliteSyncState(const SyncStateOptions& options);

}  // namespace tandem::store::sqlite
