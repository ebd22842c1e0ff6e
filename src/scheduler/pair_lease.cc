#include "scheduler/pair_lease.h"

#include <vector>

namespace tandem::scheduler {

using store::sqlite::Migration;

Status PairLeases::Migrate(store::sqlite::Database& db) {
  static const std::vector<Migration> kMigrations = {
      {1, "sync_leases",
       "CREATE TABLE sync_leases ("
       "  pair_id TEXT PRIMARY KEY,"
       "  holder TEXT NOT NULL,"
       "  expires_us INTEGER NOT NULL)"},
  };
  return store::sqlite::ApplyMigrations(db, "scheduler", kMigrations);
}

Result<bool> PairLeases::Acquire(const std::string& pair_id, Instant now, Duration ttl) {
  // One statement decides atomically: insert, or take over only when the current
  // lease expired or is already ours. SQLite serializes writers, so two processes
  // can never both see "changed 1 row" for a live lease.
  TANDEM_ASSIGN_OR_RETURN(auto st, db_.PrepareCached(
      "INSERT INTO sync_leases(pair_id, holder, expires_us) VALUES(?1, ?2, ?3) "
      "ON CONFLICT(pair_id) DO UPDATE SET holder = excluded.holder, "
      "expires_us = excluded.expires_us "
      "WHERE sync_leases.expires_us <= ?4 OR sync_leases.holder = excluded.holder"));
  st.BindText(1, pair_id).BindText(2, holder_).BindInt64(3, ToUnixMicros(now + ttl))
      .BindInt64(4, ToUnixMicros(now));
  TANDEM_RETURN_IF_ERROR(st.Run());
  return db_.ChangedRows() == 1;
}

Result<bool> PairLeases::Renew(const std::string& pair_id, Instant now, Duration ttl) {
  TANDEM_ASSIGN_OR_RETURN(auto st, db_.PrepareCached(
      "UPDATE sync_leases SET expires_us = ?3 WHERE pair_id = ?1 AND holder = ?2"));
  st.BindText(1, pair_id).BindText(2, holder_).BindInt64(3, ToUnixMicros(now + ttl));
  TANDEM_RETURN_IF_ERROR(st.Run());
  return db_.ChangedRows() == 1;
}

Status PairLeases::Release(const std::string& pair_id) {
  TANDEM_ASSIGN_OR_RETURN(
      auto st, db_.PrepareCached("DELETE FROM sync_leases WHERE pair_id = ?1 AND holder = ?2"));
  st.BindText(1, pair_id).BindText(2, holder_);
  return st.Run();
}

}  // namespace tandem::scheduler
